import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { transposeInHeap } from './parallel.ts';
import { simdKernels } from './simd.ts';
import { asWasm, heapF32, heapMemory, matMulXnn, offsetOf, stockKernel } from './wasmHeap.ts';
import type { WasmBackend } from './wasmHeap.ts';

interface Attrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** A transposed copy of a row-major [rows, cols] matrix in the wasm heap, as [cols, rows]. */
function transposed(backend: WasmBackend, src: TensorInfo, rows: number, cols: number): TensorInfo {
  const out = backend.makeOutput([cols, rows], 'float32');
  const memory = heapMemory(backend);
  if (simdKernels(memory)) {
    transposeInHeap(memory!, offsetOf(backend, src), offsetOf(backend, out), rows, cols);
    return out;
  }
  const d = heapF32(backend, out);
  const s = heapF32(backend, src);
  // Tiles keep both the reads and the writes within a few cache lines.
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        let si = r * cols + c0;
        for (let c = c0; c < c1; c++) d[c * rows + r] = s[si++]!;
      }
    }
  }
  return out;
}

/**
 * XNNPACK packs the right operand of every product (its "weights") on first use, which costs
 * several times more per element than our transposes, so we count packing at this weight.
 */
const PACK_COST = 3;

/**
 * BatchMatMul for the single-matrix products of dense layers and their gradients. The stock wasm
 * kernel sends any transposed product (x^T dy and dy W^T in every dense backward pass) to a
 * scalar loop. We run XNNPACK on either C = op(A) op(B) or C^T = op(B)^T op(A)^T (then transpose
 * C back), whichever needs less transposing and packing: for dy W^T that means packing the small
 * dy^T instead of the whole weight matrix. Batched or broadcast products, and plain ones, go to
 * the stock kernel (which keeps its packed weights across calls when they do not change).
 */
function batchMatMul(args: {
  inputs: { a: TensorInfo; b: TensorInfo };
  backend: unknown;
  attrs: Attrs;
}): TensorInfo {
  const backend = asWasm(args.backend);
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = args.attrs;
  const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  if (
    batchA !== 1 ||
    batchB !== 1 ||
    a.dtype !== 'float32' ||
    b.dtype !== 'float32' ||
    (!transposeA && !transposeB)
  ) {
    return stockKernel('BatchMatMul')(args);
  }
  const ra = a.shape[a.shape.length - 2]!;
  const ca = a.shape[a.shape.length - 1]!;
  const rb = b.shape[b.shape.length - 2]!;
  const cb = b.shape[b.shape.length - 1]!;
  const m = transposeA ? ca : ra;
  const k = transposeA ? ra : ca;
  const kb = transposeB ? cb : rb;
  const n = transposeB ? rb : cb;
  if (k !== kb) {
    throw new Error(
      `matMul inner dimensions differ: a ${JSON.stringify(a.shape)} (transposeA=${transposeA}), ` +
        `b ${JSON.stringify(b.shape)} (transposeB=${transposeB})`,
    );
  }
  const outShape = [...(a.shape.length > b.shape.length ? a.shape : b.shape).slice(0, -2), m, n];
  // Direct: transpose A if transposeA, B if transposeB; pack op(B) [k, n].
  const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + PACK_COST * k * n;
  // Swapped: left operand op(B)^T [n, k] is B as stored iff transposeB; right operand op(A)^T
  // [k, m] is A as stored iff transposeA; pack [k, m]; transpose the [n, m] result.
  const swapped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + PACK_COST * k * m + m * n;
  let out: TensorInfo;
  if (direct <= swapped) {
    const at = transposeA ? transposed(backend, a, ra, ca) : null;
    const bt = transposeB ? transposed(backend, b, rb, cb) : null;
    out = matMulXnn(backend, at ?? a, bt ?? b, m, k, n, bt === null);
    if (at) backend.disposeData(at.dataId);
    if (bt) backend.disposeData(bt.dataId);
  } else {
    const left = transposeB ? null : transposed(backend, b, rb, cb);
    const right = transposeA ? null : transposed(backend, a, ra, ca);
    const ct = matMulXnn(backend, left ?? b, right ?? a, n, k, m, right === null);
    if (left) backend.disposeData(left.dataId);
    if (right) backend.disposeData(right.dataId);
    out = transposed(backend, ct, n, m);
    backend.disposeData(ct.dataId);
  }
  out.shape = outShape;
  return out;
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: batchMatMul as unknown as KernelFunc,
};
