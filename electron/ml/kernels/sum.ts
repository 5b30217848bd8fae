import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { jobCount, runJobs, splitRange } from './parallel.ts';
import { simdKernels } from './simd.ts';
import {
  aliasOf,
  asWasm,
  heapF32,
  heapMemory,
  offsetOf,
  releaseAlias,
  stockKernel,
} from './wasmHeap.ts';

interface Attrs {
  axis: number | number[];
  keepDims: boolean;
}

/**
 * Sum over the LEADING axes of a float32 tensor, e.g. a bias gradient: dy [N, H, W, C] summed
 * over N, H, W. The stock kernel first transposes the whole tensor to bring those axes last. We
 * view it as [rows, cols] and sum the rows in one SIMD pass (sumRows in c/kernels.c). Without the
 * SIMD module: add its top half to its bottom half with the stock Add, halving until one row is
 * left (no transpose, no copies: the halves are aliases of the same memory). Other reductions go
 * to the stock kernel.
 */
function sum(args: { inputs: { x: TensorInfo }; backend: unknown; attrs: Attrs }): TensorInfo {
  const backend = asWasm(args.backend);
  const { x } = args.inputs;
  const { axis, keepDims } = args.attrs;
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  if (x.dtype !== 'float32' || !leading) return stockKernel('Sum')(args);
  let rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const kept = x.shape.slice(axes.length);
  const cols = kept.reduce((a, b) => a * b, 1);
  const outShape = keepDims ? [...axes.map(() => 1), ...kept] : kept;
  const out = backend.makeOutput(outShape, 'float32');
  if (rows === 0) {
    heapF32(backend, out).fill(0);
    return out;
  }
  const memory = heapMemory(backend);
  if (simdKernels(memory)) {
    // Threads take bands of columns.
    const src = offsetOf(backend, x);
    const dst = offsetOf(backend, out);
    const parts = cols >= 8 ? jobCount(memory, rows * cols) : 1;
    const jobs = splitRange(cols, parts, 4).map(([b, e]) => [
      src + 4 * b,
      dst + 4 * b,
      rows,
      e - b,
      cols,
    ]);
    runJobs(memory!, 'sumRows', jobs);
    return out;
  }
  const add = stockKernel('Add');
  // Rows left over when a level has an odd count, added at the end.
  const extra = new Float64Array(cols);
  let cur = x;
  while (rows > 1) {
    const half = rows >> 1;
    if (rows & 1) {
      const s = heapF32(backend, cur);
      const last = (rows - 1) * cols;
      for (let c = 0; c < cols; c++) extra[c] = extra[c]! + s[last + c]!;
    }
    const lo = aliasOf(backend, cur, 0, [half, cols]);
    const hi = aliasOf(backend, cur, half * cols, [half, cols]);
    const next = add({ inputs: { a: lo, b: hi }, backend, attrs: {} });
    releaseAlias(backend, lo);
    releaseAlias(backend, hi);
    if (cur !== x) backend.disposeData(cur.dataId);
    cur = next;
    rows = half;
  }
  const o = heapF32(backend, out);
  const s = heapF32(backend, cur);
  for (let c = 0; c < cols; c++) o[c] = s[c]! + extra[c]!;
  if (cur !== x) backend.disposeData(cur.dataId);
  return out;
}

export const sumConfig: KernelConfig = {
  kernelName: 'Sum',
  backendName: 'wasm',
  kernelFunc: sum as unknown as KernelFunc,
};
