import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import type { SampleImage } from '../../shared/annotation.ts';
import { encodeFile, sampleFile, sampleFiles } from './images.ts';

const dir = mkdtempSync(join(tmpdir(), 'deepal-images-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A photograph-like image: smooth gradients and noise, `side` pixels square. */
async function photo(file: string, side: number, format: 'jpeg' | 'png' = 'jpeg') {
  const px = Buffer.alloc(side * side * 3);
  let seed = 7;
  for (let i = 0; i < side * side; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const x = i % side;
    const y = Math.floor(i / side);
    px[i * 3] = (x * 255) / side;
    px[i * 3 + 1] = (y * 255) / side;
    px[i * 3 + 2] = seed >>> 24;
  }
  const img = sharp(px, { raw: { width: side, height: side, channels: 3 } });
  await (format === 'jpeg' ? img.jpeg({ quality: 92 }) : img.png()).toFile(file);
}

/** The encoded form of a sample image; a raw one fails the test. */
function encoded(img: SampleImage) {
  assert.equal(img.kind, 'encoded');
  if (img.kind !== 'encoded') throw new Error('unreachable');
  return img;
}

test('photographs are sent as JPEG at screen size; lossless images stay PNG', async () => {
  const big = join(dir, 'big.jpg');
  await photo(big, 3000);
  const b = encoded(await encodeFile(big, 1600));
  assert.equal(b.mime, 'image/jpeg');
  assert.deepEqual([b.width, b.height], [1600, 1600]);
  assert.ok(Buffer.from(b.data, 'base64').length < 300 * 1024);

  // 512 x 512 used to be re-encoded as a PNG several times the JPEG's size.
  const mid = join(dir, 'mid.jpg');
  await photo(mid, 512);
  const m = encoded(await encodeFile(mid, 1600));
  assert.equal(m.mime, 'image/jpeg');
  // Small enough and upright: the file's own bytes.
  assert.deepEqual(Buffer.from(m.data, 'base64'), readFileSync(mid));

  const png = join(dir, 'chart.png');
  await photo(png, 300, 'png');
  const p = encoded(await encodeFile(png, 1600));
  assert.equal(p.mime, 'image/png');
  assert.deepEqual([p.width, p.height], [300, 300]);
});

test('an EXIF-turned JPEG is decoded upright, not passed through', async () => {
  const turned = join(dir, 'turned.jpg');
  await sharp(Buffer.alloc(40 * 10 * 3, 120), { raw: { width: 40, height: 10, channels: 3 } })
    .withMetadata({ orientation: 6 })
    .jpeg()
    .toFile(turned);
  const t = await encodeFile(turned, 1600);
  assert.deepEqual([t.width, t.height], [10, 40]);
});

test('sampleFiles resolves many samples as sampleFile does, null where sampleFile refuses', async () => {
  const root = join(dir, 'many');
  const outside = join(dir, 'outside.png');
  mkdirSync(join(root, 'train'), { recursive: true });
  writeFileSync(outside, 'x');
  const names: string[] = [];
  for (let i = 0; i < 150; i++) {
    // Some files under train/, which sampleFile also looks in.
    const rel = `f${i}.png`;
    writeFileSync(i % 3 === 0 ? join(root, 'train', rel) : join(root, rel), 'x');
    names.push(rel);
  }
  symlinkSync(outside, join(root, 'escape.png'));
  const asked = [...names, 'gone.png', '../outside.png', 'escape.png', '/etc/passwd'];
  const seen: number[] = [];
  const got = await sampleFiles(root, asked, { progress: (done) => seen.push(done) });
  for (let i = 0; i < names.length; i++) assert.equal(got[i], await sampleFile(root, names[i]!));
  assert.deepEqual(got.slice(names.length), [null, null, null, null]);
  assert.equal(seen.at(-1), asked.length, 'progress ends at the total');
});
