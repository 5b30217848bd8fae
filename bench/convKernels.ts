/**
 * Micro-benchmark of the conv-net kernels at the reference CNN's layer shapes (batch 64) on the
 * wasm backend with our kernels: forward Conv2D, Conv2DBackpropFilter (each algorithm),
 * Conv2DBackpropInput, MaxPoolGrad, transposed dense products. Best and median of --reps runs.
 *
 *   node --import tsx bench/convKernels.ts [--reps N]
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { startWasmBackend } from '../electron/ml/wasmThreads.ts';
import { registerWasmKernels } from '../electron/ml/kernels/index.ts';
import { setFilterGradPath } from '../electron/ml/kernels/conv2dBackpropFilter.ts';

const i = process.argv.indexOf('--reps');
const reps = i >= 0 ? Number(process.argv[i + 1]) : 10;

/** CPU time of this process (all its threads), ms: less disturbed by other processes' load. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function time(name: string, flops: number, f: () => tf.Tensor): void {
  for (let k = 0; k < 2; k++) f().dispose();
  const all: number[] = [];
  const cpu: number[] = [];
  for (let k = 0; k < reps; k++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    f().dispose();
    all.push(performance.now() - t0);
    cpu.push(cpuMs() - c0);
  }
  all.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const best = all[0]!;
  const gflops = flops > 0 ? `  ${(flops / best / 1e6).toFixed(1).padStart(5)} GFLOP/s` : '';
  console.log(
    `${name.padEnd(34)} best ${best.toFixed(2).padStart(6)} ms  median ${all[all.length >> 1]!.toFixed(2).padStart(6)} ms  cpu median ${cpu[cpu.length >> 1]!.toFixed(2).padStart(6)} ms${gflops}`,
  );
}

async function main(): Promise<void> {
  const t = process.argv.indexOf('--threads');
  console.log(
    `wasm, ${await startWasmBackend(t >= 0 ? Number(process.argv[t + 1]) : 1)} thread(s)`,
  );
  registerWasmKernels();
  const layers = [
    { name: 'conv1', x: [64, 28, 28, 1], w: [3, 3, 1, 32] },
    { name: 'conv2', x: [64, 13, 13, 32], w: [3, 3, 32, 64] },
  ] as const;
  for (const l of layers) {
    const x = tf.randomNormal([...l.x]) as tf.Tensor4D;
    const w = tf.randomNormal([...l.w]) as tf.Tensor4D;
    const y = tf.conv2d(x, w, 1, 'valid');
    const dy = tf.randomNormal(y.shape);
    const flops = 2 * y.size * l.w[0] * l.w[1] * l.w[2];
    time(`${l.name} Conv2D`, flops, () => tf.conv2d(x, w, 1, 'valid'));
    for (const p of ['auto', 'conv', 'colT'] as const) {
      setFilterGradPath(p);
      time(
        `${l.name} Conv2DBackpropFilter ${p}`,
        flops,
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x, dy },
              { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [...l.w] },
            ) as tf.Tensor,
      );
    }
    setFilterGradPath('auto');
    time(
      `${l.name} Conv2DBackpropInput`,
      flops,
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy, filter: w },
            { strides: 1, pad: 'valid', dataFormat: 'NHWC', inputShape: [...l.x] },
          ) as tf.Tensor,
    );
    const h = tf.relu(y) as tf.Tensor4D;
    const p = tf.maxPool(h, 2, 2, 'valid');
    const dp = tf.randomNormal(p.shape);
    time(
      `${l.name} MaxPoolGrad`,
      0,
      () =>
        tf
          .engine()
          .runKernel(
            'MaxPoolGrad',
            { dy: dp, input: h, output: p },
            { filterSize: 2, strides: 2, pad: 'valid' },
          ) as tf.Tensor,
    );
    tf.dispose([x, w, y, dy, h, p, dp]);
  }
  const a = tf.randomNormal([64, 1600]) as tf.Tensor2D;
  const w3 = tf.randomNormal([1600, 128]) as tf.Tensor2D;
  const g = tf.randomNormal([64, 128]) as tf.Tensor2D;
  const f = 2 * 64 * 1600 * 128;
  time('dense x W', f, () => tf.matMul(a, w3));
  time('dense x^T dy', f, () => tf.matMul(a, g, true, false));
  time('dense dy W^T', f, () => tf.matMul(g, w3, false, true));
}

await main();
