/**
 * A study on a sample of a large image folder decodes only the sample: the pool and test set
 * drawn from the file list must be the very samples loadDataset drew after decoding everything.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { Rng, deriveSeed } from '../../../shared/random.ts';
import { imbalancedIndices, loadDataset, stratifiedSample, subsetDataset } from './index.ts';

let root = '';
const CLASSES = ['alpha', 'beta', 'gamma'];
const PER_CLASS = [14, 20, 11];

async function writeFolder(dir: string): Promise<void> {
  for (const [k, name] of CLASSES.entries()) {
    mkdirSync(join(dir, name), { recursive: true });
    for (let i = 0; i < PER_CLASS[k]!; i++) {
      const px = Buffer.alloc(12 * 12, (k * 40 + i * 7) % 256);
      await sharp(px, { raw: { width: 12, height: 12, channels: 1 } })
        .png()
        .toFile(join(dir, name, `${name}-${String(i).padStart(2, '0')}.png`));
    }
  }
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'deepal-poolsample-'));
  await writeFolder(join(root, 'one'));
  await writeFolder(join(root, 'split', 'train'));
  await writeFolder(join(root, 'split', 'test'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** The pool loadDataset's own steps draw from a fully decoded training set. */
function reference(
  train: Parameters<typeof subsetDataset>[0],
  seed: number,
  poolSize: number,
  imbalanced: boolean,
) {
  let t = train;
  if (imbalanced) {
    t = subsetDataset(
      t,
      imbalancedIndices(t.y, t.classNames.length, new Rng(deriveSeed(seed, 'imbalanced'))),
    );
  }
  return subsetDataset(t, stratifiedSample(t.y, poolSize, new Rng(deriveSeed(seed, 'pool'))));
}

for (const imbalanced of [false, true]) {
  test(`one folder${imbalanced ? ', imbalanced' : ''}: the pool and test set are the ones drawn after decoding all`, async () => {
    const folder = join(root, 'one');
    const seed = 7;
    const whole = await loadDataset(folder, { seed, testSize: 9 });
    assert.equal(whole.train.y.length, 45 - 9, 'without a pool every file is decoded');
    const want = reference(whole.train, seed, 12, imbalanced);
    // A memory bound that the whole folder breaks (45 images at 12 x 12 x 3 = 19,440 bytes) but
    // the test set and pool (21 images, 9,072 bytes) keep: only they may be decoded.
    const got = await loadDataset(folder, {
      seed,
      testSize: 9,
      poolSize: 12,
      imbalanced,
      image: { maxTotalBytes: 12_000 },
    });
    assert.deepEqual(got.train.ids, want.ids);
    assert.deepEqual(got.train.y, want.y);
    assert.deepEqual(got.train.x, want.x);
    assert.deepEqual(got.test.ids, whole.test.ids);
    assert.match(
      got.description,
      /45 images at 12x12x1 \(the 21 of the test set and the pool decoded\)/,
    );
    assert.match(got.description, /pool: stratified sample of 12/);
    if (imbalanced) assert.match(got.description, /imbalanced pool/);
    await assert.rejects(
      loadDataset(folder, { seed, testSize: 9, image: { maxTotalBytes: 12_000 } }),
      /need 19440 bytes, over the memory bound/,
      'without a pool the whole folder is decoded (and refused here)',
    );
  });
}

test('train and test folders: only the drawn pool and test sample are decoded', async () => {
  const folder = join(root, 'split');
  const seed = 3;
  const whole = await loadDataset(folder, { seed });
  assert.equal(whole.test.y.length, 45, 'without a test size the test folder is decoded whole');
  const want = reference(whole.train, seed, 15, false);
  const wantTest = subsetDataset(
    whole.test,
    stratifiedSample(whole.test.y, 10, new Rng(deriveSeed(seed, 'test'))),
  );
  const got = await loadDataset(folder, {
    seed,
    testSize: 10,
    poolSize: 15,
    image: { maxTotalBytes: 12_000 },
  });
  assert.deepEqual(got.train.ids, want.ids);
  assert.deepEqual(got.train.x, want.x);
  assert.deepEqual(got.test.ids, wantTest.ids);
  assert.deepEqual(got.test.y, wantTest.y);
  assert.match(got.description, /45 train and 10 test images/);
  assert.match(got.description, /pool: stratified sample of 15; test: stratified sample of 10\./);
});

test('a pool larger than the folder is refused with the folder named, before decoding', async () => {
  await assert.rejects(
    loadDataset(join(root, 'one'), { seed: 1, testSize: 9, poolSize: 40 }),
    /poolSize 40 is larger than the 36 samples available/,
  );
});
