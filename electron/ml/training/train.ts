import * as tf from '@tensorflow/tfjs';
import { Rng, deriveSeed } from '../../../shared/random.ts';
import type { Network, Normalization } from '../models/network.ts';
import type { Dataset } from '../types.ts';
import { Adam } from './adam.ts';
import { defaultAugmentation, makeBatch, type Augmentation } from './batches.ts';
import type { TrainingPlugin } from './plugin.ts';
import { chunkFor, evalBytesPerSample, TRAIN_OVER_EVAL } from './memory.ts';

/** Thrown when training stops because its AbortSignal fired. */
export class TrainingCancelled extends Error {
  constructor() {
    super('Training was cancelled');
    this.name = 'TrainingCancelled';
  }
}

export interface EpochProgress {
  /** Epochs completed, 1-based. */
  epoch: number;
  epochs: number;
  /** Mean cross-entropy over the epoch's samples (without plugin losses). */
  loss: number;
  /** Training accuracy over the epoch (train mode: dropout on, augmented inputs). */
  accuracy: number;
  /** Wall time of this epoch. */
  ms: number;
}

export interface BatchProgress {
  /** 0-based epoch and batch. */
  epoch: number;
  batch: number;
  batches: number;
  /** Samples in this batch. */
  size: number;
}

export interface TrainOptions {
  /** Dataset rows to train on, and their labels (parallel arrays). */
  indices: Int32Array;
  labels: Int32Array;
  epochs: number;
  batchSize: number;
  /** Adam learning rate; default 1e-3. */
  learningRate?: number;
  /** Seeds shuffling, augmentation and dropout masks. */
  seed: number;
  norm: Normalization;
  /** 'default' = defaultAugmentation(data): the dataset's own, else a safe one; default 'none'. */
  augment?: Augmentation | 'default' | 'none';
  signal?: AbortSignal;
  onEpoch?: (p: EpochProgress) => void;
  /** After each optimiser step. No loss here: reading it would force a sync on every batch. */
  onBatch?: (p: BatchProgress) => void;
  /** Hooks of strategies that change training, called in order (the caller disposes them). */
  plugins?: TrainingPlugin[];
  /** Unlabeled pool rows that plugins' `unlabeledBatch` draws from. */
  unlabeled?: Int32Array;
}

export interface TrainResult {
  epochs: number;
  /** Mean cross-entropy of the last epoch. */
  loss: number;
  /** Training accuracy of the last epoch. */
  trainAccuracy: number;
  ms: number;
  samplesPerSec: number;
}

/** Yield to the event loop so an abort (or a worker message) can land between batches. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Batch boundaries for n samples: full batches plus a last partial one. A lone last sample joins
 * the batch before it, because batch norm cannot take a batch of one.
 */
export function batchBounds(n: number, batchSize: number): [number, number][] {
  const bounds: [number, number][] = [];
  for (let s = 0; s < n; s += batchSize) bounds.push([s, Math.min(n, s + batchSize)]);
  const last = bounds[bounds.length - 1];
  if (bounds.length > 1 && last && last[1] - last[0] === 1) {
    bounds.pop();
    bounds[bounds.length - 1]![1] = n;
  }
  return bounds;
}

export interface TrainStep {
  /** One optimiser step on a normalised batch; accumulates loss and correct counts on device. */
  run(x: tf.Tensor, y: tf.Tensor1D, epoch: number): void;
  /**
   * The same step, yielding to the event loop between the chunks a large batch is split into
   * (see memory.ts) and throwing TrainingCancelled there, before the optimiser step, once
   * `signal` has fired: a step on large images can take many seconds.
   */
  runAsync(x: tf.Tensor, y: tf.Tensor1D, epoch: number, signal?: AbortSignal): Promise<void>;
  /** Samples in each chunk of the last step (one entry: the batch ran whole). */
  readonly chunks: readonly number[];
  /** Sum of per-sample losses and correct predictions since the last read, then reset. */
  readTotals(): { lossSum: number; correct: number };
  dispose(): void;
}

/** `n` split into `count` parts whose sizes differ by at most one, larger first. */
function evenSplit(n: number, count: number): number[] {
  const base = Math.floor(n / count);
  return Array.from({ length: count }, (_, i) => base + (i < n % count ? 1 : 0));
}

/**
 * The training step trainNetwork uses (also used by `deepal bench train`): cross-entropy plus the
 * plugins' batch losses, one gradient over the network's and the plugins' variables, Adam per
 * group. Nothing is read back to the CPU.
 *
 * On the wasm backend a batch whose step would not fit memory.ts's STEP_BYTES is split into
 * chunks: each chunk's gradient of (sum of its losses) / batch size is added up, then one Adam
 * step, so the update is the whole batch's up to float rounding (batch norm then normalises over
 * each chunk). Plugins with a batch loss see whole batches only (their losses pair samples).
 */
export function createTrainStep(
  net: Network,
  opts: { learningRate?: number; plugins?: TrainingPlugin[] } = {},
): TrainStep {
  const lr = opts.learningRate ?? 1e-3;
  const plugins = opts.plugins ?? [];
  const groups: { vars: tf.Variable[]; opt: Adam }[] = [
    { vars: net.trainableVariables(), opt: new Adam(lr) },
  ];
  for (const p of plugins) {
    const vars = p.variables?.() ?? [];
    if (vars.length > 0) groups.push({ vars, opt: new Adam(p.learningRate ?? lr) });
  }
  const allVars = groups.flatMap((g) => g.vars);
  const splittable = plugins.every((p) => !p.batchLoss);
  let lossSum: tf.Scalar = tf.scalar(0);
  let correct: tf.Scalar = tf.scalar(0);
  let chunks: number[] = [];

  const planChunks = (n: number): number[] => {
    const perSample = splittable ? evalBytesPerSample(net) : null;
    if (perSample === null) return [n];
    return evenSplit(n, Math.ceil(n / chunkFor(TRAIN_OVER_EVAL * perSample, n)));
  };

  const addTotals = (ce: tf.Scalar, ok: tf.Scalar): void => {
    const [l, c] = tf.tidy(() => [tf.add(lossSum, ce), tf.add(correct, ok)]);
    lossSum.dispose();
    correct.dispose();
    lossSum = l as tf.Scalar;
    correct = c as tf.Scalar;
  };

  /** Loss of (part of) a batch for the gradient: sum of its losses / `denominator`. */
  const chunkLoss = (
    x: tf.Tensor,
    y: tf.Tensor1D,
    epoch: number,
    denominator: number | null,
    kept: { ce?: tf.Scalar; correct?: tf.Scalar },
  ): tf.Scalar => {
    const out = net.forward(x, 'train');
    const C = out.logits.shape[1];
    const logp = tf.logSoftmax(out.logits);
    const perSampleLoss = tf.neg(tf.sum(tf.mul(tf.oneHot(y, C), logp), 1)) as tf.Tensor1D;
    // Kept past the gradient scope (which disposes everything else it made).
    kept.ce = tf.keep(tf.sum(perSampleLoss) as tf.Scalar);
    kept.correct = tf.keep(
      tf.sum(tf.cast(tf.equal(tf.argMax(out.logits, 1), y), 'float32')) as tf.Scalar,
    );
    if (denominator !== null) return tf.div(kept.ce, denominator) as tf.Scalar;
    let loss = tf.mean(perSampleLoss) as tf.Scalar;
    for (const p of plugins) {
      if (p.batchLoss) loss = tf.add(loss, p.batchLoss({ x, y, out, perSampleLoss, epoch }));
    }
    return loss;
  };

  const wholeBatch = (x: tf.Tensor, y: tf.Tensor1D, epoch: number): void => {
    const kept: { ce?: tf.Scalar; correct?: tf.Scalar } = {};
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => chunkLoss(x, y, epoch, null, kept), allVars);
      for (const g of groups) g.opt.step(g.vars, grads);
    });
    addTotals(kept.ce!, kept.correct!);
    tf.dispose([kept.ce!, kept.correct!]);
  };

  /** The step, suspended after each chunk's gradient (returning early releases what it holds). */
  function* step(x: tf.Tensor, y: tf.Tensor1D, epoch: number): Generator<void, void, void> {
    const n = x.shape[0]!;
    chunks = planChunks(n);
    if (chunks.length === 1) {
      wholeBatch(x, y, epoch);
      return;
    }
    let sum: Record<string, tf.Tensor> = {};
    const kept: { ce?: tf.Scalar; correct?: tf.Scalar }[] = [];
    try {
      let start = 0;
      for (const m of chunks) {
        const k: { ce?: tf.Scalar; correct?: tf.Scalar } = {};
        kept.push(k);
        const next = tf.tidy(() => {
          const xc = tf.slice(x, start, m);
          const yc = tf.slice(y, start, m);
          const { grads } = tf.variableGrads(() => chunkLoss(xc, yc, epoch, n, k), allVars);
          const added: Record<string, tf.Tensor> = {};
          for (const [name, g] of Object.entries(grads)) {
            if (!g) continue;
            const prev = sum[name];
            added[name] = prev ? tf.add(prev, g) : g;
          }
          return added;
        });
        tf.dispose(Object.values(sum));
        sum = next;
        start += m;
        yield;
      }
      tf.tidy(() => {
        for (const g of groups) g.opt.step(g.vars, sum);
      });
      const [ce, ok] = tf.tidy(() => [
        tf.addN(kept.map((k) => k.ce!)),
        tf.addN(kept.map((k) => k.correct!)),
      ]);
      addTotals(ce as tf.Scalar, ok as tf.Scalar);
      tf.dispose([ce!, ok!]);
    } finally {
      tf.dispose(Object.values(sum));
      for (const k of kept) tf.dispose([k.ce, k.correct].filter((t) => t !== undefined));
    }
  }

  return {
    get chunks() {
      return chunks;
    },
    run(x, y, epoch) {
      for (const _ of step(x, y, epoch)) {
        // every chunk, without pausing
      }
    },
    async runAsync(x, y, epoch, signal) {
      const it = step(x, y, epoch);
      try {
        while (!it.next().done) {
          await yieldToEventLoop();
          if (signal?.aborted) throw new TrainingCancelled();
        }
      } finally {
        it.return();
      }
    },
    readTotals() {
      const out = { lossSum: lossSum.dataSync()[0]!, correct: correct.dataSync()[0]! };
      lossSum.dispose();
      correct.dispose();
      lossSum = tf.scalar(0);
      correct = tf.scalar(0);
      return out;
    },
    dispose() {
      lossSum.dispose();
      correct.dispose();
      for (const g of groups) g.opt.dispose();
    },
  };
}

function resolveAugmentation(
  augment: TrainOptions['augment'],
  data: Dataset,
): Augmentation | undefined {
  if (augment === undefined || augment === 'none') return undefined;
  if (augment === 'default') return defaultAugmentation(data);
  return augment;
}

function validate(net: Network, data: Dataset, opts: TrainOptions): void {
  const n = opts.indices.length;
  if (opts.labels.length !== n) {
    throw new Error(`trainNetwork: ${n} indices but ${opts.labels.length} labels`);
  }
  if (n === 0) throw new Error('trainNetwork: no labeled samples to train on');
  if (!(Number.isInteger(opts.epochs) && opts.epochs >= 0)) {
    throw new Error(`trainNetwork: epochs must be a non-negative integer, got ${opts.epochs}`);
  }
  if (!(Number.isInteger(opts.batchSize) && opts.batchSize >= 1)) {
    throw new Error(`trainNetwork: batchSize must be a positive integer, got ${opts.batchSize}`);
  }
  for (let k = 0; k < n; k++) {
    const l = opts.labels[k]!;
    if (!(l >= 0 && l < net.numClasses)) {
      throw new Error(
        `trainNetwork: sample ${opts.indices[k]} of ${data.name} has label ${l}, ` +
          `expected a class in [0, ${net.numClasses})`,
      );
    }
  }
}

/**
 * Train `net` in place with Adam on the given rows: shuffled per epoch from the seed, the last
 * partial batch kept, the abort signal checked between batches (throws TrainingCancelled).
 * Plugins: `variables()` are optimised jointly (their own Adam, at their learning rate),
 * `batchLoss` is added inside the gradient, `afterBatch` runs after each step with a provider of
 * unlabeled batches, `onEpochEnd` after each epoch; the epoch passed to hooks is 0-based.
 */
export async function trainNetwork(
  net: Network,
  data: Dataset,
  opts: TrainOptions,
): Promise<TrainResult> {
  validate(net, data, opts);
  const started = performance.now();
  const n = opts.indices.length;
  const plugins = opts.plugins ?? [];
  const augment = resolveAugmentation(opts.augment, data);
  const shuffleRng = new Rng(deriveSeed(opts.seed, 'shuffle'));
  const augRng = new Rng(deriveSeed(opts.seed, 'augment'));
  const unlabeledRng = new Rng(deriveSeed(opts.seed, 'unlabeled'));
  net.reseedDropout?.(deriveSeed(opts.seed, 'dropout'));
  // A plugin may ask for longer epochs (WAAL): the labeled rows repeat, each about equally often.
  const epochLength = Math.max(
    n,
    ...plugins.map((p) => Math.round(p.epochSamples?.(n, opts.unlabeled?.length ?? 0) ?? 0)),
  );
  const bounds = batchBounds(epochLength, opts.batchSize);
  const order = Int32Array.from({ length: epochLength }, (_, k) => k % n);
  const batchIdx = new Int32Array(opts.batchSize + 1);
  const batchLab = new Int32Array(opts.batchSize + 1);

  // Unlabeled rows are served from a shuffled copy, reshuffled when used up.
  const pool = opts.unlabeled ? Int32Array.from(opts.unlabeled) : new Int32Array(0);
  let poolPos = pool.length;
  const unlabeledBatch = (size: number): tf.Tensor | null => {
    if (pool.length === 0 || size <= 0) return null;
    const rows = new Int32Array(Math.min(size, pool.length));
    for (let k = 0; k < rows.length; k++) {
      if (poolPos >= pool.length) {
        unlabeledRng.shuffle(pool);
        poolPos = 0;
      }
      rows[k] = pool[poolPos++]!;
    }
    return makeBatch(data, rows, opts.norm, { augment, rng: augRng });
  };

  const step = createTrainStep(net, { learningRate: opts.learningRate, plugins });
  let loss = NaN;
  let accuracy = NaN;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const epochStart = performance.now();
      shuffleRng.shuffle(order);
      for (let b = 0; b < bounds.length; b++) {
        await yieldToEventLoop();
        if (opts.signal?.aborted) throw new TrainingCancelled();
        const [s, e] = bounds[b]!;
        const rows = batchIdx.subarray(0, e - s);
        const labs = batchLab.subarray(0, e - s);
        for (let k = s; k < e; k++) {
          rows[k - s] = opts.indices[order[k]!]!;
          labs[k - s] = opts.labels[order[k]!]!;
        }
        const x = makeBatch(data, rows, opts.norm, { augment, rng: augRng });
        const y = tf.tensor1d(labs, 'int32');
        try {
          for (const p of plugins) {
            if (p.beforeBatch)
              await p.beforeBatch({ epoch, batchIndex: b, size: e - s, unlabeledBatch });
          }
          await step.runAsync(x, y, epoch, opts.signal);
          for (const p of plugins) {
            if (p.afterBatch) await p.afterBatch({ epoch, batchIndex: b, x, y, unlabeledBatch });
          }
        } finally {
          x.dispose();
          y.dispose();
        }
        opts.onBatch?.({ epoch, batch: b, batches: bounds.length, size: e - s });
      }
      const totals = step.readTotals();
      loss = totals.lossSum / epochLength;
      accuracy = totals.correct / epochLength;
      for (const p of plugins) p.onEpochEnd?.(epoch);
      opts.onEpoch?.({
        epoch: epoch + 1,
        epochs: opts.epochs,
        loss,
        accuracy,
        ms: performance.now() - epochStart,
      });
    }
  } finally {
    step.dispose();
  }
  const ms = performance.now() - started;
  return {
    epochs: opts.epochs,
    loss,
    trainAccuracy: accuracy,
    ms,
    samplesPerSec: ms > 0 ? (epochLength * opts.epochs * 1000) / ms : 0,
  };
}
