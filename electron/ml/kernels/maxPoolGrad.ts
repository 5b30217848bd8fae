import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { jobCount, runJobs, splitRange } from './parallel.ts';
import { simdKernels } from './simd.ts';
import { asWasm, heapF32, offsetOf, heapMemory } from './wasmHeap.ts';

interface Attrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Gradient of 2-D max pooling (NHWC): each output's gradient goes to the first maximum of its
 * window in row-major order (strictly greater wins, padding never wins), which is the cpu
 * backend's rule. One pass over the outputs, reading the input in place in the wasm heap; all
 * channels of a window position are handled together so reads stay contiguous.
 */
function maxPoolGrad(args: {
  inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  backend: unknown;
  attrs: Attrs;
}): TensorInfo {
  const backend = asWasm(args.backend);
  const { dy, input } = args.inputs;
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  const dxInfo = backend.makeOutput(input.shape, 'float32');
  const fast2x2 = fh === 2 && fw === 2 && sh === 2 && sw === 2 && top === 0 && left === 0;
  const simd = fast2x2 && c % 4 === 0 && outHeight > 0 && outWidth > 0 && batchSize > 0;
  const memory = heapMemory(backend);
  if (simd && simdKernels(memory)) {
    // The SIMD loop writes every covered element; only an odd last row or column needs zeros.
    if (inHeight % 2 === 1 || inWidth % 2 === 1) heapF32(backend, dxInfo).fill(0);
    // Threads take whole images.
    const img = inHeight * inWidth * c;
    const [px, pdy, pdx] = [input, dy, dxInfo].map((t) => offsetOf(backend, t)) as number[];
    const jobs = splitRange(batchSize, jobCount(memory, batchSize * img)).map(([b, e]) => [
      px! + 4 * b * img,
      pdy! + 4 * b * outHeight * outWidth * c,
      pdx! + 4 * b * img,
      e - b,
      outHeight,
      outWidth,
      c,
      inWidth * c,
      img,
    ]);
    runJobs(memory!, 'maxPool2x2Grad', jobs);
    return dxInfo;
  }
  const dx = heapF32(backend, dxInfo);
  const xs = heapF32(backend, input);
  const dys = heapF32(backend, dy);
  dx.fill(0);
  if (fast2x2) {
    maxPool2x2Grad(xs, dys, dx, batchSize, inHeight, inWidth, c, outHeight, outWidth);
    return dxInfo;
  }
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  const rowX = inWidth * c;
  for (let n = 0; n < batchSize; n++) {
    const imgX = n * inHeight * rowX;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * sh - top;
      const yLo = Math.max(0, y0);
      const yHi = Math.min(inHeight, y0 + fh);
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * sw - left;
        const xLo = Math.max(0, x0);
        const xHi = Math.min(inWidth, x0 + fw);
        best.fill(-Infinity);
        where.fill(-1);
        for (let iy = yLo; iy < yHi; iy++) {
          for (let ix = xLo; ix < xHi; ix++) {
            const base = imgX + iy * rowX + ix * c;
            for (let ch = 0; ch < c; ch++) {
              const v = xs[base + ch]!;
              if (v > best[ch]!) {
                best[ch] = v;
                where[ch] = base + ch;
              }
            }
          }
        }
        const o = ((n * outHeight + oy) * outWidth + ox) * c;
        for (let ch = 0; ch < c; ch++) {
          const w = where[ch]!;
          if (w >= 0) dx[w] = dx[w]! + dys[o + ch]!;
        }
      }
    }
  }
  return dxInfo;
}

/**
 * The common 2x2, stride 2, unpadded case without the generic window bookkeeping: the same rule
 * (first strict maximum in row-major order) on four values per output and channel.
 */
function maxPool2x2Grad(
  xs: Float32Array,
  dys: Float32Array,
  dx: Float32Array,
  batchSize: number,
  inHeight: number,
  inWidth: number,
  c: number,
  outHeight: number,
  outWidth: number,
): void {
  const rowX = inWidth * c;
  let o = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      let p = (n * inHeight + 2 * oy) * rowX;
      for (let ox = 0; ox < outWidth; ox++, p += 2 * c) {
        for (let ch = 0; ch < c; ch++, o++) {
          // Branch-free: random data makes every comparison a coin flip for the predictor.
          const a = p + ch;
          const va = xs[a]!;
          const vb = xs[a + c]!;
          const vd = xs[a + rowX]!;
          const ve = xs[a + rowX + c]!;
          const top = vb > va ? 1 : 0; // 0: a, 1: b (the first wins ties)
          const bottom = ve > vd ? 1 : 0; // 0: d, 1: e
          const lower = Math.max(vd, ve) > Math.max(va, vb) ? 1 : 0;
          const col = top + lower * (bottom - top);
          dx[a + col * c + lower * rowX] = dys[o]!;
        }
      }
    }
  }
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as KernelFunc,
};
