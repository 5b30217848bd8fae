/**
 * Resizing of uint8 HWC images for feature extraction: an area (box) filter when shrinking, so
 * fine texture averages out instead of aliasing, and bilinear interpolation when enlarging.
 */

/** Resize one image (uint8 HWC) from h x w to th x tw; `out` receives th * tw * c bytes. */
export function resizeImage(
  src: Uint8Array,
  h: number,
  w: number,
  c: number,
  th: number,
  tw: number,
  out: Uint8Array = new Uint8Array(th * tw * c),
): Uint8Array {
  if (th === h && tw === w) {
    out.set(src.subarray(0, h * w * c));
    return out;
  }
  if (th <= h && tw <= w) {
    // Each output pixel averages the input pixels its area covers (whole pixels: boundaries are
    // rounded, so every input pixel counts once).
    for (let i = 0; i < th; i++) {
      const ya = Math.round((i * h) / th);
      const yb = Math.max(ya + 1, Math.round(((i + 1) * h) / th));
      for (let j = 0; j < tw; j++) {
        const xa = Math.round((j * w) / tw);
        const xb = Math.max(xa + 1, Math.round(((j + 1) * w) / tw));
        const area = (yb - ya) * (xb - xa);
        for (let k = 0; k < c; k++) {
          let sum = 0;
          for (let y = ya; y < yb; y++) {
            let p = (y * w + xa) * c + k;
            for (let x = xa; x < xb; x++, p += c) sum += src[p]!;
          }
          out[(i * tw + j) * c + k] = Math.round(sum / area);
        }
      }
    }
    return out;
  }
  // Bilinear, pixel centres aligned (as image libraries do).
  const sy = h / th;
  const sx = w / tw;
  for (let i = 0; i < th; i++) {
    const fy = Math.min(h - 1, Math.max(0, (i + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(h - 1, y0 + 1);
    const dy = fy - y0;
    for (let j = 0; j < tw; j++) {
      const fx = Math.min(w - 1, Math.max(0, (j + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(w - 1, x0 + 1);
      const dx = fx - x0;
      for (let k = 0; k < c; k++) {
        const a = src[(y0 * w + x0) * c + k]!;
        const b = src[(y0 * w + x1) * c + k]!;
        const d = src[(y1 * w + x0) * c + k]!;
        const e = src[(y1 * w + x1) * c + k]!;
        const top = a + (b - a) * dx;
        const bottom = d + (e - d) * dx;
        out[(i * tw + j) * c + k] = Math.round(top + (bottom - top) * dy);
      }
    }
  }
  return out;
}

/** Resize n images laid out one after another. */
export function resizeImages(
  src: Uint8Array,
  n: number,
  h: number,
  w: number,
  c: number,
  th: number,
  tw: number,
): Uint8Array {
  if (th === h && tw === w) return src.subarray(0, n * h * w * c);
  const out = new Uint8Array(n * th * tw * c);
  const inPer = h * w * c;
  const outPer = th * tw * c;
  for (let s = 0; s < n; s++) {
    resizeImage(
      src.subarray(s * inPer, (s + 1) * inPer),
      h,
      w,
      c,
      th,
      tw,
      out.subarray(s * outPer, (s + 1) * outPer),
    );
  }
  return out;
}

/** [height, width] with the longer side at most `side`, keeping the aspect ratio. */
export function fitSide(size: readonly [number, number], side: number): [number, number] {
  const [h, w] = size;
  const s = Math.min(1, side / Math.max(h, w));
  return [Math.max(1, Math.round(h * s)), Math.max(1, Math.round(w * s))];
}
