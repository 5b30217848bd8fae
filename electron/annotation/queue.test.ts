import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProjectEvent } from '../store/annotation.ts';
import { effectiveClass } from '../store/annotation.ts';
import { agreement, annotatorStats, buildQueue, reviewCounts } from './queue.ts';
import { cohenKappa, isHoldout, stoppingAdvice, unitHash, wilson } from './stopping.ts';

/** A hand-written event log; undo events mark their targets the way the store's join does. */
function log(
  spec: [
    sampleId: number,
    kind: ProjectEvent['kind'],
    who: string,
    cls?: number | null,
    extra?: Partial<ProjectEvent>,
  ][],
): ProjectEvent[] {
  const events: ProjectEvent[] = spec.map(([sampleId, kind, annotator, cls, extra], i) => ({
    id: i + 1,
    sampleId,
    kind,
    classIdx: kind === 'label' ? (cls ?? 0) : null,
    undoesEventId: kind === 'undo' ? (cls ?? null) : null,
    annotator,
    source: 'human',
    via: 'queue',
    durationMs: 1000,
    createdAt: `t${i}`,
    undoneBy: null,
    ...extra,
  }));
  for (const e of events) {
    if (e.kind === 'undo') events.find((t) => t.id === e.undoesEventId)!.undoneBy = e.id;
  }
  return events;
}

const ids = (items: { sampleId: number }[]) => items.map((i) => i.sampleId);
const none = new Map<number, number>();

describe('the labeling queue', () => {
  test('newest batch first, then older leftovers; labeled samples leave, skipped go last', () => {
    const events = log([
      [11, 'label', 'ann', 0],
      [12, 'skip', 'ann'],
      [3, 'label', 'bob', 1],
    ]);
    const batches = [
      [10, 11, 12, 13],
      [1, 2, 3, 10],
    ];
    const q = buildQueue({ mode: 'queue', annotator: 'ann', batches, events, merges: none });
    assert.deepEqual(ids(q), [10, 13, 1, 2, 12]);
    assert.equal(q.at(-1)!.reason, 'skipped');
    // Bob did not skip 12: for him it stays in place.
    const qb = buildQueue({ mode: 'queue', annotator: 'bob', batches, events, merges: none });
    assert.deepEqual(ids(qb), [10, 12, 13, 1, 2]);
  });

  test('undo brings a labeled sample back into the queue', () => {
    const labeled = log([[10, 'label', 'ann', 2]]);
    const q1 = buildQueue({
      mode: 'queue',
      annotator: 'ann',
      batches: [[10, 11]],
      events: labeled,
      merges: none,
    });
    assert.deepEqual(ids(q1), [11]);
    const undone = log([
      [10, 'label', 'ann', 2],
      [10, 'undo', 'ann', 1],
    ]);
    const q2 = buildQueue({
      mode: 'queue',
      annotator: 'ann',
      batches: [[10, 11]],
      events: undone,
      merges: none,
    });
    assert.deepEqual(ids(q2), [10, 11]);
  });

  test('unsure samples go to review until someone labels them', () => {
    const events = log([
      [5, 'unsure', 'ann'],
      [6, 'unsure', 'ann'],
      [6, 'label', 'rev', 1, { via: 'review' }],
    ]);
    const q = buildQueue({
      mode: 'queue',
      annotator: 'ann',
      batches: [[5, 6, 7]],
      events,
      merges: none,
    });
    assert.deepEqual(ids(q), [7]);
    const r = buildQueue({ mode: 'review', annotator: 'rev', batches: [], events, merges: none });
    assert.deepEqual(r, [{ sampleId: 5, reason: 'unsure' }]);
    assert.deepEqual(reviewCounts(events, none), { unsure: 1, disagreements: 0 });
  });

  test('disagreements stay in review until settled there; merges can remove them', () => {
    const events = log([
      [1, 'label', 'ann', 0],
      [1, 'label', 'bob', 1],
      [2, 'label', 'ann', 2],
      [2, 'label', 'bob', 2],
      [3, 'label', 'ann', 0],
      [3, 'label', 'bob', 2],
      [3, 'label', 'rev', 2, { via: 'review' }],
    ]);
    const r = buildQueue({ mode: 'review', annotator: 'rev', batches: [], events, merges: none });
    assert.deepEqual(r, [{ sampleId: 1, reason: 'disagreement' }]);
    // Merging class 1 into 0 makes ann and bob agree on sample 1.
    const merged = new Map([[1, 0]]);
    assert.deepEqual(
      buildQueue({ mode: 'review', annotator: 'rev', batches: [], events, merges: merged }),
      [],
    );
    const a = agreement(events, none);
    const annBob = a.pairs.find((p) => p.a === 'ann' && p.b === 'bob')!;
    assert.equal(annBob.common, 3);
    assert.equal(annBob.agree, 1);
    assert.deepEqual(
      a.disagreements.map((d) => [d.sampleId, d.resolved]),
      [
        [1, false],
        [3, true],
      ],
    );
    assert.equal(a.multiLabeled, 3);
  });

  test('second opinions: samples others labeled that this annotator has not', () => {
    const events = log([
      [1, 'label', 'ann', 0],
      [2, 'label', 'ann', 1],
      [2, 'label', 'bob', 1],
      [4, 'unsure', 'ann'],
    ]);
    const q = buildQueue({ mode: 'second', annotator: 'bob', batches: [], events, merges: none });
    assert.deepEqual(q, [{ sampleId: 1, reason: 'second' }]);
  });

  test('annotator statistics: current labels and mean time per label', () => {
    const events = log([
      [1, 'label', 'ann', 0, { durationMs: 1000 }],
      [2, 'label', 'ann', 1, { durationMs: 3000 }],
      [2, 'undo', 'ann', 2],
      [3, 'label', 'bob', 1, { durationMs: 500 }],
    ]);
    assert.deepEqual(annotatorStats(events), [
      { name: 'ann', labels: 1, meanMs: 2000 },
      { name: 'bob', labels: 1, meanMs: 500 },
    ]);
  });

  test('merges chain and a cycle is refused', () => {
    const m = new Map([
      [3, 1],
      [1, 0],
    ]);
    assert.equal(effectiveClass(m, 3), 0);
    assert.equal(effectiveClass(m, 2), 2);
    assert.throws(
      () =>
        effectiveClass(
          new Map([
            [0, 1],
            [1, 0],
          ]),
          0,
        ),
      /cycle/,
    );
  });
});

describe('statistics', () => {
  test("Cohen's kappa against hand-computed values", () => {
    // po = 0.8; pa(0) = 0.6, pb(0) = 0.4 -> pe = 0.6*0.4 + 0.4*0.6 = 0.48; k = 0.32/0.52.
    const a = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
    const b = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
    assert.ok(Math.abs(cohenKappa(a, b)! - 0.32 / 0.52) < 1e-12);
    assert.equal(cohenKappa([1, 2, 3], [1, 2, 3]), 1);
    assert.equal(cohenKappa([2, 2], [2, 2]), 1);
    assert.equal(cohenKappa([], []), null);
    assert.throws(() => cohenKappa([1], [1, 2]), /lengths differ/);
  });

  test('Wilson interval: known values and bounds', () => {
    const w = wilson(8, 10);
    assert.ok(Math.abs(w.low - 0.4902) < 1e-3, String(w.low));
    assert.ok(Math.abs(w.high - 0.9433) < 1e-3, String(w.high));
    assert.deepEqual(wilson(0, 0), { low: 0, high: 1 });
    assert.ok(wilson(10, 10).high <= 1);
  });

  test('holdout membership is fixed per sample and near the fraction', () => {
    let held = 0;
    for (let id = 1; id <= 10_000; id++) if (isHoldout(id, 1, 0.2)) held++;
    assert.ok(held > 1800 && held < 2200, String(held));
    assert.equal(isHoldout(42, 1, 0.2), isHoldout(42, 1, 0.2));
    assert.notEqual(unitHash(1, 42), unitHash(2, 42));
  });

  test('stopping advice: needs a full window at the threshold', () => {
    const opts = { threshold: 0.99, window: 3, stopSet: 500 };
    assert.equal(stoppingAdvice([null, 0.995], opts).stop, false);
    assert.match(stoppingAdvice([0.995], opts).message, /needs 3 retrains/);
    assert.equal(stoppingAdvice([0.5, 0.995, 0.992, 0.98], opts).stop, false);
    const yes = stoppingAdvice([0.5, 0.995, 0.992, 0.999], opts);
    assert.equal(yes.stop, true);
    assert.deepEqual(yes.recent, [0.995, 0.992, 0.999]);
    assert.match(yes.rule, /stop set of 500 pool samples reaches 0.99 on 3 retrains/);
  });
});
