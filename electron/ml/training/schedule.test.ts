import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createNetwork } from '../models/index.ts';
import type { Normalization } from '../models/network.ts';
import type { Dataset } from '../types.ts';
import type { TrainingPlugin } from './plugin.ts';
import { trainNetwork } from './train.ts';

before(async () => {
  await tf.setBackend('cpu');
});

/** One feature per row holding the row's own index, so a batch says which rows it holds. */
const N = 50;
const data: Dataset = {
  name: 'indexed',
  x: Float32Array.from({ length: N }, (_, i) => i),
  y: Int32Array.from({ length: N }, (_, i) => i % 2),
  sampleShape: [1],
  classNames: ['a', 'b'],
};
const norm: Normalization = { scale: 1, mean: [0], std: [1] };
const rowsOf = (x: tf.Tensor): number[] => Array.from(x.dataSync(), (v) => Math.round(v));

describe('a plugin’s epoch length and unlabeled pairing (WAAL’s schedule)', () => {
  test('epochs of max(|L|, |U|): the labeled rows cycle evenly, each unlabeled row comes once', async () => {
    const labeled = Int32Array.from({ length: 8 }, (_, i) => i);
    const unlabeled = Int32Array.from({ length: 42 }, (_, i) => i + 8);
    const seenL: number[][] = [[], []];
    const seenU: number[][] = [[], []];
    const pairs: [number, number][] = [];
    let pending = 0;
    const plugin: TrainingPlugin = {
      name: 'pairing',
      epochSamples: (l, u) => Math.max(l, u),
      beforeBatch: ({ epoch, size, unlabeledBatch }) => {
        const xu = unlabeledBatch(size)!;
        seenU[epoch]!.push(...rowsOf(xu));
        pending = size;
        xu.dispose();
      },
      batchLoss: ({ x, epoch }) => {
        const rows = rowsOf(x);
        seenL[epoch]!.push(...rows);
        pairs.push([rows.length, pending]);
        return tf.scalar(0);
      },
      dispose: () => {},
    };
    const net = createNetwork({
      kind: 'mlp',
      inputShape: [1],
      numClasses: 2,
      seed: 1,
      hidden: [4],
    });
    await trainNetwork(net, data, {
      indices: labeled,
      labels: Int32Array.from(labeled, (i) => data.y[i]!),
      epochs: 2,
      batchSize: 10,
      seed: 3,
      norm,
      plugins: [plugin],
      unlabeled,
    });
    for (let epoch = 0; epoch < 2; epoch++) {
      assert.equal(seenL[epoch]!.length, 42, `epoch ${epoch} length`);
      const counts = new Map<number, number>();
      for (const r of seenL[epoch]!) counts.set(r, (counts.get(r) ?? 0) + 1);
      assert.deepEqual(
        [...counts.keys()].sort((a, b) => a - b),
        [...labeled],
      );
      for (const c of counts.values())
        assert.ok(c === 5 || c === 6, `a labeled row came ${c} times`);
      assert.deepEqual(
        [...seenU[epoch]!].sort((a, b) => a - b),
        [...unlabeled],
        `epoch ${epoch}: each unlabeled row once`,
      );
    }
    // Each labeled batch met an unlabeled batch of its own size.
    for (const [l, u] of pairs) assert.equal(u, l);
    net.dispose();
  });

  test('without a plugin asking for more, an epoch is the labeled set once', async () => {
    const labeled = Int32Array.from({ length: 8 }, (_, i) => i);
    let batches = 0;
    const net = createNetwork({
      kind: 'mlp',
      inputShape: [1],
      numClasses: 2,
      seed: 1,
      hidden: [4],
    });
    await trainNetwork(net, data, {
      indices: labeled,
      labels: Int32Array.from(labeled, (i) => data.y[i]!),
      epochs: 1,
      batchSize: 4,
      seed: 3,
      norm,
      unlabeled: Int32Array.from({ length: 42 }, (_, i) => i + 8),
      onBatch: () => batches++,
    });
    assert.equal(batches, 2);
    net.dispose();
  });
});
