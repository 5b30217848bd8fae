import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../../../shared/random.ts';
import type { Network, Normalization } from '../models/network.ts';
import { datasetLength, type Dataset } from '../types.ts';
import { makeBatch } from './batches.ts';
import { inferenceBatchCap } from './memory.ts';
import { TrainingCancelled } from './train.ts';

/** Inference batch size: the survey's test batch (1000) for the MLP, smaller where memory needs it. */
export function defaultPredictBatchSize(net: Network): number {
  // A tidy keeps every intermediate activation of a batch until it ends: ResNet18 on 32x32 input
  // holds about 5 MB per sample, the CNN about 0.5 MB (9 MB at 200x200: memory.ts caps the batch
  // so that it fits the wasm heap).
  const usual = net.spec.kind === 'resnet18' ? 64 : net.spec.kind === 'cnn' ? 500 : 1000;
  return Math.min(usual, inferenceBatchCap(net));
}

export interface PredictOptions {
  batchSize?: number;
  /** Also return penultimate embeddings [n, D]. */
  embeddings?: boolean;
  /** 'eval' (default) or 'mc' (dropout on, batch norm in inference mode). */
  mode?: 'eval' | 'mc';
  signal?: AbortSignal;
}

function allRows(data: Dataset): Int32Array {
  return Int32Array.from({ length: datasetLength(data) }, (_, i) => i);
}

/**
 * Runs `fn` on each normalised chunk of `indices` (no augmentation), awaiting between chunks so
 * the event loop (and an abort) can get in.
 */
async function forEachChunk(
  data: Dataset,
  indices: Int32Array,
  norm: Normalization,
  batchSize: number,
  signal: AbortSignal | undefined,
  fn: (x: tf.Tensor, start: number, end: number) => Promise<void>,
): Promise<void> {
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
  for (let s = 0; s < indices.length; s += batchSize) {
    if (signal?.aborted) throw new TrainingCancelled();
    const e = Math.min(indices.length, s + batchSize);
    const x = makeBatch(data, indices.subarray(s, e), norm);
    try {
      await fn(x, s, e);
    } finally {
      x.dispose();
    }
  }
}

/** Softmax probabilities [n, C] (and embeddings [n, D]) for the rows `indices`, in order. */
export async function predict(
  net: Network,
  data: Dataset,
  indices: Int32Array,
  norm: Normalization,
  opts: PredictOptions = {},
): Promise<{ probs: Float32Array; embeddings?: Float32Array }> {
  const C = net.numClasses;
  const D = net.embeddingDim;
  const mode = opts.mode ?? 'eval';
  const probs = new Float32Array(indices.length * C);
  const embeddings = opts.embeddings ? new Float32Array(indices.length * D) : undefined;
  const bs = opts.batchSize ?? defaultPredictBatchSize(net);
  await forEachChunk(data, indices, norm, bs, opts.signal, async (x, s) => {
    const [p, h] = tf.tidy(() => {
      const out = net.forward(x, mode);
      const sm = tf.softmax(out.logits);
      return embeddings ? [sm, out.embedding] : [sm];
    });
    try {
      probs.set(await p!.data<'float32'>(), s * C);
      if (embeddings && h) embeddings.set(await h.data<'float32'>(), s * D);
    } finally {
      p!.dispose();
      h?.dispose();
    }
  });
  return embeddings ? { probs, embeddings } : { probs };
}

/**
 * `passes` Monte-Carlo dropout passes over `indices`: [T, n, C] row-major (pass-major). Each
 * input chunk is built once and reused by every pass.
 *
 * Pass t is one dropout mask, drawn from a stream seeded by (`seed`, t) and shared by every row
 * (consistent MC dropout): every chunk restarts the network's MC stream at `seed`, so a sample's
 * numbers for pass t do not depend on the batch size, the chunk it falls in or its neighbours, and
 * two identical samples get identical numbers. Calls with the same seed (one query) see the same
 * T parameter samples. Default seed: one derived from the network's own seed.
 */
export async function mcPredict(
  net: Network,
  data: Dataset,
  indices: Int32Array,
  norm: Normalization,
  passes = 10,
  opts: { batchSize?: number; signal?: AbortSignal; seed?: number } = {},
): Promise<Float32Array> {
  if (!(Number.isInteger(passes) && passes >= 1)) {
    throw new Error(`MC dropout needs a positive whole number of passes, got ${passes}`);
  }
  const reseed = net.reseedDropout?.bind(net);
  if (!reseed) {
    throw new Error(
      `MC dropout needs a ${net.spec.kind} network whose dropout stream can be reseeded ` +
        '(reseedDropout), so that each pass is one parameter sample for every chunk',
    );
  }
  const seed = opts.seed ?? mcSeedOf(net);
  const C = net.numClasses;
  const n = indices.length;
  const out = new Float32Array(passes * n * C);
  const bs = opts.batchSize ?? defaultPredictBatchSize(net);
  await forEachChunk(data, indices, norm, bs, opts.signal, async (x, s) => {
    reseed(seed);
    const probs = tf.tidy(() =>
      net.mcLogits
        ? net.mcLogits(x, passes).map((l) => tf.softmax(l))
        : Array.from({ length: passes }, () => tf.softmax(net.forward(x, 'mc').logits)),
    );
    try {
      for (let t = 0; t < passes; t++) {
        out.set(await probs[t]!.data<'float32'>(), (t * n + s) * C);
      }
    } finally {
      tf.dispose(probs);
    }
  });
  return out;
}

/** The MC-dropout seed used when a caller gives none: fixed by the network's own seed. */
export function mcSeedOf(net: Network): number {
  return deriveSeed(net.spec.seed, 'mc-dropout');
}

/**
 * Accuracy, mean cross-entropy and the confusion matrix (counts, `confusion[true][predicted]`,
 * numClasses x numClasses) on labeled rows (`indices`, default all); rows labeled -1 are skipped.
 * The matrix is what balanced accuracy, macro-F1 and per-class recall are computed from
 * (shared/metrics.ts); accuracy is its diagonal over its total.
 */
export async function evaluate(
  net: Network,
  data: Dataset,
  indices: Int32Array | undefined,
  norm: Normalization,
  batchSize?: number,
): Promise<{ accuracy: number; loss: number; confusion: number[][] }> {
  const all = indices ?? allRows(data);
  const n = datasetLength(data);
  for (const i of all) {
    if (!(i >= 0 && i < n))
      throw new RangeError(`${data.name}: sample index ${i} is out of range [0, ${n})`);
  }
  const rows = all.filter((i) => data.y[i]! >= 0);
  if (rows.length === 0) throw new Error(`${data.name}: no labeled samples to evaluate on`);
  const C = net.numClasses;
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let correct = 0;
  let lossSum = 0;
  const bs = batchSize ?? defaultPredictBatchSize(net);
  await forEachChunk(data, rows, norm, bs, undefined, async (x, s, e) => {
    const y = Int32Array.from(rows.subarray(s, e), (i) => data.y[i]!);
    for (const l of y) {
      if (l >= C) {
        throw new Error(`${data.name}: label ${l} is outside the model's ${C} classes`);
      }
    }
    const [loss, predicted] = tf.tidy((): [tf.Tensor, tf.Tensor] => {
      const logits = net.forward(x, 'eval').logits;
      const yt = tf.tensor1d(y, 'int32');
      const logp = tf.logSoftmax(logits);
      return [tf.neg(tf.sum(tf.mul(tf.oneHot(yt, C), logp))), tf.argMax(logits, 1)];
    });
    try {
      const [l] = await loss.data<'float32'>();
      const p = await predicted.data<'int32'>();
      lossSum += l!;
      y.forEach((t, k) => {
        confusion[t]![p[k]!]! += 1;
        if (t === p[k]) correct++;
      });
    } finally {
      loss.dispose();
      predicted.dispose();
    }
  });
  return { accuracy: correct / rows.length, loss: lossSum / rows.length, confusion };
}
