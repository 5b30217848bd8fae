/**
 * Fast geometry for the diversity and hybrid strategies: chunked squared distances, PCA, greedy
 * k-center, k-means++ seeding (exact, with lazily refreshed bounds), weighted Lloyd iterations,
 * "nearest distinct sample per centre", and average-linkage agglomerative clustering.
 *
 * Memory: nothing here allocates an N x N matrix for a pool. Distance blocks are at most
 * CHUNK x (columns) floats; the sequential pickers keep one O(N) vector of bounds.
 * Speed: big blocks go through tf.matMul, so they run on whatever backend is active (XNNPACK on
 * wasm is ~40x the JS cpu backend); per-point work stays in tight Float32Array loops.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import type { ModelView, QueryContext } from './types.ts';

/** Rows per distance block: 2048 x 4096 floats = 32 MB at most. */
const CHUNK = 2048;
/** Rows of the PCA sample per block of its covariance. */
const COV_BLOCK = 512;
const COL_CHUNK = 4096;

/** Throws the signal's reason (an AbortError) when the query was cancelled. */
export function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new Error('query cancelled');
  }
}

/**
 * The checks every strategy shares: an empty pool is an error, and a budget at least the pool
 * left returns the whole pool. Returns the number to select, or the whole pool when that is the
 * answer.
 */
export function budgetFor(ctx: QueryContext): { k: number; all: Int32Array | null } {
  const n = ctx.unlabeled.length;
  if (n === 0) throw new Error('no unlabeled samples left to query');
  if (!(ctx.budget > 0)) throw new RangeError(`query budget must be positive, got ${ctx.budget}`);
  const k = Math.min(Math.floor(ctx.budget), n);
  return { k, all: k >= n ? Int32Array.from(ctx.unlabeled) : null };
}

/** Rows of pool samples asked of the model at once (bounds the tensors a pass makes). */
const MODEL_CHUNK = 4096;

/** Probabilities and embeddings for `indices`, asked in chunks so a cancel lands between them. */
export async function probsAndEmbeddingsChunked(
  model: ModelView,
  indices: Int32Array,
  signal?: AbortSignal,
): Promise<{ probs: Float32Array; embeddings: Float32Array }> {
  const n = indices.length;
  const C = model.numClasses;
  const D = model.embeddingDim;
  const probs = new Float32Array(n * C);
  const embeddings = new Float32Array(n * D);
  for (let s = 0; s < n; s += MODEL_CHUNK) {
    checkAborted(signal);
    const e = Math.min(n, s + MODEL_CHUNK);
    const r = await model.probsAndEmbeddings(indices.subarray(s, e));
    probs.set(r.probs.subarray(0, (e - s) * C), s * C);
    embeddings.set(r.embeddings.subarray(0, (e - s) * D), s * D);
  }
  checkAborted(signal);
  return { probs, embeddings };
}

/** Probabilities only, in chunks. */
export async function probsChunked(
  model: ModelView,
  indices: Int32Array,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const n = indices.length;
  const C = model.numClasses;
  const probs = new Float32Array(n * C);
  for (let s = 0; s < n; s += MODEL_CHUNK) {
    checkAborted(signal);
    const e = Math.min(n, s + MODEL_CHUNK);
    probs.set((await model.probs(indices.subarray(s, e))).subarray(0, (e - s) * C), s * C);
  }
  checkAborted(signal);
  return probs;
}

/** Squared L2 norm of each row of a row-major [n, d] matrix. */
export function rowSqNorms(X: Float32Array, n: number, d: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0, o = i * d; j < d; j++) {
      const v = X[o + j]!;
      s += v * v;
    }
    out[i] = s;
  }
  return out;
}

/** Gather rows of a row-major [*, d] matrix. */
export function gatherRows(X: Float32Array, d: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * d);
  for (let r = 0; r < rows.length; r++) {
    const o = rows[r]! * d;
    out.set(X.subarray(o, o + d), r * d);
  }
  return out;
}

/** A B^T for row-major A [aRows, d] and B [bRows, d], through the active tf backend. */
export function matMulNT(
  A: Float32Array,
  aRows: number,
  B: Float32Array,
  bRows: number,
  d: number,
): Float32Array {
  if (aRows === 0 || bRows === 0) return new Float32Array(0);
  return readAndDispose(
    tf.tidy(() => {
      const a = tf.tensor2d(A.subarray(0, aRows * d), [aRows, d]);
      const b = tf.tensor2d(B.subarray(0, bRows * d), [bRows, d]);
      return tf.matMul(a, b, false, true);
    }),
  );
}

/**
 * The values of a tensor, which is then disposed. (Returning a typed array from tf.tidy would
 * make tidy walk every element looking for tensors: 400 ms for a 2048 x 1000 block.)
 */
export function readAndDispose(t: tf.Tensor): Float32Array {
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}

function dot(X: Float32Array, i: number, Y: Float32Array, j: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  const a = i * d;
  const b = j * d;
  let t = 0;
  for (; t + 1 < d; t += 2) {
    s0 += X[a + t]! * Y[b + t]!;
    s1 += X[a + t + 1]! * Y[b + t + 1]!;
  }
  if (t < d) s0 += X[a + t]! * Y[b + t]!;
  return s0 + s1;
}

/**
 * Project rows onto the top-k principal directions. The covariance is estimated on at most
 * `maxSample` rows (seeded), its top-k subspace found by subspace iteration on the d x d matrix,
 * then all rows are projected in chunks. Any orthonormal basis of the subspace gives the same
 * distances, so no eigen-decomposition is needed. Returns X itself when k = 0 or k >= d.
 */
export function pcaProject(
  X: Float32Array,
  n: number,
  d: number,
  k: number,
  seed: number,
  maxSample = 4096,
  /**
   * Rows processed so far (the sample's for the covariance, then every row projected) of their
   * total, after each block: at 60,000 rows of 432 features this takes seconds.
   */
  progress?: (done: number, total: number) => void,
): { data: Float32Array; dim: number } {
  if (k <= 0 || k >= d || n === 0) return { data: X, dim: d };
  const rng = new Rng(seed);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0, o = i * d; j < d; j++) mean[j]! += X[o + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  const rows =
    n <= maxSample
      ? null
      : rng.sample(
          Array.from({ length: n }, (_, i) => i),
          maxSample,
        );
  const s = rows ? rows.length : n;
  const S = new Float32Array(s * d);
  for (let r = 0; r < s; r++) {
    const o = (rows ? rows[r]! : r) * d;
    for (let j = 0; j < d; j++) S[r * d + j] = X[o + j]! - mean[j]!;
  }
  let Q: Float32Array = new Float32Array(d * k);
  for (let i = 0; i < Q.length; i++) Q[i] = rng.normal();
  const total = s + n;
  // The covariance S'S, summed over blocks of rows so that progress can be told between them.
  let cov = tf.zeros([d, d]) as tf.Tensor2D;
  for (let st = 0; st < s; st += COV_BLOCK) {
    const e = Math.min(s, st + COV_BLOCK);
    const next = tf.tidy(() => {
      const t = tf.tensor2d(S.subarray(st * d, e * d), [e - st, d]);
      return tf.add(cov, tf.matMul(t, t, true, false)) as tf.Tensor2D;
    });
    cov.dispose();
    cov = next;
    progress?.(e, total);
  }
  try {
    // Subspace iteration: Q <- orth(cov Q). 12 rounds recover the dominant subspace well enough
    // for a distance heuristic even with modest eigen-gaps.
    for (let it = 0; it < 12; it++) {
      const q = Q;
      const Z = readAndDispose(tf.tidy(() => tf.matMul(cov, tf.tensor2d(q, [d, k]))));
      Q = orthonormalColumns(Z, d, k, rng);
    }
  } finally {
    cov.dispose();
  }
  // Project the centred rows: X Q - mean Q.
  const mq = new Float64Array(k);
  for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) mq[c]! += mean[j]! * Q[j * k + c]!;
  const QT = new Float32Array(k * d);
  for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) QT[c * d + j] = Q[j * k + c]!;
  const out = new Float32Array(n * k);
  for (let st = 0; st < n; st += CHUNK) {
    const e = Math.min(n, st + CHUNK);
    const blk = matMulNT(X.subarray(st * d, e * d), e - st, QT, k, d);
    for (let i = 0; i < blk.length; i++) out[st * k + i] = blk[i]! - mq[i % k]!;
    progress?.(s + e, total);
  }
  return { data: out, dim: k };
}

/** Modified Gram-Schmidt on the columns of a row-major [d, k] matrix. */
function orthonormalColumns(Z: Float32Array, d: number, k: number, rng: Rng): Float32Array {
  const Q = new Float32Array(d * k);
  const col = new Float64Array(d);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) col[j] = Z[j * k + c]!;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += col[j]! * Q[j * k + p]!;
        for (let j = 0; j < d; j++) col[j]! -= s * Q[j * k + p]!;
      }
    }
    let nrm = 0;
    for (let j = 0; j < d; j++) nrm += col[j]! * col[j]!;
    nrm = Math.sqrt(nrm);
    if (!(nrm > 1e-12)) {
      // Rank-deficient: any unit vector orthogonal to the previous ones will do.
      for (let j = 0; j < d; j++) col[j] = rng.normal();
      c--;
      continue;
    }
    for (let j = 0; j < d; j++) Q[j * k + c] = col[j]! / nrm;
  }
  return Q;
}

/**
 * Greedy k-center (CoreSet, Sener & Savarese 2018): repeatedly take the candidate farthest from
 * its nearest labeled or already chosen point. One min-distance vector of length n, so memory is
 * O(n) (the reference builds an n x n matrix). With no fixed points the first pick is random.
 *
 * @param cand candidates [n, d]; @param fixed points already covered (labeled) [m, d].
 * @returns positions into `cand`, in pick order.
 */
export function kCenterGreedy(
  cand: Float32Array,
  n: number,
  fixed: Float32Array,
  m: number,
  d: number,
  k: number,
  rng: Rng,
  signal?: AbortSignal,
): Int32Array {
  const minD = new Float32Array(n).fill(Infinity);
  const cn = rowSqNorms(cand, n, d);
  if (m > 0) {
    const fn = rowSqNorms(fixed, m, d);
    for (let s = 0; s < n; s += CHUNK) {
      checkAborted(signal);
      const e = Math.min(n, s + CHUNK);
      for (let fs = 0; fs < m; fs += COL_CHUNK) {
        const fe = Math.min(m, fs + COL_CHUNK);
        const w = fe - fs;
        const blk = matMulNT(
          cand.subarray(s * d, e * d),
          e - s,
          fixed.subarray(fs * d, fe * d),
          w,
          d,
        );
        for (let i = s; i < e; i++) {
          let best = minD[i]!;
          const o = (i - s) * w;
          for (let j = 0; j < w; j++) {
            const v = cn[i]! + fn[fs + j]! - 2 * blk[o + j]!;
            if (v < best) best = v;
          }
          minD[i] = best;
        }
      }
    }
  }
  // Lazy greedy: minD[i] is exact as of the centres before seenUpTo[i] and an upper bound after
  // (distances only shrink). A max-heap on the bounds yields the farthest point once its exact
  // value still tops every other bound; all bounds are refreshed with one blocked matrix product
  // every REFRESH picks, so a pick costs a few exact checks instead of a pass over n x d.
  const REFRESH = 64;
  const seenUpTo = new Int32Array(n);
  const centres: number[] = [];
  const chosen = new Uint8Array(n);
  let lastFull = 0;
  const heap = new MaxHeap(n, minD);
  const rebuild = (): void => heap.build((i) => !chosen[i]);
  const refresh = (): void => {
    const cols = Int32Array.from(centres.slice(lastFull));
    const m2 = cols.length;
    const pts = gatherRows(cand, d, cols);
    const pn = new Float32Array(m2);
    for (let c = 0; c < m2; c++) pn[c] = cn[cols[c]!]!;
    for (let s = 0; s < n && m2 > 0; s += CHUNK) {
      checkAborted(signal);
      const e = Math.min(n, s + CHUNK);
      const blk = matMulNT(cand.subarray(s * d, e * d), e - s, pts, m2, d);
      for (let i = s; i < e; i++) {
        let b = minD[i]!;
        const o = (i - s) * m2;
        for (let c = seenUpTo[i]! - lastFull; c < m2; c++) {
          const v = cn[i]! + pn[c]! - 2 * blk[o + c]!;
          if (v < b) b = v;
        }
        minD[i] = b;
        seenUpTo[i] = centres.length;
      }
    }
    lastFull = centres.length;
    rebuild();
  };
  rebuild();
  const out = new Int32Array(k);
  for (let t = 0; t < k; t++) {
    if ((t & 15) === 0) checkAborted(signal);
    let pick = -1;
    if (t === 0 && m === 0) pick = rng.int(n);
    else {
      if (centres.length - lastFull >= REFRESH) refresh();
      for (;;) {
        const i = heap.pop();
        if (i < 0) break;
        if (chosen[i]) continue;
        let v = minD[i]!;
        for (let c = seenUpTo[i]!; c < centres.length; c++) {
          const j = centres[c]!;
          const dv = cn[i]! + cn[j]! - 2 * dot(cand, i, cand, j, d);
          if (dv < v) v = dv;
        }
        minD[i] = v;
        seenUpTo[i] = centres.length;
        const top = heap.peek();
        if (top < 0 || v >= minD[top]!) {
          pick = i;
          break;
        }
        heap.push(i);
      }
    }
    out[t] = pick;
    chosen[pick] = 1;
    centres.push(pick);
  }
  return out;
}

/** Binary max-heap of indices keyed by an external array (ties: lower index first). */
class MaxHeap {
  private readonly h: Int32Array;
  private size = 0;
  constructor(
    n: number,
    private readonly key: Float32Array,
  ) {
    this.h = new Int32Array(n);
  }
  private above(a: number, b: number): boolean {
    const ka = this.key[a]!;
    const kb = this.key[b]!;
    return ka > kb || (ka === kb && a < b);
  }
  build(keep: (i: number) => boolean): void {
    this.size = 0;
    for (let i = 0; i < this.key.length; i++) if (keep(i)) this.h[this.size++] = i;
    for (let p = (this.size >> 1) - 1; p >= 0; p--) this.down(p);
  }
  peek(): number {
    return this.size > 0 ? this.h[0]! : -1;
  }
  pop(): number {
    if (this.size === 0) return -1;
    const top = this.h[0]!;
    this.h[0] = this.h[--this.size]!;
    if (this.size > 0) this.down(0);
    return top;
  }
  push(i: number): void {
    let p = this.size++;
    while (p > 0) {
      const parent = (p - 1) >> 1;
      if (!this.above(i, this.h[parent]!)) break;
      this.h[p] = this.h[parent]!;
      p = parent;
    }
    this.h[p] = i;
  }
  private down(p: number): void {
    const item = this.h[p]!;
    for (;;) {
      const l = 2 * p + 1;
      if (l >= this.size) break;
      const r = l + 1;
      const c = r < this.size && this.above(this.h[r]!, this.h[l]!) ? r : l;
      if (!this.above(this.h[c]!, item)) break;
      this.h[p] = this.h[c]!;
      p = c;
    }
    this.h[p] = item;
  }
}

/**
 * A point set that k-means++ can seed on without materialising the points: squared norms, exact
 * dot products for one pair, and dot-product blocks against a few chosen rows.
 */
export interface PointSet {
  readonly n: number;
  readonly sqNorms: Float32Array;
  /** Dots of rows [start, end) with rows `cols`: row-major [end - start, cols.length]. */
  dotBlock(start: number, end: number, cols: Int32Array): Float32Array;
  dot(i: number, j: number): number;
}

/** Plain vectors, row-major [n, d]. */
export function densePointSet(X: Float32Array, n: number, d: number): PointSet {
  const sqNorms = rowSqNorms(X, n, d);
  return {
    n,
    sqNorms,
    dotBlock: (start, end, cols) =>
      matMulNT(X.subarray(start * d, end * d), end - start, gatherRows(X, d, cols), cols.length, d),
    dot: (i, j) => dot(X, i, X, j, d),
  };
}

/**
 * BADGE's gradient embeddings g_i = a_i (outer) h_i with a_i = p_i - onehot(argmax p_i), never
 * materialised: g_i . g_j = (a_i . a_j)(h_i . h_j), so ||g_i - g_j||^2 =
 * ||a_i||^2 ||h_i||^2 + ||a_j||^2 ||h_j||^2 - 2 (a_i . a_j)(h_i . h_j). Memory is O(n (C + D))
 * instead of O(n C D).
 */
export function gradientEmbeddingSet(
  probs: Float32Array,
  C: number,
  H: Float32Array,
  D: number,
  n: number,
): PointSet & { a: Float32Array } {
  const a = new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    let arg = 0;
    for (let c = 1; c < C; c++) if (probs[i * C + c]! > probs[i * C + arg]!) arg = c;
    for (let c = 0; c < C; c++) a[i * C + c] = probs[i * C + c]! - (c === arg ? 1 : 0);
  }
  const an = rowSqNorms(a, n, C);
  const hn = rowSqNorms(H, n, D);
  const sqNorms = new Float32Array(n);
  for (let i = 0; i < n; i++) sqNorms[i] = an[i]! * hn[i]!;
  return {
    n,
    a,
    sqNorms,
    dotBlock: (start, end, cols) =>
      readAndDispose(
        tf.tidy(() => {
          const rows = end - start;
          const aa = tf.matMul(
            tf.tensor2d(a.subarray(start * C, end * C), [rows, C]),
            tf.tensor2d(gatherRows(a, C, cols), [cols.length, C]),
            false,
            true,
          );
          const hh = tf.matMul(
            tf.tensor2d(H.subarray(start * D, end * D), [rows, D]),
            tf.tensor2d(gatherRows(H, D, cols), [cols.length, D]),
            false,
            true,
          );
          return tf.mul(aa, hh);
        }),
      ),
    dot: (i, j) => dot(a, i, a, j, C) * dot(H, i, H, j, D),
  };
}

/** Prefix sums over non-negative weights, with O(log n) update and inverse-CDF sampling. */
class Fenwick {
  private readonly t: Float64Array;
  constructor(private readonly n: number) {
    this.t = new Float64Array(n + 1);
  }
  build(w: ArrayLike<number>): void {
    const t = this.t;
    t.fill(0);
    for (let i = 0; i < this.n; i++) t[i + 1] = w[i]!;
    for (let i = 1; i <= this.n; i++) {
      const p = i + (i & -i);
      if (p <= this.n) t[p]! += t[i]!;
    }
  }
  add(i: number, delta: number): void {
    for (let p = i + 1; p <= this.n; p += p & -p) this.t[p]! += delta;
  }
  total(): number {
    let s = 0;
    for (let p = this.n; p > 0; p -= p & -p) s += this.t[p]!;
    return s;
  }
  /** Smallest i with prefix(i + 1) > u. */
  find(u: number): number {
    let pos = 0;
    let step = 1;
    while (step * 2 <= this.n) step *= 2;
    for (; step > 0; step >>= 1) {
      const nx = pos + step;
      if (nx <= this.n && this.t[nx]! <= u) {
        pos = nx;
        u -= this.t[nx]!;
      }
    }
    return Math.min(pos, this.n - 1);
  }
}

export interface SeedOptions {
  /** 'maxNorm' (BADGE: the largest norm first) or 'random' (k-means++: weighted by `weights`). */
  first: 'maxNorm' | 'random';
  /** Per-point weights (weighted k-means++: probability proportional to w_i D(x_i)^2). */
  weights?: Float32Array;
  signal?: AbortSignal;
  /** Chosen rows accumulated before every point's bound is refreshed with one matrix product. */
  refreshEvery?: number;
}

/**
 * k-means++ seeding (Arthur & Vassilvitskii 2007): after the first centre, each next one is drawn
 * with probability proportional to (weight x) squared distance to the nearest chosen centre.
 * Returns k distinct rows.
 *
 * Exact, yet cheap: each point keeps an upper bound of its distance (exact as of the last
 * refresh). A candidate is drawn proportional to the bounds, its exact distance computed against
 * the centres chosen since, and accepted with probability exact / bound; rejection sampling
 * makes that exactly the D^2 distribution. Every `refreshEvery` picks all bounds are refreshed
 * with one blocked matrix product, so the per-pick cost is not a full pass over n x dim.
 */
export function kmeansPlusPlus(set: PointSet, k: number, rng: Rng, opts: SeedOptions): Int32Array {
  const n = set.n;
  const kk = Math.min(k, n);
  const w = opts.weights;
  const refreshEvery = Math.max(1, opts.refreshEvery ?? 64);
  const sq = set.sqNorms;
  const bound = new Float64Array(n).fill(Infinity);
  // centres[0..seenUpTo[i]) are reflected in bound[i]; every point has seen at least lastFull.
  const seenUpTo = new Int32Array(n);
  let lastFull = 0;
  const chosen = new Uint8Array(n);
  const centres: number[] = [];
  const fen = new Fenwick(n);
  const wt = (i: number): number => (w ? w[i]! : 1);

  const refresh = (): void => {
    const lo = lastFull;
    const cols = Int32Array.from(centres.slice(lo));
    const m = cols.length;
    for (let s = 0; s < n && m > 0; s += CHUNK) {
      checkAborted(opts.signal);
      const e = Math.min(n, s + CHUNK);
      const blk = set.dotBlock(s, e, cols);
      for (let i = s; i < e; i++) {
        let b = bound[i]!;
        const o = (i - s) * m;
        for (let c = seenUpTo[i]! - lo; c < m; c++) {
          const v = sq[i]! + sq[cols[c]!]! - 2 * blk[o + c]!;
          if (v < b) b = v;
        }
        bound[i] = b < 0 ? 0 : b;
        seenUpTo[i] = centres.length;
      }
    }
    lastFull = centres.length;
    const ws = new Float64Array(n);
    for (let i = 0; i < n; i++) ws[i] = chosen[i] ? 0 : wt(i) * bound[i]!;
    fen.build(ws);
  };

  const choose = (i: number): void => {
    chosen[i] = 1;
    centres.push(i);
  };

  // First centre: the largest norm (BADGE), or drawn proportional to the weights.
  if (opts.first === 'maxNorm') {
    let best = 0;
    for (let i = 1; i < n; i++) if (sq[i]! > sq[best]!) best = i;
    choose(best);
  } else if (w) {
    let tot = 0;
    for (let i = 0; i < n; i++) tot += w[i]!;
    let u = rng.next() * tot;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      u -= w[i]!;
      if (u < 0) {
        pick = i;
        break;
      }
    }
    choose(pick);
  } else choose(rng.int(n));
  refresh();

  while (centres.length < kk) {
    checkAborted(opts.signal);
    if (centres.length - lastFull >= refreshEvery) refresh();
    if (!(fen.total() > 1e-30)) refresh();
    if (!(fen.total() > 1e-30)) {
      // Every remaining point coincides with a centre: any of them is as good.
      const rest: number[] = [];
      for (let i = 0; i < n; i++) if (!chosen[i]) rest.push(i);
      choose(rest[rng.int(rest.length)]!);
      continue;
    }
    let accepted = -1;
    for (let attempt = 0; attempt < 256 && accepted < 0; attempt++) {
      const i = fen.find(rng.next() * fen.total());
      if (chosen[i]) continue; // rounding residue in the prefix sums
      const old = bound[i]!;
      let exact = old;
      for (let c = seenUpTo[i]!; c < centres.length; c++) {
        const j = centres[c]!;
        const v = sq[i]! + sq[j]! - 2 * set.dot(i, j);
        if (v < exact) exact = v;
      }
      if (exact < 0) exact = 0;
      seenUpTo[i] = centres.length;
      if (exact < old) {
        bound[i] = exact;
        fen.add(i, wt(i) * (exact - old));
      }
      if (old > 0 && rng.next() * old < exact) accepted = i;
    }
    // Many rejections in a row mean the bounds are stale: refresh them all and draw again.
    if (accepted < 0) {
      refresh();
      continue;
    }
    fen.add(accepted, -wt(accepted) * bound[accepted]!);
    choose(accepted);
  }
  return Int32Array.from(centres);
}

/** For each row of X [n, d], the nearest centre of Cn [k, d] (squared distance), in chunks. */
export function assignNearest(
  X: Float32Array,
  n: number,
  centres: Float32Array,
  k: number,
  d: number,
  signal?: AbortSignal,
): { assign: Int32Array; dist: Float32Array } {
  const assign = new Int32Array(n);
  const dist = new Float32Array(n);
  const xn = rowSqNorms(X, n, d);
  // Augmented so one matrix product gives the score 2 x.c - ||c||^2 (= ||x||^2 - distance):
  // x' = [x, 1], c' = [2c, -||c||^2].
  const cn = rowSqNorms(centres, k, d);
  const da = d + 1;
  const Ca = new Float32Array(k * da);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) Ca[c * da + j] = 2 * centres[c * d + j]!;
    Ca[c * da + d] = -cn[c]!;
  }
  const cT = tf.tensor2d(Ca, [k, da]);
  try {
    for (let s = 0; s < n; s += CHUNK) {
      checkAborted(signal);
      const e = Math.min(n, s + CHUNK);
      const Xa = new Float32Array((e - s) * da);
      for (let i = s; i < e; i++) {
        Xa.set(X.subarray(i * d, i * d + d), (i - s) * da);
        Xa[(i - s) * da + d] = 1;
      }
      // The arg-max runs on the backend too: one value and one index per row come back.
      const [best, arg] = tf.tidy(() => {
        const score = tf.matMul(tf.tensor2d(Xa, [e - s, da]), cT, false, true);
        return [tf.max(score, 1), tf.argMax(score, 1)];
      });
      const v = readAndDispose(best!);
      const ix = arg!.dataSync() as Int32Array;
      arg!.dispose();
      for (let i = 0; i < e - s; i++) {
        assign[s + i] = ix[i]!;
        const d1 = xn[s + i]! - v[i]!;
        dist[s + i] = d1 < 0 ? 0 : d1;
      }
    }
  } finally {
    cT.dispose();
  }
  return { assign, dist };
}

/**
 * Weighted Lloyd iterations from the given centres, at most `maxIter`, stopping early when no
 * assignment changes. A centre that loses all its points keeps its position. (Hamerly's bounds
 * were tried: on 50,000 x 32 with k = 1,000 they pruned too little to pay for the second-nearest
 * distance they need.)
 */
export function lloyd(
  X: Float32Array,
  n: number,
  d: number,
  init: Float32Array,
  k: number,
  maxIter: number,
  weights?: Float32Array,
  signal?: AbortSignal,
): { centres: Float32Array; assign: Int32Array } {
  const centres = Float32Array.from(init);
  let assign = assignNearest(X, n, centres, k, d, signal).assign;
  for (let it = 0; it < maxIter; it++) {
    const sum = new Float64Array(k * d);
    const mass = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      const c = assign[i]!;
      const wi = weights ? weights[i]! : 1;
      mass[c]! += wi;
      for (let j = 0, o = i * d, q = c * d; j < d; j++) sum[q + j]! += wi * X[o + j]!;
    }
    for (let c = 0; c < k; c++) {
      if (!(mass[c]! > 0)) continue;
      for (let j = 0; j < d; j++) centres[c * d + j] = sum[c * d + j]! / mass[c]!;
    }
    const next = assignNearest(X, n, centres, k, d, signal).assign;
    let changed = 0;
    for (let i = 0; i < n; i++) if (next[i] !== assign[i]) changed++;
    assign = next;
    if (changed === 0) break;
  }
  return { centres, assign };
}

/**
 * The sample nearest each centre, all distinct (k <= n): centres are served in order of their
 * nearest distance, and a centre whose nearest sample is taken gets its next nearest. Returns
 * positions into X (sample ids, never centre ids).
 */
export function nearestDistinct(
  X: Float32Array,
  n: number,
  centres: Float32Array,
  k: number,
  d: number,
  signal?: AbortSignal,
): Int32Array {
  if (k > n) throw new RangeError(`nearestDistinct: ${k} centres but only ${n} samples`);
  const L = Math.min(n, 8);
  const topD = new Float32Array(k * L).fill(Infinity);
  const topI = new Int32Array(k * L).fill(-1);
  const xn = rowSqNorms(X, n, d);
  const cn = rowSqNorms(centres, k, d);
  for (let s = 0; s < n; s += CHUNK) {
    checkAborted(signal);
    const e = Math.min(n, s + CHUNK);
    for (let cs = 0; cs < k; cs += COL_CHUNK) {
      const ce = Math.min(k, cs + COL_CHUNK);
      const w = ce - cs;
      const blk = matMulNT(X.subarray(s * d, e * d), e - s, centres.subarray(cs * d, ce * d), w, d);
      for (let i = s; i < e; i++) {
        const o = (i - s) * w;
        for (let j = 0; j < w; j++) {
          const c = cs + j;
          const v = xn[i]! + cn[c]! - 2 * blk[o + j]!;
          const base = c * L;
          if (!(v < topD[base + L - 1]!)) continue;
          let p = L - 1;
          while (p > 0 && topD[base + p - 1]! > v) {
            topD[base + p] = topD[base + p - 1]!;
            topI[base + p] = topI[base + p - 1]!;
            p--;
          }
          topD[base + p] = v;
          topI[base + p] = i;
        }
      }
    }
  }
  const order = Array.from({ length: k }, (_, c) => c).sort(
    (a, b) => topD[a * L]! - topD[b * L]! || a - b,
  );
  const taken = new Uint8Array(n);
  const out = new Int32Array(k);
  for (const c of order) {
    let pick = -1;
    for (let p = 0; p < L && pick < 0; p++) {
      const i = topI[c * L + p]!;
      if (i >= 0 && !taken[i]) pick = i;
    }
    if (pick < 0) {
      // All of this centre's few nearest are taken (rare): scan the rest.
      let best = Infinity;
      for (let i = 0; i < n; i++) {
        if (taken[i]) continue;
        let v = 0;
        for (let j = 0; j < d; j++) {
          const t = X[i * d + j]! - centres[c * d + j]!;
          v += t * t;
        }
        if (v < best) {
          best = v;
          pick = i;
        }
      }
    }
    taken[pick] = 1;
    out[c] = pick;
  }
  return out;
}

/**
 * Weighted k-means (k-means++ seeding, then Lloyd) and the sample nearest each centre.
 * Returns k distinct positions into X.
 */
export function kmeansSelect(
  X: Float32Array,
  n: number,
  d: number,
  k: number,
  maxIter: number,
  rng: Rng,
  weights?: Float32Array,
  signal?: AbortSignal,
): Int32Array {
  const seeds = kmeansPlusPlus(densePointSet(X, n, d), k, rng, {
    first: 'random',
    signal,
    ...(weights ? { weights } : {}),
  });
  const init = gatherRows(X, d, seeds);
  const { centres } = lloyd(X, n, d, init, k, maxIter, weights, signal);
  return nearestDistinct(X, n, centres, k, d, signal);
}

/** One merge of agglomerative clustering: clusters represented by points a and b, at height h. */
export interface Merge {
  a: number;
  b: number;
  h: number;
}

/**
 * Agglomerative clustering with average linkage (UPGMA) on Euclidean distances, by the
 * nearest-neighbour-chain algorithm with Lance-Williams updates: O(n^2) time and an n x n
 * matrix, so the caller caps n (ClusterMargin clusters a sample and assigns the rest).
 */
export function averageLinkage(
  X: Float32Array,
  n: number,
  d: number,
  signal?: AbortSignal,
): Merge[] {
  const Dm = new Float32Array(n * n);
  const xn = rowSqNorms(X, n, d);
  for (let s = 0; s < n; s += CHUNK) {
    checkAborted(signal);
    const e = Math.min(n, s + CHUNK);
    const blk = matMulNT(X.subarray(s * d, e * d), e - s, X, n, d);
    for (let i = s; i < e; i++) {
      for (let j = 0; j < n; j++) {
        const v = xn[i]! + xn[j]! - 2 * blk[(i - s) * n + j]!;
        Dm[i * n + j] = i === j ? 0 : Math.sqrt(v > 0 ? v : 0);
      }
    }
  }
  const size = new Int32Array(n).fill(1);
  const active = new Uint8Array(n).fill(1);
  const merges: Merge[] = [];
  const chain: number[] = [];
  let remaining = n;
  let scan = 0;
  while (remaining > 1) {
    if ((merges.length & 63) === 0) checkAborted(signal);
    if (chain.length === 0) {
      while (!active[scan]) scan++;
      chain.push(scan);
    }
    const a = chain[chain.length - 1]!;
    const prev = chain.length >= 2 ? chain[chain.length - 2]! : -1;
    // Start from the previous chain element so ties resolve towards it (guarantees termination).
    let b = prev;
    let best = prev >= 0 ? Dm[a * n + prev]! : Infinity;
    for (let j = 0; j < n; j++) {
      if (!active[j] || j === a) continue;
      const v = Dm[a * n + j]!;
      if (v < best) {
        best = v;
        b = j;
      }
    }
    if (b !== prev) {
      chain.push(b);
      continue;
    }
    chain.pop();
    chain.pop();
    const sa = size[a]!;
    const sb = size[prev]!;
    const keep = Math.min(a, prev);
    const drop = Math.max(a, prev);
    for (let j = 0; j < n; j++) {
      if (!active[j] || j === a || j === prev) continue;
      const v = (sa * Dm[a * n + j]! + sb * Dm[prev * n + j]!) / (sa + sb);
      Dm[keep * n + j] = v;
      Dm[j * n + keep] = v;
    }
    active[drop] = 0;
    size[keep] = sa + sb;
    merges.push({ a: keep, b: drop, h: best });
    remaining--;
  }
  return merges;
}

/** Cut a dendrogram into `clusters` flat clusters: labels 0..clusters-1 per point. */
export function cutDendrogram(merges: Merge[], n: number, clusters: number): Int32Array {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  // Average linkage has no inversions, so applying merges by height gives the dendrogram's cut.
  const sorted = [...merges].sort((x, y) => x.h - y.h);
  const applyCount = Math.max(0, Math.min(sorted.length, n - Math.max(1, clusters)));
  for (let t = 0; t < applyCount; t++) {
    const m = sorted[t]!;
    const ra = find(m.a);
    const rb = find(m.b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  const label = new Int32Array(n);
  const ids = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    let id = ids.get(r);
    if (id === undefined) {
      id = ids.size;
      ids.set(r, id);
    }
    label[i] = id;
  }
  return label;
}

/** A numeric hyperparameter from resolved params, falling back to its default. */
export function numParam(
  params: Record<string, unknown> | undefined,
  name: string,
  fallback: number,
): number {
  const v = params?.[name];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return fallback;
}

/** Map positions into `subset` back to pool indices. */
export function toPool(subset: Int32Array, positions: ArrayLike<number>): Int32Array {
  const out = new Int32Array(positions.length);
  for (let i = 0; i < positions.length; i++) out[i] = subset[positions[i]!]!;
  return out;
}
