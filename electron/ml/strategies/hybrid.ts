/**
 * Hybrid strategies: uncertainty and diversity together. BADGE (Ash et al. 2020), Cluster-Margin
 * (Citovsky et al. 2021) and DBAL, diverse mini-batch active learning (Zhdanov 2019). WAAL, also
 * hybrid, lives in enhanced.ts because it changes training.
 */
import type { Dataset } from '../types.ts';
import { Rng, deriveSeed } from '../../../shared/random.ts';
import {
  assignNearest,
  averageLinkage,
  budgetFor,
  checkAborted,
  cutDendrogram,
  gatherRows,
  gradientEmbeddingSet,
  kmeansPlusPlus,
  kmeansSelect,
  numParam,
  pcaProject,
  probsAndEmbeddingsChunked,
  toPool,
} from './geometry.ts';
import { margin, topK } from './scores.ts';
import type { QueryContext, QueryResult, Strategy } from './types.ts';

/**
 * BADGE: k-means++ seeding on gradient embeddings g = (p - onehot(argmax p)) (outer) h. The
 * C x D embeddings are never built: distances come from (p, h) (see gradientEmbeddingSet).
 */
export const badge: Strategy = {
  id: 'BADGE',
  name: 'BADGE',
  family: 'hybrid',
  description:
    'Looks at how much each unlabeled image would change the model if it were labeled (large ' +
    'when the model is unsure) and in which direction, then picks a batch that is both ' +
    'uncertain and varied, so it does not ask for many near-identical hard images. The survey ' +
    'found it consistently good.',
  params: [],
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = budgetFor(ctx);
    if (all) return { selected: all };
    const U = ctx.unlabeled;
    const { probs, embeddings } = await probsAndEmbeddingsChunked(ctx.model, U, ctx.signal);
    const set = gradientEmbeddingSet(
      probs,
      ctx.model.numClasses,
      embeddings,
      ctx.model.embeddingDim,
      U.length,
    );
    const pos = kmeansPlusPlus(set, k, new Rng(deriveSeed(ctx.seed, 'BADGE', ctx.round)), {
      first: 'maxNorm',
      signal: ctx.signal,
    });
    return { selected: toPool(U, pos) };
  },
};

interface PoolClustering {
  /** Embedding width and the parameters it was built with; other parameters rebuild it. */
  key: string;
  /**
   * The labeled pool indices when it was built. A run's labeled set only grows, so a query whose
   * labeled set lacks one of these belongs to another run (the next repeat, another project).
   */
  labeledAtBuild: Int32Array;
  centroids: Float32Array;
  numClusters: number;
  dim: number;
  /** Cluster per pool index, -1 where not yet assigned. */
  assign: Int32Array;
}

/** Clusterings computed once per pool and run (the first query) and reused in later rounds. */
const clusterCache = new WeakMap<Dataset, PoolClustering>();

/** The clustering cached for a pool, if any (tests, diagnostics). */
export function cachedClustering(
  pool: Dataset,
): { numClusters: number; assign: Int32Array } | undefined {
  return clusterCache.get(pool);
}

/** Forget the cached clustering of a pool (tests; a study that wants a fresh one). */
export function clearClusterMarginCache(pool: Dataset): void {
  clusterCache.delete(pool);
}

/** Whether `cached` was built earlier in the run `ctx` belongs to, with the same parameters. */
function sameRun(cached: PoolClustering, key: string, ctx: QueryContext): boolean {
  if (cached.key !== key) return false;
  const isLabeled = new Uint8Array(ctx.pool.y.length);
  for (const i of ctx.labeled) isLabeled[i] = 1;
  for (const i of cached.labeledAtBuild) if (!isLabeled[i]) return false;
  return true;
}

/**
 * The run's clustering: built at its first query and kept for the rest of the run, as the paper
 * clusters once. Neither the query seed (new every round) nor the batch size (smaller in a last
 * partial round) rebuilds it: the cluster count is fixed at the first query. A run resumed in a
 * new process clusters at its first query there, with that round's model.
 */
async function poolClustering(
  ctx: QueryContext,
  U: Int32Array,
  unlabeledEmb: Float32Array,
  hacPoints: number,
  clustersParam: number,
  k: number,
): Promise<PoolClustering> {
  const D = ctx.model.embeddingDim;
  const N = ctx.pool.y.length;
  const key = `${D}|${hacPoints}|${clustersParam}`;
  const cached = clusterCache.get(ctx.pool);
  if (cached && sameRun(cached, key, ctx)) return cached;
  // Average linkage is O(n^2) in time and memory, so it runs on a seeded sample of at most
  // `hacPoints` unlabeled samples (2,000 by default: about 16 MB of distances and a few seconds);
  // every other sample joins the cluster with the nearest centroid.
  const rng = new Rng(deriveSeed(ctx.seed, 'ClusterMargin', 'hac'));
  const m = Math.min(U.length, hacPoints);
  const sample = rng.sample(
    Array.from({ length: U.length }, (_, i) => i),
    m,
  );
  const X = gatherRows(unlabeledEmb, D, sample);
  const merges = averageLinkage(X, m, D, ctx.signal);
  const c = Math.max(1, Math.min(m, clustersParam || k));
  const labels = cutDendrogram(merges, m, c);
  // A loop, not Math.max(...labels): spreading a large array overflows the call stack.
  let numClusters = 0;
  for (const l of labels) if (l + 1 > numClusters) numClusters = l + 1;
  const centroids = new Float32Array(numClusters * D);
  const count = new Float64Array(numClusters);
  for (let i = 0; i < m; i++) {
    const l = labels[i]!;
    count[l]!++;
    for (let j = 0; j < D; j++) centroids[l * D + j]! += X[i * D + j]!;
  }
  for (let l = 0; l < numClusters; l++)
    for (let j = 0; j < D; j++) centroids[l * D + j]! /= count[l]!;
  const assign = new Int32Array(N).fill(-1);
  const near = assignNearest(unlabeledEmb, U.length, centroids, numClusters, D, ctx.signal).assign;
  for (let i = 0; i < U.length; i++) assign[U[i]!] = near[i]!;
  // The clustered sample keeps its own dendrogram label.
  for (let i = 0; i < m; i++) assign[U[sample[i]!]!] = labels[i]!;
  const result: PoolClustering = {
    key,
    labeledAtBuild: Int32Array.from(ctx.labeled),
    centroids,
    numClusters,
    dim: D,
    assign,
  };
  clusterCache.set(ctx.pool, result);
  return result;
}

/**
 * Cluster-Margin (Citovsky et al. 2021): average-linkage clustering of the pool once, then each
 * round the km lowest-margin unlabeled samples, grouped by cluster, taken round-robin from the
 * smallest group up, at random within a group.
 */
export const clusterMargin: Strategy = {
  id: 'ClusterMargin',
  name: 'Cluster-Margin',
  family: 'hybrid',
  description:
    'Clusters the pool once by what the model sees, then each round takes the images the model ' +
    'is least sure about (smallest gap between its top two guesses) and spreads the batch over ' +
    'as many clusters as possible, starting with the rarest. Built for very large batches.',
  params: [
    {
      name: 'candidateFactor',
      type: 'number',
      default: 10,
      min: 1,
      max: 1000,
      description: 'Uncertain candidates considered per image to label (km = factor x batch).',
    },
    {
      name: 'hacPoints',
      type: 'integer',
      default: 2000,
      min: 2,
      max: 5000,
      description:
        'Samples clustered by average linkage (cost grows with its square); the rest join the ' +
        'nearest cluster centre.',
    },
    {
      name: 'clusters',
      type: 'integer',
      default: 0,
      min: 0,
      max: 5000,
      description:
        'Number of clusters to cut the tree into, once per run; 0 = the batch size at the first ' +
        'query.',
    },
  ],
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = budgetFor(ctx);
    if (all) return { selected: all };
    const U = ctx.unlabeled;
    const C = ctx.model.numClasses;
    const D = ctx.model.embeddingDim;
    const { probs, embeddings } = await probsAndEmbeddingsChunked(ctx.model, U, ctx.signal);
    const hacPoints = Math.max(2, Math.round(numParam(ctx.params, 'hacPoints', 2000)));
    const clusters = Math.max(0, Math.round(numParam(ctx.params, 'clusters', 0)));
    const cl = await poolClustering(ctx, U, embeddings, hacPoints, clusters, k);
    const km = Math.min(
      U.length,
      Math.max(k, Math.round(numParam(ctx.params, 'candidateFactor', 10) * k)),
    );
    const cand = topK(margin(probs, C), km, 'asc');
    const groups = new Map<number, number[]>();
    const late: number[] = [];
    for (const pos of cand) {
      // Beyond the clustered pool's length: a pool that grew since.
      const c = cl.assign[U[pos]!] ?? -1;
      if (c < 0) {
        late.push(pos);
        continue;
      }
      if (!groups.has(c)) groups.set(c, []);
      groups.get(c)!.push(pos);
    }
    if (late.length > 0) {
      // Samples the first clustering did not see (a pool that grew): nearest centroid.
      const X = gatherRows(embeddings, D, late);
      const near = assignNearest(X, late.length, cl.centroids, cl.numClusters, D).assign;
      late.forEach((pos, i) => {
        const c = near[i]!;
        if (U[pos]! < cl.assign.length) cl.assign[U[pos]!] = c;
        if (!groups.has(c)) groups.set(c, []);
        groups.get(c)!.push(pos);
      });
    }
    const rng = new Rng(deriveSeed(ctx.seed, 'ClusterMargin', ctx.round));
    const order = [...groups.entries()].sort((a, b) => a[1].length - b[1].length || a[0] - b[0]);
    const lists = order.map(([, members]) => rng.shuffle(members.slice()));
    const picked: number[] = [];
    for (let r = 0; picked.length < k; r++) {
      checkAborted(ctx.signal);
      for (const l of lists) {
        if (r < l.length) picked.push(l[r]!);
        if (picked.length >= k) break;
      }
    }
    return { selected: toPool(U, picked) };
  },
};

/**
 * DBAL (Zhdanov 2019): the rho x b most uncertain by margin, weighted k-means into b clusters with
 * weights = uncertainty (1 - margin), the candidate nearest each centre.
 */
export const dbal: Strategy = {
  id: 'DBAL',
  name: 'Diverse mini-batch (DBAL)',
  family: 'hybrid',
  description:
    'Keeps the images the model is least sure about (several times the batch), clusters them ' +
    'into as many groups as you want to label, pulling centres toward the most uncertain ones, ' +
    'and asks for the image nearest each centre: uncertain, but not all alike.',
  params: [
    {
      name: 'rho',
      type: 'number',
      default: 10,
      min: 1,
      max: 100,
      description: 'Uncertain candidates kept per image to label (pre-filter of rho x batch).',
    },
    {
      name: 'pcaDims',
      type: 'integer',
      default: 32,
      min: 0,
      max: 4096,
      description: 'Project embeddings onto this many principal components first (0 = off).',
    },
    {
      name: 'maxIter',
      type: 'integer',
      default: 10,
      min: 0,
      max: 300,
      description: 'Most weighted Lloyd iterations after k-means++ seeding.',
    },
  ],
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = budgetFor(ctx);
    if (all) return { selected: all };
    const U = ctx.unlabeled;
    const C = ctx.model.numClasses;
    const D = ctx.model.embeddingDim;
    const { probs, embeddings } = await probsAndEmbeddingsChunked(ctx.model, U, ctx.signal);
    const margins = margin(probs, C);
    const m = Math.min(U.length, Math.max(k, Math.round(numParam(ctx.params, 'rho', 10) * k)));
    const cand = topK(margins, m, 'asc');
    const weights = new Float32Array(m);
    // 1 - margin lies in [0, 1]; a small floor keeps every candidate able to seed a centre.
    for (let i = 0; i < m; i++) weights[i] = Math.max(1e-6, 1 - margins[cand[i]!]!);
    const seed = deriveSeed(ctx.seed, 'DBAL', ctx.round);
    const pca = pcaProject(
      gatherRows(embeddings, D, cand),
      m,
      D,
      Math.round(numParam(ctx.params, 'pcaDims', 32)),
      seed,
    );
    const pos = kmeansSelect(
      pca.data,
      m,
      pca.dim,
      k,
      Math.max(0, Math.round(numParam(ctx.params, 'maxIter', 10))),
      new Rng(seed ^ 0x27d4eb2f),
      weights,
      ctx.signal,
    );
    return { selected: toPool(U, toPool(cand, pos)) };
  },
};

export const strategies: Strategy[] = [badge, clusterMargin, dbal];
