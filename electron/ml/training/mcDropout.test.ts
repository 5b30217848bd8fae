import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import { createNetwork } from '../models/index.ts';
import type { ModelKind, Normalization } from '../models/network.ts';
import { mcProbsInChunks } from '../strategies/baseline.ts';
import type { Dataset } from '../types.ts';
import { createModelView } from './modelView.ts';
import { mcPredict } from './predict.ts';

before(async () => {
  await tf.setBackend('cpu');
});

/**
 * Consistent MC dropout (Kirsch et al. 2019, needed by BatchBALD's joint entropy): pass t is one
 * parameter sample w_t shared by every pool sample, whatever chunk or call it is scored in.
 */

const F = 6;
const N = 3001;
const norm: Normalization = { scale: 1, mean: new Array(F).fill(0), std: new Array(F).fill(1) };

/** N random feature rows; row N-1 is a byte-identical copy of row 0. */
function pool(): Dataset {
  const rng = new Rng(5);
  const x = Float32Array.from({ length: N * F }, () => rng.normal());
  x.copyWithin((N - 1) * F, 0, F);
  return {
    name: 'twins',
    x,
    y: new Int32Array(N).fill(-1),
    sampleShape: [F],
    classNames: ['a', 'b', 'c'],
  };
}

const all = Int32Array.from({ length: N }, (_, i) => i);

describe('consistent MC dropout', () => {
  test('identical rows at pool positions 0 and 3000 (different chunks) agree in every pass', async () => {
    const data = pool();
    const net = createNetwork({
      kind: 'mlp',
      inputShape: [F],
      numClasses: 3,
      seed: 3,
      hidden: [16],
    });
    const T = 5;
    // Chunked as the MC strategies chunk the pool (2048 rows per view call, 500 per batch).
    const mc = await mcProbsInChunks(createModelView(net, data, norm), all, T);
    let passesDiffer = false;
    for (let t = 0; t < T; t++) {
      const a = mc.subarray((t * N + 0) * 3, (t * N + 1) * 3);
      const b = mc.subarray((t * N + N - 1) * 3, (t * N + N) * 3);
      assert.deepEqual(Array.from(b), Array.from(a), `pass ${t}`);
      if (t > 0 && mc[t * N * 3]! !== mc[0]!) passesDiffer = true;
    }
    assert.ok(passesDiffer, 'the passes are not stochastic');
    net.dispose();
  });

  test('a pass does not depend on the batch size, the call, or the rows beside it', async () => {
    const data = pool();
    const net = createNetwork({
      kind: 'mlp',
      inputShape: [F],
      numClasses: 3,
      seed: 3,
      hidden: [16],
    });
    const rows = all.subarray(0, 40);
    const a = await mcPredict(net, data, rows, norm, 4, { batchSize: 7, seed: 11 });
    const b = await mcPredict(net, data, rows, norm, 4, { batchSize: 40, seed: 11 });
    assert.deepEqual(Array.from(b), Array.from(a));
    // Row 39 alone, in a second call: its numbers of every pass are those it had among 40.
    const one = await mcPredict(net, data, rows.subarray(39), norm, 4, { seed: 11 });
    for (let t = 0; t < 4; t++) {
      assert.deepEqual(
        Array.from(one.subarray(t * 3, t * 3 + 3)),
        Array.from(a.subarray((t * 40 + 39) * 3, (t * 40 + 40) * 3)),
      );
    }
    // More passes keep the first ones: pass t is seeded by (query, t).
    const more = await mcPredict(net, data, rows, norm, 6, { seed: 11 });
    assert.deepEqual(Array.from(more.subarray(0, 4 * 40 * 3)), Array.from(a));
    // Another query seed draws other masks.
    const other = await mcPredict(net, data, rows, norm, 4, { seed: 12 });
    assert.notDeepEqual(Array.from(other), Array.from(a));
    net.dispose();
  });

  for (const kind of ['mlp', 'cnn', 'resnet18'] as ModelKind[]) {
    test(`${kind}: one dropout mask per pass, shared by every row of the batch`, () => {
      const net = createNetwork({
        kind,
        inputShape: [12, 12, 1],
        numClasses: 3,
        seed: 4,
        width: 2,
        hidden: [32],
      });
      const row = tf.randomNormal([1, 12, 12, 1], 0, 1, 'float32', 9);
      const x = tf.concat([row, tf.randomNormal([2, 12, 12, 1], 0, 1, 'float32', 10), row]);
      net.reseedDropout!(21);
      const logits = tf.tidy(() => net.mcLogits!(x, 2).map((l) => l.arraySync()));
      for (const l of logits) assert.deepEqual(l[3], l[0]);
      assert.notDeepEqual(logits[0], logits[1]);
      tf.dispose([row, x]);
      net.dispose();
    });
  }
});
