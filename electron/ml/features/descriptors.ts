/**
 * Built-in descriptors: features that need no training and no download, computed from each image
 * alone. Defects, lesions and materials are textures, and texture is what a thumbnail loses, so
 * images are read at their own resolution (longer side capped at 256 by default).
 *
 * Per image, concatenated (blocks, in this order):
 * - `hog`: histogram of oriented gradients (Dalal and Triggs 2005) on a 4 x 4 grid of cells, 9
 *   unsigned orientation bins, 2 x 2-cell blocks with L2-Hys normalisation: 324 values. The layout
 *   and normalisation follow scikit-image's `hog`.
 * - `lbp`: rotation-invariant uniform local binary patterns (Ojala, Pietikäinen, Mäenpää 2002,
 *   "riu2") with (P, R) = (8, 1), (16, 2), (24, 3), each as a normalised histogram of P + 2 bins,
 *   at the read size and at half of it: 108 values. Multi-radius riu2 LBP is the classic texture
 *   descriptor and what separates the NEU defect classes (see docs/features.md for the numbers).
 * - `intensity`: a 16-bin histogram per channel plus the mean and standard deviation per channel.
 *
 * Colour images are described on their luma for `hog` and `lbp`, and per channel for `intensity`.
 */
import type { FeatureSpec } from '../../../shared/features.ts';
import { fitSide } from './resize.ts';
import type { FeatureBlock, FeatureExtractor, ImageSource } from './types.ts';

/** Longer side images are read at unless the spec says otherwise. */
export const DEFAULT_DESCRIPTOR_SIDE = 256;
/** Smallest image the descriptors can describe (LBP at radius 3 on the half-size image). */
export const MIN_DESCRIPTOR_SIDE = 16;

const HOG_CELLS = 4;
const HOG_BINS = 9;
const HOG_BLOCK = 2;
const HOG_DIM = (HOG_CELLS - HOG_BLOCK + 1) ** 2 * HOG_BLOCK * HOG_BLOCK * HOG_BINS;
const LBP_SETTINGS: readonly (readonly [number, number])[] = [
  [8, 1],
  [16, 2],
  [24, 3],
];
const LBP_DIM = 2 * LBP_SETTINGS.reduce((a, [p]) => a + p + 2, 0);
const HIST_BINS = 16;

/** Rec. 601 luma of an HWC image, as floats. */
export function luma(px: Uint8Array, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(h * w);
  if (c === 1) {
    for (let i = 0; i < out.length; i++) out[i] = px[i]!;
    return out;
  }
  for (let i = 0, p = 0; i < out.length; i++, p += c) {
    out[i] = 0.299 * px[p]! + 0.587 * px[p + 1]! + 0.114 * px[p + 2]!;
  }
  return out;
}

/**
 * HOG of a grayscale image into `out` (HOG_DIM values from `offset`). Central differences inside,
 * zero gradient on the border rows and columns; each pixel votes its gradient magnitude into the
 * bin of its unsigned orientation; cells hold mean votes; each 2 x 2 block is L2-Hys normalised
 * (L2, clip at 0.2, L2 again).
 */
export function hog(gray: Float32Array, h: number, w: number, out: Float32Array, offset = 0): void {
  const ch = Math.floor(h / HOG_CELLS);
  const cw = Math.floor(w / HOG_CELLS);
  const cells = new Float64Array(HOG_CELLS * HOG_CELLS * HOG_BINS);
  const binWidth = 180 / HOG_BINS;
  for (let y = 0; y < ch * HOG_CELLS; y++) {
    const cy = Math.floor(y / ch);
    for (let x = 0; x < cw * HOG_CELLS; x++) {
      const gy = y > 0 && y < h - 1 ? gray[(y + 1) * w + x]! - gray[(y - 1) * w + x]! : 0;
      const gx = x > 0 && x < w - 1 ? gray[y * w + x + 1]! - gray[y * w + x - 1]! : 0;
      const mag = Math.hypot(gx, gy);
      if (mag === 0) continue;
      let deg = (Math.atan2(gy, gx) * 180) / Math.PI;
      if (deg < 0) deg += 180;
      if (deg >= 180) deg -= 180;
      const bin = Math.min(HOG_BINS - 1, Math.floor(deg / binWidth));
      const cx = Math.floor(x / cw);
      const k = (cy * HOG_CELLS + cx) * HOG_BINS + bin;
      cells[k] = cells[k]! + mag;
    }
  }
  const area = ch * cw;
  for (let k = 0; k < cells.length; k++) cells[k] = cells[k]! / area;
  const eps = 1e-5;
  const block = new Float64Array(HOG_BLOCK * HOG_BLOCK * HOG_BINS);
  let o = offset;
  for (let by = 0; by <= HOG_CELLS - HOG_BLOCK; by++) {
    for (let bx = 0; bx <= HOG_CELLS - HOG_BLOCK; bx++) {
      let b = 0;
      for (let dy = 0; dy < HOG_BLOCK; dy++)
        for (let dx = 0; dx < HOG_BLOCK; dx++)
          for (let k = 0; k < HOG_BINS; k++)
            block[b++] = cells[((by + dy) * HOG_CELLS + bx + dx) * HOG_BINS + k]!;
      let norm = eps * eps;
      for (const v of block) norm += v * v;
      norm = Math.sqrt(norm);
      let norm2 = eps * eps;
      for (let i = 0; i < block.length; i++) {
        const v = Math.min(0.2, block[i]! / norm);
        block[i] = v;
        norm2 += v * v;
      }
      norm2 = Math.sqrt(norm2);
      for (const v of block) out[o++] = v / norm2;
    }
  }
}

/** Sampling offsets and bilinear weights of the P points on a circle of radius R. */
export interface LbpKernel {
  p: number;
  r: number;
  /** Per point: the four neighbour offsets (dy, dx) and their weights. */
  dy0: Int32Array;
  dx0: Int32Array;
  w00: Float64Array;
  w01: Float64Array;
  w10: Float64Array;
  w11: Float64Array;
}

export function lbpKernel(p: number, r: number): LbpKernel {
  const k: LbpKernel = {
    p,
    r,
    dy0: new Int32Array(p),
    dx0: new Int32Array(p),
    w00: new Float64Array(p),
    w01: new Float64Array(p),
    w10: new Float64Array(p),
    w11: new Float64Array(p),
  };
  for (let i = 0; i < p; i++) {
    // Rounded as scikit-image does, so points on the axes are exact pixels.
    const ry = Math.round(-r * Math.sin((2 * Math.PI * i) / p) * 1e5) / 1e5;
    const rx = Math.round(r * Math.cos((2 * Math.PI * i) / p) * 1e5) / 1e5;
    const y0 = Math.floor(ry);
    const x0 = Math.floor(rx);
    const fy = ry - y0;
    const fx = rx - x0;
    k.dy0[i] = y0;
    k.dx0[i] = x0;
    k.w00[i] = (1 - fy) * (1 - fx);
    k.w01[i] = (1 - fy) * fx;
    k.w10[i] = fy * (1 - fx);
    k.w11[i] = fy * fx;
  }
  return k;
}

const KERNELS = LBP_SETTINGS.map(([p, r]) => lbpKernel(p, r));

/**
 * Normalised riu2 LBP histogram (P + 2 bins) of a grayscale image into `out` from `offset`. Codes
 * are counted on pixels at least R + 1 from the border (every sample point inside the image).
 * riu2: a pattern with at most two 0/1 transitions around the circle is coded by its number of
 * ones (0..P), every other pattern by P + 1.
 */
export function lbpHistogram(
  gray: Float32Array,
  h: number,
  w: number,
  kernel: LbpKernel,
  out: Float32Array,
  offset: number,
): void {
  const { p, r } = kernel;
  const m = r + 1;
  const hist = new Float64Array(p + 2);
  const iw = w - 2 * m;
  const ih = h - 2 * m;
  if (iw <= 0 || ih <= 0) {
    out.fill(0, offset, offset + p + 2);
    return;
  }
  // One pass over the interior per sample point (fixed offsets and weights), setting bit i of
  // each pixel's pattern: faster than visiting the P points pixel by pixel.
  const pattern = new Int32Array(iw * ih);
  for (let i = 0; i < p; i++) {
    const dy = kernel.dy0[i]!;
    const dx = kernel.dx0[i]!;
    const a = kernel.w00[i]!;
    const b = kernel.w01[i]!;
    const c = kernel.w10[i]!;
    const d = kernel.w11[i]!;
    const bit = 1 << i;
    for (let y = 0, k = 0; y < ih; y++) {
      const row = (y + m) * w + m;
      const nrow = (y + m + dy) * w + m + dx;
      for (let x = 0; x < iw; x++, k++) {
        const base = nrow + x;
        const v =
          a * gray[base]! + b * gray[base + 1]! + c * gray[base + w]! + d * gray[base + w + 1]!;
        // A small tolerance: interpolated neighbours equal to the centre in exact arithmetic.
        if (v - gray[row + x]! >= -1e-6) pattern[k] = pattern[k]! | bit;
      }
    }
  }
  const full = p === 32 ? -1 : (1 << p) - 1;
  for (let k = 0; k < pattern.length; k++) {
    const v = pattern[k]!;
    // Transitions around the circle: bits that differ from their neighbour (rotated by one).
    const rotated = ((v >>> 1) | ((v & 1) << (p - 1))) & full;
    const code = popcount(v ^ rotated) <= 2 ? popcount(v) : p + 1;
    hist[code] = hist[code]! + 1;
  }
  const count = pattern.length;
  for (let bin = 0; bin < p + 2; bin++) out[offset + bin] = hist[bin]! / count;
}

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Half-size grayscale image by 2 x 2 averaging. */
function halve(gray: Float32Array, h: number, w: number): [Float32Array, number, number] {
  const hh = Math.floor(h / 2);
  const hw = Math.floor(w / 2);
  const out = new Float32Array(hh * hw);
  for (let y = 0; y < hh; y++)
    for (let x = 0; x < hw; x++) {
      const a = 2 * y * w + 2 * x;
      out[y * hw + x] = (gray[a]! + gray[a + 1]! + gray[a + w]! + gray[a + w + 1]!) / 4;
    }
  return [out, hh, hw];
}

/** Width of the descriptor row for images with `channels` channels. */
export function descriptorDim(channels: number): number {
  return HOG_DIM + LBP_DIM + channels * (HIST_BINS + 2);
}

export function descriptorBlocks(channels: number): FeatureBlock[] {
  return [
    { name: 'hog', start: 0, end: HOG_DIM },
    { name: 'lbp', start: HOG_DIM, end: HOG_DIM + LBP_DIM },
    { name: 'intensity', start: HOG_DIM + LBP_DIM, end: descriptorDim(channels) },
  ];
}

/** The descriptor row of one image (uint8 HWC) into `out` from `offset`. */
export function describeImage(
  px: Uint8Array,
  h: number,
  w: number,
  c: number,
  out: Float32Array,
  offset = 0,
): void {
  if (Math.min(h, w) < MIN_DESCRIPTOR_SIDE) {
    throw new Error(
      `Descriptors need images of at least ${MIN_DESCRIPTOR_SIDE} x ${MIN_DESCRIPTOR_SIDE} pixels, got ${h} x ${w}`,
    );
  }
  const gray = luma(px, h, w, c);
  hog(gray, h, w, out, offset);
  let o = offset + HOG_DIM;
  let [g, gh, gw] = [gray, h, w];
  for (let scale = 0; scale < 2; scale++) {
    for (const k of KERNELS) {
      lbpHistogram(g, gh, gw, k, out, o);
      o += k.p + 2;
    }
    [g, gh, gw] = halve(g, gh, gw);
  }
  const n = h * w;
  for (let ch = 0; ch < c; ch++) {
    const hist = new Float64Array(HIST_BINS);
    let sum = 0;
    let sq = 0;
    for (let i = 0, p = ch; i < n; i++, p += c) {
      const v = px[p]!;
      hist[v >> 4] = hist[v >> 4]! + 1;
      sum += v;
      sq += v * v;
    }
    for (let b = 0; b < HIST_BINS; b++) out[o++] = hist[b]! / n;
    const mean = sum / n;
    out[o++] = mean / 255;
    out[o++] = Math.sqrt(Math.max(0, sq / n - mean * mean)) / 255;
  }
}

/** The built-in descriptor extractor. */
export function descriptorExtractor(
  spec: Extract<FeatureSpec, { kind: 'descriptors' }>,
): FeatureExtractor {
  return {
    spec,
    version: 1,
    inputSize(source: ImageSource): [number, number] {
      const side = spec.side ?? Math.min(DEFAULT_DESCRIPTOR_SIDE, Math.max(...source.nativeSize));
      const size = fitSide(source.nativeSize, side);
      if (Math.min(...size) < MIN_DESCRIPTOR_SIDE) {
        // Tiny images (28 x 28 digits) are enlarged so the coarsest LBP still fits.
        const s = MIN_DESCRIPTOR_SIDE / Math.min(...source.nativeSize);
        return [
          Math.max(MIN_DESCRIPTOR_SIDE, Math.round(source.nativeSize[0] * s)),
          Math.max(MIN_DESCRIPTOR_SIDE, Math.round(source.nativeSize[1] * s)),
        ];
      }
      return size;
    },
    dim: (source) => descriptorDim(source.channels),
    blocks: (source) => descriptorBlocks(source.channels),
    async embed(pixels, n, [h, w, c]) {
      const dim = descriptorDim(c);
      const out = new Float32Array(n * dim);
      const per = h * w * c;
      for (let i = 0; i < n; i++) {
        describeImage(pixels.subarray(i * per, (i + 1) * per), h, w, c, out, i * dim);
      }
      return out;
    },
    dispose() {},
  };
}
