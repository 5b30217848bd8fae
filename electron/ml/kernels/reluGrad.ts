import * as tf from '@tensorflow/tfjs';
import type { GradConfig, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { jobCount, runJobs, splitRange } from './parallel.ts';
import { simdKernels } from './simd.ts';
import { asWasm, heapMemory, offsetOf } from './wasmHeap.ts';

/** Our kernel's name: the gradient of ReLU in one pass. */
export const RELU_GRAD = 'DeepalReluGrad';

/** dx = dy * step(x) in one pass (float32). See reluGrad in c/kernels.c. */
function reluGrad(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: unknown;
}): TensorInfo {
  const backend = asWasm(args.backend);
  const { x, dy } = args.inputs;
  const memory = heapMemory(backend);
  if (!simdKernels(memory)) throw new Error(`${RELU_GRAD} needs WebAssembly SIMD`);
  const out = backend.makeOutput([...x.shape], 'float32');
  const count = x.shape.reduce((a, b) => a * b, 1);
  const [px, pdy, pdx] = [x, dy, out].map((t) => offsetOf(backend, t)) as [number, number, number];
  const jobs = splitRange(count, jobCount(memory, count), 4).map(([b, e]) => [
    px + 4 * b,
    pdy + 4 * b,
    pdx + 4 * b,
    e - b,
  ]);
  runJobs(memory!, 'reluGrad', jobs);
  return out;
}

export const reluGradConfig: KernelConfig = {
  kernelName: RELU_GRAD,
  backendName: 'wasm',
  kernelFunc: reluGrad as unknown as KernelFunc,
};

/**
 * ReLU's gradient, as tf.js defines it (dy * step(x)), in one pass where the backend has our
 * kernel; elsewhere (cpu, tensorflow) tf.js's own three ops. Registered over tf.js's gradient,
 * which is shared by every backend, so both branches compute the same values.
 */
export const reluGradientConfig: GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [x] = saved as [tf.Tensor];
    const g = dy as tf.Tensor;
    return {
      x: () =>
        x.dtype === 'float32' && g.dtype === 'float32' && tf.getKernel(RELU_GRAD, tf.getBackend())
          ? (tf.engine().runKernel(RELU_GRAD, { x, dy: g }) as tf.Tensor)
          : tf.mul(g, tf.cast(tf.step(x), 'float32')),
    };
  },
};
