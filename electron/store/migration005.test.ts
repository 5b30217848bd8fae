import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.ts';
import { openStore, type Store } from './store.ts';
import { changeClasses } from './annotation.ts';
import {
  latestSuspectRun,
  listSuspectRuns,
  recordSuspectReview,
  recordSuspectRun,
  secondOpinionRequests,
  storedSuspects,
  suspectReviews,
  type SuspectInput,
} from './suspects.ts';
import { importTiny, tempDir } from './fixtures/helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);

function project(s: Store): { projectId: number; ids: Int32Array; events: number[] } {
  const datasetId = importTiny(s);
  const projectId = s.createProject({ name: 'p', datasetId });
  const ids = s.sampleIds(datasetId, 'train');
  const events = [0, 1, 2, 3].map((k) =>
    s.appendLabelEvent({ sampleId: ids[k]!, classIdx: k % 3, annotator: 'ann', projectId }),
  );
  return { projectId, ids, events };
}

const suspect = (sampleId: number, eventId: number, rank: number): SuspectInput => ({
  sampleId,
  eventId,
  rank,
  given: 0,
  suggested: 1,
  givenP: 0.1,
  suggestedP: 0.8,
  margin: 0.15,
});

const run = (projectId: number, flagged: number) => ({
  projectId,
  trainingId: null,
  labels: 4,
  judged: 4,
  flagged,
  lastEventId: 4,
  details: { thresholds: [0.5, 0.5, 0.5] },
  ms: 12,
});

describe('migration 005_label_quality', () => {
  test('upgrades a version-4 database with a project and labels, keeping them', () => {
    const file = join(tmp.dir, 'v4.sqlite');
    const v4 = openStore(file, { migrations: MIGRATIONS.slice(0, 4) });
    const { projectId, ids } = project(v4);
    assert.equal(v4.schemaVersion, 4);
    v4.close();

    const s = openStore(file);
    try {
      assert.equal(s.schemaVersion, MIGRATIONS.length);
      assert.deepEqual(
        s.currentLabels({ projectId }).map((l) => [l.sampleId, l.classIdx]),
        [0, 1, 2, 3].map((k) => [ids[k]!, k % 3]),
      );
      assert.equal(latestSuspectRun(s, projectId), undefined);
      assert.deepEqual(suspectReviews(s, projectId), []);
    } finally {
      s.close();
    }
    const raw = new Database(file, { readonly: true });
    try {
      const strict = raw
        .prepare(
          `SELECT name, strict FROM pragma_table_list WHERE name IN ('suspect_runs', 'suspects', 'suspect_reviews')`,
        )
        .all() as { name: string; strict: number }[];
      assert.equal(strict.length, 3);
      for (const t of strict) assert.equal(t.strict, 1, t.name);
    } finally {
      raw.close();
    }
  });

  test("a new run replaces the previous run's suspects; runs and reviews are append-only", () => {
    const s = openStore(join(tmp.dir, 'runs.sqlite'));
    try {
      const { projectId, ids, events } = project(s);
      const first = recordSuspectRun(s, run(projectId, 2), [
        suspect(ids[0]!, events[0]!, 1),
        suspect(ids[1]!, events[1]!, 2),
      ]);
      assert.deepEqual(
        storedSuspects(s, first).map((x) => x.sampleId),
        [ids[0]!, ids[1]!],
      );
      const second = recordSuspectRun(s, run(projectId, 1), [suspect(ids[2]!, events[2]!, 1)]);
      assert.deepEqual(storedSuspects(s, first), []);
      assert.deepEqual(
        storedSuspects(s, second).map((x) => [x.sampleId, x.rank, x.givenP]),
        [[ids[2]!, 1, 0.1]],
      );
      assert.deepEqual(
        listSuspectRuns(s, projectId).map((r) => [r.id, r.flagged, r.details]),
        [
          [first, 2, { thresholds: [0.5, 0.5, 0.5] }],
          [second, 1, { thresholds: [0.5, 0.5, 0.5] }],
        ],
      );
      recordSuspectReview(s, {
        projectId,
        sampleId: ids[2]!,
        judgedEventId: events[2]!,
        decision: 'second',
        reviewer: 'rev',
      });
      for (const sql of [
        'UPDATE suspect_runs SET flagged = 0',
        'DELETE FROM suspect_runs',
        `UPDATE suspect_reviews SET decision = 'keep'`,
        'DELETE FROM suspect_reviews',
      ]) {
        assert.throws(() => s.prepared(sql).run(), /append-only/, sql);
      }
      // The database refuses a run that flags more than it judged, and a review whose label event
      // is someone else's or of another sample.
      assert.throws(() => recordSuspectRun(s, { ...run(projectId, 9), judged: 4 }, []), /CHECK/);
      assert.throws(
        () =>
          s
            .prepared(
              `INSERT INTO suspect_reviews (project_id, sample_id, judged_event_id, decision, label_event_id, reviewer)
               VALUES (?, ?, ?, 'keep', ?, 'rev')`,
            )
            .run(projectId, ids[0]!, events[0]!, events[1]!),
        /not the reviewer's label of this sample/,
      );
      assert.throws(
        () =>
          s
            .prepared(
              `INSERT INTO suspect_reviews (project_id, sample_id, judged_event_id, decision, reviewer)
               VALUES (?, ?, ?, 'second', 'rev')`,
            )
            .run(projectId, ids[0]!, events[1]!),
        /judged event is not a label of this sample/,
      );
      assert.equal(suspectReviews(s, projectId).length, 1);
    } finally {
      s.close();
    }
  });
});

describe('suspect reviews in the store', () => {
  test('keep and relabel append the reviewer’s label; the old label stays in the history', () => {
    const s = openStore(join(tmp.dir, 'reviews.sqlite'));
    try {
      const { projectId, ids, events } = project(s);
      // Sample 0 labeled 0 by ann: kept. Sample 1 labeled 1 by ann: relabeled 2.
      const keep = recordSuspectReview(s, {
        projectId,
        sampleId: ids[0]!,
        judgedEventId: events[0]!,
        decision: 'keep',
        reviewer: 'rev',
        durationMs: 900,
      });
      const relabel = recordSuspectReview(s, {
        projectId,
        sampleId: ids[1]!,
        judgedEventId: events[1]!,
        decision: 'relabel',
        classIdx: 2,
        reviewer: 'rev',
      });
      const second = recordSuspectReview(s, {
        projectId,
        sampleId: ids[2]!,
        judgedEventId: events[2]!,
        decision: 'second',
        reviewer: 'rev',
      });
      assert.ok(keep.labelEventId !== null && relabel.labelEventId !== null);
      assert.equal(second.labelEventId, null);
      const current = new Map(s.currentLabels({ projectId }).map((l) => [l.sampleId, l]));
      assert.deepEqual(
        [current.get(ids[0]!)!.classIdx, current.get(ids[0]!)!.annotator],
        [0, 'rev'],
      );
      assert.deepEqual(
        [current.get(ids[1]!)!.classIdx, current.get(ids[1]!)!.annotator],
        [2, 'rev'],
      );
      assert.deepEqual(
        s.labelHistory(ids[1]!).map((e) => [e.kind, e.classIdx, e.annotator, e.via]),
        [
          ['label', 1, 'ann', null],
          ['label', 2, 'rev', 'review'],
        ],
      );
      assert.deepEqual(
        suspectReviews(s, projectId).map((r) => [
          r.sampleId,
          r.decision,
          r.judgedEventId,
          r.labelEventId,
          r.reviewer,
        ]),
        [
          [ids[0]!, 'keep', events[0]!, keep.labelEventId, 'rev'],
          [ids[1]!, 'relabel', events[1]!, relabel.labelEventId, 'rev'],
          [ids[2]!, 'second', events[2]!, null, 'rev'],
        ],
      );
      assert.deepEqual([...secondOpinionRequests(s, projectId)], [ids[2]!]);
      // Once someone labels it again, the request is answered.
      s.appendLabelEvent({ sampleId: ids[2]!, classIdx: 2, annotator: 'bob', projectId });
      assert.deepEqual([...secondOpinionRequests(s, projectId)], []);
    } finally {
      s.close();
    }
  });

  test('a review of a label changed since, or into a merged class, is refused and stores nothing', () => {
    const s = openStore(join(tmp.dir, 'refused.sqlite'));
    try {
      const { projectId, ids, events } = project(s);
      s.appendLabelEvent({ sampleId: ids[0]!, classIdx: 1, annotator: 'bob', projectId });
      s.undoLabelEvent(events[3]!, 'ann');
      changeClasses(s, projectId, { op: 'merge', from: 2, into: 0 }, 'ann');
      const before = s.labelHistory(ids[1]!).length;
      assert.throws(
        () =>
          recordSuspectReview(s, {
            projectId,
            sampleId: ids[0]!,
            judgedEventId: events[0]!,
            decision: 'keep',
            reviewer: 'rev',
          }),
        /changed since the suspects were found/,
      );
      assert.throws(
        () =>
          recordSuspectReview(s, {
            projectId,
            sampleId: ids[3]!,
            judgedEventId: events[3]!,
            decision: 'keep',
            reviewer: 'rev',
          }),
        /has no label in project \d+ now/,
      );
      assert.throws(
        () =>
          recordSuspectReview(s, {
            projectId,
            sampleId: ids[1]!,
            judgedEventId: events[1]!,
            decision: 'relabel',
            classIdx: 2,
            reviewer: 'rev',
          }),
        /was merged into "cat"/,
      );
      assert.throws(
        () =>
          recordSuspectReview(s, {
            projectId,
            sampleId: ids[1]!,
            judgedEventId: events[1]!,
            decision: 'keep',
            reviewer: ' ',
          }),
        /say who reviews/,
      );
      assert.equal(s.labelHistory(ids[1]!).length, before);
      assert.deepEqual(suspectReviews(s, projectId), []);
      // Keeping a label of a class merged since keeps the class it counts as now.
      const kept = recordSuspectReview(s, {
        projectId,
        sampleId: ids[2]!,
        judgedEventId: events[2]!,
        decision: 'keep',
        reviewer: 'rev',
      });
      assert.equal(s.labelHistory(ids[2]!).at(-1)!.id, kept.labelEventId);
      assert.equal(s.labelHistory(ids[2]!).at(-1)!.classIdx, 0);
    } finally {
      s.close();
    }
  });
});
