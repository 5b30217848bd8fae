import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { applyMigrations, MIGRATIONS } from './migrations/index.ts';
import { openStore } from './store.ts';
import {
  changeClasses,
  classHistory,
  classState,
  recordBatch,
  recordTraining,
} from './annotation.ts';
import { importTiny, tempDir } from './fixtures/helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);

describe('migration 002_annotation', () => {
  test('upgrades a version-1 database with projects and labels, keeping them', () => {
    const file = join(tmp.dir, 'v1.sqlite');
    // A database as the previous release wrote it: schema 1 with a project and labels.
    const v1 = openStore(file, { migrations: MIGRATIONS.slice(0, 1) });
    const datasetId = importTiny(v1);
    const projectId = v1.createProject({ name: 'p', datasetId });
    const ids = v1.sampleIds(datasetId, 'train');
    assert.equal(v1.schemaVersion, 1);
    v1.close();
    // Label events written with version 1's columns (today's code writes `via` too).
    const raw = new Database(file);
    const ins = raw.prepare(
      `INSERT INTO label_events (sample_id, class_idx, kind, undoes_event_id, annotator, source, project_id)
       VALUES (?, ?, ?, ?, 'ann', 'human', ?)`,
    );
    const e1 = Number(ins.run(ids[0]!, 1, 'label', null, projectId).lastInsertRowid);
    ins.run(ids[1]!, 2, 'label', null, projectId);
    ins.run(ids[0]!, null, 'undo', e1, projectId);
    raw.close();

    const s = openStore(file);
    try {
      assert.equal(s.schemaVersion, MIGRATIONS.length);
      assert.deepEqual(
        s.currentLabels({ projectId }).map((l) => [l.sampleId, l.classIdx]),
        [[ids[1]!, 2]],
      );
      const history = s.labelHistory(ids[0]!);
      assert.deepEqual(
        history.map((h) => [h.kind, h.via]),
        [
          ['label', null],
          ['undo', null],
        ],
      );
      // Old class history rows read as the project's creation.
      assert.deepEqual(classHistory(s, projectId)[0]!.change, { op: 'create' });
      assert.deepEqual(classState(s, projectId).merges, new Map());
    } finally {
      s.close();
    }
  });

  test('new tables are STRICT and append-only; the merged-class trigger refuses labels', () => {
    const db = new Database(':memory:');
    applyMigrations(db, MIGRATIONS.slice(0, 2));
    const strict = db
      .prepare(
        `SELECT name, strict FROM pragma_table_list WHERE name IN ('project_trainings', 'project_batches', 'project_predictions')`,
      )
      .all() as { name: string; strict: number }[];
    assert.equal(strict.length, 3);
    for (const t of strict) assert.equal(t.strict, 1, t.name);
    db.close();

    const s = openStore(join(tmp.dir, 'v2.sqlite'));
    try {
      const datasetId = importTiny(s);
      const projectId = s.createProject({ name: 'p', datasetId });
      const ids = s.sampleIds(datasetId, 'train');
      changeClasses(s, projectId, { op: 'merge', from: 2, into: 0 }, 'ann');
      assert.throws(
        () => s.appendLabelEvent({ sampleId: ids[0]!, classIdx: 2, annotator: 'ann', projectId }),
        /merged into another/,
      );
      assert.throws(
        () =>
          s.appendLabelEvent({
            sampleId: ids[0]!,
            classIdx: 0,
            annotator: 'ann',
            projectId,
            via: 'elsewhere' as 'queue',
          }),
        /via must be/,
      );
      const batchId = recordBatch(s, {
        projectId,
        trainingId: null,
        strategy: 'KCenter',
        note: '',
        sampleIds: [ids[0]!, ids[1]!],
      });
      const { trainingId } = recordTraining(
        s,
        {
          projectId,
          labels: 10,
          trainCount: 8,
          holdoutCount: 2,
          accuracy: 0.5,
          accuracyLow: 0.1,
          accuracyHigh: 0.9,
          stopKappa: null,
          stopSet: 5,
          details: {},
          trainMs: 1,
          queryMs: 1,
        },
        [{ sampleId: ids[0]!, classIdx: 1, top: [[1, 0.9]] }],
        { strategy: 'Entropy', note: '', sampleIds: [ids[2]!] },
      );
      assert.ok(batchId > 0 && trainingId > 0);
      for (const sql of [
        'UPDATE project_trainings SET labels = 0',
        'DELETE FROM project_trainings',
        'UPDATE project_batches SET strategy = ?',
        'DELETE FROM project_batches',
      ]) {
        assert.throws(
          () => s.prepared(sql).run(...(sql.includes('?') ? ['x'] : [])),
          /append-only/,
          sql,
        );
      }
      assert.throws(
        () =>
          recordBatch(s, {
            projectId,
            trainingId: null,
            strategy: 'x',
            note: '',
            sampleIds: [ids[0]!, ids[0]!],
          }),
        /appears twice/,
      );
    } finally {
      s.close();
    }
  });
});
