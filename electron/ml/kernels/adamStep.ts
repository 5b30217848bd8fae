import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { jobCount, runJobs, splitRange } from './parallel.ts';
import { simdKernels } from './simd.ts';
import { asWasm, heapF32, heapMemory, offsetOf } from './wasmHeap.ts';

/** Our kernel's name: one Adam update of a variable, computed in one pass. */
export const ADAM_STEP = 'DeepalAdamStep';

export interface AdamStepAttrs {
  beta1: number;
  beta2: number;
  /** lr * sqrt(1 - beta2^t) / (1 - beta1^t) */
  stepSize: number;
  /** eps * sqrt(1 - beta2^t) */
  epsHat: number;
}

/**
 * Inputs p, g, m, v (same shape, float32); outputs [p', m', v']. Replaces the ten element-wise
 * kernels of an Adam update (each a separate pass over the variable, each with tf.js's per-call
 * overhead) with one SIMD loop, in the same order of float operations, so the result is the same
 * as the element-wise path's (checked in the tests).
 */
function adamStep(args: {
  inputs: { p: TensorInfo; g: TensorInfo; m: TensorInfo; v: TensorInfo };
  backend: unknown;
  attrs: AdamStepAttrs;
}): TensorInfo[] {
  const backend = asWasm(args.backend);
  const { p, g, m, v } = args.inputs;
  const { beta1, beta2, stepSize, epsHat } = args.attrs;
  const shape = [...p.shape];
  const pOut = backend.makeOutput(shape, 'float32');
  const mOut = backend.makeOutput(shape, 'float32');
  const vOut = backend.makeOutput(shape, 'float32');
  const n = shape.reduce((a, b) => a * b, 1);
  const f1 = Math.fround(1 - beta1);
  const f2 = Math.fround(1 - beta2);
  const memory = heapMemory(backend);
  const simd = simdKernels(memory);
  const vectorised = simd ? n - (n % 4) : 0;
  if (simd && vectorised > 0) {
    const ptrs = [p, g, m, v, pOut, mOut, vOut].map((t) => offsetOf(backend, t));
    const jobs = splitRange(vectorised, jobCount(memory, 3 * vectorised), 4).map(([b, e]) => [
      ...ptrs.map((ptr) => ptr + 4 * b),
      e - b,
      beta1,
      f1,
      beta2,
      f2,
      stepSize,
      epsHat,
    ]);
    runJobs(memory!, 'adam', jobs);
  }
  if (vectorised < n) {
    // The last (n mod 4) floats, or everything where the SIMD module is unavailable; Math.fround
    // after each operation keeps float32 rounding.
    const [P, G, M, V] = [p, g, m, v].map((t) => heapF32(backend, t));
    const [PO, MO, VO] = [pOut, mOut, vOut].map((t) => heapF32(backend, t));
    const fr = Math.fround;
    const b1 = fr(beta1);
    const b2 = fr(beta2);
    const s = fr(stepSize);
    const e = fr(epsHat);
    for (let i = vectorised; i < n; i++) {
      const gi = G![i]!;
      const mi = fr(fr(M![i]! * b1) + fr(gi * f1));
      const vi = fr(fr(V![i]! * b2) + fr(fr(gi * gi) * f2));
      MO![i] = mi;
      VO![i] = vi;
      PO![i] = fr(P![i]! - fr(fr(mi / fr(fr(Math.sqrt(vi)) + e)) * s));
    }
  }
  return [pOut, mOut, vOut];
}

export const adamStepConfig: KernelConfig = {
  kernelName: ADAM_STEP,
  backendName: 'wasm',
  kernelFunc: adamStep as unknown as KernelFunc,
};
