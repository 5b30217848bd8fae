import { Rng } from '../../../shared/random.ts';
import type { Dataset } from '../types.ts';

/**
 * Small learnable datasets for the training tests. Images: class k lights up one quadrant of a
 * noisy grayscale image. Vectors: Gaussian blobs around well-separated class centres.
 */
export function quadrantImages(n: number, seed: number, side = 12, classes = 4): Dataset {
  const rng = new Rng(seed);
  const per = side * side;
  const x = new Uint8Array(n * per);
  const y = new Int32Array(n);
  const half = side / 2;
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    y[i] = k;
    const qy = (k >> 1) & 1;
    const qx = k & 1;
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        const inside = Math.floor(r / half) === qy && Math.floor(c / half) === qx;
        const base = inside ? 150 : 40;
        x[i * per + r * side + c] = Math.max(
          0,
          Math.min(255, Math.round(base + rng.normal() * 40)),
        );
      }
    }
  }
  return {
    name: 'quadrants',
    x,
    y,
    sampleShape: [side, side, 1],
    classNames: Array.from({ length: classes }, (_, k) => `q${k}`),
  };
}

export function blobs(n: number, seed: number, features = 8, classes = 3): Dataset {
  const rng = new Rng(seed);
  const centres = Array.from({ length: classes }, () =>
    Array.from({ length: features }, () => rng.normal() * 2),
  );
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    y[i] = k;
    for (let f = 0; f < features; f++) x[i * features + f] = centres[k]![f]! + rng.normal();
  }
  return {
    name: 'blobs',
    x,
    y,
    sampleShape: [features],
    classNames: Array.from({ length: classes }, (_, k) => `c${k}`),
  };
}

export function range(n: number, from = 0): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => from + i);
}
