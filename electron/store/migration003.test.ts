import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.ts';
import { openStore, type Store } from './store.ts';
import { importTiny, tempDir } from './fixtures/helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);

function run(s: Store): number {
  const datasetId = importTiny(s);
  const studyId = s.createStudy({ name: 'st', datasetSpec: 'tiny', config: {} });
  s.attachStudyDataset(studyId, datasetId);
  return s.ensureRun({ studyId, strategy: 'Random', repeat: 0, seed: 7 }).id;
}

const round = (runId: number, r: number) => ({
  runId,
  round: r,
  labeled: 2 + r,
  accuracy: 0.5,
  loss: 1,
  trainMs: 1,
  queryMs: 0,
  selected: [r],
});

describe('migration 003_round_details', () => {
  test('upgrades a version-2 database: its rounds read back unchanged with details {}', () => {
    const file = join(tmp.dir, 'v2.sqlite');
    const v2 = openStore(file, { migrations: MIGRATIONS.slice(0, 2) });
    const runId = run(v2);
    v2.close();
    // A round as the previous release wrote it (today's code writes `details` too).
    const raw = new Database(file);
    raw
      .prepare(
        `INSERT INTO rounds (run_id, round, labeled, accuracy, loss, train_ms, query_ms, selected)
         VALUES (?, 0, 2, 0.5, 1, 1, 0, '[0]')`,
      )
      .run(runId);
    raw.close();

    const s = openStore(file);
    try {
      assert.equal(s.schemaVersion, MIGRATIONS.length);
      const rows = s.listRounds(runId);
      assert.deepEqual(
        rows.map((r) => [r.round, r.labeled, r.accuracy, r.loss, r.selected, r.details]),
        [[0, 2, 0.5, 1, [0], {}]],
      );
      // The next round records its confusion matrix.
      const confusion = [
        [1, 0, 0],
        [0, 0, 1],
        [0, 0, 2],
      ];
      s.recordRound({ ...round(runId, 1), details: { confusion, model: { chosen: 'logreg' } } });
      assert.deepEqual(s.listRounds(runId)[1]!.details, { confusion, model: { chosen: 'logreg' } });
    } finally {
      s.close();
    }
  });

  test('details are append-only like the rest of a round, and must be an object', () => {
    const file = join(tmp.dir, 'v3.sqlite');
    const s = openStore(file);
    const runId = run(s);
    s.recordRound({ ...round(runId, 0), details: { confusion: [[2]] } });
    s.close();
    const raw = new Database(file);
    try {
      assert.throws(
        () => raw.prepare(`UPDATE rounds SET details = '{}'`).run(),
        /rounds is append-only/,
      );
      // The database itself refuses what is not an object, or a confusion that is not an array.
      const insert = (details: string) =>
        raw
          .prepare(
            `INSERT INTO rounds (run_id, round, labeled, accuracy, train_ms, query_ms, selected, details)
             VALUES (?, 1, 3, 0.5, 1, 0, '[]', ?)`,
          )
          .run(runId, details);
      assert.throws(() => insert('[]'), /CHECK constraint failed/);
      assert.throws(() => insert('{"confusion": 3}'), /CHECK constraint failed/);
      assert.throws(() => insert('not json'), /CHECK constraint failed/);
      const strict = raw
        .prepare(`SELECT strict FROM pragma_table_list WHERE name = 'rounds'`)
        .get() as { strict: number };
      assert.equal(strict.strict, 1);
    } finally {
      raw.close();
    }
  });

  test('recordRound refuses a confusion matrix that is not a square of counts, storing nothing', () => {
    const s = openStore(join(tmp.dir, 'bad.sqlite'));
    try {
      const runId = run(s);
      for (const confusion of [[], [[1, 0]], [[1.5]], [[-1]], [[1, 0], [0]]]) {
        assert.throws(
          () => s.recordRound({ ...round(runId, 0), details: { confusion } }),
          /Record round 0 of run \d+: details.confusion must be a square matrix of counts/,
        );
      }
      assert.throws(
        () =>
          s.recordRound({ ...round(runId, 0), details: [] as unknown as Record<string, unknown> }),
        /details must be an object/,
      );
      assert.deepEqual(s.listRounds(runId), []);
      // No details: stored as {}.
      s.recordRound(round(runId, 0));
      assert.deepEqual(s.listRounds(runId)[0]!.details, {});
    } finally {
      s.close();
    }
  });
});
