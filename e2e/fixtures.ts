import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/**
 * Small datasets in each format the import screen reads, written to a temp folder by the specs.
 * Each sample's pixels depend on its class, so a preview grid shows something recognisable.
 */

/** A CIFAR-10 binary folder: data_batch_1..5.bin with `perBatch` records each, and test_batch.bin. */
export function writeCifarFolder(dir: string, perBatch: number, test: number): void {
  mkdirSync(dir, { recursive: true });
  const record = (label: number, seed: number): Buffer => {
    const b = Buffer.alloc(1 + 3 * 1024);
    b[0] = label;
    // Channel-major (CHW), as CIFAR stores it: a class-coloured square on a noisy background.
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 1024; i++) {
        const x = i % 32;
        const y = Math.floor(i / 32);
        const inside = x > 8 && x < 24 && y > 8 && y < 24;
        const tint = ((label * 73 + c * 101) % 200) + 40;
        b[1 + c * 1024 + i] = inside ? tint : (seed * 31 + i * 7 + c * 13) % 90;
      }
    }
    return b;
  };
  const batch = (n: number, offset: number) =>
    Buffer.concat(Array.from({ length: n }, (_, i) => record((i + offset) % 10, i + offset)));
  for (let k = 1; k <= 5; k++) writeFileSync(join(dir, `data_batch_${k}.bin`), batch(perBatch, k));
  writeFileSync(join(dir, 'test_batch.bin'), batch(test, 0));
}

async function png(width: number, height: number, rgb: [number, number, number]): Promise<Buffer> {
  return sharp({
    create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } },
  })
    .png()
    .toBuffer();
}

/**
 * An image folder with one sub-folder per class (`perClass` PNGs each), plus two files the reader
 * must skip with a reason: a corrupt PNG and a text file.
 */
export async function writeClassFolders(
  dir: string,
  classes: string[],
  perClass: number,
): Promise<void> {
  for (const [k, name] of classes.entries()) {
    mkdirSync(join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const shade = 60 + ((i * 37) % 120);
      const rgb: [number, number, number] =
        k === 0 ? [220, shade, 40] : k === 1 ? [40, shade, 220] : [shade, 200, 60];
      writeFileSync(join(dir, name, `${name}-${i}.png`), await png(20, 20, rgb));
    }
  }
  writeFileSync(join(dir, classes[0]!, 'broken.png'), 'this is not a PNG');
  writeFileSync(join(dir, classes[0]!, 'readme.txt'), 'notes, not an image');
}

/** A flat folder of `n` unlabeled PNGs. */
export async function writeFlatFolder(dir: string, n: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    writeFileSync(join(dir, `img-${i}.png`), await png(16, 16, [(i * 40) % 255, 120, 200]));
  }
}

/** A CSV of two numeric features and a `label` column with `classes` names, `rows` rows. */
export function writeCsv(file: string, rows: number, classes: string[]): void {
  const lines = ['x1,x2,label'];
  for (let i = 0; i < rows; i++) {
    const k = i % classes.length;
    lines.push(
      `${(k + (i % 7) / 10).toFixed(2)},${(k * 2 - (i % 5) / 10).toFixed(2)},${classes[k]}`,
    );
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}
