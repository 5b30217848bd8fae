import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import type { Dataset } from '../types.ts';
import { defaultAugmentation, makeBatch } from './batches.ts';
import { computeNormalization } from './normalization.ts';

before(async () => {
  await tf.setBackend('cpu');
});

/** Two 2x2 RGB images with hand-picked bytes. */
const rgb: Dataset = {
  name: 'rgb',
  // Image 0: R = 0, G = 255, B = 51 everywhere. Image 1: R = 255, G = 255, B = 102.
  x: Uint8Array.from([
    ...[0, 255, 51, 0, 255, 51, 0, 255, 51, 0, 255, 51],
    ...[255, 255, 102, 255, 255, 102, 255, 255, 102, 255, 255, 102],
  ]),
  y: Int32Array.of(0, 1),
  sampleShape: [2, 2, 3],
  classNames: ['a', 'b'],
};

const close = (a: number, b: number, eps = 1e-6): boolean => Math.abs(a - b) < eps;

describe('computeNormalization', () => {
  test('per-channel mean and population std of x/255 for uint8 images', () => {
    const n = computeNormalization(rgb);
    assert.equal(n.scale, 1 / 255);
    // R: half 0, half 1 -> mean 0.5, std 0.5. G: constant -> std replaced by 1. B: 0.2 and 0.4.
    assert.ok(close(n.mean[0]!, 0.5) && close(n.std[0]!, 0.5));
    assert.ok(close(n.mean[1]!, 1) && n.std[1] === 1);
    assert.ok(close(n.mean[2]!, 0.3) && close(n.std[2]!, 0.1));
    // A subset of indices: only image 1.
    const one = computeNormalization(rgb, Int32Array.of(1));
    assert.ok(close(one.mean[0]!, 1) && close(one.mean[2]!, 0.4));
  });

  test('per-feature statistics (scale 1) for float32 vectors', () => {
    const d: Dataset = {
      name: 'vec',
      x: Float32Array.from([1, 10, 3, 10, 5, 10]),
      y: Int32Array.of(0, 1, 0),
      sampleShape: [2],
      classNames: ['a', 'b'],
    };
    const n = computeNormalization(d);
    assert.equal(n.scale, 1);
    assert.deepEqual(n.mean, [3, 10]);
    assert.ok(close(n.std[0]!, Math.sqrt(8 / 3)));
    assert.equal(n.std[1], 1);
    assert.throws(() => computeNormalization(d, Int32Array.of(3)), /out of range/);
  });
});

describe('makeBatch', () => {
  test('normalises uint8 images per channel into NHWC float32', () => {
    const norm = computeNormalization(rgb);
    const x = makeBatch(rgb, Int32Array.of(1, 0), norm);
    assert.deepEqual(x.shape, [2, 2, 2, 3]);
    const v = x.dataSync();
    // Image 1 first: R (1 - 0.5) / 0.5 = 1, G (1 - 1) / 1 = 0, B (0.4 - 0.3) / 0.1 = 1.
    assert.ok(close(v[0]!, 1) && close(v[1]!, 0) && close(v[2]!, 1, 1e-5));
    assert.ok(close(v[12]!, -1) && close(v[14]!, -1, 1e-5));
    x.dispose();
    assert.throws(
      () => makeBatch(rgb, Int32Array.of(0), { scale: 1, mean: [0], std: [1] }),
      /expected 3/,
    );
  });

  test('normalises float vectors per feature into [n, F]', () => {
    const d: Dataset = {
      name: 'vec',
      x: Float32Array.from([1, 10, 3, 20]),
      y: Int32Array.of(0, 1),
      sampleShape: [2],
      classNames: ['a', 'b'],
    };
    const x = makeBatch(d, Int32Array.of(1), { scale: 1, mean: [2, 15], std: [1, 5] });
    assert.deepEqual(x.shape, [1, 2]);
    assert.deepEqual(Array.from(x.dataSync()), [1, 1]);
    x.dispose();
  });

  test('crop + flip keeps shape and pixels, moves them, and is seeded', () => {
    // One 8x8x3 image whose pixel value encodes its position.
    const H = 8;
    const data: Dataset = {
      name: 'ramp',
      x: Uint8Array.from({ length: H * H * 3 }, (_, i) => Math.floor(i / 3) + 1),
      y: Int32Array.of(0),
      sampleShape: [H, H, 3],
      classNames: ['a'],
    };
    const norm = { scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
    const plain = makeBatch(data, Int32Array.of(0), norm).dataSync();
    const aug = { cropPadding: 1, horizontalFlip: true };
    const outs: Float32Array[] = [];
    for (const seed of [1, 1, 2, 3, 4, 5, 6, 7]) {
      const x = makeBatch(data, Int32Array.of(0, 0), norm, { augment: aug, rng: new Rng(seed) });
      assert.deepEqual(x.shape, [2, H, H, 3]);
      outs.push(x.dataSync() as Float32Array);
      x.dispose();
    }
    assert.deepEqual(outs[0], outs[1]);
    assert.ok(outs.some((o) => o.subarray(0, H * H * 3).some((v, i) => v !== plain[i])));
    for (const o of outs) {
      for (let i = 0; i < o.length; i++) {
        // A pixel is either padding (0) or a real pixel value.
        assert.ok(o[i] === 0 || (o[i]! >= 1 && o[i]! <= H * H));
      }
    }
    // With no crop, flipping mirrors each row exactly.
    const flipOnly = { horizontalFlip: true };
    const rng = new Rng(9);
    let sawFlip = false;
    for (let k = 0; k < 10; k++) {
      const v = makeBatch(data, Int32Array.of(0), norm, { augment: flipOnly, rng }).dataSync();
      if (v[0] !== plain[0]) {
        sawFlip = true;
        for (let y = 0; y < H; y++) {
          for (let xx = 0; xx < H; xx++) {
            assert.equal(v[(y * H + xx) * 3], plain[(y * H + (H - 1 - xx)) * 3]);
          }
        }
      } else {
        assert.deepEqual(v, plain);
      }
    }
    assert.ok(sawFlip);
  });

  test('augmentation is the dataset’s; the default never flips: crop for colour, else none', () => {
    assert.equal(defaultAugmentation({ sampleShape: [28, 28, 1] }), undefined);
    assert.equal(defaultAugmentation({ sampleShape: [20] }), undefined);
    // SVHN-like colour digits: a shift keeps the label, a mirror would not.
    assert.deepEqual(defaultAugmentation({ sampleShape: [32, 32, 3] }), { cropPadding: 4 });
    const cifar = { cropPadding: 4, horizontalFlip: true };
    assert.deepEqual(defaultAugmentation({ sampleShape: [32, 32, 3], augmentation: cifar }), cifar);
    assert.equal(
      defaultAugmentation({ sampleShape: [32, 32, 3], augmentation: 'none' }),
      undefined,
    );
  });
});
