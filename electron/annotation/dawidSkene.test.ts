import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../../shared/random.ts';
import type { ProjectEvent } from '../store/annotation.ts';
import {
  annotatorEstimates,
  dawidSkene,
  majorityVote,
  projectConsensus,
  type Observation,
} from './dawidSkene.ts';

describe('Dawid-Skene', () => {
  test('one EM step by hand: two annotators, two samples, no smoothing', () => {
    // Sample 0: both say 0. Sample 1: a0 says 0, a1 says 1.
    const obs: Observation[] = [
      { item: 0, annotator: 0, label: 0 },
      { item: 0, annotator: 1, label: 0 },
      { item: 1, annotator: 0, label: 0 },
      { item: 1, annotator: 1, label: 1 },
    ];
    const r = dawidSkene(obs, 2, 2, 2, { smoothing: 0 });
    // Majority vote starts at T0 = [1, 0], T1 = [0.5, 0.5]. M-step: priors [0.75, 0.25];
    // a0 said 0 always: rows [1, 0] and [1, 0]; a1: true 0 -> [1, 0.5] / 1.5, true 1 -> [0, 1].
    // E-step: T1 ∝ [0.75 · 1 · 1/3, 0.25 · 1 · 1] = [0.25, 0.25]: nothing moves, converged.
    assert.deepEqual(
      r.priors.map((p) => +p.toFixed(12)),
      [0.75, 0.25],
    );
    assert.deepEqual(
      r.confusion[1]!.map((row) => row.map((p) => +p.toFixed(12))),
      [
        [+(2 / 3).toFixed(12), +(1 / 3).toFixed(12)],
        [0, 1],
      ],
    );
    assert.deepEqual(
      [...r.posteriors].map((p) => +p.toFixed(12)),
      [1, 0, 0.5, 0.5],
    );
    assert.equal(r.iterations, 1);
    assert.equal(r.converged, true);
  });

  test('careful, careless and biased annotators: accuracies within 5 points, consensus beats the majority vote', () => {
    const K = 4;
    const n = 400;
    const rng = new Rng(7);
    const truth = Array.from({ length: n }, () => rng.int(K));
    // careful: 95% right, errors anywhere; careless: 60%; biased: says class 0 for 40% of the rest.
    const say = (a: number, y: number): number => {
      const u = rng.next();
      if (a === 0) return u < 0.95 ? y : (y + 1 + rng.int(K - 1)) % K;
      if (a === 1) return u < 0.6 ? y : (y + 1 + rng.int(K - 1)) % K;
      return y !== 0 && u < 0.4 ? 0 : y;
    };
    const obs: Observation[] = [];
    for (let i = 0; i < n; i++)
      for (let a = 0; a < 3; a++) obs.push({ item: i, annotator: a, label: say(a, truth[i]!) });
    const actual = [0, 1, 2].map(
      (a) => obs.filter((o) => o.annotator === a && o.label === truth[o.item]).length / n,
    );
    const r = dawidSkene(obs, n, 3, K);
    const est = annotatorEstimates(r, obs, 3, K);
    est.accuracy.forEach((acc, a) =>
      assert.ok(
        Math.abs(acc! - actual[a]!) < 0.05,
        `annotator ${a}: estimated ${acc}, actual ${actual[a]}`,
      ),
    );
    // The biased annotator's typical confusion: something else called class 0.
    assert.equal(est.confusion[2]!.labeledAs, 0);
    const right = (c: Int32Array) => c.filter((k, i) => k === truth[i]).length / n;
    const ds = right(r.consensus);
    const mv = right(majorityVote(obs, n, K));
    assert.ok(ds > mv, `Dawid-Skene ${ds} should beat majority vote ${mv}`);
  });

  test('refuses observations outside the ranges', () => {
    assert.throws(() => dawidSkene([{ item: 0, annotator: 0, label: 3 }], 1, 1, 2), /label 3/);
    assert.throws(() => dawidSkene([{ item: 2, annotator: 0, label: 0 }], 1, 1, 2), /out of range/);
  });
});

const ev = (
  id: number,
  sampleId: number,
  annotator: string,
  classIdx: number,
  extra: Partial<ProjectEvent> = {},
): ProjectEvent => ({
  id,
  sampleId,
  kind: 'label',
  classIdx,
  undoesEventId: null,
  annotator,
  source: 'human',
  via: 'queue',
  durationMs: null,
  createdAt: `t${id}`,
  undoneBy: null,
  ...extra,
});

describe('Dawid-Skene on a project', () => {
  test('without samples two people labeled there is nothing to estimate', () => {
    const c = projectConsensus([ev(1, 1, 'ann', 0), ev(2, 2, 'bob', 1)], new Map(), 2);
    assert.equal(c.fitted, false);
    assert.deepEqual(c.bySample.get(2), { classIdx: 1, posterior: null });
    assert.deepEqual(
      c.annotators.map((a) => [a.name, a.labels, a.accuracy]),
      [
        ['ann', 1, null],
        ['bob', 1, null],
      ],
    );
  });

  test("uses each annotator's current label after merges, and names classes by project position", () => {
    // Class 2 was merged into 0. ann and bob agree on samples 1-3; on sample 4 cat disagrees.
    const merges = new Map([[2, 0]]);
    const events = [
      ev(1, 1, 'ann', 0),
      ev(2, 1, 'bob', 2),
      ev(3, 2, 'ann', 1),
      ev(4, 2, 'bob', 1),
      ev(5, 3, 'ann', 1, { undoneBy: 7 }),
      ev(6, 3, 'bob', 0),
      { ...ev(7, 3, 'ann', 0), kind: 'undo', classIdx: null, undoesEventId: 5 } as ProjectEvent,
      ev(8, 3, 'ann', 0),
      ev(9, 4, 'ann', 1),
      ev(10, 4, 'bob', 1),
      ev(11, 4, 'cat', 0),
    ];
    const c = projectConsensus(events, merges, 3);
    assert.equal(c.fitted, true);
    assert.equal(c.multiLabeled, 4);
    assert.equal(c.bySample.get(1)!.classIdx, 0);
    assert.equal(c.bySample.get(4)!.classIdx, 1);
    const cat = c.annotators.find((a) => a.name === 'cat')!;
    assert.equal(cat.shared, 1);
    assert.ok(cat.accuracy! < 0.5);
    assert.deepEqual(cat.confusion && [cat.confusion.trueClass, cat.confusion.labeledAs], [1, 0]);
  });
});
