import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { confusionAccuracy } from '../../../shared/metrics.ts';
import { createNetwork } from '../models/index.ts';
import { computeNormalization } from './normalization.ts';
import { evaluate, predict } from './predict.ts';
import { quadrantImages, range } from './testData.ts';

before(async () => {
  await tf.setBackend('cpu');
});

describe('evaluate: confusion matrix', () => {
  test('counts true x predicted, agrees with predict and accuracy, whatever the chunking', async () => {
    const images = quadrantImages(40, 3);
    // Rows 0..3 are unlabeled (-1) and must be skipped.
    for (let i = 0; i < 4; i++) images.y[i] = -1;
    const norm = computeNormalization(images);
    // Untrained: its guesses are far from the truth, so the off-diagonal cells are exercised.
    const net = createNetwork({
      kind: 'mlp',
      inputShape: [12, 12, 1],
      numClasses: 4,
      seed: 5,
      hidden: [8],
    });
    try {
      const rows = range(40);
      const numTensors = tf.memory().numTensors;
      const ev = await evaluate(net, images, rows, norm, 7);
      assert.equal(tf.memory().numTensors, numTensors, 'evaluate leaves no tensor behind');

      // The expected matrix from predict's probabilities, counted by hand.
      const { probs } = await predict(net, images, rows, norm);
      const expected = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
      for (let i = 4; i < 40; i++) {
        const p = Array.from(probs.subarray(i * 4, i * 4 + 4));
        expected[images.y[i]!]![p.indexOf(Math.max(...p))]! += 1;
      }
      assert.deepEqual(ev.confusion, expected);
      // 36 labeled rows, 9 per class (rows 4..39, class i % 4).
      assert.deepEqual(
        ev.confusion.map((r) => r.reduce((a, b) => a + b, 0)),
        [9, 9, 9, 9],
      );
      assert.equal(ev.accuracy, confusionAccuracy(ev.confusion));
      assert.ok(ev.accuracy < 1, 'an untrained model gets some wrong');
      const whole = await evaluate(net, images, rows, norm, 1000);
      assert.deepEqual(whole.confusion, ev.confusion);
    } finally {
      net.dispose();
    }
  });
});
