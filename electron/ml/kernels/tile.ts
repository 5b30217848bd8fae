import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { asWasm, offsetOf, stockKernel } from './wasmHeap.ts';
import type { WasmBackend } from './wasmHeap.ts';

interface Attrs {
  reps: number[];
}

/**
 * Tile for 4-byte dtypes (float32, int32) by block copies in the wasm heap. The stock kernel
 * computes every output element's source index one by one, which made the broadcasts in
 * batch-norm gradients ([1, 1, 1, C] tiled to [N, H, W, C]) the slowest kernel of a ResNet step.
 * Here each output block is copied once from the input and then replicated with memcpy-speed
 * copyWithin, doubling the copied span each time.
 */
function tile(args: { inputs: { x: TensorInfo }; backend: unknown; attrs: Attrs }): TensorInfo {
  const backend: WasmBackend = asWasm(args.backend);
  const { x } = args.inputs;
  const { reps } = args.attrs;
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || reps.length !== x.shape.length) {
    return stockKernel('Tile')(args);
  }
  const rank = x.shape.length;
  const outShape = x.shape.map((s, i) => s * reps[i]!);
  const out = backend.makeOutput(outShape, x.dtype);
  const total = outShape.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  // Many tiny innermost runs would mean a JS call per element: leave those to the stock kernel.
  if (rank === 0 || (x.shape[rank - 1]! < 8 && rows > 4096)) {
    backend.disposeData(out.dataId);
    return stockKernel('Tile')(args);
  }
  // Element strides of the input and of the output.
  const srcStride = new Array<number>(rank);
  const dstStride = new Array<number>(rank);
  srcStride[rank - 1] = 1;
  dstStride[rank - 1] = 1;
  for (let k = rank - 2; k >= 0; k--) {
    srcStride[k] = srcStride[k + 1]! * x.shape[k + 1]!;
    dstStride[k] = dstStride[k + 1]! * outShape[k + 1]!;
  }
  // A Float32Array view copies raw 4-byte words, so it serves int32 data too.
  const heap = backend.wasm.HEAPF32;
  const src0 = offsetOf(backend, x) >>> 2;
  const dst0 = offsetOf(backend, out) >>> 2;
  const replicate = (start: number, chunk: number, times: number): void => {
    let filled = chunk;
    const want = chunk * times;
    while (filled < want) {
      const n = Math.min(filled, want - filled);
      heap.copyWithin(start + filled, start, start + n);
      filled += n;
    }
  };
  const fill = (k: number, src: number, dst: number): void => {
    const s = x.shape[k]!;
    if (k === rank - 1) {
      heap.copyWithin(dst, src, src + s);
    } else {
      for (let i = 0; i < s; i++) fill(k + 1, src + i * srcStride[k]!, dst + i * dstStride[k]!);
    }
    if (reps[k]! > 1) replicate(dst, s * dstStride[k]!, reps[k]!);
  };
  fill(0, src0, dst0);
  return out;
}

export const tileConfig: KernelConfig = {
  kernelName: 'Tile',
  backendName: 'wasm',
  kernelFunc: tile as unknown as KernelFunc,
};
