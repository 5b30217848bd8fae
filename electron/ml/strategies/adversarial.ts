/**
 * Adversarial strategies (Ducoffe & Precioso 2018): a sample's distance to the decision boundary is
 * estimated by the smallest input perturbation that changes its predicted label, and the closest
 * samples are queried. AdversarialBIM uses the Basic Iterative Method, AdversarialDeepFool the
 * DeepFool attack. Both are batched, iteration-capped (the reference loops forever on a sample that
 * never flips) and, by default, run only on the samples with the smallest Margin (see the
 * `maxCandidates` parameter): on a CPU, attacking a 50,000-image pool each round is prohibitive,
 * as the survey found.
 */
import * as tf from '@tensorflow/tfjs';
import type { Network } from '../models/network.ts';
import { checkQuery, numParam, probsInChunks, throwIfAborted, toPoolIndices } from './baseline.ts';
import { margin, topK } from './scores.ts';
import type { ParamSpec, QueryContext, QueryResult, Strategy } from './types.ts';

/** Result of attacking a batch: per sample, squared perturbation norm (Infinity = never flipped). */
export interface AttackResult {
  sqNorm: Float64Array;
  /** Predicted class before the attack. */
  from: Int32Array;
  /** Predicted class after it (= from when it never flipped). */
  to: Int32Array;
  /** Iterations each sample took (maxIterations when it never flipped). */
  iterations: Int32Array;
  /** Final perturbation, [n, F] row-major. */
  perturbation: Float32Array;
}

function argmaxRows(logits: Float32Array, n: number, C: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[i * C + c]! > logits[i * C + best]!) best = c;
    out[i] = best;
  }
  return out;
}

/** x0 + scale * delta for the given rows, as a tensor of shape [rows, ...sampleShape]. */
function rowsTensor(
  x0: Float32Array,
  delta: Float32Array,
  scale: number,
  rows: Int32Array,
  F: number,
  sampleShape: number[],
): tf.Tensor {
  const buf = new Float32Array(rows.length * F);
  for (let q = 0; q < rows.length; q++) {
    const o = rows[q]! * F;
    for (let j = 0; j < F; j++) buf[q * F + j] = x0[o + j]! + scale * delta[o + j]!;
  }
  return tf.tensor(buf, [rows.length, ...sampleShape]);
}

function evalLogits(net: Network, x: tf.Tensor): Float32Array {
  const l = tf.tidy(() => net.forward(x, 'eval').logits);
  const data = l.dataSync() as Float32Array;
  l.dispose();
  return data;
}

/**
 * Basic Iterative Method on a batch `x` (normalised inputs, [n, ...]): repeat
 * x += eps * sign(d CE(f(x), y0) / dx), ascending the loss of the originally predicted class y0,
 * until the prediction changes or `maxIterations` steps were taken. Samples that flipped stop
 * moving; the others keep going, so each is scored exactly as the one-at-a-time reference would.
 */
export async function bimAttack(
  net: Network,
  x: tf.Tensor,
  opts: { eps: number; maxIterations: number; signal?: AbortSignal },
): Promise<AttackResult> {
  const n = x.shape[0]!;
  const sampleShape = x.shape.slice(1);
  const F = sampleShape.reduce((a, b) => a * b, 1);
  const C = net.numClasses;
  const x0 = (await x.data()) as Float32Array;
  const eta = new Float32Array(n * F);
  const from = argmaxRows(evalLogits(net, x), n, C);
  const to = Int32Array.from(from);
  const iterations = new Int32Array(n).fill(opts.maxIterations);
  const sqNorm = new Float64Array(n).fill(Infinity);
  let active = Int32Array.from({ length: n }, (_, i) => i);
  // Summed per-sample cross-entropy: each sample's gradient is that of its own loss.
  const lossOf = (labels: tf.Tensor2D) => (xa: tf.Tensor) => {
    const logits = net.forward(xa, 'eval').logits;
    return tf.sum(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, labels), 1))) as tf.Scalar;
  };
  for (let it = 1; it <= opts.maxIterations && active.length > 0; it++) {
    throwIfAborted(opts.signal);
    const signs = tf.tidy(() => {
      const xa = rowsTensor(x0, eta, 1, active, F, sampleShape);
      const y = tf
        .oneHot(
          tf.tensor1d(
            Array.from(active, (i) => from[i]!),
            'int32',
          ),
          C,
        )
        .toFloat() as tf.Tensor2D;
      return tf.sign(tf.grad(lossOf(y))(xa));
    });
    const s = (await signs.data()) as Float32Array;
    signs.dispose();
    for (let q = 0; q < active.length; q++) {
      const o = active[q]! * F;
      for (let j = 0; j < F; j++) eta[o + j]! += opts.eps * s[q * F + j]!;
    }
    const xa = rowsTensor(x0, eta, 1, active, F, sampleShape);
    const pred = argmaxRows(evalLogits(net, xa), active.length, C);
    xa.dispose();
    const still: number[] = [];
    for (let q = 0; q < active.length; q++) {
      const i = active[q]!;
      if (pred[q] !== from[i]) {
        to[i] = pred[q]!;
        iterations[i] = it;
        let ss = 0;
        for (let j = 0; j < F; j++) ss += eta[i * F + j]! ** 2;
        sqNorm[i] = ss;
      } else {
        still.push(i);
      }
    }
    active = Int32Array.from(still);
  }
  return { sqNorm, from, to, iterations, perturbation: eta };
}

/**
 * DeepFool on a batch `x` (normalised inputs, [n, ...]). Each step linearises the network at the
 * current point and moves to the CLOSEST linearised boundary between the original class c and any
 * of the `topClasses` most likely other classes k: min_k |f_k - f_c| / ||grad f_k - grad f_c||.
 * (The DeepAL+ copy kept the last class instead of the closest one.) The total perturbation is
 * scaled by 1 + overshoot so that the label actually crosses. Gradients of the K class scores are
 * taken in one backward pass over K stacked copies of the batch.
 */
export async function deepFoolAttack(
  net: Network,
  x: tf.Tensor,
  opts: { maxIterations: number; overshoot: number; topClasses: number; signal?: AbortSignal },
): Promise<AttackResult> {
  const n = x.shape[0]!;
  const sampleShape = x.shape.slice(1);
  const F = sampleShape.reduce((a, b) => a * b, 1);
  const C = net.numClasses;
  const K = Math.max(2, Math.min(opts.topClasses, C));
  const scale = 1 + opts.overshoot;
  const x0 = (await x.data()) as Float32Array;
  const rTot = new Float32Array(n * F);
  let logits = evalLogits(net, x);
  const from = argmaxRows(logits, n, C);
  const to = Int32Array.from(from);
  // Classes compared per sample, fixed from the clean prediction: cls[i*K] = original class.
  const cls = new Int32Array(n * K);
  for (let i = 0; i < n; i++) {
    const order = Array.from({ length: C }, (_, c) => c).sort(
      (a, b) => logits[i * C + b]! - logits[i * C + a]! || a - b,
    );
    for (let q = 0; q < K; q++) cls[i * K + q] = order[q]!;
  }
  // f values at the current point of each active row, [active, K].
  let fvals = new Float32Array(n * K);
  for (let i = 0; i < n; i++)
    for (let q = 0; q < K; q++) fvals[i * K + q] = logits[i * C + cls[i * K + q]!]!;
  const iterations = new Int32Array(n).fill(opts.maxIterations);
  const sqNorm = new Float64Array(n).fill(Infinity);
  let active = Int32Array.from({ length: n }, (_, i) => i);
  for (let it = 1; it <= opts.maxIterations && active.length > 0; it++) {
    throwIfAborted(opts.signal);
    const m = active.length;
    // Row q*m + r of the stacked batch carries sample active[r] and selects class cls[active[r], q].
    const grads = tf.tidy(() => {
      const xa = rowsTensor(x0, rTot, scale, active, F, sampleShape);
      const stacked = tf.concat(
        Array.from({ length: K }, () => xa),
        0,
      );
      const sel = new Int32Array(K * m);
      for (let q = 0; q < K; q++)
        for (let r = 0; r < m; r++) sel[q * m + r] = cls[active[r]! * K + q]!;
      const mask = tf.oneHot(tf.tensor1d(sel, 'int32'), C).toFloat();
      return tf.grad(
        (xs: tf.Tensor) => tf.sum(tf.mul(net.forward(xs, 'eval').logits, mask)) as tf.Scalar,
      )(stacked);
    });
    const g = (await grads.data()) as Float32Array;
    grads.dispose();
    const dead: number[] = [];
    for (let r = 0; r < m; r++) {
      const i = active[r]!;
      let bestPert = Infinity;
      let bestQ = -1;
      let bestNorm = 0;
      for (let q = 1; q < K; q++) {
        let nn = 0;
        const oq = (q * m + r) * F;
        const o0 = r * F;
        for (let j = 0; j < F; j++) nn += (g[oq + j]! - g[o0 + j]!) ** 2;
        const norm = Math.sqrt(nn);
        const pert = Math.abs(fvals[r * K + q]! - fvals[r * K]!) / norm;
        if (norm > 0 && pert < bestPert) {
          bestPert = pert;
          bestQ = q;
          bestNorm = norm;
        }
      }
      if (bestQ < 0) {
        // Flat in every direction: no step can be computed; leave it unflipped.
        dead.push(i);
        continue;
      }
      // The 1e-4 nudge, as in the original DeepFool, keeps a step from landing exactly on a tie.
      const step = (bestPert + 1e-4) / bestNorm;
      const oq = (bestQ * m + r) * F;
      for (let j = 0; j < F; j++) rTot[i * F + j]! += step * (g[oq + j]! - g[r * F + j]!);
    }
    const deadSet = new Set(dead);
    const moving = Int32Array.from(Array.from(active).filter((i) => !deadSet.has(i)));
    if (moving.length === 0) break;
    const xa = rowsTensor(x0, rTot, scale, moving, F, sampleShape);
    logits = evalLogits(net, xa);
    xa.dispose();
    const pred = argmaxRows(logits, moving.length, C);
    const still: number[] = [];
    const f2: number[] = [];
    for (let r = 0; r < moving.length; r++) {
      const i = moving[r]!;
      if (pred[r] !== from[i]) {
        to[i] = pred[r]!;
        iterations[i] = it;
        let ss = 0;
        for (let j = 0; j < F; j++) ss += (scale * rTot[i * F + j]!) ** 2;
        sqNorm[i] = ss;
      } else {
        still.push(i);
        for (let q = 0; q < K; q++) f2.push(logits[r * C + cls[i * K + q]!]!);
      }
    }
    active = Int32Array.from(still);
    fvals = Float32Array.from(f2);
  }
  for (let i = 0; i < rTot.length; i++) rTot[i]! *= scale;
  return { sqNorm, from, to, iterations, perturbation: rTot };
}

const MAX_CANDIDATES: ParamSpec = {
  name: 'maxCandidates',
  type: 'integer',
  default: 2000,
  min: 0,
  max: 10_000_000,
  description:
    'Attack only this many unlabeled images, those with the smallest Margin (0 = the whole pool, ' +
    'as in the reference; very slow on a CPU). Never fewer than the batch size.',
};

const MAX_ITERATIONS = (def: number): ParamSpec => ({
  name: 'maxIterations',
  type: 'integer',
  default: def,
  min: 1,
  max: 10_000,
  description: 'Most attack steps per image; images whose label never changes rank last.',
});

/**
 * Shared query: margin pre-filter, attack in chunks, order by perturbation (smallest first), then
 * never-flipped candidates by margin.
 */
async function adversarialQuery(
  ctx: QueryContext,
  params: ParamSpec[],
  chunkSize: number,
  attack: (x: tf.Tensor) => Promise<AttackResult>,
): Promise<QueryResult> {
  const { k, all } = checkQuery(ctx);
  if (all) return { selected: all };
  const U = ctx.unlabeled;
  const maxCand = numParam(ctx, params, 'maxCandidates');
  const m = maxCand <= 0 ? U.length : Math.min(U.length, Math.max(k, maxCand));
  let marg: Float32Array | null = null;
  let cand: Int32Array;
  if (m < U.length) {
    marg = margin(await probsInChunks(ctx.model, U, ctx.signal), ctx.model.numClasses);
    // Sorted by position so that ties below keep the lower-position rule.
    cand = topK(marg, m, 'asc').sort();
  } else {
    cand = Int32Array.from({ length: U.length }, (_, i) => i);
  }
  const score = new Float64Array(cand.length);
  for (let s = 0; s < cand.length; s += chunkSize) {
    throwIfAborted(ctx.signal);
    const part = cand.subarray(s, Math.min(cand.length, s + chunkSize));
    const x = ctx.model.inputs(toPoolIndices(U, part));
    try {
      score.set((await attack(x)).sqNorm, s);
    } finally {
      x.dispose();
    }
  }
  throwIfAborted(ctx.signal);
  const flipped: number[] = [];
  const unflipped: number[] = [];
  for (let q = 0; q < cand.length; q++) (Number.isFinite(score[q]!) ? flipped : unflipped).push(q);
  const fScores = Float64Array.from(flipped, (q) => score[q]!);
  const order = Array.from(topK(fScores, Math.min(k, flipped.length), 'asc'), (j) => flipped[j]!);
  if (order.length < k) {
    // Never flipped within the cap: the closest by margin go first (margins are computed only now
    // when the whole pool was attacked).
    if (!marg) {
      const sub = toPoolIndices(
        U,
        Int32Array.from(unflipped, (q) => cand[q]!),
      );
      marg = new Float32Array(U.length);
      const mu = margin(await probsInChunks(ctx.model, sub, ctx.signal), ctx.model.numClasses);
      unflipped.forEach((q, j) => (marg![cand[q]!] = mu[j]!));
    }
    const uScores = Float32Array.from(unflipped, (q) => marg![cand[q]!]!);
    for (const j of topK(uScores, k - order.length, 'asc')) order.push(unflipped[j]!);
  }
  const positions = Int32Array.from(order, (q) => cand[q]!);
  return { selected: toPoolIndices(U, positions) };
}

const BIM_PARAMS: ParamSpec[] = [
  {
    name: 'eps',
    type: 'number',
    default: 0.05,
    min: 1e-6,
    max: 10,
    description: 'Step size of each attack step, in normalised input units (survey: 0.05).',
  },
  MAX_ITERATIONS(50),
  MAX_CANDIDATES,
];

export const adversarialBim: Strategy = {
  id: 'AdversarialBIM',
  name: 'Adversarial (BIM)',
  family: 'uncertainty',
  description:
    'Nudges each image step by step in the direction that most hurts the model’s current answer ' +
    'until the answer changes, and asks for the images that needed the smallest nudge: they lie ' +
    'closest to the model’s decision boundary. Slow: every image is attacked; by default only ' +
    'the 2,000 lowest-margin images are.',
  params: BIM_PARAMS,
  query(ctx: QueryContext): Promise<QueryResult> {
    const eps = numParam(ctx, BIM_PARAMS, 'eps');
    const maxIterations = numParam(ctx, BIM_PARAMS, 'maxIterations');
    return adversarialQuery(ctx, BIM_PARAMS, 256, (x) =>
      bimAttack(ctx.model.net, x, {
        eps,
        maxIterations,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      }),
    );
  },
};

const DEEPFOOL_PARAMS: ParamSpec[] = [
  MAX_ITERATIONS(50),
  {
    name: 'overshoot',
    type: 'number',
    default: 0.02,
    min: 0,
    max: 1,
    description: 'Extra fraction added to the perturbation so the label really crosses over.',
  },
  {
    name: 'topClasses',
    type: 'integer',
    default: 10,
    min: 2,
    max: 100000,
    description:
      'Compare against only this many most likely classes (DeepFool’s usual limit; each costs one ' +
      'gradient per step).',
  },
  MAX_CANDIDATES,
];

export const adversarialDeepFool: Strategy = {
  id: 'AdversarialDeepFool',
  name: 'Adversarial (DeepFool)',
  family: 'uncertainty',
  description:
    'Estimates how far each image is from the nearest decision boundary with the DeepFool ' +
    'attack (repeatedly stepping to the closest boundary of a linear approximation) and asks for ' +
    'the closest images. Slow: by default only the 2,000 lowest-margin images are attacked.',
  params: DEEPFOOL_PARAMS,
  query(ctx: QueryContext): Promise<QueryResult> {
    const maxIterations = numParam(ctx, DEEPFOOL_PARAMS, 'maxIterations');
    const overshoot = numParam(ctx, DEEPFOOL_PARAMS, 'overshoot');
    const topClasses = numParam(ctx, DEEPFOOL_PARAMS, 'topClasses');
    // K stacked copies per chunk: keep K x chunk near 1,000 rows.
    const K = Math.max(2, Math.min(topClasses, ctx.model.numClasses));
    const chunk = Math.max(8, Math.floor(1024 / K));
    return adversarialQuery(ctx, DEEPFOOL_PARAMS, chunk, (x) =>
      deepFoolAttack(ctx.model.net, x, {
        maxIterations,
        overshoot,
        topClasses,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      }),
    );
  },
};

export const strategies: Strategy[] = [adversarialBim, adversarialDeepFool];
