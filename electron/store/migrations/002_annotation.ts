import type { Migration } from './index.ts';

const NOW = `(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

/**
 * Annotation projects: a person labels a dataset with a model in the loop.
 *
 * - Class merges. Labels store class positions, so a class list only ever grows: renaming keeps the
 *   position, and merging B into A records `{"B": A}` in `projects.class_merges` instead of
 *   removing B (which would shift every later position and corrupt stored labels). A label's
 *   effective class follows the merges; a trigger refuses new labels on a merged-away class.
 *   Each class-list change also records what it was (`change`) and the merges after it.
 * - `label_events.via`: where a human event was entered ('queue', 'review', 'second' opinion,
 *   'browse', 'import'), so the review queue knows when a reviewer settled a disagreement.
 * - `project_trainings` (append-only): every background retrain with its label count, estimated
 *   accuracy and the prediction-stability statistic behind the stopping advice.
 * - `project_batches` (append-only): every batch a strategy proposed, in rank order.
 * - `project_predictions`: the latest model's top guesses per sample (a cache, replaced at each
 *   retrain; never a label).
 */
export const migration: Migration = {
  version: 2,
  name: 'annotation',
  up(db) {
    db.exec(`
ALTER TABLE projects ADD COLUMN class_merges TEXT NOT NULL DEFAULT '{}'
  CHECK (json_valid(class_merges) AND json_type(class_merges) = 'object');

ALTER TABLE project_class_history ADD COLUMN change TEXT
  CHECK (change IS NULL OR (json_valid(change) AND json_type(change) = 'object'));
ALTER TABLE project_class_history ADD COLUMN class_merges TEXT NOT NULL DEFAULT '{}'
  CHECK (json_valid(class_merges) AND json_type(class_merges) = 'object');

ALTER TABLE label_events ADD COLUMN via TEXT
  CHECK (via IS NULL OR via IN ('queue', 'review', 'second', 'browse', 'import'));

CREATE TRIGGER label_events_not_merged BEFORE INSERT ON label_events
WHEN NEW.kind = 'label' AND NEW.project_id IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'label_events: that class was merged into another; label with the class it was merged into')
  WHERE json_type((SELECT class_merges FROM projects WHERE id = NEW.project_id),
                  '$."' || NEW.class_idx || '"') IS NOT NULL;
END;

CREATE TABLE project_trainings (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id      INTEGER NOT NULL REFERENCES projects(id),
  labels          INTEGER NOT NULL CHECK (labels >= 0),
  train_count     INTEGER NOT NULL CHECK (train_count >= 0),
  holdout_count   INTEGER NOT NULL CHECK (holdout_count >= 0),
  accuracy        REAL CHECK (accuracy IS NULL OR (accuracy >= 0 AND accuracy <= 1)),
  accuracy_low    REAL CHECK (accuracy_low IS NULL OR (accuracy_low >= 0 AND accuracy_low <= 1)),
  accuracy_high   REAL CHECK (accuracy_high IS NULL OR (accuracy_high >= 0 AND accuracy_high <= 1)),
  stop_kappa      REAL CHECK (stop_kappa IS NULL OR (stop_kappa >= -1 AND stop_kappa <= 1)),
  stop_set        INTEGER NOT NULL DEFAULT 0 CHECK (stop_set >= 0),
  details         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details) AND json_type(details) = 'object'),
  train_ms        REAL NOT NULL CHECK (train_ms >= 0),
  query_ms        REAL NOT NULL CHECK (query_ms >= 0),
  created_at      TEXT NOT NULL DEFAULT ${NOW}
) STRICT;
CREATE INDEX project_trainings_by_project ON project_trainings(project_id, id);
CREATE TRIGGER project_trainings_no_update BEFORE UPDATE ON project_trainings
BEGIN
  SELECT RAISE(ABORT, 'project_trainings is append-only: rows cannot be updated');
END;
CREATE TRIGGER project_trainings_no_delete BEFORE DELETE ON project_trainings
BEGIN
  SELECT RAISE(ABORT, 'project_trainings is append-only: rows cannot be deleted');
END;

CREATE TABLE project_batches (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id  INTEGER NOT NULL REFERENCES projects(id),
  training_id INTEGER REFERENCES project_trainings(id),
  strategy    TEXT NOT NULL CHECK (length(strategy) > 0),
  note        TEXT NOT NULL DEFAULT '',
  sample_ids  TEXT NOT NULL CHECK (json_valid(sample_ids) AND json_type(sample_ids) = 'array'),
  created_at  TEXT NOT NULL DEFAULT ${NOW}
) STRICT;
CREATE INDEX project_batches_by_project ON project_batches(project_id, id);
CREATE TRIGGER project_batches_no_update BEFORE UPDATE ON project_batches
BEGIN
  SELECT RAISE(ABORT, 'project_batches is append-only: rows cannot be updated');
END;
CREATE TRIGGER project_batches_no_delete BEFORE DELETE ON project_batches
BEGIN
  SELECT RAISE(ABORT, 'project_batches is append-only: rows cannot be deleted');
END;

CREATE TABLE project_predictions (
  project_id  INTEGER NOT NULL REFERENCES projects(id),
  sample_id   INTEGER NOT NULL REFERENCES samples(id),
  training_id INTEGER NOT NULL REFERENCES project_trainings(id),
  class_idx   INTEGER NOT NULL CHECK (class_idx >= 0),
  top         TEXT NOT NULL CHECK (json_valid(top) AND json_type(top) = 'array'),
  PRIMARY KEY (project_id, sample_id)
) STRICT, WITHOUT ROWID;
`);
  },
};
