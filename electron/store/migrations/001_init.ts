import type { Migration } from './index.ts';

const NOW = `(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

/**
 * The first schema: datasets and their samples, the append-only label log, annotation projects,
 * and studies with their runs and rounds.
 *
 * Invariants the database itself enforces (so no code path, present or future, can break them):
 * - label_events, project_class_history and rounds are append-only (UPDATE/DELETE abort);
 * - a dataset marked 'complete' cannot change its samples or go back to 'importing';
 * - a label event names a sample of a complete dataset, a class inside its project's (or
 *   dataset's) class list, a project or study of that same dataset, and an undo names an earlier
 *   non-undo event of the same sample and scope, at most once.
 */
export const migration: Migration = {
  version: 1,
  name: 'init',
  up(db) {
    db.exec(`
CREATE TABLE datasets (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL CHECK (length(name) > 0),
  source       TEXT NOT NULL,
  format       TEXT NOT NULL,
  class_names  TEXT NOT NULL CHECK (json_valid(class_names) AND json_type(class_names) = 'array'),
  sample_shape TEXT NOT NULL CHECK (json_valid(sample_shape) AND json_type(sample_shape) = 'array'),
  counts       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(counts) AND json_type(counts) = 'object'),
  fingerprint  TEXT NOT NULL UNIQUE CHECK (length(fingerprint) > 0),
  status       TEXT NOT NULL DEFAULT 'importing' CHECK (status IN ('importing', 'complete')),
  created_at   TEXT NOT NULL DEFAULT ${NOW}
) STRICT;

CREATE TRIGGER datasets_complete_is_final
BEFORE UPDATE OF status, fingerprint, class_names, sample_shape, counts ON datasets
WHEN OLD.status = 'complete'
BEGIN
  SELECT RAISE(ABORT, 'datasets: a complete dataset cannot be changed (only renamed)');
END;

CREATE TRIGGER datasets_complete_no_delete
BEFORE DELETE ON datasets WHEN OLD.status = 'complete'
BEGIN
  SELECT RAISE(ABORT, 'datasets: a complete dataset cannot be deleted');
END;

CREATE TABLE samples (
  id           INTEGER PRIMARY KEY,
  dataset_id   INTEGER NOT NULL REFERENCES datasets(id),
  idx          INTEGER NOT NULL CHECK (idx >= 0),
  split        TEXT NOT NULL CHECK (split IN ('train', 'test', 'unlabeled')),
  source_path  TEXT,
  pixels       BLOB,
  ground_truth INTEGER CHECK (ground_truth IS NULL OR ground_truth >= 0),
  UNIQUE (dataset_id, split, idx)
) STRICT;

CREATE TRIGGER samples_frozen_insert BEFORE INSERT ON samples
WHEN (SELECT status FROM datasets WHERE id = NEW.dataset_id) = 'complete'
BEGIN
  SELECT RAISE(ABORT, 'samples: cannot add samples to a complete dataset');
END;

CREATE TRIGGER samples_frozen_update BEFORE UPDATE ON samples
WHEN (SELECT status FROM datasets WHERE id = OLD.dataset_id) = 'complete'
BEGIN
  SELECT RAISE(ABORT, 'samples: the samples of a complete dataset cannot be changed');
END;

CREATE TRIGGER samples_frozen_delete BEFORE DELETE ON samples
WHEN (SELECT status FROM datasets WHERE id = OLD.dataset_id) = 'complete'
BEGIN
  SELECT RAISE(ABORT, 'samples: the samples of a complete dataset cannot be deleted');
END;

CREATE TABLE projects (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL CHECK (length(name) > 0),
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id),
  class_names TEXT NOT NULL CHECK (json_valid(class_names) AND json_type(class_names) = 'array'
                                   AND json_array_length(class_names) > 0),
  settings    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings) AND json_type(settings) = 'object'),
  created_at  TEXT NOT NULL DEFAULT ${NOW}
) STRICT;
CREATE INDEX projects_by_dataset ON projects(dataset_id);

CREATE TABLE project_class_history (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id  INTEGER NOT NULL REFERENCES projects(id),
  class_names TEXT NOT NULL CHECK (json_valid(class_names) AND json_type(class_names) = 'array'),
  changed_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL DEFAULT ${NOW}
) STRICT;
CREATE INDEX project_class_history_by_project ON project_class_history(project_id, id);

CREATE TRIGGER project_class_history_no_update BEFORE UPDATE ON project_class_history
BEGIN
  SELECT RAISE(ABORT, 'project_class_history is append-only: rows cannot be updated');
END;
CREATE TRIGGER project_class_history_no_delete BEFORE DELETE ON project_class_history
BEGIN
  SELECT RAISE(ABORT, 'project_class_history is append-only: rows cannot be deleted');
END;

CREATE TABLE studies (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL CHECK (length(name) > 0),
  dataset_id   INTEGER REFERENCES datasets(id),
  dataset_spec TEXT NOT NULL,
  config       TEXT NOT NULL CHECK (json_valid(config) AND json_type(config) = 'object'),
  status       TEXT NOT NULL DEFAULT 'created'
               CHECK (status IN ('created', 'running', 'done', 'cancelled', 'failed')),
  created_at   TEXT NOT NULL DEFAULT ${NOW},
  updated_at   TEXT NOT NULL DEFAULT ${NOW}
) STRICT;

CREATE TABLE runs (
  id          INTEGER PRIMARY KEY,
  study_id    INTEGER NOT NULL REFERENCES studies(id),
  strategy    TEXT NOT NULL CHECK (length(strategy) > 0),
  repeat      INTEGER NOT NULL CHECK (repeat >= 0),
  seed        INTEGER NOT NULL,
  status      TEXT NOT NULL DEFAULT 'pending'
              CHECK (status IN ('pending', 'running', 'done', 'cancelled', 'failed')),
  started_at  TEXT,
  finished_at TEXT,
  UNIQUE (study_id, strategy, repeat)
) STRICT;

CREATE TABLE rounds (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER NOT NULL REFERENCES runs(id),
  round      INTEGER NOT NULL CHECK (round >= 0),
  labeled    INTEGER NOT NULL CHECK (labeled >= 0),
  accuracy   REAL NOT NULL CHECK (accuracy >= 0 AND accuracy <= 1),
  loss       REAL,
  train_ms   REAL NOT NULL CHECK (train_ms >= 0),
  query_ms   REAL NOT NULL CHECK (query_ms >= 0),
  selected   TEXT NOT NULL CHECK (json_valid(selected) AND json_type(selected) = 'array'),
  created_at TEXT NOT NULL DEFAULT ${NOW},
  UNIQUE (run_id, round)
) STRICT;

CREATE TRIGGER rounds_no_update BEFORE UPDATE ON rounds
BEGIN
  SELECT RAISE(ABORT, 'rounds is append-only: a recorded round cannot be changed');
END;
CREATE TRIGGER rounds_no_delete BEFORE DELETE ON rounds
BEGIN
  SELECT RAISE(ABORT, 'rounds is append-only: a recorded round cannot be deleted');
END;

CREATE TABLE label_events (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  sample_id       INTEGER NOT NULL REFERENCES samples(id),
  class_idx       INTEGER CHECK (class_idx IS NULL OR class_idx >= 0),
  kind            TEXT NOT NULL CHECK (kind IN ('label', 'skip', 'unsure', 'undo')),
  undoes_event_id INTEGER REFERENCES label_events(id),
  annotator       TEXT NOT NULL CHECK (length(annotator) > 0),
  source          TEXT NOT NULL CHECK (source IN ('human', 'simulated', 'pseudo')),
  project_id      INTEGER REFERENCES projects(id),
  study_run_id    INTEGER REFERENCES runs(id),
  round           INTEGER CHECK (round IS NULL OR round >= 0),
  duration_ms     REAL CHECK (duration_ms IS NULL OR duration_ms >= 0),
  created_at      TEXT NOT NULL DEFAULT ${NOW},
  CHECK ((kind = 'label') = (class_idx IS NOT NULL)),
  CHECK ((kind = 'undo') = (undoes_event_id IS NOT NULL)),
  CHECK (project_id IS NULL OR study_run_id IS NULL),
  CHECK (round IS NULL OR study_run_id IS NOT NULL)
) STRICT;

CREATE INDEX label_events_by_sample ON label_events(sample_id, id);
CREATE INDEX label_events_by_project ON label_events(project_id, sample_id)
  WHERE project_id IS NOT NULL;
CREATE INDEX label_events_by_run ON label_events(study_run_id, round)
  WHERE study_run_id IS NOT NULL;
CREATE UNIQUE INDEX label_events_undo_once ON label_events(undoes_event_id)
  WHERE undoes_event_id IS NOT NULL;

CREATE TRIGGER label_events_no_update BEFORE UPDATE ON label_events
BEGIN
  SELECT RAISE(ABORT, 'label_events is append-only: events cannot be updated (append an undo or a new label instead)');
END;
CREATE TRIGGER label_events_no_delete BEFORE DELETE ON label_events
BEGIN
  SELECT RAISE(ABORT, 'label_events is append-only: events cannot be deleted (append an undo instead)');
END;

-- One trigger with its checks in order, so the first problem is the one reported.
CREATE TRIGGER label_events_validate BEFORE INSERT ON label_events
BEGIN
  SELECT RAISE(ABORT, 'label_events: the sample does not exist or its dataset is still importing')
  WHERE (SELECT d.status FROM samples s JOIN datasets d ON d.id = s.dataset_id
         WHERE s.id = NEW.sample_id) IS NOT 'complete';

  SELECT RAISE(ABORT, 'label_events: the sample is not in the project''s dataset')
  WHERE NEW.project_id IS NOT NULL
    AND (SELECT dataset_id FROM projects WHERE id = NEW.project_id)
        IS NOT (SELECT dataset_id FROM samples WHERE id = NEW.sample_id);

  SELECT RAISE(ABORT, 'label_events: the sample is not in the dataset attached to the run''s study')
  WHERE NEW.study_run_id IS NOT NULL
    AND (SELECT st.dataset_id FROM runs r JOIN studies st ON st.id = r.study_id
         WHERE r.id = NEW.study_run_id)
        IS NOT (SELECT dataset_id FROM samples WHERE id = NEW.sample_id);

  SELECT RAISE(ABORT, 'label_events: class_idx is outside the class list of its project (or of its dataset)')
  WHERE NEW.class_idx IS NOT NULL AND NEW.class_idx >= coalesce(
    (SELECT json_array_length(class_names) FROM projects WHERE id = NEW.project_id),
    (SELECT json_array_length(d.class_names) FROM samples s JOIN datasets d ON d.id = s.dataset_id
     WHERE s.id = NEW.sample_id));

  SELECT RAISE(ABORT, 'label_events: an undo must name an earlier label/skip/unsure event of the same sample, project and run')
  WHERE NEW.kind = 'undo' AND NOT EXISTS (
    SELECT 1 FROM label_events t
    WHERE t.id = NEW.undoes_event_id AND t.kind <> 'undo' AND t.sample_id = NEW.sample_id
      AND t.project_id IS NEW.project_id AND t.study_run_id IS NEW.study_run_id);
END;

-- The current label of a sample, per scope (project, study run, or neither): its latest 'label'
-- event that no 'undo' retracts. Pseudo-labels are a model's guesses, kept for the record and for
-- resuming, never a sample's label.
CREATE VIEW current_labels AS
SELECT e.sample_id, s.dataset_id, e.project_id, e.study_run_id, e.class_idx, e.annotator,
       e.source, e.id AS event_id, e.created_at
FROM label_events e
JOIN samples s ON s.id = e.sample_id
WHERE e.kind = 'label' AND e.source <> 'pseudo'
  AND NOT EXISTS (SELECT 1 FROM label_events u WHERE u.undoes_event_id = e.id)
  AND NOT EXISTS (
    SELECT 1 FROM label_events l
    WHERE l.sample_id = e.sample_id AND l.id > e.id
      AND l.kind = 'label' AND l.source <> 'pseudo'
      AND l.project_id IS e.project_id AND l.study_run_id IS e.study_run_id
      AND NOT EXISTS (SELECT 1 FROM label_events u2 WHERE u2.undoes_event_id = l.id));
`);
  },
};
