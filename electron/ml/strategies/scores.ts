/**
 * Pure acquisition scores on softmax probabilities. Every function reads row-major Float32Array
 * probabilities: one pass is [n, C]; Monte-Carlo passes are [T, n, C] (pass-major, as
 * ModelView.mcProbs returns them). Scores are Float32Array [n]; the caller decides whether high or
 * low is "more informative" (see the strategies). No tensors, no I/O: safe in tests and workers.
 */

/** Natural-log entropy term; 0 log 0 = 0 and tiny negatives from float error count as 0. */
function plogp(p: number): number {
  return p > 0 ? p * Math.log(p) : 0;
}

function checkShape(probs: ArrayLike<number>, rows: number, C: number, what: string): void {
  if (!(C > 0) || !Number.isInteger(C))
    throw new RangeError(`${what}: C must be a positive integer, got ${C}`);
  if (probs.length !== rows * C) {
    throw new RangeError(
      `${what}: expected ${rows} x ${C} = ${rows * C} values, got ${probs.length}`,
    );
  }
}

function rowsOf(probs: ArrayLike<number>, C: number, what: string): number {
  if (!(C > 0) || !Number.isInteger(C))
    throw new RangeError(`${what}: C must be a positive integer, got ${C}`);
  if (probs.length % C !== 0) {
    throw new RangeError(`${what}: ${probs.length} values is not a whole number of rows of ${C}`);
  }
  return probs.length / C;
}

/** Shannon entropy H(p) = -sum_c p_c ln p_c per row (nats); high = uncertain. */
export function entropy(probs: Float32Array, C: number): Float32Array {
  const n = rowsOf(probs, C, 'entropy');
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0;
    const o = i * C;
    for (let c = 0; c < C; c++) h -= plogp(probs[o + c]!);
    out[i] = h;
  }
  return out;
}

/** Margin p1 - p2 between the two largest probabilities per row; low = uncertain. */
export function margin(probs: Float32Array, C: number): Float32Array {
  const n = rowsOf(probs, C, 'margin');
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let p1 = -Infinity;
    let p2 = -Infinity;
    const o = i * C;
    for (let c = 0; c < C; c++) {
      const p = probs[o + c]!;
      if (p > p1) {
        p2 = p1;
        p1 = p;
      } else if (p > p2) {
        p2 = p;
      }
    }
    // One class: nothing to compete with, so the sample is as certain as it can be.
    out[i] = C === 1 ? 1 : p1 - p2;
  }
  return out;
}

/** The largest probability per row (the model's confidence); low = uncertain. */
export function leastConfidence(probs: Float32Array, C: number): Float32Array {
  const n = rowsOf(probs, C, 'leastConfidence');
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let p1 = -Infinity;
    const o = i * C;
    for (let c = 0; c < C; c++) if (probs[o + c]! > p1) p1 = probs[o + c]!;
    out[i] = p1;
  }
  return out;
}

/** Index of the largest probability per row (lowest class id on ties). */
export function argmax(probs: Float32Array, C: number): Int32Array {
  const n = rowsOf(probs, C, 'argmax');
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * C;
    let best = 0;
    let bp = probs[o]!;
    for (let c = 1; c < C; c++) {
      if (probs[o + c]! > bp) {
        bp = probs[o + c]!;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Mean over T passes: [T, n, C] -> [n, C]. Accumulates in float64 so T = 100 loses nothing. */
export function meanOverPasses(mc: Float32Array, T: number, n: number, C: number): Float32Array {
  checkShape(mc, T * n, C, 'meanOverPasses');
  if (!(T > 0)) throw new RangeError(`meanOverPasses: T must be positive, got ${T}`);
  const nc = n * C;
  const acc = new Float64Array(nc);
  for (let t = 0; t < T; t++) {
    const o = t * nc;
    for (let j = 0; j < nc; j++) acc[j]! += mc[o + j]!;
  }
  const out = new Float32Array(nc);
  for (let j = 0; j < nc; j++) out[j] = acc[j]! / T;
  return out;
}

/**
 * BALD mutual information I(y; w) = H(mean_t p_t) - mean_t H(p_t) per sample; high = the passes
 * disagree (epistemic uncertainty), not merely a flat prediction.
 */
export function bald(mc: Float32Array, T: number, n: number, C: number): Float32Array {
  const mean = meanOverPasses(mc, T, n, C);
  const hMean = entropy(mean, C);
  const out = new Float32Array(n);
  const nc = n * C;
  for (let i = 0; i < n; i++) {
    let sumH = 0;
    for (let t = 0; t < T; t++) {
      const o = t * nc + i * C;
      let h = 0;
      for (let c = 0; c < C; c++) h -= plogp(mc[o + c]!);
      sumH += h;
    }
    // Mutual information is >= 0; float error can push it a hair below.
    out[i] = Math.max(0, hMean[i]! - sumH / T);
  }
  return out;
}

/**
 * MeanSTD: mean over classes of the standard deviation over passes per sample; high = uncertain.
 * Population std (divide by T), like numpy's np.std in the reference toolkit.
 */
export function meanStd(mc: Float32Array, T: number, n: number, C: number): Float32Array {
  checkShape(mc, T * n, C, 'meanStd');
  if (!(T > 0)) throw new RangeError(`meanStd: T must be positive, got ${T}`);
  const out = new Float32Array(n);
  const nc = n * C;
  for (let i = 0; i < n; i++) {
    let sumStd = 0;
    for (let c = 0; c < C; c++) {
      let s = 0;
      let s2 = 0;
      for (let t = 0; t < T; t++) {
        const p = mc[t * nc + i * C + c]!;
        s += p;
        s2 += p * p;
      }
      const m = s / T;
      sumStd += Math.sqrt(Math.max(0, s2 / T - m * m));
    }
    out[i] = sumStd / C;
  }
  return out;
}

/**
 * Variation ratio over T passes: 1 - (count of the modal predicted class) / T per sample; high =
 * the passes vote for different classes. With T = 1 it is always 0, which is why the one-pass
 * "1 - max p" of the reference code (a LeastConf duplicate) is not used.
 */
export function varRatio(mc: Float32Array, T: number, n: number, C: number): Float32Array {
  checkShape(mc, T * n, C, 'varRatio');
  if (!(T > 0)) throw new RangeError(`varRatio: T must be positive, got ${T}`);
  const out = new Float32Array(n);
  const counts = new Int32Array(C);
  const nc = n * C;
  for (let i = 0; i < n; i++) {
    counts.fill(0);
    for (let t = 0; t < T; t++) {
      const o = t * nc + i * C;
      let best = 0;
      let bp = mc[o]!;
      for (let c = 1; c < C; c++) {
        if (mc[o + c]! > bp) {
          bp = mc[o + c]!;
          best = c;
        }
      }
      counts[best]!++;
    }
    let modal = 0;
    for (let c = 0; c < C; c++) if (counts[c]! > modal) modal = counts[c]!;
    out[i] = 1 - modal / T;
  }
  return out;
}

/**
 * Positions of the k best scores: largest first for 'desc', smallest first for 'asc'. Ties go to
 * the lower position, so selection is deterministic. NaN scores rank last. A bounded binary heap
 * keeps it O(n log k) with O(k) memory, which matters on 50,000-sample pools with small batches.
 */
export function topK(
  scores: Float32Array | Float64Array,
  k: number,
  order: 'desc' | 'asc',
): Int32Array {
  const n = scores.length;
  const m = Math.max(0, Math.min(Math.floor(k), n));
  if (m === 0) return new Int32Array(0);
  const sign = order === 'desc' ? 1 : -1;
  // Key: larger is better. NaN -> -Infinity so it loses to every real score.
  const key = (i: number): number => {
    const v = scores[i]!;
    return Number.isNaN(v) ? -Infinity : sign * v;
  };
  // better(a, b): a ranks ahead of b.
  const better = (a: number, b: number): boolean => {
    const ka = key(a);
    const kb = key(b);
    return ka > kb || (ka === kb && a < b);
  };
  // Min-heap on "rank": the root is the worst of the kept m.
  const heap = new Int32Array(m);
  let size = 0;
  const siftUp = (pos: number): void => {
    const item = heap[pos]!;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (better(heap[parent]!, item)) {
        heap[pos] = heap[parent]!;
        pos = parent;
      } else break;
    }
    heap[pos] = item;
  };
  const siftDown = (pos: number): void => {
    const item = heap[pos]!;
    for (;;) {
      const l = 2 * pos + 1;
      if (l >= size) break;
      const r = l + 1;
      let worst = l;
      if (r < size && better(heap[l]!, heap[r]!)) worst = r;
      if (better(item, heap[worst]!)) {
        heap[pos] = heap[worst]!;
        pos = worst;
      } else break;
    }
    heap[pos] = item;
  };
  for (let i = 0; i < n; i++) {
    if (size < m) {
      heap[size] = i;
      siftUp(size);
      size++;
    } else if (better(i, heap[0]!)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  const out = Array.from(heap);
  out.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
  return Int32Array.from(out);
}
