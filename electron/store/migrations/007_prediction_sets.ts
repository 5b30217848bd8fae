import type { Migration } from './index.ts';
import { packPredictions } from '../predictionPack.ts';

/**
 * `project_prediction_sets`: the latest model's guesses of a project as ONE row (sample ids,
 * classes and top guesses packed as little-endian binary), replacing a row per sample in
 * `project_predictions`. A retrain on a pool of 60,000 wrote 60,000 rows in about 1.5 s while
 * holding the write lock, and every label submitted meanwhile waited for it (issue 21); one row of
 * 1-2 MB is written in milliseconds. Existing guesses are moved over; the old table stays, empty.
 */
export const migration: Migration = {
  version: 7,
  name: 'prediction_sets',
  up(db) {
    db.exec(`
CREATE TABLE project_prediction_sets (
  project_id  INTEGER PRIMARY KEY REFERENCES projects(id),
  training_id INTEGER NOT NULL REFERENCES project_trainings(id),
  count       INTEGER NOT NULL CHECK (count >= 0),
  top_k       INTEGER NOT NULL CHECK (top_k >= 1),
  sample_ids  BLOB NOT NULL CHECK (length(sample_ids) = 4 * count),
  classes     BLOB NOT NULL CHECK (length(classes) = 4 * count),
  top         BLOB NOT NULL CHECK (length(top) = 8 * top_k * count)
) STRICT;
`);
    const projects = db
      .prepare('SELECT DISTINCT project_id FROM project_predictions')
      .pluck()
      .all() as number[];
    const ins = db.prepare(
      `INSERT INTO project_prediction_sets (project_id, training_id, count, top_k, sample_ids, classes, top)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const projectId of projects) {
      const rows = db
        .prepare(
          'SELECT sample_id, class_idx, top, training_id FROM project_predictions WHERE project_id = ?',
        )
        .raw()
        .all(projectId) as [number, number, string, number][];
      const packed = packPredictions(
        rows.map(([sampleId, classIdx, top]) => ({
          sampleId,
          classIdx,
          top: JSON.parse(top) as [number, number][],
        })),
      );
      let trainingId = 0;
      for (const r of rows) trainingId = Math.max(trainingId, r[3]);
      ins.run(
        projectId,
        trainingId,
        packed.count,
        packed.topK,
        packed.sampleIds,
        packed.classes,
        packed.top,
      );
    }
    db.exec('DELETE FROM project_predictions');
  },
};
