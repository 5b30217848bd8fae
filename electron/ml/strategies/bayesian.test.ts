import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import {
  BATCHBALD_PASSES,
  baldStrategy,
  batchBald,
  batchBaldCandidates,
  batchBaldGreedy,
  entropyDStrategy,
  leastConfDStrategy,
  marginDStrategy,
  meanStdStrategy,
  varRatioStrategy,
} from './bayesian.ts';
import { entropyStrategy } from './uncertainty.ts';
import { bald } from './scores.ts';
import {
  contractCases,
  fakeContext,
  fakeModelView,
  fakePool,
  networkModelView,
  randomMcProbs,
  randomProbs,
  tinyNetwork,
} from './testing.ts';
import type { Strategy } from './types.ts';

await tf.setBackend('cpu');

const N = 60;
const C = 4;
const T = 10;

function fixture() {
  const probs = randomProbs(N, C, 3);
  return {
    model: fakeModelView({
      probs,
      mcProbs: randomMcProbs(probs, T, C, 4),
      embeddings: new Float32Array(N),
      numClasses: C,
      embeddingDim: 1,
    }),
    poolSize: N,
  };
}

/** A fake whose eval pass and MC passes are given per sample: mc[sample][pass] = probs. */
function mcView(evalRows: number[][], mc: number[][][]) {
  const n = evalRows.length;
  const c = evalRows[0]!.length;
  const passes = mc[0]!.length;
  const flat: number[] = [];
  for (let t = 0; t < passes; t++) for (let i = 0; i < n; i++) flat.push(...mc[i]![t]!);
  return fakeModelView({
    probs: Float32Array.from(evalRows.flat()),
    mcProbs: Float32Array.from(flat),
    embeddings: new Float32Array(n),
    numClasses: c,
    embeddingDim: 1,
  });
}

const mcStrategies: Strategy[] = [
  varRatioStrategy,
  entropyDStrategy,
  marginDStrategy,
  leastConfDStrategy,
  baldStrategy,
  meanStdStrategy,
  batchBald,
];
for (const s of mcStrategies) {
  describe(`${s.id} contract (fixed MC passes)`, () => {
    // The fixture stores T passes; BatchBALD asks for more by default.
    const opts = s === batchBald ? { params: { passes: T } } : {};
    for (const c of contractCases(s, fixture, opts)) test(c.name, c.run);
  });
}

describe('MC strategies on a real dropout network', () => {
  // A fresh network per fixture call replays the same dropout masks, so determinism is real.
  const F = 3;
  const x = Float32Array.from(randomProbs(40, F, 9), (v) => v * 4 - 1);
  const realFixture = () => {
    const pool = fakePool(40, F, x);
    return { model: networkModelView(tinyNetwork([F], 3, 21), pool), poolSize: 40, pool };
  };
  for (const s of [baldStrategy, varRatioStrategy, batchBald]) {
    for (const c of contractCases(s, realFixture, { params: { passes: 5 } })) test(c.name, c.run);
  }

  test('MC passes differ (dropout is really on) while eval passes repeat', async () => {
    const { model } = realFixture();
    const idx = Int32Array.from({ length: 40 }, (_, i) => i);
    const mc = await model.mcProbs(idx, 2);
    const a = mc.subarray(0, 40 * 3);
    const b = mc.subarray(40 * 3);
    assert.ok(
      a.some((v, i) => Math.abs(v - b[i]!) > 1e-4),
      'two MC passes were identical',
    );
    assert.deepEqual(await model.probs(idx), await model.probs(idx));
  });
});

describe('MC-dropout scores drive the selection', () => {
  // Sample 0: the eval pass is very sure, but the dropout passes flip between classes.
  // Sample 1: the eval pass is unsure and so are all passes, identically (no disagreement).
  // Sample 2: sure everywhere.
  const evalRows = [
    [0.95, 0.05],
    [0.6, 0.4],
    [0.99, 0.01],
  ];
  const mc = [
    [
      [1, 0],
      [0, 1],
      [1, 0],
      [0, 1],
    ],
    [
      [0.6, 0.4],
      [0.6, 0.4],
      [0.6, 0.4],
      [0.6, 0.4],
    ],
    [
      [0.99, 0.01],
      [0.99, 0.01],
      [0.99, 0.01],
      [0.99, 0.01],
    ],
  ];
  const query = async (s: Strategy, budget = 1) =>
    Array.from(
      (
        await s.query(
          fakeContext({
            model: mcView(evalRows, mc),
            poolSize: 3,
            budget,
            unlabeled: Int32Array.from([0, 1, 2]),
            params: { passes: 4 },
          }),
        )
      ).selected,
    );

  test('one-pass Entropy prefers sample 1; EntropyD, BALD, MeanSTD, VarRatio sample 0', async () => {
    assert.deepEqual(await query(entropyStrategy), [1]);
    // mean of sample 0's passes is [0.5, 0.5]: entropy ln 2 > H(0.6, 0.4) = 0.673
    assert.deepEqual(await query(entropyDStrategy), [0]);
    assert.deepEqual(await query(marginDStrategy), [0]);
    assert.deepEqual(await query(leastConfDStrategy), [0]);
    // BALD: sample 0 = ln 2 - 0; sample 1 = H(.6,.4) - H(.6,.4) = 0
    assert.deepEqual(await query(baldStrategy), [0]);
    // MeanSTD: sample 0 = 0.5, sample 1 = 0
    assert.deepEqual(await query(meanStdStrategy), [0]);
    // VarRatio: votes 0,1,0,1 -> 1 - 2/4 = 0.5; others 0
    assert.deepEqual(await query(varRatioStrategy), [0]);
  });

  test('VarRatio breaks its frequent ties by the least confident averaged prediction', async () => {
    // All three have unanimous votes (VarRatio 0); mean max-probs 0.55 < 0.7 < 0.9.
    const rows = [
      [0.9, 0.1],
      [0.7, 0.3],
      [0.55, 0.45],
    ];
    const same = rows.map((r) => [r, r, r]);
    const r = await varRatioStrategy.query(
      fakeContext({
        model: mcView(rows, same),
        poolSize: 3,
        budget: 3,
        unlabeled: Int32Array.from([0, 1, 2]),
        params: { passes: 3 },
      }),
    );
    // budget 3 = pool -> whole pool; ask for 2 of them instead.
    assert.equal(r.selected.length, 3);
    const r2 = await varRatioStrategy.query(
      fakeContext({
        model: mcView(rows, same),
        poolSize: 3,
        budget: 2,
        unlabeled: Int32Array.from([0, 1, 2]),
        params: { passes: 3 },
      }),
    );
    assert.deepEqual(Array.from(r2.selected), [2, 1]);
  });

  test('the passes parameter reaches the model (default 10)', async () => {
    const f = fixture();
    await baldStrategy.query(fakeContext({ model: f.model, poolSize: N, budget: 3 }));
    assert.deepEqual([...new Set(f.model.calls.passes)], [10]);
    const g = fixture();
    await meanStdStrategy.query(
      fakeContext({ model: g.model, poolSize: N, budget: 3, params: { passes: 3 } }),
    );
    assert.deepEqual([...new Set(g.model.calls.passes)], [3]);
  });
});

describe('BatchBALD', () => {
  // Four MC passes, two classes. A and A' are identical: each pass is nearly certain, passes
  // {1,2} say class 0 and {3,4} class 1, so one label of A tells which half of the passes we are
  // in, and A' then adds nothing. B splits the passes the other way ({1,3} vs {2,4}) with
  // confidence 0.95: its BALD is ln 2 - H(0.95) = 0.693 - 0.199 = 0.494 < ln 2, but it is
  // independent of A, so given A it still carries information. D is uninformative.
  const sure = (c: number, p = 0.999) => (c === 0 ? [p, 1 - p] : [1 - p, p]);
  const A = [sure(0), sure(0), sure(1), sure(1)];
  const B = [sure(0, 0.95), sure(1, 0.95), sure(0, 0.95), sure(1, 0.95)];
  const Dn = [
    [0.5, 0.5],
    [0.5, 0.5],
    [0.5, 0.5],
    [0.5, 0.5],
  ];
  const mc = [A, A, B, Dn, Dn];
  const evalRows = mc.map(() => [0.5, 0.5]);
  const unlabeled = Int32Array.from([0, 1, 2, 3, 4]);

  test('BALD takes both duplicates; BatchBALD takes one and the independent point', async () => {
    const ctx = () =>
      fakeContext({
        model: mcView(evalRows, mc),
        poolSize: 5,
        budget: 2,
        unlabeled,
        params: { passes: 4 },
      });
    assert.deepEqual(Array.from((await baldStrategy.query(ctx())).selected), [0, 1]);
    assert.deepEqual(Array.from((await batchBald.query(ctx())).selected), [0, 2]);
  });

  test('the first pick is the BALD maximiser', async () => {
    const f = fixture();
    const idx = Int32Array.from({ length: N }, (_, i) => i);
    const scores = bald(await f.model.mcProbs(idx, T), T, N, C);
    let best = 0;
    for (let i = 1; i < N; i++) if (scores[i]! > scores[best]!) best = i;
    const g = fixture();
    const r = await batchBald.query(
      fakeContext({ model: g.model, poolSize: N, budget: 5, params: { passes: T } }),
    );
    assert.equal(r.selected[0], best);
  });

  test('sampled joint entropy agrees with exact enumeration on a small case', () => {
    // 12 candidates, T = 6, C = 3; 4 picks: exact needs 3^3 = 27 configurations.
    const m = 12;
    const T6 = 6;
    const C3 = 3;
    const probs = randomProbs(m, C3, 5);
    const mcFlat = randomMcProbs(probs, T6, C3, 6, 1.5); // [T, m, C]
    const P = new Float32Array(m * T6 * C3);
    for (let i = 0; i < m; i++)
      for (let t = 0; t < T6; t++)
        for (let c = 0; c < C3; c++) P[i * T6 * C3 + t * C3 + c] = mcFlat[t * m * C3 + i * C3 + c]!;
    const exact = batchBaldGreedy(P, m, T6, C3, 4, 1000, new Rng(1));
    const sampled = batchBaldGreedy(P, m, T6, C3, 4, 20000, new Rng(2));
    const coarse = batchBaldGreedy(P, m, T6, C3, 4, 5, new Rng(3));
    assert.deepEqual(Array.from(sampled), Array.from(exact));
    assert.equal(
      new Set(coarse).size,
      4,
      'sampling with few configurations still yields distinct picks',
    );
  });

  test('candidates are pre-filtered by BALD (candidatesPerPick x b)', async () => {
    const f = fixture();
    const idx = Int32Array.from({ length: N }, (_, i) => i);
    const scores = bald(await f.model.mcProbs(idx, T), T, N, C);
    const top6 = new Set(
      Array.from(idx)
        .sort((a, b) => scores[b]! - scores[a]! || a - b)
        .slice(0, 6),
    );
    const g = fixture();
    const r = await batchBald.query(
      fakeContext({
        model: g.model,
        poolSize: N,
        budget: 3,
        params: { candidatesPerPick: 2, passes: T },
      }),
    );
    for (const i of r.selected) assert.ok(top6.has(i), `${i} is not among the top 6 by BALD`);
  });

  test('the candidates are never fewer than twice the batch, else it is top-b BALD', async () => {
    // A cap of one candidate with b = 2 left only A and its duplicate A' to pick from.
    const r = await batchBald.query(
      fakeContext({
        model: mcView(evalRows, mc),
        poolSize: 5,
        budget: 2,
        unlabeled,
        params: { passes: 4, maxCandidates: 1 },
      }),
    );
    assert.deepEqual(Array.from(r.selected), [0, 2]);
    assert.equal(batchBaldCandidates(5000, 1000, 10, 1000), 2000);
    assert.equal(batchBaldCandidates(5000, 100, 10, 1000), 1000);
    assert.equal(batchBaldCandidates(150, 100, 10, 1000), 150);
  });

  test('asks for 100 MC passes by default, as Kirsch et al. on MNIST', async () => {
    const probs = randomProbs(N, C, 3);
    const model = fakeModelView({
      probs,
      mcProbs: randomMcProbs(probs, BATCHBALD_PASSES, C, 4),
      embeddings: new Float32Array(N),
      numClasses: C,
      embeddingDim: 1,
    });
    await batchBald.query(fakeContext({ model, poolSize: N, budget: 3 }));
    assert.deepEqual([...new Set(model.calls.passes)], [100]);
  });
});
