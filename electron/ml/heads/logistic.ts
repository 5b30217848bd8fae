/**
 * Class-balanced multinomial logistic regression on standardised feature rows, fitted by L-BFGS:
 * the model scikit-learn's LogisticRegression(class_weight='balanced') fits, in plain TypeScript.
 * The loss is the weighted mean cross-entropy plus ||W||^2 / (2 C n) (weights only, as
 * scikit-learn leaves the intercept unpenalised), strongly convex, so the optimum is unique.
 */
import { lbfgs } from './lbfgs.ts';

export interface LogisticFit {
  /** Weights [D, C] row-major (feature-major, as a dense layer's kernel). */
  w: Float32Array;
  /** Intercepts [C]. */
  b: Float32Array;
  loss: number;
  iterations: number;
  converged: boolean;
}

export interface LogisticOptions {
  /** Inverse penalty strength (default 1). */
  C?: number;
  /** Per-sample weights (default 1 each). */
  sampleWeights?: Float32Array;
  maxIter?: number;
  shouldStop?: () => boolean;
}

/**
 * Fit on `x` [n, D] (row-major, already standardised) and labels in [0, classes).
 */
export function fitLogistic(
  x: Float32Array,
  labels: Int32Array,
  classes: number,
  opts: LogisticOptions = {},
): LogisticFit {
  const n = labels.length;
  if (n === 0) throw new Error('fitLogistic: no rows');
  const D = x.length / n;
  if (!Number.isInteger(D)) throw new Error(`fitLogistic: ${x.length} values are not ${n} rows`);
  const C = classes;
  const sw = opts.sampleWeights ?? new Float32Array(n).fill(1);
  let wSum = 0;
  for (let i = 0; i < n; i++) wSum += sw[i]!;
  const lambda = 1 / ((opts.C ?? 1) * n);
  // Parameters: W as [C, D] (class-major, so each logit is one contiguous dot product), then b.
  const logits = new Float64Array(C);
  const f = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const xo = i * D;
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        const wo = c * D;
        let z = theta[C * D + c]!;
        for (let j = 0; j < D; j++) z += theta[wo + j]! * x[xo + j]!;
        logits[c] = z;
        if (z > max) max = z;
      }
      let sum = 0;
      for (let c = 0; c < C; c++) {
        const e = Math.exp(logits[c]! - max);
        logits[c] = e;
        sum += e;
      }
      const yi = labels[i]!;
      const wi = sw[i]! / wSum;
      loss -= wi * Math.log(Math.max(1e-300, logits[yi]! / sum));
      for (let c = 0; c < C; c++) {
        const r = wi * (logits[c]! / sum - (c === yi ? 1 : 0));
        if (r === 0) continue;
        const wo = c * D;
        for (let j = 0; j < D; j++) grad[wo + j] = grad[wo + j]! + r * x[xo + j]!;
        grad[C * D + c] = grad[C * D + c]! + r;
      }
    }
    for (let k = 0; k < C * D; k++) {
      const t = theta[k]!;
      loss += 0.5 * lambda * t * t;
      grad[k] = grad[k]! + lambda * t;
    }
    return loss;
  };
  const r = lbfgs(f, new Float64Array(C * D + C), {
    maxIter: opts.maxIter ?? 200,
    gradTol: 1e-5,
    shouldStop: opts.shouldStop,
  });
  const w = new Float32Array(D * C);
  for (let c = 0; c < C; c++) for (let j = 0; j < D; j++) w[j * C + c] = r.x[c * D + j]!;
  const b = Float32Array.from({ length: C }, (_, c) => r.x[C * D + c]!);
  return { w, b, loss: r.loss, iterations: r.iterations, converged: r.converged };
}
