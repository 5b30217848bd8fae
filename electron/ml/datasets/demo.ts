/**
 * The built-in demo dataset: 28x28 grayscale drawings of ten simple shapes, generated from a seed
 * so the app has something to learn from without any download. Shapes vary in position, scale,
 * rotation, stroke width, contrast, blur and noise, over a cluttered background, and some classes
 * are deliberately close (ring/disc/arc, cross/X, horizontal/vertical bar near 45 degrees,
 * triangle/square at small scale, two dots/disc), so a small CNN trained on a few hundred labels is
 * clearly imperfect and active-learning strategies can differ.
 */
import { Rng, deriveSeed } from '../../../shared/random.ts';
import type { Dataset, DatasetSplit } from '../types.ts';

/** Class names of the demo dataset, index = class id. */
export const DEMO_CLASSES = [
  'ring',
  'disc',
  'horizontal bar',
  'vertical bar',
  'plus',
  'x cross',
  'triangle',
  'square',
  'two dots',
  'arc',
];

const SIDE = 28;

/** Options of makeDemoDataset. */
export interface DemoOptions {
  trainSize?: number;
  testSize?: number;
  seed?: number;
}

function sdBox(px: number, py: number, hx: number, hy: number): number {
  const dx = Math.abs(px) - hx;
  const dy = Math.abs(py) - hy;
  const ox = Math.max(dx, 0);
  const oy = Math.max(dy, 0);
  return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(dx, dy), 0);
}

function sdSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const pax = px - ax;
  const pay = py - ay;
  const bax = bx - ax;
  const bay = by - ay;
  const h = Math.max(0, Math.min(1, (pax * bax + pay * bay) / (bax * bax + bay * bay)));
  const dx = pax - bax * h;
  const dy = pay - bay * h;
  return Math.sqrt(dx * dx + dy * dy);
}

/** Parameters of one drawing, all drawn from the sample's own generator. */
interface Shape {
  cls: number;
  cx: number;
  cy: number;
  cos: number;
  sin: number;
  r: number; // size (radius / half length), pixels
  w: number; // stroke half-width, pixels
  aspect: number; // mild anisotropic scale
  extra: number; // class-specific parameter (arc opening, dot distance)
}

/** Signed distance (pixels, negative inside) from local point (u, v) to the shape. */
function shapeDistance(s: Shape, u: number, v: number): number {
  const { r, w } = s;
  switch (s.cls) {
    case 0: // ring
      return Math.abs(Math.sqrt(u * u + v * v) - r) - w;
    case 1: // disc
      return Math.sqrt(u * u + v * v) - r;
    case 2: // horizontal bar
      return sdBox(u, v, r, w * 1.3);
    case 3: // vertical bar
      return sdBox(u, v, w * 1.3, r);
    case 4: // plus
      return Math.min(sdBox(u, v, r, w), sdBox(u, v, w, r));
    case 5: {
      // x cross: the plus turned by 45 degrees
      const a = (u + v) * Math.SQRT1_2;
      const b = (v - u) * Math.SQRT1_2;
      return Math.min(sdBox(a, b, r, w), sdBox(a, b, w, r));
    }
    case 6: {
      // triangle outline (equilateral, pointing up)
      const ax = 0;
      const ay = -r;
      const bx = r * 0.866;
      const by = r * 0.5;
      const cx = -bx;
      const d = Math.min(
        sdSegment(u, v, ax, ay, bx, by),
        sdSegment(u, v, bx, by, cx, by),
        sdSegment(u, v, cx, by, ax, ay),
      );
      return d - w;
    }
    case 7: // square outline
      return Math.abs(sdBox(u, v, r * 0.8, r * 0.8)) - w;
    case 8: {
      // two dots
      const d = s.extra * r;
      const dr = Math.max(1.6, r * 0.42);
      const d1 = Math.sqrt((u - d) * (u - d) + v * v) - dr;
      const d2 = Math.sqrt((u + d) * (u + d) + v * v) - dr;
      return Math.min(d1, d2);
    }
    default: {
      // arc: a ring with an opening of `extra` radians centred on the +u axis
      const ang = Math.abs(Math.atan2(v, u));
      const half = s.extra / 2;
      if (ang >= half) return Math.abs(Math.sqrt(u * u + v * v) - r) - w;
      const ex = r * Math.cos(half);
      const ey = r * Math.sin(half) * (v < 0 ? -1 : 1);
      return Math.sqrt((u - ex) * (u - ex) + (v - ey) * (v - ey)) - w;
    }
  }
}

function randomShape(cls: number, rng: Rng): Shape {
  // Bars, plus and x must keep their orientation to stay distinct; their jitter still lets a few
  // land near the ambiguous 45 / 22.5 degrees.
  const maxTilt = cls === 2 || cls === 3 ? 0.6 : cls === 4 || cls === 5 ? 0.32 : Math.PI;
  const angle = (rng.next() * 2 - 1) * maxTilt;
  const r = 4.5 + rng.next() * 6.5;
  return {
    cls,
    cx: 13.5 + (rng.next() * 2 - 1) * (12.5 - r) * 0.8,
    cy: 13.5 + (rng.next() * 2 - 1) * (12.5 - r) * 0.8,
    cos: Math.cos(angle),
    sin: Math.sin(angle),
    r,
    w: 0.6 + rng.next() * 1.6,
    aspect: 0.8 + rng.next() * 0.4,
    extra: cls === 9 ? 0.5 + rng.next() * 1.6 : 0.45 + rng.next() * 0.5,
  };
}

/** Draws one sample into out[offset .. offset+784). */
function drawSample(
  cls: number,
  rng: Rng,
  out: Uint8Array,
  offset: number,
  canvas: Float32Array,
): void {
  const s = randomShape(cls, rng);
  const background = rng.next() * 50;
  const contrast = 80 + rng.next() * 175;
  const softness = 0.5 + rng.next() * 1.5; // edge blur, pixels
  const noise = 4 + rng.next() * 24;
  canvas.fill(background);
  // Background clutter: faint strokes and specks that belong to no class.
  const clutter = rng.int(4);
  for (let k = 0; k < clutter; k++) {
    const ax = rng.next() * SIDE;
    const ay = rng.next() * SIDE;
    const len = 2 + rng.next() * 7;
    const th = rng.next() * Math.PI * 2;
    const bx = ax + Math.cos(th) * len;
    const by = ay + Math.sin(th) * len;
    const amp = contrast * (0.15 + rng.next() * 0.4);
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - 2));
    const x1 = Math.min(SIDE - 1, Math.ceil(Math.max(ax, bx) + 2));
    const y0 = Math.max(0, Math.floor(Math.min(ay, by) - 2));
    const y1 = Math.min(SIDE - 1, Math.ceil(Math.max(ay, by) + 2));
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) {
        const d = sdSegment(x + 0.5, y + 0.5, ax, ay, bx, by) - 0.5;
        const cov = Math.max(0, Math.min(1, 0.5 - d));
        canvas[y * SIDE + x] = canvas[y * SIDE + x]! + amp * cov;
      }
  }
  const invAspect = 1 / s.aspect;
  for (let y = 0; y < SIDE; y++) {
    const dy = y + 0.5 - s.cy;
    for (let x = 0; x < SIDE; x++) {
      const dx = x + 0.5 - s.cx;
      const u = (s.cos * dx + s.sin * dy) * invAspect;
      const v = (-s.sin * dx + s.cos * dy) * s.aspect;
      const d = shapeDistance(s, u, v);
      const cov = Math.max(0, Math.min(1, 0.5 - d / softness));
      if (cov > 0) canvas[y * SIDE + x] = canvas[y * SIDE + x]! + contrast * cov;
    }
  }
  for (let i = 0; i < SIDE * SIDE; i++) {
    // Sum of three uniforms: close enough to Gaussian noise, and cheaper than Box-Muller.
    const n = (rng.next() + rng.next() + rng.next() - 1.5) * 2 * noise;
    const v = canvas[i]! + n;
    out[offset + i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
}

function makeSplit(size: number, seed: number, part: string): Dataset {
  if (!Number.isInteger(size) || size < 0)
    throw new RangeError(`demo ${part} size must be a non-negative integer, got ${size}`);
  const rng = new Rng(deriveSeed(seed, 'demo', part));
  const y = new Int32Array(size);
  for (let i = 0; i < size; i++) y[i] = i % DEMO_CLASSES.length;
  rng.shuffle(y);
  const x = new Uint8Array(size * SIDE * SIDE);
  const canvas = new Float32Array(SIDE * SIDE);
  const ids: string[] = new Array<string>(size);
  for (let i = 0; i < size; i++) {
    drawSample(y[i]!, rng, x, i * SIDE * SIDE, canvas);
    ids[i] = `demo/${part}#${i}`;
  }
  return {
    name: `demo/${part}`,
    x,
    y,
    sampleShape: [SIDE, SIDE, 1],
    classNames: [...DEMO_CLASSES],
    ids,
  };
}

/**
 * A deterministic synthetic 10-class, 28x28x1 image set (balanced classes). Train and test are
 * drawn from separate streams of `seed`, so changing one size leaves the other split unchanged.
 */
export function makeDemoDataset(options: DemoOptions = {}): DatasetSplit {
  const { trainSize = 6000, testSize = 2000, seed = 0 } = options;
  return { train: makeSplit(trainSize, seed, 'train'), test: makeSplit(testSize, seed, 'test') };
}
