import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { quickDimensions, readImageHeader } from '../ml/datasets/imageFolder.ts';
import { datasetSamples } from '../store/annotation.ts';
import { openStore } from '../store/store.ts';
import { runJob } from './jobs.ts';

const ctx = () => ({ signal: new AbortController().signal, progress: () => {} });

async function image(
  file: string,
  w: number,
  h: number,
  opts: { gray?: boolean; format?: 'png' | 'jpeg' | 'webp'; shade?: number } = {},
) {
  const channels = opts.gray ? 1 : 3;
  const px = Buffer.alloc(w * h * channels);
  for (let i = 0; i < px.length; i++) px[i] = (i * 31 + (opts.shade ?? 0)) % 256;
  let img = sharp(px, { raw: { width: w, height: h, channels } });
  // sharp writes one-channel input as RGB unless told to keep it gray.
  if (opts.gray) img = img.toColourspace('b-w');
  img = opts.format === 'jpeg' ? img.jpeg() : opts.format === 'webp' ? img.webp() : img.png();
  await img.toFile(file);
}

describe('image folders: preview and import from headers', { timeout: 120_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-folderjobs-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('PNG and JPEG sizes and gray hints from the first bytes agree with libvips', async () => {
    const cases: [string, number, number, boolean, 'png' | 'jpeg'][] = [
      ['g.png', 30, 20, true, 'png'],
      ['c.png', 17, 41, false, 'png'],
      ['g.jpg', 64, 48, true, 'jpeg'],
      ['c.jpg', 33, 77, false, 'jpeg'],
    ];
    for (const [name, w, h, gray, format] of cases) {
      const file = join(dir, name);
      await image(file, w, h, { gray, format });
      const q = quickDimensions(readFileSync(file));
      const meta = await sharp(file).metadata();
      assert.deepEqual(q, { width: meta.width, height: meta.height, grayHint: gray }, name);
    }
    // WebP, and a JPEG whose EXIF orientation turns it, are left to libvips.
    const webp = join(dir, 'w.webp');
    await image(webp, 10, 12, { format: 'webp' });
    assert.equal(quickDimensions(readFileSync(webp)), null);
    const turned = join(dir, 'turned.jpg');
    await sharp(Buffer.alloc(40 * 10 * 3, 90), { raw: { width: 40, height: 10, channels: 3 } })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toFile(turned);
    assert.equal(quickDimensions(readFileSync(turned)), null);
    const header = await readImageHeader(
      { abs: turned, rel: 'turned.jpg' },
      { maxInputPixels: 1e8, maxFileBytes: 1e8 },
    );
    assert.ok(!('reason' in header));
    assert.deepEqual([header.width, header.height], [10, 40], 'sides as displayed');
  });

  test('an import stores paths, classes and a stratified test split; its fingerprint follows the files', async () => {
    const root = join(dir, 'shapes');
    for (const c of ['a', 'b']) {
      mkdirSync(join(root, c), { recursive: true });
      for (let i = 0; i < 5; i++)
        await sharp({
          create: { width: 300, height: 300, channels: 3, background: { r: i * 40, g: 9, b: 3 } },
        })
          .png()
          .toFile(join(root, c, `${i}.png`));
    }
    writeFileSync(join(root, 'b', 'broken.png'), 'not an image');
    const dbPath = join(dir, 'w.db');
    const { datasetId } = await runJob({ kind: 'import', dbPath, path: root }, ctx());
    const store = openStore(dbPath);
    try {
      const d = store.getDataset(datasetId)!;
      assert.equal(d.format, 'image-folder');
      assert.deepEqual(d.classNames, ['a', 'b']);
      // The most common size, capped at 224; colour content, so 3 channels.
      assert.deepEqual(d.sampleShape, [224, 224, 3]);
      // 10 usable images: a stratified 20% (1 of each class) is the test set.
      assert.deepEqual(d.counts, { train: 8, test: 2, unlabeled: 0 });
      const samples = datasetSamples(store, datasetId);
      assert.deepEqual(
        samples.filter((s) => s.split === 'test').map((s) => s.groundTruth),
        [0, 1],
      );
      assert.ok(samples.every((s) => /^[ab]\/\d\.png$/.test(s.sourcePath ?? '')));
      assert.ok(!samples.some((s) => s.sourcePath === 'b/broken.png'));
    } finally {
      store.close();
    }
    // The same files import as the same dataset; a changed file makes a new one.
    const again = await runJob({ kind: 'import', dbPath, path: root }, ctx());
    assert.equal(again.datasetId, datasetId);
    utimesSync(join(root, 'a', '0.png'), new Date(), new Date(Date.now() + 5000));
    const changed = await runJob({ kind: 'import', dbPath, path: root }, ctx());
    assert.notEqual(changed.datasetId, datasetId);
  });

  test('grayscale photographs saved as RGB JPEGs import with one channel', async () => {
    const root = join(dir, 'grayish');
    mkdirSync(root);
    for (let i = 0; i < 6; i++) {
      const px = Buffer.alloc(32 * 32 * 3);
      for (let p = 0; p < 32 * 32; p++) px.fill((p * 7 + i * 13) % 256, p * 3, p * 3 + 3);
      await sharp(px, { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toFile(join(root, `${i}.png`));
    }
    const preview = await runJob({ kind: 'preview', path: root }, ctx());
    assert.deepEqual(preview.sampleShape, [32, 32, 1]);
    assert.equal(preview.thumbnails.length, 6);
    assert.ok(preview.thumbnails.every((t) => t.channels === 1 && t.width === 32));
    const { datasetId } = await runJob(
      { kind: 'import', dbPath: join(dir, 'g.db'), path: root },
      ctx(),
    );
    const store = openStore(join(dir, 'g.db'), { readonly: true });
    try {
      assert.deepEqual(store.getDataset(datasetId)!.sampleShape, [32, 32, 1]);
    } finally {
      store.close();
    }
  });
});
