import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { jobCount, runJobs, splitRange, transposeInHeap } from './parallel.ts';
import { simdKernels } from './simd.ts';
import { SCRATCH_FLOATS } from './conv2dBackpropFilter.ts';
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

interface Attrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/** Which algorithm the kernel uses; 'auto' picks per call. Exposed for tests and benchmarks. */
export type InputGradPath = 'auto' | 'conv' | 'col2im';
let path: InputGradPath = 'auto';
export function setInputGradPath(p: InputGradPath): void {
  path = p;
}

/**
 * Input gradient of a 2-D convolution (NHWC, dilation 1), as a FORWARD convolution run by the wasm
 * backend's XNNPACK Conv2D: dx = conv(dy', W'), where W' is W rotated by 180 degrees with its
 * in/out channels swapped ([fh, fw, co, ci]) and dy' is dy with (stride - 1) zeros between its
 * pixels (only for stride > 1), padded by (filter - 1 - pad) on each side so the result has the
 * input's size. The stock kernel is a scalar loop several times slower.
 *
 * When the input channels are a multiple of 4 we prefer the exact-work route: one XNNPACK product
 * dcol = dy x W^T ([n*oh*ow, co] x [co, fh*fw*ci], only the small W^T gets packed), then our SIMD
 * scatter-add of dcol's patches into dx. The convolution route multiplies the zero padding too
 * (about 40% more work for a 3x3 'valid' layer).
 */
function conv2dBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: unknown;
  attrs: Attrs;
}): TensorInfo {
  const backend = asWasm(args.backend);
  const { dy, filter } = args.inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs;
  if (dataFormat === 'NCHW') return stockKernel('Conv2DBackpropInput')(args);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels: ci,
    outHeight,
    outWidth,
    outChannels: co,
  } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const useCol = ci % 4 === 0 && batchSize > 0 && outHeight > 0 && outWidth > 0 && path !== 'conv';
  const memory = heapMemory(backend);
  if (useCol && simdKernels(memory)) {
    const kDim = fh * fw * ci;
    const wt = backend.makeOutput([co, kDim], 'float32');
    transposeInHeap(memory!, offsetOf(backend, filter), offsetOf(backend, wt), kDim, co);
    const dx = backend.makeOutput([batchSize, inHeight, inWidth, ci], 'float32');
    heapF32(backend, dx).fill(0);
    // Images in chunks whose patch-gradient matrix fits SCRATCH_FLOATS (large images).
    const perImage = outHeight * outWidth * kDim;
    const chunk = Math.max(1, Math.min(batchSize, Math.floor(SCRATCH_FLOATS / perImage)));
    for (let b0 = 0; b0 < batchSize; b0 += chunk) {
      const nb = Math.min(chunk, batchSize - b0);
      const q = nb * outHeight * outWidth;
      const dyChunk = aliasOf(backend, dy, b0 * outHeight * outWidth * co, [q, co]);
      // wt is ours, so XNNPACK packs it once and keeps it for the other chunks.
      const dcol = matMulXnn(backend, dyChunk, wt, q, co, kDim, false);
      releaseAlias(backend, dyChunk);
      // Threads take whole images: their parts of dx are disjoint.
      const pcol = offsetOf(backend, dcol);
      const pdx = offsetOf(backend, dx) + 4 * b0 * inHeight * inWidth * ci;
      const jobs = splitRange(nb, jobCount(memory, q * kDim)).map(([b, e]) => [
        pcol + 4 * b * outHeight * outWidth * kDim,
        pdx + 4 * b * inHeight * inWidth * ci,
        e - b,
        outHeight,
        outWidth,
        fh,
        fw,
        inHeight,
        inWidth,
        sh,
        sw,
        info.padInfo.top,
        info.padInfo.left,
        ci,
      ]);
      runJobs(memory!, 'col2im', jobs);
      backend.disposeData(dcol.dataId);
    }
    backend.disposeData(wt.dataId);
    return dx;
  }

  const dilH = (outHeight - 1) * sh + 1;
  const dilW = (outWidth - 1) * sw + 1;
  const padT = fh - 1 - info.padInfo.top;
  const padL = fw - 1 - info.padInfo.left;
  const padB = inHeight - dilH + fh - 1 - padT;
  const padR = inWidth - dilW + fw - 1 - padL;
  // A forward pad wider than the filter would need negative padding here (cropping): rare, so the
  // stock kernel handles it.
  if (padT < 0 || padL < 0 || padB < 0 || padR < 0) {
    return stockKernel('Conv2DBackpropInput')(args);
  }

  const wT = backend.makeOutput([fh, fw, co, ci], 'float32');
  {
    const d = heapF32(backend, wT);
    const w = heapF32(backend, filter);
    for (let y = 0; y < fh; y++) {
      for (let x = 0; x < fw; x++) {
        const src = ((fh - 1 - y) * fw + (fw - 1 - x)) * ci * co;
        const dst = (y * fw + x) * co * ci;
        for (let i = 0; i < ci; i++) {
          for (let o = 0; o < co; o++) d[dst + o * ci + i] = w[src + i * co + o]!;
        }
      }
    }
  }

  let src: TensorInfo = dy;
  let dilated: TensorInfo | null = null;
  if (sh > 1 || sw > 1) {
    dilated = backend.makeOutput([batchSize, dilH, dilW, co], 'float32');
    const d = heapF32(backend, dilated);
    const s = heapF32(backend, dy);
    d.fill(0);
    let si = 0;
    for (let n = 0; n < batchSize; n++) {
      for (let y = 0; y < outHeight; y++) {
        for (let x = 0; x < outWidth; x++, si += co) {
          d.set(s.subarray(si, si + co), ((n * dilH + y * sh) * dilW + x * sw) * co);
        }
      }
    }
    src = dilated;
  }
  const dx = stockKernel('Conv2D')({
    inputs: { x: src, filter: wT },
    backend,
    attrs: {
      strides: 1,
      pad: [
        [0, 0],
        [padT, padB],
        [padL, padR],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: 1,
    },
  });
  backend.disposeData(wT.dataId);
  if (dilated) backend.disposeData(dilated.dataId);
  return dx;
}

export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInput as unknown as KernelFunc,
};
