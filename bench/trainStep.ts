/**
 * Training and inference throughput of the reference CNN (conv3x3(32)-relu-maxpool2,
 * conv3x3(64)-relu-maxpool2, dropout 0.25, dense 128 relu, dense 10; 28x28x1, Adam 1e-3, batch 64)
 * written with raw tf ops.
 *
 *   node --import tsx bench/trainStep.ts [--backend wasm|cpu] [--json] [--profile]
 *        [--steps N] [--repeats R] [--batch B] [--no-kernels] [--dw-path auto|im2col|conv]
 *
 * --no-kernels leaves out our wasm kernels (for a before/after comparison; conv training then
 * fails on wasm for lack of Conv2DBackpropFilter).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { registerWasmKernels } from '../electron/ml/kernels/index.ts';
import { startWasmBackend } from '../electron/ml/wasmThreads.ts';
import { setFilterGradPath } from '../electron/ml/kernels/conv2dBackpropFilter.ts';
import type { FilterGradPath } from '../electron/ml/kernels/conv2dBackpropFilter.ts';
import { randomBatch, referenceCnn, trainStep } from '../electron/ml/kernels/referenceModels.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const backendName = arg('backend', 'wasm');
const steps = Number(arg('steps', '20'));
const repeats = Number(arg('repeats', '3'));
const batch = Number(arg('batch', '64'));
const json = flag('json');
const profile = flag('profile');

/** Kernel name -> [total ms, calls], filled while profiling training steps. */
const kernelTimes = new Map<string, [number, number]>();
let recording = false;

/** Wraps every kernel of the backend with a timer. The backends we time are synchronous. */
function instrumentKernels(backend: string): void {
  for (const cfg of tf.getKernelsForBackend(backend)) {
    const inner = cfg.kernelFunc;
    const wrapped: KernelConfig = {
      ...cfg,
      kernelFunc: ((args: Parameters<KernelFunc>[0]) => {
        const t0 = performance.now();
        const out = inner(args);
        const dt = performance.now() - t0;
        if (!recording) return out;
        const rec = kernelTimes.get(cfg.kernelName) ?? [0, 0];
        rec[0] += dt;
        rec[1] += 1;
        kernelTimes.set(cfg.kernelName, rec);
        return out;
      }) as KernelFunc,
    };
    tf.unregisterKernel(cfg.kernelName, backend);
    tf.registerKernel(wrapped);
  }
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  if (backendName === 'wasm') {
    const t = await startWasmBackend(Number(arg('threads', '1')));
    if (!json) console.log(`wasm backend, ${t} thread(s)`);
  } else if (!(await tf.setBackend(backendName))) {
    throw new Error(`backend ${backendName} did not start`);
  }
  if (backendName === 'wasm' && !flag('no-kernels')) registerWasmKernels();
  setFilterGradPath(arg('dw-path', 'auto') as FilterGradPath);
  if (profile) instrumentKernels(backendName);

  const model = referenceCnn(1);
  const opt = tf.train.adam(1e-3);
  const batches = [0, 1, 2, 3].map((i) => randomBatch(100 + i, [batch, 28, 28, 1], 10));
  try {
    for (let i = 0; i < 3; i++) trainStep(model, opt, batches[i % 4]!.x, batches[i % 4]!.y);
  } catch (err) {
    console.error(`training step failed on ${tf.getBackend()}: ${(err as Error).message}`);
    process.exit(1);
  }
  kernelTimes.clear();

  const train: number[] = [];
  const infer: number[] = [];
  let loss = NaN;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    recording = profile;
    for (let s = 0; s < steps; s++) {
      const b = batches[s % 4]!;
      loss = trainStep(model, opt, b.x, b.y);
    }
    recording = false;
    train.push((steps * batch * 1000) / (performance.now() - t0));
    const t1 = performance.now();
    for (let s = 0; s < steps; s++) {
      const y = tf.tidy(() => model.logits(batches[s % 4]!.x as tf.Tensor4D, false));
      y.dataSync();
      y.dispose();
    }
    infer.push((steps * batch * 1000) / (performance.now() - t1));
  }
  const result = {
    backend: tf.getBackend(),
    batch,
    steps,
    repeats,
    trainSamplesPerSec: { best: Math.max(...train), median: median(train), all: train },
    inferSamplesPerSec: { best: Math.max(...infer), median: median(infer), all: infer },
    finalLoss: loss,
    numTensors: tf.memory().numTensors,
    /** Size of the wasm heap after the run (it grows, never shrinks; flat across runs = no leak). */
    wasmHeapMB:
      tf.getBackend() === 'wasm'
        ? (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length / 2 ** 20
        : null,
  };
  const round = (v: number): number => Math.round(v);
  if (json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(
      `${result.backend}: train ${round(result.trainSamplesPerSec.best)} samples/s best, ` +
        `${round(result.trainSamplesPerSec.median)} median; infer ` +
        `${round(result.inferSamplesPerSec.best)} best, ${round(result.inferSamplesPerSec.median)} ` +
        `median (batch ${batch}, ${steps} steps x ${repeats}; loss ${loss.toFixed(4)}; ` +
        `${result.numTensors} tensors live${result.wasmHeapMB ? `, wasm heap ${result.wasmHeapMB} MiB` : ''})`,
    );
  }
  if (profile) {
    const total = [...kernelTimes.values()].reduce((a, [t]) => a + t, 0);
    const stepsRun = repeats * steps;
    const rows = [...kernelTimes.entries()].sort((a, b) => b[1][0] - a[1][0]);
    console.log(`per-kernel time over ${stepsRun} training steps (timers on, so a little slower):`);
    console.log('kernel                      ms/step   calls/step   share');
    for (const [name, [t, calls]] of rows) {
      console.log(
        `${name.padEnd(26)} ${(t / stepsRun).toFixed(2).padStart(8)} ${(calls / stepsRun)
          .toFixed(1)
          .padStart(11)} ${((100 * t) / total).toFixed(1).padStart(6)}%`,
      );
    }
    console.log(
      `total kernel time ${(total / stepsRun).toFixed(2)} ms/step; the rest of a step is ` +
        `tf.js bookkeeping (tape, gradients, optimizer) outside kernels`,
    );
  }
}

await main();
