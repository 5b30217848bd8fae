import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { random } from './baseline.ts';
import { ceal, entropyStrategy, leastConfStrategy, marginStrategy } from './uncertainty.ts';
import { entropy } from './scores.ts';
import {
  contractCases,
  contractViolations,
  fakeContext,
  fakeModelView,
  randomProbs,
} from './testing.ts';
import type { ModelView, Strategy } from './types.ts';

const N = 60;
const C = 4;
const D = 3;

function fixture() {
  const probs = randomProbs(N, C, 3);
  return {
    model: fakeModelView({
      probs,
      embeddings: new Float32Array(N * D),
      numClasses: C,
      embeddingDim: D,
    }),
    poolSize: N,
  };
}

function view(rows: number[][]) {
  const c = rows[0]!.length;
  return fakeModelView({
    probs: Float32Array.from(rows.flat()),
    embeddings: new Float32Array(rows.length),
    numClasses: c,
    embeddingDim: 1,
  });
}

const all: Strategy[] = [random, entropyStrategy, marginStrategy, leastConfStrategy, ceal];
for (const s of all) {
  describe(`${s.id} contract`, () => {
    for (const c of contractCases(s, fixture)) test(c.name, c.run);
  });
}

describe('Random', () => {
  test('different seeds draw different batches; the same seed the same', async () => {
    const f = fixture();
    const pick = async (seed: number) =>
      (
        await random.query(fakeContext({ model: f.model, poolSize: N, budget: 10, seed }))
      ).selected.join();
    assert.equal(await pick(1), await pick(1));
    assert.notEqual(await pick(1), await pick(2));
  });

  test('does not look at the model', async () => {
    const f = fixture();
    await random.query(fakeContext({ model: f.model, poolSize: N, budget: 10 }));
    assert.equal(f.model.calls.rows, 0);
  });
});

describe('one-pass uncertainty', () => {
  // Sample 1 is torn between two classes (margin 0) but not spread out; sample 2 is spread out
  // over all four (highest entropy, lowest max p) but has a clear-ish top two gap.
  //   H([.45,.45,.05,.05]) = 2(.45*.7985) + 2(.05*2.9957) = 0.7187 + 0.2996 = 1.0183
  //   H([.31,.23,.23,.23]) = .31*1.1712 + 3(.23*1.4697)   = 0.3631 + 1.0141 = 1.3772
  const rows = [
    [0.97, 0.01, 0.01, 0.01],
    [0.45, 0.45, 0.05, 0.05],
    [0.31, 0.23, 0.23, 0.23],
    [0.7, 0.1, 0.1, 0.1],
  ];
  const unlabeled = Int32Array.from([0, 1, 2, 3]);

  test('Entropy takes the most spread-out prediction first', async () => {
    const r = await entropyStrategy.query(
      fakeContext({ model: view(rows), poolSize: 4, budget: 2, unlabeled }),
    );
    assert.deepEqual(Array.from(r.selected), [2, 1]);
  });

  test('Margin takes the smallest top-two gap first', async () => {
    // margins: 0.96, 0, 0.08, 0.6
    const r = await marginStrategy.query(
      fakeContext({ model: view(rows), poolSize: 4, budget: 2, unlabeled }),
    );
    assert.deepEqual(Array.from(r.selected), [1, 2]);
  });

  test('LeastConf takes the lowest top probability first', async () => {
    // max p: 0.97, 0.45, 0.31, 0.7
    const r = await leastConfStrategy.query(
      fakeContext({ model: view(rows), poolSize: 4, budget: 3, unlabeled }),
    );
    assert.deepEqual(Array.from(r.selected), [2, 1, 3]);
  });

  test('Entropy only picks from the unlabeled part and matches a brute-force ranking', async () => {
    const f = fixture();
    const probs = await f.model.probs(Int32Array.from({ length: N }, (_, i) => i));
    const h = entropy(probs, C);
    const ctx = fakeContext({ model: f.model, poolSize: N, budget: 9, labeledCount: 20 });
    const r = await entropyStrategy.query(ctx);
    const ref = Array.from(ctx.unlabeled)
      .sort((a, b) => h[b]! - h[a]! || a - b)
      .slice(0, 9);
    assert.deepEqual(Array.from(r.selected), ref);
  });
});

describe('CEAL', () => {
  // Entropies (float32 inputs):  [1-1e-7, 1e-7] -> 1.7e-6; [2e-7, 1-2e-7] -> 3.3e-6;  [1-1e-6, 1e-6] -> 1.48e-5;
  // [0.6, 0.4] -> 0.673; [0.5, 0.5] -> ln 2.
  const rows = [
    [0.5, 0.5], //        0: selected first
    [1 - 1e-7, 1e-7], //  1: very sure, class 0
    [2e-7, 1 - 2e-7], //  2: very sure, class 1 (H = 3.3e-6)
    [1 - 1e-6, 1e-6], //  3: sure, class 0 (H = 1.48e-5)
    [0.6, 0.4], //        4: unsure
  ];
  const unlabeled = Int32Array.from([0, 1, 2, 3, 4]);
  const run = async (params: Record<string, number>, round: number, budget = 1) => {
    const ctx = fakeContext({ model: view(rows), poolSize: 5, budget, unlabeled, round, params });
    const r = await ceal.query(ctx);
    assert.deepEqual(contractViolations(ctx, r), []);
    return r;
  };

  test('queries by entropy and pseudo-labels only samples below the threshold with argmax', async () => {
    const r = await run({ threshold: 1e-5, decay: 0 }, 1);
    assert.deepEqual(Array.from(r.selected), [0]);
    assert.deepEqual(Array.from(r.pseudo!.indices), [1, 2]);
    assert.deepEqual(Array.from(r.pseudo!.labels), [0, 1]);
  });

  test('the threshold decays per round and never goes below zero', async () => {
    const params = { threshold: 2e-5, decay: 1e-5 };
    // round 1: 2e-5 (includes sample 3); round 2: 1e-5 (excludes it); round 3+: 0 (nothing).
    assert.deepEqual(Array.from((await run(params, 1)).pseudo!.indices), [1, 2, 3]);
    assert.deepEqual(Array.from((await run(params, 2)).pseudo!.indices), [1, 2]);
    assert.deepEqual(Array.from((await run(params, 3)).pseudo!.indices), []);
    assert.deepEqual(Array.from((await run(params, 9)).pseudo!.indices), []);
  });

  test('selected samples are never also pseudo-labeled', async () => {
    // Budget 4 selects everything but the most certain sample.
    const r = await run({ threshold: 1, decay: 0 }, 1, 4);
    assert.deepEqual(
      Array.from(r.selected).sort((a, b) => a - b),
      [0, 2, 3, 4],
    );
    assert.deepEqual(Array.from(r.pseudo!.indices), [1]);
  });

  test('defaults to the survey threshold 1e-5 without decay', async () => {
    const t = ceal.params.find((p) => p.name === 'threshold')!;
    const d = ceal.params.find((p) => p.name === 'decay')!;
    assert.equal(t.default, 1e-5);
    assert.equal(d.default, 0);
    const r = await run({}, 4);
    assert.deepEqual(Array.from(r.pseudo!.indices), [1, 2]);
  });
});

describe('cancellation between chunks', () => {
  test('a signal aborted while the pool is being scored stops the query', async () => {
    const n = 5000; // more than one SCORE_CHUNK
    const base = fakeModelView({
      probs: randomProbs(n, 3, 1),
      embeddings: new Float32Array(n),
      numClasses: 3,
      embeddingDim: 1,
    });
    const ac = new AbortController();
    const model: ModelView = {
      numClasses: 3,
      embeddingDim: 1,
      get net() {
        return base.net;
      },
      inputs: (i) => base.inputs(i),
      probsAndEmbeddings: (i) => base.probsAndEmbeddings(i),
      mcProbs: (i, t) => base.mcProbs(i, t),
      async probs(indices) {
        const out = await base.probs(indices);
        ac.abort(new Error('cancelled mid-query'));
        return out;
      },
    };
    const ctx = fakeContext({ model, poolSize: n, budget: 5, signal: ac.signal });
    await assert.rejects(entropyStrategy.query(ctx), /cancelled mid-query/);
    assert.equal(base.calls.probs, 1, 'kept scoring after the abort');
  });
});
