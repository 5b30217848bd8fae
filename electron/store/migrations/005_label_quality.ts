import type { Migration } from './index.ts';

const NOW = `(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

/**
 * Trust in labels: suspect labels found by confident learning, and their reviews.
 *
 * - `suspect_runs` (append-only): every computation of a project's suspects, with how many labels
 *   it judged and flagged and, as JSON `details`, the per-class thresholds, the confident joint
 *   and the model whose out-of-fold probabilities it used.
 * - `suspects`: the flagged labels of a project's latest run, ranked (a cache like
 *   `project_predictions`: a new run replaces the previous run's rows; never a label).
 * - `suspect_reviews` (append-only): what a reviewer decided about a suspect label: keep it,
 *   relabel it, or send it for a second opinion. Keep and relabel also append a label event (via
 *   'review') by the reviewer, which `label_event_id` names; the label under suspicion stays in the
 *   log, so the history shows the old label beside the new one.
 */
export const migration: Migration = {
  version: 5,
  name: 'label_quality',
  up(db) {
    db.exec(`
CREATE TABLE suspect_runs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id    INTEGER NOT NULL REFERENCES projects(id),
  training_id   INTEGER REFERENCES project_trainings(id),
  labels        INTEGER NOT NULL CHECK (labels >= 0),
  judged        INTEGER NOT NULL CHECK (judged >= 0 AND judged <= labels),
  flagged       INTEGER NOT NULL CHECK (flagged >= 0 AND flagged <= judged),
  last_event_id INTEGER NOT NULL DEFAULT 0 CHECK (last_event_id >= 0),
  details       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details) AND json_type(details) = 'object'),
  ms            REAL NOT NULL CHECK (ms >= 0),
  created_at    TEXT NOT NULL DEFAULT ${NOW}
) STRICT;
CREATE INDEX suspect_runs_by_project ON suspect_runs(project_id, id);
CREATE TRIGGER suspect_runs_no_update BEFORE UPDATE ON suspect_runs
BEGIN
  SELECT RAISE(ABORT, 'suspect_runs is append-only: rows cannot be updated');
END;
CREATE TRIGGER suspect_runs_no_delete BEFORE DELETE ON suspect_runs
BEGIN
  SELECT RAISE(ABORT, 'suspect_runs is append-only: rows cannot be deleted');
END;

CREATE TABLE suspects (
  run_id      INTEGER NOT NULL REFERENCES suspect_runs(id),
  sample_id   INTEGER NOT NULL REFERENCES samples(id),
  event_id    INTEGER NOT NULL REFERENCES label_events(id),
  rank        INTEGER NOT NULL CHECK (rank >= 1),
  given       INTEGER NOT NULL CHECK (given >= 0),
  suggested   INTEGER NOT NULL CHECK (suggested >= 0),
  given_p     REAL NOT NULL CHECK (given_p >= 0 AND given_p <= 1),
  suggested_p REAL NOT NULL CHECK (suggested_p >= 0 AND suggested_p <= 1),
  margin      REAL NOT NULL CHECK (margin >= 0 AND margin <= 1),
  PRIMARY KEY (run_id, sample_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE suspect_reviews (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id      INTEGER NOT NULL REFERENCES projects(id),
  sample_id       INTEGER NOT NULL REFERENCES samples(id),
  run_id          INTEGER REFERENCES suspect_runs(id),
  judged_event_id INTEGER NOT NULL REFERENCES label_events(id),
  decision        TEXT NOT NULL CHECK (decision IN ('keep', 'relabel', 'second')),
  label_event_id  INTEGER UNIQUE REFERENCES label_events(id),
  reviewer        TEXT NOT NULL CHECK (length(reviewer) > 0),
  created_at      TEXT NOT NULL DEFAULT ${NOW},
  CHECK ((decision = 'second') = (label_event_id IS NULL))
) STRICT;
CREATE INDEX suspect_reviews_by_project ON suspect_reviews(project_id, sample_id);
CREATE TRIGGER suspect_reviews_no_update BEFORE UPDATE ON suspect_reviews
BEGIN
  SELECT RAISE(ABORT, 'suspect_reviews is append-only: reviews cannot be updated');
END;
CREATE TRIGGER suspect_reviews_no_delete BEFORE DELETE ON suspect_reviews
BEGIN
  SELECT RAISE(ABORT, 'suspect_reviews is append-only: reviews cannot be deleted');
END;
CREATE TRIGGER suspect_reviews_validate BEFORE INSERT ON suspect_reviews
BEGIN
  SELECT RAISE(ABORT, 'suspect_reviews: the judged event is not a label of this sample in this project')
  WHERE NOT EXISTS (
    SELECT 1 FROM label_events e
    WHERE e.id = NEW.judged_event_id AND e.kind = 'label'
      AND e.project_id = NEW.project_id AND e.sample_id = NEW.sample_id);
  SELECT RAISE(ABORT, 'suspect_reviews: the review''s label is not the reviewer''s label of this sample in this project')
  WHERE NEW.label_event_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM label_events e
    WHERE e.id = NEW.label_event_id AND e.kind = 'label' AND e.project_id = NEW.project_id
      AND e.sample_id = NEW.sample_id AND e.annotator = NEW.reviewer);
END;
`);
  },
};
