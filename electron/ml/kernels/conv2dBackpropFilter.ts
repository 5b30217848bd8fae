import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { jobCount, runJobs, splitRange, transposeInHeap } from './parallel.ts';
import { simdKernels } from './simd.ts';
import {
  aliasOf,
  asWasm,
  heapF32,
  heapMemory,
  matMulXnn,
  offsetOf,
  releaseAlias,
  stockKernel,
} from './wasmHeap.ts';
import type { WasmBackend } from './wasmHeap.ts';

interface Attrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

type ConvInfo = tf.backend_util.Conv2DInfo;

/** Up to this many patch rows (taps x input channels) the SIMD product beats packing dy. */
const SMALL_KDIM = 32;

/**
 * Floats of patch matrix one chunk of images may take (32 MiB): large images go in chunks (here
 * and in the input gradient). Settable so that tests can force chunks on small shapes.
 */
export let SCRATCH_FLOATS = 2 ** 23;
export function setScratchFloats(floats = 2 ** 23): void {
  SCRATCH_FLOATS = floats;
}

/** Which algorithm the kernel uses; 'auto' picks per call. Exposed for tests and benchmarks. */
export type FilterGradPath = 'auto' | 'conv' | 'colT';
let path: FilterGradPath = 'auto';
export function setFilterGradPath(p: FilterGradPath): void {
  path = p;
}

/**
 * dW[fy, fx, ci, co] = sum over (n, oy, ox) of x[n, oy*sh - top + fy, ox*sw - left + fx, ci] * dy[n, oy, ox, co].
 *
 * Written as a FORWARD convolution run by XNNPACK (no patch matrix in memory at all): the input is
 * x with batch and channels swapped, [ci, H, W, n]; the filter is dy as [oy, ox, n, co], dilated
 * by the stride; the output [ci, fh, fw, co] is dW up to a final small transpose. The swaps are the
 * backend's own (native) Transpose. Needs a non-negative bottom/right padding, i.e. the forward
 * pass used every input row it could reach; otherwise use the patch-matrix path.
 */
function viaConv(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  info: ConvInfo,
): TensorInfo | null {
  const { inHeight, inWidth, outHeight, outWidth, filterHeight: fh, filterWidth: fw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const bottom = fh + (outHeight - 1) * sh - inHeight - top;
  const right = fw + (outWidth - 1) * sw - inWidth - left;
  if (bottom < 0 || right < 0) return null;
  const transpose = stockKernel('Transpose');
  const xT = transpose({ inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } });
  const dyT = transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } });
  const o = stockKernel('Conv2D')({
    inputs: { x: xT, filter: dyT },
    backend,
    attrs: {
      strides: 1,
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: [sh, sw],
    },
  });
  backend.disposeData(xT.dataId);
  backend.disposeData(dyT.dataId);
  const dw = transpose({ inputs: { x: o }, backend, attrs: { perm: [1, 2, 0, 3] } });
  backend.disposeData(o.dataId);
  return dw;
}

/** colT[(fy, fx, ci), (n, oy, ox)] in plain JS, where the SIMD module is unavailable. */
function gatherColT(col: Float32Array, xs: Float32Array, info: ConvInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const q = batchSize * outHeight * outWidth;
  const rowX = inWidth * inChannels;
  const imgX = inHeight * rowX;
  for (let fy = 0; fy < fh; fy++) {
    for (let fx = 0; fx < fw; fx++) {
      // Output columns whose input column is inside the image (others read padding zeros).
      const oxLo = Math.max(0, Math.ceil((left - fx) / sw));
      const oxHi = Math.min(outWidth, Math.floor((inWidth - 1 + left - fx) / sw) + 1);
      for (let ci = 0; ci < inChannels; ci++) {
        let o = ((fy * fw + fx) * inChannels + ci) * q;
        for (let n = 0; n < batchSize; n++) {
          for (let oy = 0; oy < outHeight; oy++) {
            const iy = oy * sh - top + fy;
            if (iy < 0 || iy >= inHeight || oxHi <= oxLo) {
              col.fill(0, o, o + outWidth);
              o += outWidth;
              continue;
            }
            let ox = 0;
            for (; ox < oxLo; ox++) col[o++] = 0;
            let src = n * imgX + iy * rowX + (oxLo * sw - left + fx) * inChannels + ci;
            const step = sw * inChannels;
            for (; ox < oxHi; ox++, src += step) col[o++] = xs[src]!;
            for (; ox < outWidth; ox++) col[o++] = 0;
          }
        }
      }
    }
  }
}

/**
 * The same gradient through an explicit patch matrix: the input patches are gathered TRANSPOSED,
 * colT[(fy, fx, ci), (n, oy, ox)], into a wasm heap buffer, then one product colT x dy gives dW
 * already in [fh, fw, ci, co] order: XNNPACK's (threaded) fully-connected operator, or for few
 * taps our SIMD loop. Works for every padding. Large batches of large images go through in
 * chunks of images whose patch matrix fits SCRATCH_FLOATS, their products added up.
 */
function viaColT(backend: WasmBackend, x: TensorInfo, dy: TensorInfo, info: ConvInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight: fh, filterWidth: fw } = info;
  const kDim = fh * fw * inChannels;
  const out = backend.makeOutput([fh, fw, inChannels, outChannels], 'float32');
  const memory = heapMemory(backend);
  const simd = simdKernels(memory);
  if (!simd || batchSize * outHeight * outWidth === 0) {
    const q = batchSize * outHeight * outWidth;
    const colT = backend.makeOutput([kDim, q], 'float32');
    gatherColT(heapF32(backend, colT), heapF32(backend, x), info);
    const dw = matMulXnn(backend, colT, dy, kDim, q, outChannels);
    heapF32(backend, out).set(heapF32(backend, dw));
    backend.disposeData(colT.dataId);
    backend.disposeData(dw.dataId);
    return out;
  }
  const perImage = kDim * outHeight * outWidth;
  const chunk = Math.max(1, Math.min(batchSize, Math.floor(SCRATCH_FLOATS / perImage)));
  const imageX = inHeight * inWidth * inChannels;
  const imageDy = outHeight * outWidth * outChannels;
  // Few taps: our SIMD loop reads dy in place; XNNPACK would first pack all of dy, which costs
  // more than the product itself here.
  const small = kDim <= SMALL_KDIM && outChannels % 16 === 0;
  for (let b0 = 0; b0 < batchSize; b0 += chunk) {
    const nb = Math.min(chunk, batchSize - b0);
    const q = nb * outHeight * outWidth;
    const xChunk = offsetOf(backend, x) + 4 * b0 * imageX;
    const dyChunk = aliasOf(backend, dy, b0 * imageDy, [q, outChannels]);
    const colT = backend.makeOutput([kDim, q], 'float32');
    // Channel-major first (one channel: it already is), so that each patch row is copied along
    // input rows.
    const xT =
      inChannels === 1
        ? null
        : backend.makeOutput([inChannels, nb * inHeight * inWidth], 'float32');
    if (xT) {
      transposeInHeap(memory!, xChunk, offsetOf(backend, xT), nb * inHeight * inWidth, inChannels);
    }
    // Threads take bands of patch rows.
    const gather = [
      xT ? offsetOf(backend, xT) : xChunk,
      offsetOf(backend, colT),
      nb,
      inHeight,
      inWidth,
      inChannels,
      outHeight,
      outWidth,
      fh,
      fw,
      info.strideHeight,
      info.strideWidth,
      info.padInfo.top,
      info.padInfo.left,
    ];
    runJobs(
      memory!,
      'im2colT',
      splitRange(kDim, jobCount(memory, kDim * q)).map(([b, e]) => [...gather, b, e]),
    );
    if (xT) backend.disposeData(xT.dataId);
    if (small) {
      const [pc, pdy, pdw] = [colT, dyChunk, out].map((t) => offsetOf(backend, t)) as number[];
      const jobs = splitRange(kDim, jobCount(memory, kDim * q * outChannels)).map(([b, e]) => [
        pc! + 4 * b * q,
        pdy!,
        pdw! + 4 * b * outChannels,
        e - b,
        q,
        outChannels,
        b0 > 0 ? 1 : 0,
      ]);
      runJobs(memory!, 'dwSmall', jobs);
    } else {
      const part = matMulXnn(backend, colT, dyChunk, kDim, q, outChannels);
      if (b0 === 0) {
        heapF32(backend, out).set(heapF32(backend, part));
      } else {
        simd!.addInto(offsetOf(backend, out), offsetOf(backend, part), kDim * outChannels);
      }
      backend.disposeData(part.dataId);
    }
    backend.disposeData(colT.dataId);
    releaseAlias(backend, dyChunk);
  }
  return out;
}

function conv2dBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: unknown;
  attrs: Attrs;
}): TensorInfo {
  const backend = asWasm(args.backend);
  const { x, dy } = args.inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs;
  if (dataFormat === 'NCHW') {
    throw new Error('Conv2DBackpropFilter on wasm supports NHWC only; got dataFormat NCHW');
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  // The patch matrix (gathered in C, multiplied by XNNPACK's threaded product) beat the
  // convolution route at both reference CNN layers (bench/convKernels.ts).
  const choice = path === 'auto' ? 'colT' : path;
  if (choice === 'conv') {
    const dw = viaConv(backend, x, dy, info);
    if (dw) return dw;
  }
  return viaColT(backend, x, dy, info);
}

export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter as unknown as KernelFunc,
};
