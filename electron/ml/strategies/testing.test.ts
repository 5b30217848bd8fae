import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  contractCases,
  contractViolations,
  fakeContext,
  fakeModelView,
  tinyNetwork,
} from './testing.ts';
import type { QueryContext, QueryResult } from './types.ts';

await tf.setBackend('cpu');

const N = 12;
const view = () =>
  fakeModelView({
    probs: new Float32Array(N * 2).fill(0.5),
    embeddings: new Float32Array(N),
    numClasses: 2,
    embeddingDim: 1,
  });

describe('contract checks catch broken strategies', () => {
  test('duplicates, labeled indices and wrong counts are reported', () => {
    const ctx = fakeContext({ model: view(), poolSize: N, budget: 3, labeledCount: 4 });
    assert.deepEqual(contractViolations(ctx, { selected: Int32Array.from([5, 6, 7]) }), []);
    assert.match(
      contractViolations(ctx, { selected: Int32Array.from([5, 5, 7]) }).join(),
      /selected twice/,
    );
    assert.match(
      contractViolations(ctx, { selected: Int32Array.from([1, 6, 7]) }).join(),
      /not in the unlabeled pool/,
    );
    assert.match(
      contractViolations(ctx, { selected: Int32Array.from([6, 7]) }).join(),
      /selected 2 indices, expected 3/,
    );
    assert.match(
      contractViolations(ctx, {
        selected: Int32Array.from([5, 6, 7]),
        pseudo: { indices: Int32Array.from([7, 8]), labels: Int32Array.from([0, 2]) },
      }).join(),
      /also selected.*not a class id/,
    );
  });

  test('contractCases fail for a strategy that ignores the pool and the seed', async () => {
    let calls = 0;
    const broken = {
      id: 'Broken',
      async query(ctx: QueryContext): Promise<QueryResult> {
        calls++;
        // Index 0 is labeled in every contract case; the offset changes on every call.
        return {
          selected: Int32Array.from([
            0,
            ...ctx.unlabeled.slice(calls % 2, (calls % 2) + ctx.budget - 1),
          ]),
        };
      },
    };
    const cases = contractCases(broken, () => ({ model: view(), poolSize: N }));
    const failures = [];
    for (const c of cases) {
      try {
        await c.run();
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    // Labeled index, non-deterministic, no pool check, no empty-pool error, no budget/abort check.
    assert.equal(failures.length, cases.length, failures.join('\n'));
  });
});

describe('tinyNetwork', () => {
  test('eval is deterministic, MC/train dropout varies, gradients reach the input', () => {
    const net = tinyNetwork([4], 3, 1, { hidden: 8, dropout: 0.5 });
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 3);
    const e1 = net.forward(x, 'eval').logits.arraySync();
    const e2 = net.forward(x, 'eval').logits.arraySync();
    assert.deepEqual(e1, e2);
    const m1 = net.forward(x, 'mc').logits.arraySync();
    const m2 = net.forward(x, 'mc').logits.arraySync();
    assert.notDeepEqual(m1, m2);
    const g = tf.grad((xi: tf.Tensor) => tf.sum(net.forward(xi, 'eval').logits) as tf.Scalar)(x);
    assert.ok((g.abs().sum().arraySync() as number) > 0);
    assert.equal(net.embeddingDim, 8);
    assert.deepEqual(net.forward(x, 'eval').embedding.shape, [5, 8]);
    net.dispose();
  });
});
