/**
 * Limited-memory BFGS (Nocedal and Wright, Numerical Optimization, algorithm 7.4 with the two-loop
 * recursion 7.5) with a backtracking Armijo line search: enough for the smooth, strongly convex
 * losses of the heads (L2-penalised logistic regression), where it converges in tens of
 * iterations and gives the same optimum on every backend.
 */

export interface LbfgsOptions {
  /** Remembered curvature pairs (default 10). */
  memory?: number;
  /** Stop after this many iterations (default 200). */
  maxIter?: number;
  /** Stop when the gradient's largest absolute value falls below this (default 1e-5). */
  gradTol?: number;
  /** Stop when the loss improves by less than this, relatively (default 1e-9). */
  lossTol?: number;
  /** Called between iterations; return true to stop early (cancellation). */
  shouldStop?: () => boolean;
}

export interface LbfgsResult {
  x: Float64Array;
  loss: number;
  iterations: number;
  converged: boolean;
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

const maxAbs = (a: Float64Array): number => {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
};

/**
 * Minimise f from x0. `f(x, grad)` returns the loss at x and writes its gradient into `grad`.
 */
export function lbfgs(
  f: (x: Float64Array, grad: Float64Array) => number,
  x0: Float64Array,
  opts: LbfgsOptions = {},
): LbfgsResult {
  const m = opts.memory ?? 10;
  const maxIter = opts.maxIter ?? 200;
  const gradTol = opts.gradTol ?? 1e-5;
  const lossTol = opts.lossTol ?? 1e-9;
  const n = x0.length;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let loss = f(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(m);
  const d = new Float64Array(n);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  let iterations = 0;
  let converged = maxAbs(g) < gradTol;
  while (!converged && iterations < maxIter) {
    if (opts.shouldStop?.()) break;
    iterations++;
    // Two-loop recursion: d = -H g.
    d.set(g);
    for (let k = S.length - 1; k >= 0; k--) {
      const a = rho[k]! * dot(S[k]!, d);
      alpha[k] = a;
      const y = Y[k]!;
      for (let i = 0; i < n; i++) d[i] = d[i]! - a * y[i]!;
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!);
      for (let i = 0; i < n; i++) d[i] = d[i]! * gamma;
    } else {
      // First step: a unit-length move along the steepest descent.
      const scale = 1 / Math.max(1e-12, Math.sqrt(dot(g, g)));
      for (let i = 0; i < n; i++) d[i] = d[i]! * scale;
    }
    for (let k = 0; k < S.length; k++) {
      const b = rho[k]! * dot(Y[k]!, d);
      const s = S[k]!;
      for (let i = 0; i < n; i++) d[i] = d[i]! + s[i]! * (alpha[k]! - b);
    }
    for (let i = 0; i < n; i++) d[i] = -d[i]!;
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Not a descent direction (lost curvature information): restart from steepest descent.
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
      const scale = 1 / Math.max(1e-12, Math.sqrt(dot(g, g)));
      for (let i = 0; i < n; i++) d[i] = -g[i]! * scale;
      slope = dot(g, d);
    }
    // Backtracking until the Armijo condition holds.
    let step = 1;
    let lossNew = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i]! + step * d[i]!;
      lossNew = f(xNew, gNew);
      if (Number.isFinite(lossNew) && lossNew <= loss + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(lossNew <= loss)) break;
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i]! - x[i]!;
      y[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    const improvement = (loss - lossNew) / Math.max(1, Math.abs(loss));
    x.set(xNew);
    g.set(gNew);
    loss = lossNew;
    if (maxAbs(g) < gradTol || improvement < lossTol) converged = true;
  }
  return { x, loss, iterations, converged };
}
