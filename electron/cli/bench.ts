import { Command, InvalidArgumentError, Option } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../shared/random.ts';
import { initBackend, type BackendChoice } from '../ml/backend.ts';
import { createNetwork, modelSummary, MODEL_KINDS } from '../ml/models/index.ts';
import type { ModelKind } from '../ml/models/network.ts';
import { makeBatch } from '../ml/training/batches.ts';
import { computeNormalization } from '../ml/training/normalization.ts';
import { createTrainStep, trainNetwork } from '../ml/training/train.ts';
import type { Dataset } from '../ml/types.ts';
import { referenceCnn, trainStep } from '../ml/kernels/referenceModels.ts';

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
import { backendOption } from './main.ts';

const INPUTS = {
  mnist: [28, 28, 1],
  cifar: [32, 32, 3],
} as const;
type InputKind = keyof typeof INPUTS;

interface BenchTrainOptions {
  model: ModelKind;
  input: InputKind;
  backend?: BackendChoice;
  batchSize: number;
  batches: number;
  warmup: number;
  loop?: boolean;
  raw?: boolean;
  json?: boolean;
}

export interface TrainBenchResult {
  backend: string;
  tfBackend: string;
  threads: number;
  model: ModelKind;
  input: InputKind;
  inputShape: number[];
  batchSize: number;
  batches: number;
  warmup: number;
  params: number;
  /** Optimiser steps on pre-built batches (forward, backward, Adam), samples per second. */
  trainSamplesPerSec: number;
  trainMsPerBatch: number;
  /** Eval-mode forward + softmax, read back to the CPU, samples per second. */
  inferSamplesPerSec: number;
  inferMsPerBatch: number;
  /** trainNetwork end to end (batch building, shuffling, the step), with --loop. */
  loopSamplesPerSec?: number;
  /**
   * With --raw (CNN on mnist input): the same batches through the reference CNN written with raw
   * tf.js ops and tf.train.adam (bench/trainStep.ts's step), alternating with ours, 3 rounds;
   * medians of both and ours / raw.
   */
  raw?: { rounds: number; ourSamplesPerSec: number; rawSamplesPerSec: number; ratio: number };
  /** Mean training loss over the timed steps (random labels: about ln 10 = 2.3). */
  meanLoss: number;
  versions: Record<string, string>;
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer`);
    }
    return n;
  };
}

function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    }
    return n;
  };
}

/** Random uint8 images with random labels: enough for timing, nothing to learn. */
function syntheticDataset(n: number, shape: readonly number[], classes: number): Dataset {
  const rng = new Rng(1234);
  const per = shape.reduce((a, b) => a * b, 1);
  const x = new Uint8Array(n * per);
  for (let i = 0; i < x.length; i++) x[i] = rng.int(256);
  const y = Int32Array.from({ length: n }, () => rng.int(classes));
  return {
    name: 'bench/random',
    x,
    y,
    sampleShape: [...shape],
    classNames: Array.from({ length: classes }, (_, k) => String(k)),
  };
}

/** Measures training and inference throughput of one model on the current backend. */
export async function benchTrain(opts: BenchTrainOptions): Promise<TrainBenchResult> {
  if (opts.raw && (opts.model !== 'cnn' || opts.input !== 'mnist')) {
    throw new Error('--raw compares the CNN on mnist input (the reference CNN takes 28x28x1)');
  }
  const info = await initBackend(opts.backend);
  const shape = INPUTS[opts.input];
  const classes = 10;
  const B = opts.batchSize;
  // A few distinct batches, built once, so the timing is the step and not batch building.
  const distinct = Math.max(1, Math.min(4, opts.batches));
  const data = syntheticDataset(distinct * B, shape, classes);
  const norm = computeNormalization(data);
  const xs: tf.Tensor[] = [];
  const ys: tf.Tensor1D[] = [];
  for (let k = 0; k < distinct; k++) {
    const rows = Int32Array.from({ length: B }, (_, i) => k * B + i);
    xs.push(makeBatch(data, rows, norm));
    ys.push(tf.tensor1d(data.y.subarray(k * B, (k + 1) * B), 'int32'));
  }
  const net = createNetwork({
    kind: opts.model,
    inputShape: [...shape],
    numClasses: classes,
    seed: 1,
  });
  const step = createTrainStep(net, { learningRate: 1e-3 });
  try {
    for (let i = 0; i < opts.warmup; i++) step.run(xs[i % distinct]!, ys[i % distinct]!, 0);
    step.readTotals();
    const t0 = performance.now();
    for (let i = 0; i < opts.batches; i++) step.run(xs[i % distinct]!, ys[i % distinct]!, 0);
    // Reading the loss waits for every queued step (asynchronous backends).
    const { lossSum } = step.readTotals();
    const trainMs = performance.now() - t0;

    const infer = (i: number): void => {
      const p = tf.tidy(() => tf.softmax(net.forward(xs[i % distinct]!, 'eval').logits));
      p.dataSync();
      p.dispose();
    };
    for (let i = 0; i < opts.warmup; i++) infer(i);
    const t1 = performance.now();
    for (let i = 0; i < opts.batches; i++) infer(i);
    const inferMs = performance.now() - t1;

    let raw: TrainBenchResult['raw'];
    if (opts.raw) {
      const ref = referenceCnn(1);
      const opt = tf.train.adam(1e-3);
      try {
        for (let i = 0; i < opts.warmup; i++)
          trainStep(ref, opt, xs[i % distinct]!, ys[i % distinct]!);
        const ours: number[] = [];
        const refs: number[] = [];
        const rounds = 3;
        for (let k = 0; k < rounds; k++) {
          let t = performance.now();
          for (let i = 0; i < opts.batches; i++) step.run(xs[i % distinct]!, ys[i % distinct]!, 0);
          step.readTotals();
          ours.push((opts.batches * B * 1000) / (performance.now() - t));
          t = performance.now();
          for (let i = 0; i < opts.batches; i++)
            trainStep(ref, opt, xs[i % distinct]!, ys[i % distinct]!);
          refs.push((opts.batches * B * 1000) / (performance.now() - t));
        }
        const o = median(ours);
        const r = median(refs);
        raw = { rounds, ourSamplesPerSec: o, rawSamplesPerSec: r, ratio: o / r };
      } finally {
        opt.dispose();
        ref.dispose();
      }
    }

    let loopSamplesPerSec: number | undefined;
    if (opts.loop) {
      const loopData = syntheticDataset(opts.batches * B, shape, classes);
      const indices = Int32Array.from({ length: opts.batches * B }, (_, i) => i);
      const r = await trainNetwork(net, loopData, {
        indices,
        labels: loopData.y,
        epochs: 1,
        batchSize: B,
        seed: 1,
        norm,
        augment: 'default',
      });
      loopSamplesPerSec = r.samplesPerSec;
    }
    return {
      backend: info.backend,
      tfBackend: info.tfBackend,
      threads: info.threads,
      model: opts.model,
      input: opts.input,
      inputShape: [...shape],
      batchSize: B,
      batches: opts.batches,
      warmup: opts.warmup,
      params: modelSummary(net).params,
      trainSamplesPerSec: (opts.batches * B * 1000) / trainMs,
      trainMsPerBatch: trainMs / opts.batches,
      inferSamplesPerSec: (opts.batches * B * 1000) / inferMs,
      inferMsPerBatch: inferMs / opts.batches,
      ...(loopSamplesPerSec !== undefined ? { loopSamplesPerSec } : {}),
      ...(raw ? { raw } : {}),
      meanLoss: lossSum / (opts.batches * B),
      versions: info.versions,
    };
  } finally {
    step.dispose();
    net.dispose();
    tf.dispose([...xs, ...ys]);
  }
}

function table(r: TrainBenchResult): string {
  const f = (v: number): string => v.toFixed(1);
  const rows: [string, string][] = [
    ['backend', `${r.backend} (tf.js "${r.tfBackend}"), ${r.threads} thread(s)`],
    [
      'model',
      `${r.model}, input ${r.inputShape.join('x')}, ${r.params.toLocaleString('en')} params`,
    ],
    ['batches', `${r.batches} timed x ${r.batchSize} after ${r.warmup} warm-up`],
    ['train', `${f(r.trainSamplesPerSec)} samples/s (${f(r.trainMsPerBatch)} ms/batch)`],
    ['inference', `${f(r.inferSamplesPerSec)} samples/s (${f(r.inferMsPerBatch)} ms/batch)`],
  ];
  if (r.loopSamplesPerSec !== undefined) {
    rows.push(['train loop', `${f(r.loopSamplesPerSec)} samples/s (trainNetwork, 1 epoch)`]);
  }
  if (r.raw) {
    rows.push([
      'vs raw',
      `ours ${f(r.raw.ourSamplesPerSec)}, raw tf.js step ${f(r.raw.rawSamplesPerSec)} samples/s ` +
        `(medians of ${r.raw.rounds} alternating rounds): ${r.raw.ratio.toFixed(2)}x`,
    ]);
  }
  rows.push(['mean loss', r.meanLoss.toFixed(4)]);
  return rows.map(([k, v]) => `${k.padEnd(11)}${v}`).join('\n');
}

/** `deepal bench ...`: throughput benchmarks (not tests; timings on a shared machine are noisy). */
export function registerBench(program: Command): void {
  const bench = program.command('bench').description('measure compute throughput');
  bench.addCommand(
    new Command('train')
      .description(
        'training and inference samples/s of a model on random data (Adam 1e-3, the real training step)',
      )
      .addOption(
        new Option('--model <kind>', 'model to build').choices([...MODEL_KINDS]).default('cnn'),
      )
      .addOption(
        new Option('--input <kind>', 'mnist = 28x28x1, cifar = 32x32x3')
          .choices(Object.keys(INPUTS))
          .default('mnist'),
      )
      .addOption(backendOption())
      .option('--batch-size <n>', 'samples per batch', positiveInt('--batch-size'), 64)
      .option('--batches <n>', 'timed batches', positiveInt('--batches'), 20)
      .option('--warmup <n>', 'untimed batches first', nonNegativeInt('--warmup'), 3)
      .option('--loop', 'also time trainNetwork end to end for one epoch')
      .option(
        '--raw',
        'also time the same CNN written with raw tf.js ops and tf.train.adam, alternating with ours',
      )
      .option('--json', 'print one JSON object')
      .action(async (opts: BenchTrainOptions) => {
        const result = await benchTrain(opts);
        process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${table(result)}\n`);
      }),
  );
}
