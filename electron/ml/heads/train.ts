/**
 * Training of heads on feature vectors (logistic regression, a small MLP): full-batch Adam on a
 * class-weighted cross-entropy with an L2 penalty, for a fixed number of steps. A few thousand
 * labeled rows of a few hundred features train in a fraction of a second, so a labeling project
 * can retrain after every few labels and `auto` can cross-validate several candidates.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed, Rng } from '../../../shared/random.ts';
import type { Network, Normalization } from '../models/network.ts';
import { sampleSize } from '../types.ts';
import { Adam } from '../training/adam.ts';
import { makeBatch } from '../training/batches.ts';
import { TrainingCancelled } from '../training/train.ts';
import type { Dataset } from '../types.ts';
import { fitLogistic } from './logistic.ts';

export interface HeadTrainOptions {
  indices: Int32Array;
  labels: Int32Array;
  norm: Normalization;
  /**
   * Inverse strength of the L2 penalty on weights (not biases), as scikit-learn's C: the loss is
   * the weighted mean cross-entropy plus ||W||^2 / (2 C n). Default 1.
   */
  C?: number;
  /**
   * 'balanced' weighs each class by n / (classes * n_class) (scikit-learn's class_weight), so a
   * rare defect class counts as much as a common one. Default 'balanced'.
   */
  classWeights?: 'balanced' | 'none';
  /** Optimiser steps of the MLP (default 100); iterations of L-BFGS for 'linear' (default 200). */
  steps?: number;
  /** Adam learning rate (default 0.01). */
  learningRate?: number;
  /** Rows per step; all rows when there are fewer (default 2048). */
  batchSize?: number;
  seed: number;
  signal?: AbortSignal;
}

export interface HeadTrainResult {
  steps: number;
  /** Final training loss (penalty included). */
  loss: number;
  ms: number;
}

/** Class weights n / (C * n_c) for the labels present; classes without labels get 0. */
export function balancedWeights(labels: Int32Array, numClasses: number): Float32Array {
  const counts = new Float64Array(numClasses);
  for (const l of labels) counts[l] = counts[l]! + 1;
  const present = counts.filter((c) => c > 0).length;
  const w = new Float32Array(numClasses);
  for (let c = 0; c < numClasses; c++) {
    w[c] = counts[c]! > 0 ? labels.length / (present * counts[c]!) : 0;
  }
  return w;
}

/** Train `net` (a head on feature vectors) in place. */
export async function trainHead(
  net: Network,
  data: Dataset,
  opts: HeadTrainOptions,
): Promise<HeadTrainResult> {
  const n = opts.indices.length;
  if (n === 0) throw new Error('trainHead: no labeled samples to train on');
  if (opts.labels.length !== n)
    throw new Error(`trainHead: ${n} indices but ${opts.labels.length} labels`);
  const C = net.numClasses;
  for (let k = 0; k < n; k++) {
    const l = opts.labels[k]!;
    if (!(l >= 0 && l < C)) {
      throw new Error(
        `trainHead: sample ${opts.indices[k]} has label ${l}, expected a class in [0, ${C})`,
      );
    }
  }
  const started = performance.now();
  if (net.spec.kind === 'linear') return trainLinear(net, data, opts, started);
  const steps = opts.steps ?? 100;
  const penaltyC = opts.C ?? 1;
  const bs = Math.min(n, opts.batchSize ?? 2048);
  const classW =
    (opts.classWeights ?? 'balanced') === 'balanced'
      ? balancedWeights(opts.labels, C)
      : new Float32Array(C).fill(1);
  const sampleW = Float32Array.from(opts.labels, (l) => classW[l]!);
  net.reseedDropout?.(deriveSeed(opts.seed, 'dropout'));
  const vars = net.trainableVariables();
  // Penalise weight matrices, not biases (as scikit-learn does for the intercept).
  const penalised = vars.filter((v) => v.shape.length > 1);
  const lambda = 1 / (2 * penaltyC * n);
  const opt = new Adam(opts.learningRate ?? 0.01);
  const rng = new Rng(deriveSeed(opts.seed, 'head-batches'));
  const full = bs === n;
  const xAll = full ? makeBatch(data, opts.indices, opts.norm) : null;
  const yAll = full ? tf.tensor1d(opts.labels, 'int32') : null;
  const wAll = full ? tf.tensor1d(sampleW) : null;
  const rows = new Int32Array(bs);
  const labs = new Int32Array(bs);
  const ws = new Float32Array(bs);
  let lastLoss = NaN;
  try {
    for (let s = 0; s < steps; s++) {
      if (s % 25 === 0) {
        if (opts.signal?.aborted) throw new TrainingCancelled();
        // Let a cancel message in; cheap at this rate.
        await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted) throw new TrainingCancelled();
      }
      let x = xAll;
      let y = yAll;
      let w = wAll;
      if (!full) {
        for (let k = 0; k < bs; k++) {
          const j = rng.int(n);
          rows[k] = opts.indices[j]!;
          labs[k] = opts.labels[j]!;
          ws[k] = sampleW[j]!;
        }
        x = makeBatch(data, rows, opts.norm);
        y = tf.tensor1d(labs, 'int32');
        w = tf.tensor1d(ws);
      }
      const wantLoss = s === steps - 1;
      const loss: tf.Scalar | undefined = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const out = net.forward(x!, 'train');
          const logp = tf.logSoftmax(out.logits);
          const ce = tf.neg(tf.sum(tf.mul(tf.oneHot(y!, C), logp), 1));
          let l = tf.div(tf.sum(tf.mul(ce, w!)), tf.sum(w!)) as tf.Scalar;
          for (const v of penalised) l = tf.add(l, tf.mul(lambda, tf.sum(tf.square(v))));
          return l;
        }, vars);
        opt.step(vars, grads);
        return wantLoss ? value : tf.scalar(0);
      });
      if (!full) tf.dispose([x!, y!, w!]);
      if (wantLoss) lastLoss = (await loss.data())[0]!;
      loss.dispose();
    }
  } finally {
    tf.dispose([xAll!, yAll!, wAll!].filter(Boolean));
    opt.dispose();
  }
  return { steps, loss: lastLoss, ms: performance.now() - started };
}

/** Standardised rows of `indices` as one dense [n, D] matrix. */
export function gatherRows(data: Dataset, indices: Int32Array, norm: Normalization): Float32Array {
  const D = sampleSize(data.sampleShape);
  if (norm.mean.length !== D || norm.std.length !== D) {
    throw new Error(`${data.name}: normalisation has ${norm.mean.length} features, expected ${D}`);
  }
  const out = new Float32Array(indices.length * D);
  const x = data.x;
  for (let k = 0; k < indices.length; k++) {
    const base = indices[k]! * D;
    const o = k * D;
    for (let j = 0; j < D; j++)
      out[o + j] = (x[base + j]! * norm.scale - norm.mean[j]!) / norm.std[j]!;
  }
  return out;
}

/** Logistic regression by L-BFGS (deterministic; no dropout while fitting). */
function trainLinear(
  net: Network,
  data: Dataset,
  opts: HeadTrainOptions,
  started: number,
): HeadTrainResult {
  const C = net.numClasses;
  const x = gatherRows(data, opts.indices, opts.norm);
  const classW =
    (opts.classWeights ?? 'balanced') === 'balanced'
      ? balancedWeights(opts.labels, C)
      : new Float32Array(C).fill(1);
  const fit = fitLogistic(x, opts.labels, C, {
    C: opts.C ?? 1,
    sampleWeights: Float32Array.from(opts.labels, (l) => classW[l]!),
    maxIter: opts.steps ?? 200,
    shouldStop: () => opts.signal?.aborted === true,
  });
  if (opts.signal?.aborted) throw new TrainingCancelled();
  const D = x.length / opts.labels.length;
  const w = tf.tensor2d(fit.w, [D, C]);
  const b = tf.tensor1d(fit.b);
  try {
    net.setWeights([w, b]);
  } finally {
    tf.dispose([w, b]);
  }
  net.reseedDropout?.(deriveSeed(opts.seed, 'dropout'));
  return { steps: fit.iterations, loss: fit.loss, ms: performance.now() - started };
}
