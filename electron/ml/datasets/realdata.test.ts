/**
 * Checks the readers on the real Fashion-MNIST and MNIST files. The data is looked up in
 * DEEPAL_DATA_DIR, then ../shared/datasets beside the repository, then /usr/share/datasets. When it
 * is missing the tests are skipped with the reason, except under CI, where missing data fails.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Dataset } from '../types.ts';
import { describeDataset, findIdxFiles, loadDataset, NAMED_DATASETS } from './index.ts';
import { loadIdxPair } from './idx.ts';
import { requireRealData } from './realData.ts';

const counts = (d: Dataset): number[] => describeDataset(d).classCounts.map((c) => c.count);

describe('real data', () => {
  test('Fashion-MNIST: all 60,000 + 10,000 images', async (t) => {
    const base = requireRealData(t, 'fashion-mnist');
    if (!base) return;
    const files = findIdxFiles(join(base, 'fashion-mnist'));
    assert.ok(files.trainImages && files.trainLabels, 'training files present');
    const t0 = performance.now();
    const train = loadIdxPair(
      files.trainImages,
      files.trainLabels,
      NAMED_DATASETS['fashion-mnist']!.classNames,
      'fm/train',
    );
    const ms = performance.now() - t0;
    t.diagnostic(`Fashion-MNIST train (47 MB decompressed) loaded in ${ms.toFixed(0)} ms`);
    // How long it took is a diagnostic, not a pass/fail: a loaded CI machine is not a benchmark.
    assert.equal(train.y.length, 60000);
    assert.equal(train.x.length, 47_040_000);
    assert.deepEqual(counts(train), new Array(10).fill(6000));

    const d = await loadDataset('fashion-mnist', { dataDir: base });
    assert.equal(d.format, 'idx');
    assert.equal(d.train.y.length, 60000);
    assert.equal(d.test.y.length, 10000);
    assert.deepEqual(d.train.sampleShape, [28, 28, 1]);
    assert.deepEqual(d.test.sampleShape, [28, 28, 1]);
    assert.deepEqual(counts(d.train), new Array(10).fill(6000));
    assert.deepEqual(counts(d.test), new Array(10).fill(1000));
    assert.deepEqual(d.train.classNames, [
      'T-shirt/top',
      'Trouser',
      'Pullover',
      'Dress',
      'Coat',
      'Sandal',
      'Shirt',
      'Sneaker',
      'Bag',
      'Ankle boot',
    ]);
    assert.deepEqual(
      Array.from(d.train.y.subarray(0, 5)),
      [9, 0, 0, 3, 0],
      'first training labels as upstream',
    );
    assert.deepEqual(
      Array.from(d.test.y.subarray(0, 5)),
      [9, 2, 1, 1, 6],
      'first test labels as upstream',
    );
    // Real images: dark background (corners 0) and some ink in every image of a sample.
    let inked = 0;
    for (let i = 0; i < 60000; i += 997) {
      let max = 0;
      for (let p = 0; p < 784; p++) max = Math.max(max, d.train.x[i * 784 + p]!);
      if (max > 100) inked++;
    }
    assert.equal(inked, Math.ceil(60000 / 997));
  });

  test('MNIST test split: 10,000 images with the published class counts', async (t) => {
    const base = requireRealData(t, 'mnist');
    if (!base) return;
    const files = findIdxFiles(join(base, 'mnist'));
    const test10k = loadIdxPair(
      files.testImages!,
      files.testLabels!,
      NAMED_DATASETS.mnist!.classNames,
      'mnist/test',
    );
    assert.equal(test10k.y.length, 10000);
    assert.deepEqual(test10k.sampleShape, [28, 28, 1]);
    assert.deepEqual(counts(test10k), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    const d = await loadDataset('mnist', { dataDir: base, seed: 4 });
    if (files.trainImages) {
      assert.equal(d.train.y.length, 60000);
    } else {
      // Only the t10k images: the registry splits them and says so.
      assert.equal(d.train.y.length + d.test.y.length, 10000);
      assert.equal(d.test.y.length, 2000);
      assert.match(d.description, /no training images/);
      const both = counts(d.train).map((c, k) => c + counts(d.test)[k]!);
      assert.deepEqual(both, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    }
  });

  test('Fashion-MNIST subsets: pool/test sizes and the imbalanced pool', async (t) => {
    const base = requireRealData(t, 'fashion-mnist');
    if (!base) return;
    const sub = await loadDataset('fashion-mnist', {
      dataDir: base,
      poolSize: 2000,
      testSize: 500,
      seed: 11,
    });
    assert.equal(sub.train.y.length, 2000);
    assert.equal(sub.test.y.length, 500);
    assert.deepEqual(counts(sub.train), new Array(10).fill(200));
    assert.deepEqual(counts(sub.test), new Array(10).fill(50));

    const imb = await loadDataset('fashion-mnist', { dataDir: base, imbalanced: true, seed: 11 });
    assert.deepEqual(
      counts(imb.train),
      [600, 1200, 1800, 2400, 3000, 3600, 4200, 4800, 5400, 6000],
    );
    assert.equal(imb.train.y.length, 33000);
    assert.deepEqual(counts(imb.test), new Array(10).fill(1000));

    const imbSub = await loadDataset('fashion-mnist', {
      dataDir: base,
      imbalanced: true,
      poolSize: 5500,
      testSize: 1000,
      seed: 11,
    });
    assert.deepEqual(counts(imbSub.train), [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    assert.deepEqual(counts(imbSub.test), new Array(10).fill(100));
  });
});
