import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from './index.ts';
import { startWasmBackend } from '../wasmThreads.ts';

/** Start both backends once and register our wasm kernels (tests only). */
export async function initBothBackends(): Promise<void> {
  if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend did not start');
  // DEEPAL_WASM_THREADS=2 runs the same checks on the threaded build (threaded.test.ts does).
  await startWasmBackend(Number(process.env.DEEPAL_WASM_THREADS ?? 1));
  registerWasmKernels();
}

/**
 * Run `fn` on the cpu backend, then on wasm, and return both results as flat arrays with their
 * shapes. `fn` must build its inputs from plain arrays so each backend computes from scratch.
 */
export async function onBoth(
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<{ cpu: Float32Array[]; wasm: Float32Array[]; shapes: number[][] }> {
  const run = async (backend: string): Promise<{ v: Float32Array[]; s: number[][] }> => {
    await tf.setBackend(backend);
    const out = tf.tidy(fn);
    const list = Array.isArray(out) ? out : [out];
    const v = list.map((t) => Float32Array.from(t.dataSync()));
    const s = list.map((t) => t.shape);
    tf.dispose(list);
    return { v, s };
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  for (let i = 0; i < cpu.s.length; i++) {
    if (JSON.stringify(cpu.s[i]) !== JSON.stringify(wasm.s[i])) {
      throw new Error(`output ${i}: cpu shape ${cpu.s[i]} but wasm shape ${wasm.s[i]}`);
    }
  }
  return { cpu: cpu.v, wasm: wasm.v, shapes: cpu.s };
}

/** max |a - b| / max |a| (0 when both are all zeros). */
export function relError(ref: Float32Array, got: Float32Array): number {
  if (ref.length !== got.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i]! - got[i]!);
    if (!(d <= diff)) diff = d; // NaN propagates as a failure
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Random values in [-1, 1) from the test's Rng-like source. */
export function randomArray(next: () => number, n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = 2 * next() - 1;
  return v;
}
