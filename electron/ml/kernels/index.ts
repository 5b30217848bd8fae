import * as tf from '@tensorflow/tfjs';
import type { KernelConfig } from '@tensorflow/tfjs';
import { adamStepConfig } from './adamStep.ts';
import { batchMatMulConfig } from './batchMatMul.ts';
import { conv2dBackpropFilterConfig } from './conv2dBackpropFilter.ts';
import { conv2dBackpropInputConfig } from './conv2dBackpropInput.ts';
import { identityConfig } from './identity.ts';
import { maxPoolGradConfig } from './maxPoolGrad.ts';
import { reluGradConfig, reluGradientConfig } from './reluGrad.ts';
import { sumConfig } from './sum.ts';
import { tileConfig } from './tile.ts';
import { asWasm, saveStockKernel, trackHeap } from './wasmHeap.ts';

/**
 * Our kernels for the wasm backend. Conv2DBackpropFilter is missing from tfjs-backend-wasm 4.22
 * (conv nets cannot train without it); the others exist there but dominated a training step:
 * Conv2DBackpropInput and MaxPoolGrad are scalar loops, BatchMatMul sends every transposed
 * product (all dense-layer gradients) to a scalar loop, Sum over leading axes (bias gradients)
 * transposes the whole tensor first, Identity copies, Tile (batch-norm gradients) indexes every
 * element one by one. DeepalAdamStep is ours alone: a whole Adam update in one pass (used by
 * training/adam.ts where it is registered), and DeepalReluGrad ReLU's gradient in one pass (used by
 * the gradient registered below). The SIMD loops are C: c/kernels.c. See bench/trainStep.ts
 * --profile.
 */
export const WASM_KERNELS: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  maxPoolGradConfig,
  batchMatMulConfig,
  sumConfig,
  identityConfig,
  tileConfig,
  adamStepConfig,
  reluGradConfig,
];

/** Stock kernels ours call (saved up front so wrappers added later, e.g. timers, stay outside). */
const STOCK_USED = [
  'BatchMatMul',
  'Conv2D',
  'Transpose',
  'Add',
  'Sum',
  'Identity',
  'Conv2DBackpropInput',
  'Tile',
];

/**
 * Register our wasm kernels (after the wasm backend has started) and count the heap's allocations
 * (trackHeap). Each kernel is checked against the cpu backend in the tests next to it. Idempotent: the stock kernels are saved once, before the first
 * replacement, and a second call replaces ours with ours.
 */
export function registerWasmKernels(): void {
  if (tf.getBackend() === 'wasm') trackHeap(asWasm(tf.backend()));
  for (const name of STOCK_USED) saveStockKernel(name);
  for (const cfg of WASM_KERNELS) {
    if (tf.getKernel(cfg.kernelName, 'wasm')) tf.unregisterKernel(cfg.kernelName, 'wasm');
    tf.registerKernel(cfg);
  }
  // The same gradient as tf.js's for every backend; one pass where ours is registered.
  tf.registerGradient(reluGradientConfig);
}
