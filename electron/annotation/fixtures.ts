/**
 * Test fixtures (also used by the e2e spec): folders of generated PNG images, and importing a
 * path the way the app does (the ML worker's import job, run in-process).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/** Deterministic pseudo-random numbers (LCG), so fixtures are identical on every run. */
function lcg(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) / 0x1000000;
  };
}

/**
 * A learnable grayscale image of class k (of `classes`): a bright bar at a class-specific height,
 * on noise. Returns raw 1-channel pixels.
 */
export function classImage(k: number, classes: number, side: number, rand: () => number): Buffer {
  const px = Buffer.alloc(side * side);
  const row = Math.round(((k + 0.5) / classes) * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const on = Math.abs(y - row) <= Math.max(1, side / 16) && x > side / 8 && x < (side * 7) / 8;
      px[y * side + x] = on ? 160 + Math.floor(rand() * 95) : Math.floor(rand() * 110);
    }
  }
  return px;
}

/**
 * Write `n` PNG images of `classes` classes into `dir`: flat (unlabeled, names img-0000.png) or,
 * with `subfolders`, one folder per class. Image i is of class i % classes. Returns the class of
 * each file name, for checking labels typed by a test.
 */
export async function writePngFolder(
  dir: string,
  n: number,
  opts: { classes?: number; side?: number; subfolders?: string[]; seed?: number } = {},
): Promise<Map<string, number>> {
  const classes = opts.subfolders?.length ?? opts.classes ?? 3;
  const side = opts.side ?? 16;
  const rand = lcg(opts.seed ?? 7);
  const truth = new Map<string, number>();
  mkdirSync(dir, { recursive: true });
  for (const sub of opts.subfolders ?? []) mkdirSync(join(dir, sub), { recursive: true });
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    const name = `img-${String(i).padStart(4, '0')}.png`;
    const rel = opts.subfolders ? `${opts.subfolders[k]}/${name}` : name;
    await sharp(classImage(k, classes, side, rand), {
      raw: { width: side, height: side, channels: 1 },
    })
      .png()
      .toFile(join(dir, rel));
    truth.set(rel, k);
  }
  return truth;
}

export { importPath } from './datasetImport.ts';
