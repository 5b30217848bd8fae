/**
 * The first batch of a project, before any model exists: typical-cluster sampling (TypiClust,
 * Hacohen, Dekel and Weinshall 2022, "Active Learning on a Budget"). With few labels the best
 * picks are typical examples of distinct regions of the data, not the outliers that k-center's
 * farthest-first picks: the pool is clustered into (labeled + budget) clusters by k-means, then
 * each pick goes to the largest cluster that holds no label yet, and takes its most typical image,
 * the one whose nearest neighbours in the cluster are closest (typicality = 1 / mean distance to
 * its k nearest neighbours, k = 20 as in the paper). Clusters of fewer than 5 images are skipped
 * while larger ones remain, as the paper's code does.
 */
import type { Rng } from '../../shared/random.ts';
import {
  assignNearest,
  checkAborted,
  densePointSet,
  gatherRows,
  kmeansPlusPlus,
  lloyd,
  matMulNT,
  pcaProject,
  rowSqNorms,
} from '../ml/strategies/geometry.ts';

/** The paper's cap on the number of clusters (k-means beyond it buys nothing at this budget). */
const MAX_CLUSTERS = 500;
const MIN_CLUSTER_SIZE = 5;
const NEIGHBOURS = 20;
/** Distances are taken in at most this many principal directions of the features. */
const PCA_DIMS = 32;
const RESTARTS = 5;

/**
 * Candidates whose typicality is computed in one cluster at most: beyond it, a random sample of
 * the cluster's eligible images competes (their neighbours are still sought among all its
 * images). The most typical of 1,000 random images is in the cluster's top 0.5% with probability 0.99; the
 * exact search would cost m^2 distances for a cluster of m images (60,000 images in 10 clusters:
 * 36 million per cluster).
 */
const MAX_CANDIDATES = 1000;
/** Pools larger than this are clustered on a random sample of this many images. */
const KMEANS_SAMPLE = 20_000;
/** Candidates whose distances to the cluster are taken in one matrix product. */
const BLOCK = 256;

/**
 * Typicality of `candidates` (positions into `rows`) among all of `rows` (positions into X
 * [*, d]): 1 / the mean Euclidean distance to its k nearest other rows. Distances come from one
 * matrix product per block of candidates (|a|^2 + |b|^2 - 2 a.b, through the active tf backend).
 */
export function typicality(
  X: Float32Array,
  d: number,
  rows: readonly number[],
  k = NEIGHBOURS,
  candidates: readonly number[] = rows.map((_, i) => i),
): Float64Array {
  const m = rows.length;
  const out = new Float64Array(candidates.length);
  if (m === 1) {
    out.fill(Infinity);
    return out;
  }
  const kk = Math.min(k, m - 1);
  const G = gatherRows(X, d, rows);
  const g = rowSqNorms(G, m, d);
  const nearest = new Float64Array(kk);
  for (let s = 0; s < candidates.length; s += BLOCK) {
    const block = candidates.slice(s, s + BLOCK);
    const A = gatherRows(G, d, block);
    const P = matMulNT(A, block.length, G, m, d);
    for (let i = 0; i < block.length; i++) {
      const self = block[i]!;
      const a = g[self]!;
      // The kk smallest squared distances, kept sorted; most entries fail the first comparison.
      nearest.fill(Infinity);
      const row = i * m;
      for (let j = 0; j < m; j++) {
        if (j === self) continue;
        const v = a + g[j]! - 2 * P[row + j]!;
        if (v >= nearest[kk - 1]!) continue;
        let t = kk - 1;
        while (t > 0 && nearest[t - 1]! > v) {
          nearest[t] = nearest[t - 1]!;
          t--;
        }
        nearest[t] = v;
      }
      let mean = 0;
      for (let t = 0; t < kk; t++) mean += Math.sqrt(Math.max(0, nearest[t]!));
      mean /= kk;
      out[s + i] = mean > 0 ? 1 / mean : Infinity;
    }
  }
  return out;
}

/** Let a cancel message into the worker, then stop if it came. */
async function yieldAndCheck(signal?: AbortSignal): Promise<void> {
  await new Promise((r) => setImmediate(r));
  checkAborted(signal);
}

/** Where a cold start is: k-means seedings done, then picks made (for the job's progress). */
export type ColdStartProgress = (done: number, total: number) => void;

/**
 * TypiClust picks: `budget` distinct unlabeled rows of X [n, d] (standardised features).
 * `labeled` rows count as covering their clusters. Yields between steps so a cancel lands within
 * about a second.
 */
export async function typiclust(
  X: Float32Array,
  n: number,
  d: number,
  labeled: readonly number[],
  budget: number,
  rng: Rng,
  opts: {
    signal?: AbortSignal;
    /** Rows never to pick (1), unlabeled rows kept for another purpose; they cover no cluster. */
    exclude?: Uint8Array;
    progress?: ColdStartProgress;
  } = {},
): Promise<Int32Array> {
  const { signal, exclude, progress } = opts;
  const isLabeled = new Uint8Array(n);
  for (const r of labeled) isLabeled[r] = 1;
  let excluded = 0;
  if (exclude) for (let i = 0; i < n; i++) if (exclude[i] && !isLabeled[i]) excluded++;
  const free = n - labeled.length - excluded;
  const want = Math.min(budget, free);
  if (want <= 0) return new Int32Array(0);
  // Steps for the progress: the projection (in tenths: it takes seconds at 60,000 images, and
  // reports from inside its loop), the k-means seedings, then one per pick.
  const PROJECTION = 10;
  const steps = PROJECTION + RESTARTS + want;
  progress?.(0, steps);
  const dims = Math.min(d, PCA_DIMS);
  const Z = pcaProject(X, n, d, dims, rng.nextUint32(), undefined, (done, total) =>
    progress?.(Math.floor((PROJECTION * done) / total), steps),
  ).data;
  const k = Math.max(1, Math.min(n, labeled.length + want, MAX_CLUSTERS));
  // Several seedings, the lowest inertia kept (scikit-learn's n_init, which the paper's code
  // uses): one k-means run can split a large cluster and merge two small ones. A large pool is
  // clustered on a random sample of it, then every image goes to its nearest centre.
  const sample =
    n > KMEANS_SAMPLE
      ? Int32Array.from(
          rng.sample(
            Int32Array.from({ length: n }, (_, i) => i),
            KMEANS_SAMPLE,
          ),
        ).sort()
      : null;
  const S = sample ? sample.length : n;
  const Zs = sample ? gatherRows(Z, dims, sample) : Z;
  const set = densePointSet(Zs, S, dims);
  let best: { centres: Float32Array; assign: Int32Array } | null = null;
  let bestInertia = Infinity;
  for (let run = 0; run < RESTARTS; run++) {
    await yieldAndCheck(signal);
    const seeds = kmeansPlusPlus(set, k, rng, { first: 'random', signal });
    const fit = lloyd(Zs, S, dims, gatherRows(Zs, dims, seeds), k, 30, undefined, signal);
    let inertia = 0;
    for (let i = 0; i < S; i++) {
      const c = fit.assign[i]!;
      for (let j = 0; j < dims; j++) {
        const t = Zs[i * dims + j]! - fit.centres[c * dims + j]!;
        inertia += t * t;
      }
    }
    if (inertia < bestInertia) {
      bestInertia = inertia;
      best = fit;
    }
    progress?.(PROJECTION + run + 1, steps);
  }
  const assign = sample ? assignNearest(Z, n, best!.centres, k, dims, signal).assign : best!.assign;
  const members: number[][] = Array.from({ length: k }, () => []);
  const covered = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    members[assign[i]!]!.push(i);
    if (isLabeled[i]) covered[assign[i]!]!++;
  }
  const picks: number[] = [];
  // Typicality of a cluster's candidates, computed when the cluster is first picked from.
  const typical = new Map<number, { positions: number[]; values: Float64Array }>();
  // Excluded rows are simply never candidates.
  const taken = exclude ? Uint8Array.from(exclude) : new Uint8Array(n);
  while (picks.length < want) {
    // The cluster with the fewest labels, then the most images (clusters too small to say what
    // is typical wait until nothing larger is left).
    let best = -1;
    for (let c = 0; c < k; c++) {
      const left = members[c]!.filter((i) => !isLabeled[i] && !taken[i]).length;
      if (left === 0) continue;
      if (best < 0) {
        best = c;
        continue;
      }
      const small = (x: number) => (members[x]!.length < MIN_CLUSTER_SIZE ? 1 : 0);
      const key = (x: number) => [small(x), covered[x]!, -members[x]!.length] as const;
      const [a0, a1, a2] = key(c);
      const [b0, b1, b2] = key(best);
      if (a0 < b0 || (a0 === b0 && (a1 < b1 || (a1 === b1 && a2 < b2)))) best = c;
    }
    if (best < 0) break;
    await yieldAndCheck(signal);
    const rows = members[best]!;
    let typ = typical.get(best);
    if (!typ || !typ.positions.some((j) => !isLabeled[rows[j]!] && !taken[rows[j]!])) {
      const eligible: number[] = [];
      rows.forEach((r, j) => {
        if (!isLabeled[r] && !taken[r]) eligible.push(j);
      });
      const positions =
        eligible.length > MAX_CANDIDATES
          ? Array.from(rng.sample(eligible, MAX_CANDIDATES))
          : eligible;
      typ = { positions, values: typicality(Z, dims, rows, NEIGHBOURS, positions) };
      typical.set(best, typ);
    }
    const { positions, values } = typ;
    let pick = -1;
    positions.forEach((j, c) => {
      const r = rows[j]!;
      if (isLabeled[r] || taken[r]) return;
      if (pick < 0 || values[c]! > values[pick]!) pick = c;
    });
    const r = rows[positions[pick]!]!;
    taken[r] = 1;
    picks.push(r);
    covered[best]!++;
    progress?.(PROJECTION + RESTARTS + picks.length, steps);
  }
  return Int32Array.from(picks);
}
