/**
 * The views the contrastive loss compares, made in JavaScript from uint8 images (SimCLR's recipe,
 * adapted to textures): a random resized crop, one of the 8 flips/90-degree rotations, and, with
 * probability `jitterProb`, brightness, contrast and (colour only) saturation jitter, plus a
 * random grayscale for colour images. Every random choice comes from the caller's Rng, so a step's
 * views are a function of its seed.
 *
 * Defects, lesions and materials have no canonical orientation, so all 8 symmetries of the square
 * are label-preserving here (they are not for digits or scenes, where SimCLR uses only flips).
 */
import type { Rng } from '../../../shared/random.ts';

export interface AugmentConfig {
  /** Smallest crop area, as a fraction of the image (SimCLR: 0.08; textures need more context). */
  minScale: number;
  /** Crop aspect ratios are drawn log-uniformly from [1 / maxRatio, maxRatio]. */
  maxRatio: number;
  /** Probability of the intensity jitter. */
  jitterProb: number;
  /** Brightness and contrast factors are drawn from [1 - s, 1 + s]. */
  brightness: number;
  contrast: number;
  saturation: number;
  /** Colour images only: probability of turning the view gray. */
  grayProb: number;
}

export const DEFAULT_AUGMENT: AugmentConfig = {
  minScale: 0.25,
  maxRatio: 4 / 3,
  jitterProb: 0.8,
  brightness: 0.4,
  contrast: 0.4,
  saturation: 0.4,
  grayProb: 0.2,
};

/** Inputs are (x / 255 - 0.5) / 0.25: roughly zero-centred and of unit scale. */
export function normalizePixel(v: number): number {
  return (v / 255 - 0.5) * 4;
}

/** A crop box in source pixels: [x0, y0, width, height]. */
type Box = [number, number, number, number];

/** torchvision's RandomResizedCrop box: 10 tries at a random area and ratio, else the whole. */
function cropBox(h: number, w: number, cfg: AugmentConfig, rng: Rng): Box {
  const area = h * w;
  const logR = Math.log(cfg.maxRatio);
  for (let t = 0; t < 10; t++) {
    const target = area * (cfg.minScale + (1 - cfg.minScale) * rng.next());
    const ratio = Math.exp((2 * rng.next() - 1) * logR);
    const cw = Math.sqrt(target * ratio);
    const ch = Math.sqrt(target / ratio);
    if (cw <= w && ch <= h) {
      return [rng.next() * (w - cw), rng.next() * (h - ch), cw, ch];
    }
  }
  return [0, 0, w, h];
}

/**
 * One augmented view of `src` (uint8 HWC, h x w x c) into `out` from `offset`: side x side x c
 * normalised floats. Shrinking crops are supersampled (up to 3 x 3 bilinear taps per pixel), which
 * stands in for the area filter the sources use when they shrink images for embedding.
 */
export function augmentView(
  src: Uint8Array,
  h: number,
  w: number,
  c: number,
  side: number,
  out: Float32Array,
  offset: number,
  rng: Rng,
  cfg: AugmentConfig = DEFAULT_AUGMENT,
): void {
  const [x0, y0, cw, ch] = cropBox(h, w, cfg, rng);
  const rot = rng.int(4);
  const flip = rng.next() < 0.5;
  const tx = Math.min(3, Math.max(1, Math.ceil(cw / side)));
  const ty = Math.min(3, Math.max(1, Math.ceil(ch / side)));
  const taps = tx * ty;
  const px = new Float32Array(c);
  for (let i = 0; i < side; i++) {
    for (let j = 0; j < side; j++) {
      px.fill(0);
      for (let a = 0; a < ty; a++) {
        for (let b = 0; b < tx; b++) {
          // Output position in [0, 1)^2, then through the flip and the rotation.
          let u = (j + (b + 0.5) / tx) / side;
          let v = (i + (a + 0.5) / ty) / side;
          if (flip) u = 1 - u;
          let uu = u;
          let vv = v;
          if (rot === 1) [uu, vv] = [v, 1 - u];
          else if (rot === 2) [uu, vv] = [1 - u, 1 - v];
          else if (rot === 3) [uu, vv] = [1 - v, u];
          u = uu;
          v = vv;
          const sx = Math.min(w - 1, Math.max(0, x0 + u * cw - 0.5));
          const sy = Math.min(h - 1, Math.max(0, y0 + v * ch - 0.5));
          const ix = Math.floor(sx);
          const iy = Math.floor(sy);
          const fx = sx - ix;
          const fy = sy - iy;
          const ix1 = Math.min(w - 1, ix + 1);
          const iy1 = Math.min(h - 1, iy + 1);
          const p00 = (iy * w + ix) * c;
          const p01 = (iy * w + ix1) * c;
          const p10 = (iy1 * w + ix) * c;
          const p11 = (iy1 * w + ix1) * c;
          for (let k = 0; k < c; k++) {
            const top = src[p00 + k]! + (src[p01 + k]! - src[p00 + k]!) * fx;
            const bot = src[p10 + k]! + (src[p11 + k]! - src[p10 + k]!) * fx;
            px[k] = px[k]! + top + (bot - top) * fy;
          }
        }
      }
      const o = offset + (i * side + j) * c;
      for (let k = 0; k < c; k++) out[o + k] = px[k]! / taps;
    }
  }
  const n = side * side;
  if (rng.next() < cfg.jitterProb) {
    const bright = 1 + (2 * rng.next() - 1) * cfg.brightness;
    const contrast = 1 + (2 * rng.next() - 1) * cfg.contrast;
    const sat = 1 + (2 * rng.next() - 1) * cfg.saturation;
    let mean = 0;
    for (let p = 0; p < n * c; p++) mean += out[offset + p]!;
    mean = (mean / (n * c)) * bright;
    for (let p = 0; p < n; p++) {
      const o = offset + p * c;
      if (c === 3) {
        const g = 0.299 * out[o]! + 0.587 * out[o + 1]! + 0.114 * out[o + 2]!;
        for (let k = 0; k < 3; k++) out[o + k] = g + (out[o + k]! - g) * sat;
      }
      for (let k = 0; k < c; k++) out[o + k] = (out[o + k]! * bright - mean) * contrast + mean;
    }
  }
  if (c === 3 && rng.next() < cfg.grayProb) {
    for (let p = 0; p < n; p++) {
      const o = offset + p * 3;
      const g = 0.299 * out[o]! + 0.587 * out[o + 1]! + 0.114 * out[o + 2]!;
      out[o] = g;
      out[o + 1] = g;
      out[o + 2] = g;
    }
  }
  for (let p = offset; p < offset + n * c; p++) {
    out[p] = normalizePixel(Math.min(255, Math.max(0, out[p]!)));
  }
}
