import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { adversarialBim, adversarialDeepFool, bimAttack, deepFoolAttack } from './adversarial.ts';
import {
  contractCases,
  fakeContext,
  fakePool,
  linearNetwork,
  networkModelView,
  randomProbs,
  tinyNetwork,
} from './testing.ts';

await tf.setBackend('cpu');

// Two classes split by the line x1 = 0: logits = [x1, -x1] (x2 is ignored).
const twoClass = () =>
  linearNetwork(
    [
      [1, -1],
      [0, 0],
    ],
    [0, 0],
  );

// Distances to the boundary |x1|: 0.48, 0.12, 1.01, 0.21, 0.33.
const X1 = [0.48, 0.12, 1.01, -0.21, 0.33];
const pointsX = Float32Array.from(X1.flatMap((v, i) => [v, i * 0.1]));

describe('BIM attack', () => {
  test('each step moves x1 by eps toward the boundary until the label flips', async () => {
    const net = twoClass();
    const x = tf.tensor2d(pointsX, [5, 2]);
    const r = await bimAttack(net, x, { eps: 0.05, maxIterations: 50 });
    x.dispose();
    net.dispose();
    // Crossing |x1| needs floor(|x1| / 0.05) + 1 steps of 0.05 in x1 only (the x2 gradient is 0).
    X1.forEach((v, i) => {
      const steps = Math.floor(Math.abs(v) / 0.05) + 1;
      assert.equal(r.iterations[i], steps, `sample ${i}`);
      assert.ok(Math.abs(r.sqNorm[i]! - (steps * 0.05) ** 2) < 1e-6, `sample ${i}: ${r.sqNorm[i]}`);
      assert.equal(r.to[i], 1 - r.from[i]!);
    });
  });

  test('a sample that does not flip within maxIterations scores Infinity', async () => {
    const net = twoClass();
    const x = tf.tensor2d(pointsX, [5, 2]);
    const r = await bimAttack(net, x, { eps: 0.05, maxIterations: 5 });
    x.dispose();
    net.dispose();
    // 0.12 (3 steps) and -0.21 (5 steps) flip; 0.48, 1.01, 0.33 do not.
    assert.deepEqual(
      Array.from(r.sqNorm, (v) => Number.isFinite(v)),
      [false, true, false, true, false],
    );
  });
});

describe('DeepFool attack', () => {
  // Three classes: f0 = 0, f1 = x1 - 1, f2 = x2 - 5. From (0.5, 0) the class-1 boundary is 0.5
  // away and the class-2 boundary 5 away; from (0, 4.5) class 2 is 0.5 away and class 1 is 1.
  // From (3, 0) (class 1): class 0 is 2 away; class 2 is |(-5) - 2| / sqrt(2) = 4.95 away.
  const threeClass = () =>
    linearNetwork(
      [
        [0, 1, 0],
        [0, 0, 1],
      ],
      [0, -1, -5],
    );

  test('steps to the closest other class, not the last one', async () => {
    const net = threeClass();
    const x = tf.tensor2d([0.5, 0, 0, 4.5, 3, 0], [3, 2]);
    const r = await deepFoolAttack(net, x, { maxIterations: 50, overshoot: 0.02, topClasses: 10 });
    x.dispose();
    net.dispose();
    assert.deepEqual(Array.from(r.from), [0, 0, 1]);
    assert.deepEqual(Array.from(r.to), [1, 2, 0]);
    // One linear step of (distance + 1e-4), scaled by 1.02.
    const expected = [0.5, 0.5, 2].map((d) => (1.02 * (d + 1e-4)) ** 2);
    expected.forEach((e, i) =>
      assert.ok(Math.abs(r.sqNorm[i]! - e) < 1e-4, `sample ${i}: ${r.sqNorm[i]} vs ${e}`),
    );
    assert.deepEqual(Array.from(r.iterations), [1, 1, 1]);
    // Sample 0 moved along x1 only.
    assert.ok(Math.abs(r.perturbation[1]!) < 1e-6);
    assert.ok(r.perturbation[0]! > 0.5);
  });

  test('topClasses limits the classes compared (2 = only the runner-up)', async () => {
    const net = threeClass();
    // (0, 4.5): logits [0, -1, -0.5]: the runner-up is class 2, which is also the closest.
    // (0.5, 3.6): logits [0, -0.5, -1.4]: runner-up class 1 (0.5 away) vs class 2 (1.4 away).
    const x = tf.tensor2d([0, 4.5, 0.5, 3.6], [2, 2]);
    const r = await deepFoolAttack(net, x, { maxIterations: 50, overshoot: 0.02, topClasses: 2 });
    x.dispose();
    net.dispose();
    assert.deepEqual(Array.from(r.to), [2, 1]);
  });
});

describe('adversarial queries pick the points nearest the boundary', () => {
  const pool = fakePool(5, 2, pointsX);
  for (const s of [adversarialBim, adversarialDeepFool]) {
    test(`${s.id} orders by perturbation size`, async () => {
      const net = twoClass();
      const model = networkModelView(net, pool);
      const r = await s.query(
        fakeContext({
          model,
          poolSize: 5,
          budget: 3,
          unlabeled: Int32Array.from([0, 1, 2, 3, 4]),
          pool,
        }),
      );
      net.dispose();
      // |x1| ascending: 0.12 (1), 0.21 (3), 0.33 (4)
      assert.deepEqual(Array.from(r.selected), [1, 3, 4]);
    });
  }

  test('never-flipped samples rank last, by margin', async () => {
    const net = twoClass();
    const model = networkModelView(net, pool);
    const r = await adversarialBim.query(
      fakeContext({
        model,
        poolSize: 5,
        budget: 4,
        unlabeled: Int32Array.from([0, 1, 2, 3, 4]),
        pool,
        params: { maxIterations: 5 },
      }),
    );
    net.dispose();
    // Flipped: 1 (3 steps), 3 (5 steps); then unflipped by margin: 4 (|0.33|), 0 (|0.48|).
    assert.deepEqual(Array.from(r.selected), [1, 3, 4, 0]);
  });

  test('maxCandidates attacks only the lowest-margin samples', async () => {
    const net = twoClass();
    const model = networkModelView(net, pool);
    const r = await adversarialDeepFool.query(
      fakeContext({
        model,
        poolSize: 5,
        budget: 2,
        unlabeled: Int32Array.from([0, 1, 2, 3, 4]),
        pool,
        params: { maxCandidates: 3 },
      }),
    );
    net.dispose();
    assert.deepEqual(Array.from(r.selected), [1, 3]);
    assert.equal(model.calls.inputRows, 3);
  });
});

describe('adversarial contract on a small real network', () => {
  const F = 3;
  const x = Float32Array.from(randomProbs(30, F, 9), (v) => v * 4 - 1);
  const fixture = () => {
    const p = fakePool(30, F, x);
    return { model: networkModelView(tinyNetwork([F], 3, 5), p), poolSize: 30, pool: p };
  };
  for (const s of [adversarialBim, adversarialDeepFool]) {
    for (const c of contractCases(s, fixture, { params: { maxIterations: 20, maxCandidates: 12 } }))
      test(c.name, c.run);
  }

  test('no tensors leak from a query', async () => {
    const f = fixture();
    const before = tf.memory().numTensors;
    await adversarialDeepFool.query(
      fakeContext({ model: f.model, poolSize: 30, budget: 4, pool: f.pool }),
    );
    await adversarialBim.query(
      fakeContext({ model: f.model, poolSize: 30, budget: 4, pool: f.pool }),
    );
    assert.equal(tf.memory().numTensors, before);
  });
});
