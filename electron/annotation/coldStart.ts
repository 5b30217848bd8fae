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
  densePointSet,
  gatherRows,
  kmeansPlusPlus,
  lloyd,
  pcaProject,
} from '../ml/strategies/geometry.ts';

/** The paper's cap on the number of clusters (k-means beyond it buys nothing at this budget). */
const MAX_CLUSTERS = 500;
const MIN_CLUSTER_SIZE = 5;
const NEIGHBOURS = 20;
/** Distances are taken in at most this many principal directions of the features. */
const PCA_DIMS = 32;
const RESTARTS = 5;

/** Typicality of each point of `rows` (positions into X) among those rows. */
export function typicality(
  X: Float32Array,
  d: number,
  rows: readonly number[],
  k = NEIGHBOURS,
): Float64Array {
  const m = rows.length;
  const out = new Float64Array(m);
  if (m === 1) {
    out[0] = Infinity;
    return out;
  }
  const kk = Math.min(k, m - 1);
  const dist = new Float64Array(m);
  for (let a = 0; a < m; a++) {
    const oa = rows[a]! * d;
    for (let b = 0; b < m; b++) {
      if (a === b) {
        dist[b] = Infinity;
        continue;
      }
      const ob = rows[b]! * d;
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = X[oa + j]! - X[ob + j]!;
        s += t * t;
      }
      dist[b] = Math.sqrt(s);
    }
    const nearest = Float64Array.from(dist).sort().subarray(0, kk);
    let mean = 0;
    for (const v of nearest) mean += v;
    mean /= kk;
    out[a] = mean > 0 ? 1 / mean : Infinity;
  }
  return out;
}

/**
 * TypiClust picks: `budget` distinct unlabeled rows of X [n, d] (standardised features).
 * `labeled` rows count as covering their clusters.
 */
export function typiclust(
  X: Float32Array,
  n: number,
  d: number,
  labeled: readonly number[],
  budget: number,
  rng: Rng,
  signal?: AbortSignal,
  /** Rows never to pick (1), unlabeled rows kept for another purpose; they cover no cluster. */
  exclude?: Uint8Array,
): Int32Array {
  const isLabeled = new Uint8Array(n);
  for (const r of labeled) isLabeled[r] = 1;
  let excluded = 0;
  if (exclude) for (let i = 0; i < n; i++) if (exclude[i] && !isLabeled[i]) excluded++;
  const free = n - labeled.length - excluded;
  const want = Math.min(budget, free);
  if (want <= 0) return new Int32Array(0);
  const dims = Math.min(d, PCA_DIMS);
  const Z = pcaProject(X, n, d, dims, rng.nextUint32()).data;
  const k = Math.max(1, Math.min(n, labeled.length + want, MAX_CLUSTERS));
  // Several seedings, the lowest inertia kept (scikit-learn's n_init, which the paper's code
  // uses): one k-means run can split a large cluster and merge two small ones.
  const set = densePointSet(Z, n, dims);
  let assign: Int32Array = new Int32Array(n);
  let bestInertia = Infinity;
  for (let run = 0; run < RESTARTS; run++) {
    const seeds = kmeansPlusPlus(set, k, rng, { first: 'random', signal });
    const fit = lloyd(Z, n, dims, gatherRows(Z, dims, seeds), k, 30, undefined, signal);
    let inertia = 0;
    for (let i = 0; i < n; i++) {
      const c = fit.assign[i]!;
      for (let j = 0; j < dims; j++) {
        const t = Z[i * dims + j]! - fit.centres[c * dims + j]!;
        inertia += t * t;
      }
    }
    if (inertia < bestInertia) {
      bestInertia = inertia;
      assign = fit.assign;
    }
  }
  const members: number[][] = Array.from({ length: k }, () => []);
  const covered = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    members[assign[i]!]!.push(i);
    if (isLabeled[i]) covered[assign[i]!]!++;
  }
  const picks: number[] = [];
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
    const rows = members[best]!;
    const typ = typicality(Z, dims, rows);
    let pick = -1;
    for (let j = 0; j < rows.length; j++) {
      const r = rows[j]!;
      if (isLabeled[r] || taken[r]) continue;
      if (pick < 0 || typ[j]! > typ[pick]!) pick = j;
    }
    const r = rows[pick]!;
    taken[r] = 1;
    picks.push(r);
    covered[best]!++;
  }
  return Int32Array.from(picks);
}
