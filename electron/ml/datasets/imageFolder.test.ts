import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DatasetError } from './errors.ts';
import { defaultImageSize, loadImageFolder } from './imageFolder.ts';

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'deepal-imgf-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A w x h image of one gray value (1 channel) or one RGB colour. */
async function solid(
  w: number,
  h: number,
  value: number | [number, number, number],
  format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff',
): Promise<Buffer> {
  const channels = typeof value === 'number' ? 1 : 3;
  const raw = Buffer.alloc(w * h * channels);
  for (let i = 0; i < w * h; i++) {
    if (typeof value === 'number') raw[i] = value;
    else raw.set(value, i * 3);
  }
  let img = sharp(raw, { raw: { width: w, height: h, channels } });
  if (channels === 1) img = img.toColourspace('b-w');
  return img.toFormat(format).toBuffer();
}

function dirWith(name: string, files: Record<string, Buffer | string>): string {
  const d = join(root, name);
  for (const [rel, content] of Object.entries(files)) {
    const p = join(d, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, content);
  }
  return d;
}

describe('image folder', () => {
  test('labeled grayscale folder: classes, order, ids, values, recursion, hidden files', async () => {
    const d = dirWith('gray', {
      'cat/b.png': await solid(8, 8, 200, 'png'),
      'cat/a.png': await solid(8, 8, 100, 'png'),
      'cat/sub dir/c.png': await solid(8, 8, 150, 'png'),
      'dog/x.png': await solid(8, 8, 50, 'png'),
      'dog/.DS_Store': 'junk',
      '.hidden/z.png': await solid(8, 8, 1, 'png'),
    });
    const progress: string[] = [];
    const r = await loadImageFolder(d, {
      onProgress: (done, total, phase) => progress.push(`${phase}:${done}/${total}`),
    });
    assert.ok(r.labeled);
    assert.deepEqual(r.dataset.classNames, ['cat', 'dog']);
    assert.deepEqual(r.dataset.ids, ['cat/a.png', 'cat/b.png', 'cat/sub dir/c.png', 'dog/x.png']);
    assert.deepEqual(Array.from(r.dataset.y), [0, 0, 0, 1]);
    assert.deepEqual(r.dataset.sampleShape, [8, 8, 1]);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => r.dataset.x[i * 64 + 10]),
      [100, 200, 150, 50],
    );
    assert.deepEqual(r.skipped, []);
    assert.ok(progress.includes('scan:4/4') && progress.includes('decode:4/4'), progress.join(' '));
  });

  test('colour images give 3 channels; sizes default to the most common, fit options work', async () => {
    const d = dirWith('colour', {
      'red/1.png': await solid(12, 10, [255, 0, 0], 'png'),
      'red/2.jpg': await solid(12, 10, [250, 5, 5], 'jpeg'),
      'blue/1.webp': await solid(12, 10, [0, 0, 255], 'webp'),
      'blue/2.gif': await solid(30, 20, [0, 0, 255], 'gif'),
      'gray/1.tiff': await solid(12, 10, 128, 'tiff'),
    });
    const r = await loadImageFolder(d);
    assert.deepEqual(r.dataset.sampleShape, [10, 12, 3]);
    assert.deepEqual(r.dataset.classNames, ['blue', 'gray', 'red']);
    assert.deepEqual(r.dataset.ids, [
      'blue/1.webp',
      'blue/2.gif',
      'gray/1.tiff',
      'red/1.png',
      'red/2.jpg',
    ]);
    const px = (i: number): number[] =>
      Array.from(r.dataset.x.subarray(i * 360 + 3 * 13, i * 360 + 3 * 14));
    assert.deepEqual(px(3), [255, 0, 0]);
    assert.ok(px(1)[2]! > 240 && px(1)[0]! < 15, `gif resized keeps blue: ${px(1).join(',')}`);
    assert.deepEqual(px(2), [128, 128, 128]);
    const forced = await loadImageFolder(d, { channels: 1, size: [4, 6], fit: 'fill' });
    assert.deepEqual(forced.dataset.sampleShape, [4, 6, 1]);
    assert.equal(forced.dataset.x[3 * 24], Math.round(0.299 * 255), 'red to luma');
    const contain = await loadImageFolder(d, { size: [12, 12], fit: 'contain' });
    assert.equal(contain.dataset.x[3 * 144], 0, 'contain pads with black above a 12x10 image');
  });

  test('flat folder is unlabeled; names with spaces and unicode', async () => {
    const d = dirWith('flat', {
      'ünïcødé 图像.png': await solid(5, 5, 10, 'png'),
      'with space.png': await solid(5, 5, 20, 'png'),
    });
    const r = await loadImageFolder(d);
    assert.equal(r.labeled, false);
    assert.deepEqual(Array.from(r.dataset.y), [-1, -1]);
    assert.deepEqual(r.dataset.classNames, []);
    assert.deepEqual(r.dataset.ids, ['with space.png', 'ünïcødé 图像.png']);
  });

  test('bad files are skipped with reasons; the rest loads', async () => {
    const good = await solid(16, 16, 77, 'png');
    const d = dirWith('mixed', {
      'a/good.png': good,
      'a/empty.png': Buffer.alloc(0),
      'a/notes.txt': 'hello, not an image',
      'a/truncated.png': good.subarray(0, 40),
      'a/big.png': await solid(200, 100, 5, 'png'),
      'loose.png': good,
    });
    const r = await loadImageFolder(d, { maxInputPixels: 10_000 });
    assert.deepEqual(r.dataset.ids, ['a/good.png']);
    const reasons = Object.fromEntries(r.skipped.map((s) => [s.file, s.reason]));
    assert.equal(reasons['a/empty.png'], 'zero bytes');
    assert.match(reasons['a/notes.txt']!, /^not an image/);
    assert.match(reasons['a/truncated.png']!, /^failed to decode/);
    assert.match(
      reasons['a/big.png']!,
      /too large: 200 x 100 = 20000 pixels, over the limit of 10000/,
    );
    assert.match(reasons['loose.png']!, /outside every class folder/);
    assert.equal(r.skipped.length, 5);
  });

  test('symlink loops do not hang and are reported', async () => {
    const d = dirWith('loop', { 'c/one.png': await solid(4, 4, 9, 'png') });
    symlinkSync(join(d, 'c'), join(d, 'c', 'again'));
    symlinkSync(join(d, 'nowhere'), join(d, 'c', 'broken'));
    const r = await loadImageFolder(d);
    assert.deepEqual(r.dataset.ids, ['c/one.png']);
    assert.ok(r.skipped.some((s) => s.file === 'c/again' && /already visited/.test(s.reason)));
    assert.ok(r.skipped.some((s) => s.file === 'c/broken' && /broken link/.test(s.reason)));
  });

  test('errors: missing folder, a file, no images, memory bound', async () => {
    await assert.rejects(
      loadImageFolder(join(root, 'none')),
      (e: unknown) => e instanceof DatasetError && /nothing readable \(ENOENT\)/.test(e.message),
    );
    const d = dirWith('textonly', { 'x/readme.txt': 'text' });
    await assert.rejects(
      loadImageFolder(d),
      (e: unknown) =>
        e instanceof DatasetError &&
        /found no usable one.*readme\.txt \(not an image/.test(e.message),
    );
    await assert.rejects(loadImageFolder(join(d, 'x', 'readme.txt')), /found a file/);
    const g = dirWith('membound', { 'a/1.png': await solid(10, 10, 1, 'png') });
    await assert.rejects(
      loadImageFolder(g, { maxTotalBytes: 100 }),
      /need 300 bytes, over the memory bound of 100 bytes/,
    );
  });

  test('defaultImageSize picks the mode and caps the longer side', () => {
    assert.deepEqual(
      defaultImageSize(
        [
          [28, 28],
          [30, 30],
          [28, 28],
        ],
        224,
      ),
      [28, 28],
    );
    assert.deepEqual(
      defaultImageSize(
        [
          [600, 800],
          [600, 800],
          [10, 10],
        ],
        224,
      ),
      [168, 224],
    );
  });
});
