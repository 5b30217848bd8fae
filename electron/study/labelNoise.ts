/**
 * A noisy simulated oracle: a seeded share of its answers is flipped to another class, either
 * uniformly at random or to the class the true class is most confusable with. "Most confusable"
 * is a fixed map: each class's nearest other class by the distance between class means of the
 * standardised features (the model's features, or the pixels for models that train on them),
 * computed once from the pool's ground truth. It needs no trained model, so every strategy and
 * repeat sees the same map. Pure functions.
 */
import { deriveSeed, Rng } from '../../shared/random.ts';

export type NoiseKind = 'uniform' | 'confusable';

/**
 * For each class, the other class whose mean is nearest (Euclidean, each column standardised over
 * the rows). Classes without rows map to themselves.
 */
export function nearestClassMap(
  x: ArrayLike<number>,
  dim: number,
  y: ArrayLike<number>,
  K: number,
): Int32Array {
  const n = y.length;
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < n; i++)
    for (let d = 0; d < dim; d++) {
      const v = x[i * dim + d]!;
      mean[d] = mean[d]! + v;
      sq[d] = sq[d]! + v * v;
    }
  const std = new Float64Array(dim);
  for (let d = 0; d < dim; d++) {
    mean[d] = mean[d]! / Math.max(1, n);
    std[d] = Math.sqrt(Math.max(0, sq[d]! / Math.max(1, n) - mean[d]! ** 2)) || 1;
  }
  const centre = Array.from({ length: K }, () => new Float64Array(dim));
  const count = new Array<number>(K).fill(0);
  for (let i = 0; i < n; i++) {
    const c = centre[y[i]!]!;
    count[y[i]!] = count[y[i]!]! + 1;
    for (let d = 0; d < dim; d++) c[d] = c[d]! + (x[i * dim + d]! - mean[d]!) / std[d]!;
  }
  centre.forEach((c, k) => {
    for (let d = 0; d < dim; d++) c[d] = c[d]! / Math.max(1, count[k]!);
  });
  const map = new Int32Array(K);
  for (let k = 0; k < K; k++) {
    map[k] = k;
    if (count[k] === 0) continue;
    let best = Infinity;
    for (let j = 0; j < K; j++) {
      if (j === k || count[j] === 0) continue;
      let dist = 0;
      for (let d = 0; d < dim; d++) dist += (centre[k]![d]! - centre[j]![d]!) ** 2;
      if (dist < best) {
        best = dist;
        map[k] = j;
      }
    }
  }
  return map;
}

/**
 * The oracle's answers: `truth` with round(rate * n) of them, chosen at random (seeded), flipped
 * to another class: uniformly among the others, or to `map[true class]`. Returns the answers and
 * which positions were flipped.
 */
export function noisyLabels(
  truth: ArrayLike<number>,
  K: number,
  rate: number,
  kind: NoiseKind,
  seed: number,
  map?: ArrayLike<number>,
): { labels: Int32Array; flipped: Uint8Array } {
  if (!(rate >= 0 && rate < 1)) throw new Error(`label noise must be in [0, 1), got ${rate}`);
  if (K < 2 && rate > 0) throw new Error('label noise needs at least two classes');
  if (kind === 'confusable' && !map) throw new Error('confusable noise needs a class map');
  const n = truth.length;
  const labels = Int32Array.from(truth);
  const flipped = new Uint8Array(n);
  const rng = new Rng(deriveSeed(seed, 'label-noise'));
  const picks = rng.sample(
    Int32Array.from({ length: n }, (_, i) => i),
    Math.round(rate * n),
  );
  for (const i of picks) {
    const y = truth[i]!;
    const to = kind === 'uniform' ? (y + 1 + rng.int(K - 1)) % K : map![y]!;
    if (to === y) continue;
    labels[i] = to;
    flipped[i] = 1;
  }
  return { labels, flipped };
}
