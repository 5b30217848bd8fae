import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import { initBackend } from '../backend.ts';
import { mcPredict, predict } from '../training/predict.ts';
import type { Dataset } from '../types.ts';
import {
  autoCandidates,
  chooseHead,
  featureData,
  fitHead,
  LOGREG,
  MLP_HEAD,
  stratifiedFolds,
  viewFor,
  type HeadCandidate,
} from './featureModel.ts';
import { lbfgs } from './lbfgs.ts';
import { fitLogistic } from './logistic.ts';
import { balancedWeights } from './train.ts';
import type { FeatureMatrix } from '../features/types.ts';

describe('L-BFGS', () => {
  test('finds the minimum of the Rosenbrock function', () => {
    const r = lbfgs(
      (x, g) => {
        const [a, b] = [x[0]!, x[1]!];
        g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
        g[1] = 200 * (b - a * a);
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      },
      Float64Array.from([-1.2, 1]),
      { maxIter: 500, gradTol: 1e-8, lossTol: 0 },
    );
    assert.ok(r.converged, `converged after ${r.iterations} iterations`);
    assert.ok(Math.abs(r.x[0]! - 1) < 1e-4 && Math.abs(r.x[1]! - 1) < 1e-4, `x = ${r.x}`);
  });
});

describe('logistic regression', () => {
  // scikit-learn 1.2.1, LogisticRegression(C=1, class_weight='balanced', tol=1e-10) on these rows.
  const X = [
    [0.5, 1.0, -0.3],
    [1.2, 0.1, 0.4],
    [-0.7, 0.8, 1.1],
    [0.3, -1.2, 0.6],
    [1.5, 0.9, -0.8],
    [-1.1, -0.4, 0.2],
    [0.0, 0.6, -1.3],
    [0.9, -0.7, -0.2],
    [-0.4, 1.4, 0.9],
    [1.1, -0.3, 1.0],
    [-1.3, 0.2, -0.6],
    [0.7, 1.1, 0.3],
  ];
  const y = Int32Array.from([0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2]);
  const sklearnCoef = [
    [0.35855, 0.05889, 0.10635],
    [-0.31495, -0.10746, -0.25958],
    [-0.0436, 0.04857, 0.15323],
  ];
  const sklearnIntercept = [-0.11582, 0.10506, 0.01077];

  test('class-balanced fit equals scikit-learn on the same rows', () => {
    const w = balancedWeights(y, 3);
    assert.deepEqual(
      Array.from(w, (v) => Math.round(v * 1e4) / 1e4),
      [0.8, 1, 1.3333],
    );
    const fit = fitLogistic(Float32Array.from(X.flat()), y, 3, {
      C: 1,
      sampleWeights: Float32Array.from(y, (l) => w[l]!),
    });
    assert.ok(fit.converged);
    for (let c = 0; c < 3; c++) {
      for (let j = 0; j < 3; j++) {
        const got = fit.w[j * 3 + c]!;
        assert.ok(
          Math.abs(got - sklearnCoef[c]![j]!) < 2e-4,
          `coef[${c}][${j}] = ${got}, scikit-learn ${sklearnCoef[c]![j]}`,
        );
      }
      assert.ok(Math.abs(fit.b[c]! - sklearnIntercept[c]!) < 2e-4, `intercept ${c} = ${fit.b[c]}`);
    }
  });

  test('a class with no labels gets weight 0, the others share n', () => {
    const w = balancedWeights(Int32Array.from([0, 0, 0, 2]), 3);
    assert.deepEqual(
      Array.from(w, (v) => Math.round(v * 1e6) / 1e6),
      [0.666667, 0, 2],
    );
  });
});

/** Two informative blocks would be too easy: block "signal" separates the classes, "noise" not. */
function blockData(
  n: number,
  seed: number,
  noiseDims = 40,
  signal = 1.5,
): { pool: Dataset; test: Dataset; m: FeatureMatrix } {
  const rng = new Rng(seed);
  const D = 4 + noiseDims;
  const x = new Float32Array(n * D);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    y[i] = c;
    for (let j = 0; j < 4; j++) x[i * D + j] = (j === c ? signal : 0) + rng.normal() * 0.8;
    for (let j = 4; j < D; j++) x[i * D + j] = rng.normal() * 2;
  }
  const d: Dataset = { name: 'blocks', x, y, sampleShape: [D], classNames: ['a', 'b', 'c'] };
  const m: FeatureMatrix = {
    data: x,
    n,
    dim: D,
    blocks: [
      { name: 'signal', start: 0, end: 4 },
      { name: 'noise', start: 4, end: D },
    ],
    spec: { kind: 'descriptors' },
    key: '',
    fromCache: false,
    ms: 0,
  };
  return { pool: d, test: d, m };
}

describe('heads on features', () => {
  test('stratified folds: every class spread over the folds, singletons always train', () => {
    const labels = Int32Array.from([0, 0, 0, 0, 0, 0, 1, 1, 1, 2]);
    const f = stratifiedFolds(labels, 3, new Rng(1));
    assert.equal(f[9], -1, 'a class with one label is never held out');
    for (const c of [0, 1]) {
      const folds = new Set([...labels.keys()].filter((i) => labels[i] === c).map((i) => f[i]));
      assert.equal(folds.size, 3, `class ${c} appears in every fold`);
    }
  });

  test('logreg and the MLP learn a separable problem; the MLP samples MC dropout', async () => {
    await initBackend('cpu');
    const before = tf.memory().numTensors;
    const { pool, test, m } = blockData(120, 3, 4, 3);
    const data = featureData(pool, test, m, m, 'test features');
    const rows = Int32Array.from({ length: 60 }, (_, i) => i);
    const labels = Int32Array.from(rows, (i) => pool.y[i]!);
    const held = Int32Array.from({ length: 60 }, (_, i) => 60 + i);
    for (const cand of [LOGREG, MLP_HEAD]) {
      const view = viewFor(data, cand);
      const { net } = await fitHead(view, cand, rows, labels, 3, 7);
      const { probs } = await predict(net, view.pool, held, view.norm);
      let ok = 0;
      held.forEach((r, k) => {
        const p = probs.subarray(k * 3, k * 3 + 3);
        if (p.indexOf(Math.max(...p)) === pool.y[r]) ok++;
      });
      assert.ok(ok / held.length > 0.8, `${cand.id}: held-out accuracy ${ok / held.length}`);
      if (cand === MLP_HEAD) {
        const mc = await mcPredict(net, view.pool, held.subarray(0, 5), view.norm, 2, { seed: 3 });
        let diff = 0;
        for (let k = 0; k < 15; k++) diff += Math.abs(mc[k]! - mc[15 + k]!);
        assert.ok(diff > 1e-3, 'two MC-dropout passes of the MLP head differ');
      }
      net.dispose();
    }
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  });

  test('auto picks the candidate that cross-validates best and reports every score', async () => {
    await initBackend('cpu');
    const { pool, test, m } = blockData(90, 5);
    const data = featureData(pool, test, m, m, 'test features');
    const candidates: HeadCandidate[] = [
      { id: 'noise only', kind: 'linear', C: 1, blocks: ['noise'] },
      { id: 'signal only', kind: 'linear', C: 1, blocks: ['signal'] },
    ];
    const rows = Int32Array.from({ length: 90 }, (_, i) => i);
    const choice = await chooseHead(data, candidates, rows, Int32Array.from(pool.y), 3, 11);
    assert.equal(choice.winner.id, 'signal only');
    assert.equal(choice.scores.length, 2);
    assert.equal(choice.folds, 3);
    assert.ok(choice.scores[1]!.balancedAccuracy > choice.scores[0]!.balancedAccuracy + 0.2);
  });

  test('auto with one label per class does not pretend to cross-validate', async () => {
    await initBackend('cpu');
    const { pool, test, m } = blockData(30, 5);
    const data = featureData(pool, test, m, m, 'test features');
    const choice = await chooseHead(
      data,
      autoCandidates(data.blocks),
      Int32Array.from([0, 1, 2]),
      Int32Array.from([0, 1, 2]),
      3,
      1,
    );
    assert.equal(choice.winner, LOGREG);
    assert.equal(choice.folds, 0);
    assert.match(choice.note ?? '', /too few labels/);
  });

  test('the texture candidate is offered only where descriptors name their blocks', () => {
    assert.equal(autoCandidates([{ name: 'onnx', start: 0, end: 8 }]).length, 3);
    const withBlocks = autoCandidates([
      { name: 'hog', start: 0, end: 4 },
      { name: 'lbp', start: 4, end: 8 },
      { name: 'intensity', start: 8, end: 9 },
    ]);
    assert.deepEqual(withBlocks[3]!.blocks, ['lbp', 'intensity']);
  });
});
