import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProjectEvent } from '../store/annotation.ts';
import { buildQueue } from './queue.ts';
import {
  calibrateJoint,
  confidentClass,
  confidentJoint,
  confidentThresholds,
  disagreements,
  findLabelIssues,
  normalizedMargin,
  pendingSuspects,
  pruneCounts,
  roundPreservingSum,
  selfConfidence,
  suspectsDue,
} from './suspects.ts';

const close = (a: readonly number[], b: readonly number[], eps = 1e-9) =>
  assert.ok(
    a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) < eps),
    `${JSON.stringify(a)} != ${JSON.stringify(b)}`,
  );

/**
 * Ten samples, three classes. Sample 2 is labeled 0 but looks like 1, sample 3 labeled 0 looks a
 * little like 2, sample 6 (labeled 1) is ambiguous between 0 and 1, sample 9 labeled 2 looks like 0.
 */
const labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
const probs = [
  [0.7, 0.2, 0.1],
  [0.6, 0.3, 0.1],
  [0.1, 0.8, 0.1],
  [0.2, 0.2, 0.6],
  [0.1, 0.8, 0.1],
  [0.2, 0.7, 0.1],
  [0.45, 0.5, 0.05],
  [0.1, 0.1, 0.8],
  [0.1, 0.2, 0.7],
  [0.5, 0.1, 0.4],
].flat();

describe('confident learning, by hand', () => {
  test('thresholds are the mean self-confidence per class', () => {
    // t0 = (0.7 + 0.6 + 0.1 + 0.2) / 4, t1 = (0.8 + 0.7 + 0.5) / 3, t2 = (0.8 + 0.7 + 0.4) / 3.
    close(confidentThresholds(labels, probs, 3), [0.4, 2 / 3, 1.9 / 3]);
    // A class nobody labeled can never be reached.
    close(confidentThresholds([0, 0], [0.9, 0.1, 0.2, 0.8], 2), [0.55, 2]);
  });

  test('a sample counts as the one class over its threshold, or the most probable of several', () => {
    const t = [0.4, 2 / 3, 1.9 / 3];
    assert.equal(confidentClass([0.1, 0.8, 0.1], t), 1);
    // 0.6 < t2 = 0.6333: no class reached.
    assert.equal(confidentClass([0.2, 0.2, 0.6], t), -1);
    // Only class 0 reaches (0.45 >= 0.4; 0.5 < 0.667).
    assert.equal(confidentClass([0.45, 0.5, 0.05], t), 0);
    // Two classes reach: the most probable one.
    assert.equal(confidentClass([0.45, 0.55, 0], [0.4, 0.5]), 1);
  });

  test('the confident joint, raw and calibrated', () => {
    const j = confidentJoint(labels, probs, 3);
    // Given 0: samples 0, 1 counted as 0, sample 2 as 1, sample 3 as none.
    // Given 1: 4, 5 as 1; 6 as 0. Given 2: 7, 8 as 2; 9 as 0.
    assert.deepEqual(j.raw, [
      [2, 1, 0],
      [1, 2, 0],
      [1, 0, 2],
    ]);
    assert.deepEqual(j.labelCounts, [4, 3, 3]);
    // Row 0 scaled to its 4 labels: [2.67, 1.33, 0] rounds to [3, 1, 0].
    assert.deepEqual(j.calibrated, [
      [3, 1, 0],
      [1, 2, 0],
      [1, 0, 2],
    ]);
  });

  test('prune by noise rate: largest margins per off-diagonal cell, minus what the model agrees with', () => {
    const r = findLabelIssues(labels, probs, 3);
    // Cells (0,1), (1,0), (2,0) flag samples 2, 6 and 9; sample 6's most probable class is its
    // own label, so it is dropped. Ranked by p(given): sample 2 (0.1), then 9 (0.4).
    assert.deepEqual(r.ranked, [2, 9]);
    // Off-diagonal share of the calibrated joint: 3 of 10.
    assert.ok(Math.abs(r.estimatedNoise - 0.3) < 1e-12);
    assert.deepEqual(
      findLabelIssues(labels, probs, 3, { filterBy: 'prune_by_class' }).ranked,
      [2, 9],
    );
    assert.deepEqual(
      findLabelIssues(labels, probs, 3, { rankBy: 'normalized_margin' }).ranked,
      [2, 9],
    );
  });

  test('two classes: the one sample labeled 0 that looks like 1', () => {
    const l = [0, 0, 0, 1, 1, 1];
    const p = [0.9, 0.1, 0.8, 0.2, 0.2, 0.8, 0.1, 0.9, 0.3, 0.7, 0.4, 0.6];
    const r = findLabelIssues(l, p, 2);
    assert.deepEqual(r.joint.raw, [
      [2, 1],
      [0, 1],
    ]);
    assert.deepEqual(r.joint.calibrated, [
      [2, 1],
      [0, 3],
    ]);
    assert.deepEqual(r.ranked, [2]);
  });

  test('self-confidence and normalised margin', () => {
    close([...selfConfidence(labels, probs, 3)].slice(0, 4), [0.7, 0.6, 0.1, 0.2]);
    // Sample 2: (0.1 - 0.8 + 1) / 2; sample 9: (0.4 - 0.5 + 1) / 2.
    const m = normalizedMargin(labels, probs, 3);
    close([m[2]!, m[9]!], [0.15, 0.45]);
  });

  test('the baseline flags every disagreement, most confident first', () => {
    // Samples 2 (p=0.8), 3 (0.6) and 9 (0.5) disagree with their labels.
    assert.deepEqual(disagreements(labels, probs, 3), [2, 3, 9]);
  });

  test('at least n samples of a class are kept: the prune counts shrink evenly', () => {
    // Given 0: 1 sample kept, 3 look like class 1. Keeping 2 takes one from the noise count.
    assert.deepEqual(
      pruneCounts(
        [
          [1, 3],
          [0, 4],
        ],
        2,
      ),
      [
        [2, 2],
        [0, 4],
      ],
    );
  });

  test('rounding keeps the row totals', () => {
    assert.deepEqual(roundPreservingSum([1.4, 1.4, 1.2]), [2, 1, 1]);
    assert.deepEqual(roundPreservingSum([2 + 2 / 3, 1 + 1 / 3, 0]), [3, 1, 0]);
    assert.deepEqual(
      calibrateJoint(
        [
          [1, 2],
          [0, 2],
        ],
        [4, 3],
      ),
      // Row 0 scaled to 4 labels: [1.33, 2.67]; row 1 to 3: [0, 3].
      [
        [1, 3],
        [0, 3],
      ],
    );
  });

  test('refuses probabilities of the wrong size', () => {
    assert.throws(() => findLabelIssues([0, 1], [0.5, 0.5], 2), /2 probabilities for 2 labels/);
  });
});

function ev(id: number, sampleId: number, classIdx: number, extra: Partial<ProjectEvent> = {}) {
  return {
    id,
    sampleId,
    kind: 'label',
    classIdx,
    undoesEventId: null,
    annotator: 'ann',
    source: 'human',
    via: 'queue',
    durationMs: null,
    createdAt: `t${id}`,
    undoneBy: null,
    ...extra,
  } satisfies ProjectEvent;
}

describe('the suspects queue', () => {
  const s = (sampleId: number, eventId: number, rank: number) => ({
    sampleId,
    eventId,
    rank,
    given: 0,
    suggested: 1,
    givenP: 0.1,
    suggestedP: 0.8,
    margin: 0.15,
  });

  test('a suspect leaves the queue once its label changes, is undone, or goes to a second opinion', () => {
    const events = [
      ev(1, 10, 0),
      ev(2, 11, 0, { undoneBy: 6 }),
      ev(3, 12, 0),
      ev(4, 13, 0),
      ev(5, 12, 1, { annotator: 'rev', via: 'review' }),
      { ...ev(6, 11, 0), kind: 'undo', classIdx: null, undoesEventId: 2 } satisfies ProjectEvent,
    ];
    const r = pendingSuspects([s(10, 1, 1), s(11, 2, 2), s(12, 3, 3), s(13, 4, 4)], events, [
      { judgedEventId: 4, decision: 'second' },
    ]);
    assert.deepEqual(
      r.pending.map((p) => p.sampleId),
      [10],
    );
    assert.equal(r.settled, 2);
    assert.equal(r.awaitingSecond, 1);
  });

  test('a new computation is due from 20 labels, then after a twentieth more events (5 at least)', () => {
    const events = Array.from({ length: 30 }, (_, i) => ev(i + 1, i + 1, i % 2));
    assert.equal(suspectsDue(undefined, events.slice(0, 19), 19), false);
    assert.equal(suspectsDue(undefined, events, 30), true);
    assert.equal(suspectsDue({ lastEventId: 26, labels: 26 }, events, 30), false);
    assert.equal(suspectsDue({ lastEventId: 25, labels: 25 }, events, 30), true);
  });

  test('samples sent for a second opinion come first in the second-opinion queue', () => {
    const events = [ev(1, 10, 0), ev(2, 11, 1), ev(3, 12, 2), ev(4, 13, 0, { annotator: 'bob' })];
    const q = (requested?: Set<number>) =>
      buildQueue({
        mode: 'second',
        annotator: 'bob',
        batches: [],
        events,
        merges: new Map(),
        ...(requested ? { requested } : {}),
      }).map((i) => i.sampleId);
    assert.deepEqual(q(), [10, 11, 12]);
    assert.deepEqual(q(new Set([12, 13])), [12, 10, 11]);
  });
});
