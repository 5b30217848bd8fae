import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { predictionFor, predictions, recordTraining } from './annotation.ts';
import { importTiny, tempDir } from './fixtures/helpers.ts';
import { MIGRATIONS } from './migrations/index.ts';
import { openStore } from './store.ts';

const tmp = tempDir();
after(tmp.cleanup);

const training = (projectId: number) => ({
  projectId,
  labels: 4,
  trainCount: 3,
  holdoutCount: 1,
  accuracy: 0.5,
  accuracyLow: 0.1,
  accuracyHigh: 0.9,
  stopKappa: null,
  stopSet: 0,
  details: {},
  trainMs: 1,
  queryMs: 1,
});

describe('migration 007_prediction_sets', () => {
  test('upgrades a version-6 database: its guesses move to one packed row and read back the same', () => {
    const file = join(tmp.dir, 'v6.sqlite');
    const v6 = openStore(file, { migrations: MIGRATIONS.slice(0, 6) });
    const datasetId = importTiny(v6, 'fp', 8, 0);
    const projectId = v6.createProject({ name: 'p', datasetId, classNames: ['a', 'b', 'c'] });
    const ids = Array.from(v6.sampleIds(datasetId, 'train'));
    v6.close();
    // Guesses as the previous release stored them: a row per sample, top as JSON.
    const raw = new Database(file);
    const t = raw
      .prepare(
        `INSERT INTO project_trainings (project_id, labels, train_count, holdout_count, train_ms, query_ms)
         VALUES (?, 4, 3, 1, 1, 1)`,
      )
      .run(projectId).lastInsertRowid;
    const expected = new Map<number, { classIdx: number; top: [number, number][] }>();
    ids.forEach((sampleId, i) => {
      const top: [number, number][] = [
        [i % 3, 0.6123],
        [(i + 1) % 3, 0.3],
        [(i + 2) % 3, 0.0877],
      ];
      expected.set(sampleId, { classIdx: i % 3, top });
      raw
        .prepare(
          'INSERT INTO project_predictions (project_id, sample_id, training_id, class_idx, top) VALUES (?, ?, ?, ?, ?)',
        )
        .run(projectId, sampleId, t, i % 3, JSON.stringify(top));
    });
    raw.close();

    const s = openStore(file);
    try {
      assert.equal(s.schemaVersion, MIGRATIONS.length);
      const got = predictions(s, projectId);
      assert.deepEqual(
        [...got].map(([id, p]) => [id, { classIdx: p.classIdx, top: p.top }]),
        [...expected],
      );
      assert.ok([...got.values()].every((p) => p.trainingId === Number(t)));
      assert.deepEqual(predictionFor(s, projectId, ids[5]!), expected.get(ids[5]!));
      assert.equal(
        (s.prepared('SELECT count(*) AS n FROM project_predictions').get() as { n: number }).n,
        0,
      );
    } finally {
      s.close();
    }
  });

  test('a retrain replaces the guesses; a shorter top list and an unknown sample read back right', () => {
    const s = openStore(join(tmp.dir, 'fresh.sqlite'));
    try {
      const datasetId = importTiny(s, 'fp2', 6, 0);
      const projectId = s.createProject({ name: 'p', datasetId, classNames: ['a', 'b'] });
      const ids = Array.from(s.sampleIds(datasetId, 'train'));
      const batch = { strategy: 'Entropy', note: '', sampleIds: [ids[0]!] };
      recordTraining(
        s,
        training(projectId),
        ids.map((sampleId) => ({ sampleId, classIdx: 0, top: [[0, 0.9]] as [number, number][] })),
        batch,
      );
      assert.deepEqual(predictionFor(s, projectId, ids[2]!), { classIdx: 0, top: [[0, 0.9]] });
      // The next retrain's guesses replace them (the decoded set follows the training id).
      const { trainingId } = recordTraining(
        s,
        training(projectId),
        [...ids].reverse().map((sampleId) => ({
          sampleId,
          classIdx: 1,
          top: [
            [1, 0.75],
            [0, 0.25],
          ] as [number, number][],
        })),
        batch,
      );
      assert.deepEqual(predictionFor(s, projectId, ids[2]!), {
        classIdx: 1,
        top: [
          [1, 0.75],
          [0, 0.25],
        ],
      });
      assert.equal(predictionFor(s, projectId, 999_999), undefined);
      const all = predictions(s, projectId);
      assert.deepEqual([...all.keys()], ids);
      assert.ok([...all.values()].every((p) => p.trainingId === trainingId));
    } finally {
      s.close();
    }
  });
});
