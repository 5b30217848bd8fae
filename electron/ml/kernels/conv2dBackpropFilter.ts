import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { simdKernels } from './simd.ts';
import { asWasm, heapF32, matMulXnn, offsetOf, stockKernel, heapMemory } from './wasmHeap.ts';
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
 * colT[(fy, fx, ci), (n, oy, ox)], straight into a wasm heap buffer, then one XNNPACK product
 * colT x dy gives dW already in [fh, fw, ci, co] order. Works for every padding.
 */
function viaColT(backend: WasmBackend, x: TensorInfo, dy: TensorInfo, info: ConvInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const kDim = fh * fw * inChannels;
  const q = batchSize * outHeight * outWidth;

  const simd = simdKernels(heapMemory(backend));
  const colT = backend.makeOutput([kDim, q], 'float32');
  if (simd && q > 0) {
    // Channel-major first (one channel: it already is), so that each patch row is copied along
    // input rows.
    const xT =
      inChannels === 1
        ? null
        : backend.makeOutput([inChannels, batchSize * inHeight * inWidth], 'float32');
    if (xT) {
      simd.toChannelMajor(
        offsetOf(backend, x),
        offsetOf(backend, xT),
        batchSize * inHeight * inWidth,
        inChannels,
      );
    }
    simd.im2colT(
      offsetOf(backend, xT ?? x),
      offsetOf(backend, colT),
      batchSize,
      inHeight,
      inWidth,
      inChannels,
      outHeight,
      outWidth,
      fh,
      fw,
      sh,
      sw,
      top,
      left,
    );
    if (xT) backend.disposeData(xT.dataId);
  } else {
    gatherColT(heapF32(backend, colT), heapF32(backend, x), info);
  }
  // Few taps: our SIMD loop reads dy in place; XNNPACK would first pack all of dy, which costs
  // more than the product itself here.
  let out: TensorInfo;
  if (simd && q > 0 && kDim <= SMALL_KDIM && outChannels % 16 === 0) {
    out = backend.makeOutput([kDim, outChannels], 'float32');
    simd.dwSmall(
      offsetOf(backend, colT),
      offsetOf(backend, dy),
      offsetOf(backend, out),
      kDim,
      q,
      outChannels,
    );
  } else {
    out = matMulXnn(backend, colT, dy, kDim, q, outChannels);
  }
  backend.disposeData(colT.dataId);
  out.shape = [fh, fw, inChannels, outChannels];
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
  const kDim = info.filterHeight * info.filterWidth * info.inChannels;
  // Few taps (a first layer's single input channel): the patch matrix is small and the conv
  // path's transposes would cost more than it saves.
  const choice = path === 'auto' ? (kDim < info.outChannels ? 'colT' : 'conv') : path;
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
