import type { Migration } from './index.ts';

/**
 * What a project's label log amounts to, kept up to date by triggers, so the labeling screen's
 * calls read a few rows instead of replaying 100,000 events (issue 21). Derived data only: every
 * row can be rebuilt from `label_events` and `project_batches`, which stay the record. The rules
 * are queue.ts's (sampleStates, reviewCounts, annotatorStats, buildQueue's queue mode):
 * an event is active when it is not an undo, not a pseudo-label and no undo names it.
 *
 * - `project_annotator_state`: per project, sample and annotator, that annotator's latest active
 *   label (event and class) and latest active event of any kind (event and kind).
 * - `project_sample_state`: per project and sample with an active event, its current label (the
 *   latest active label by anyone: event, class, where it was entered), its latest active unsure
 *   mark, and whether the annotators' current labels differ (before merges).
 * - `project_label_counts`: labeled samples per project and class (class -1: all classes).
 * - `project_annotators`: per annotator, the samples whose label is theirs now, and the sum and
 *   number of timed human label events (undone ones too, as annotatorStats counts them).
 * - `project_queue`: per project, each sample of a proposed batch at its newest batch's position,
 *   `open` while it has no current label and no open unsure mark (what the queue shows).
 *
 * After each project event, the sample's annotator rows and its sample row are rebuilt from the
 * sample's own events (a handful, by index); counters follow the rows' inserts and deletes.
 */
export const migration: Migration = {
  version: 6,
  name: 'label_state',
  up(db) {
    db.exec(`
CREATE INDEX label_events_by_project_id ON label_events(project_id, id) WHERE project_id IS NOT NULL;

CREATE TABLE project_annotator_state (
  project_id  INTEGER NOT NULL,
  sample_id   INTEGER NOT NULL,
  annotator   TEXT NOT NULL,
  label_event INTEGER,
  label_class INTEGER,
  last_event  INTEGER NOT NULL,
  last_kind   TEXT NOT NULL,
  PRIMARY KEY (project_id, sample_id, annotator)
) STRICT, WITHOUT ROWID;

CREATE TABLE project_sample_state (
  project_id   INTEGER NOT NULL,
  sample_id    INTEGER NOT NULL,
  label_event  INTEGER,
  label_class  INTEGER,
  label_via    TEXT,
  unsure_event INTEGER,
  disagree     INTEGER NOT NULL,
  PRIMARY KEY (project_id, sample_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX project_sample_state_review ON project_sample_state(project_id, sample_id)
  WHERE unsure_event IS NOT NULL OR disagree = 1;

CREATE TABLE project_label_counts (
  project_id  INTEGER NOT NULL,
  class_idx   INTEGER NOT NULL,
  n           INTEGER NOT NULL,
  PRIMARY KEY (project_id, class_idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE project_annotators (
  project_id   INTEGER NOT NULL,
  annotator    TEXT NOT NULL,
  labels       INTEGER NOT NULL DEFAULT 0,
  duration_sum REAL NOT NULL DEFAULT 0,
  duration_n   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (project_id, annotator)
) STRICT, WITHOUT ROWID;

CREATE TABLE project_queue (
  project_id INTEGER NOT NULL,
  sample_id  INTEGER NOT NULL,
  batch_id   INTEGER NOT NULL,
  pos        INTEGER NOT NULL,
  open       INTEGER NOT NULL,
  PRIMARY KEY (project_id, sample_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX project_queue_open ON project_queue(project_id, batch_id DESC, pos) WHERE open = 1;

-- Counters follow the state rows.
CREATE TRIGGER project_sample_state_count_in AFTER INSERT ON project_sample_state
WHEN NEW.label_event IS NOT NULL
BEGIN
  INSERT INTO project_label_counts (project_id, class_idx, n) VALUES (NEW.project_id, -1, 1), (NEW.project_id, NEW.label_class, 1)
    ON CONFLICT (project_id, class_idx) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER project_sample_state_count_out AFTER DELETE ON project_sample_state
WHEN OLD.label_event IS NOT NULL
BEGIN
  UPDATE project_label_counts SET n = n - 1
    WHERE project_id = OLD.project_id AND class_idx IN (-1, OLD.label_class);
END;
CREATE TRIGGER project_annotator_state_count_in AFTER INSERT ON project_annotator_state
WHEN NEW.label_event IS NOT NULL
BEGIN
  INSERT INTO project_annotators (project_id, annotator, labels) VALUES (NEW.project_id, NEW.annotator, 1)
    ON CONFLICT (project_id, annotator) DO UPDATE SET labels = labels + 1;
END;
CREATE TRIGGER project_annotator_state_count_out AFTER DELETE ON project_annotator_state
WHEN OLD.label_event IS NOT NULL
BEGIN
  UPDATE project_annotators SET labels = labels - 1
    WHERE project_id = OLD.project_id AND annotator = OLD.annotator;
END;

-- The queue: a sample is open while it has no current label and no open unsure mark.
CREATE TRIGGER project_sample_state_queue_in AFTER INSERT ON project_sample_state
BEGIN
  UPDATE project_queue SET open = (NEW.label_event IS NULL AND NEW.unsure_event IS NULL)
    WHERE project_id = NEW.project_id AND sample_id = NEW.sample_id;
END;
CREATE TRIGGER project_sample_state_queue_out AFTER DELETE ON project_sample_state
BEGIN
  UPDATE project_queue SET open = 1 WHERE project_id = OLD.project_id AND sample_id = OLD.sample_id;
END;
CREATE TRIGGER project_batches_queue AFTER INSERT ON project_batches
BEGIN
  INSERT INTO project_queue (project_id, sample_id, batch_id, pos, open)
    SELECT NEW.project_id, j.value, NEW.id, j.key,
           coalesce((SELECT s.label_event IS NULL AND s.unsure_event IS NULL FROM project_sample_state s
                     WHERE s.project_id = NEW.project_id AND s.sample_id = j.value), 1)
    FROM json_each(NEW.sample_ids) j WHERE true
    ON CONFLICT (project_id, sample_id) DO UPDATE SET batch_id = excluded.batch_id, pos = excluded.pos;
END;

-- After every project event: the sample's annotator rows, then its sample row, from its events.
CREATE TRIGGER label_events_state AFTER INSERT ON label_events
WHEN NEW.project_id IS NOT NULL
BEGIN
  INSERT INTO project_annotators (project_id, annotator, duration_sum, duration_n)
    SELECT NEW.project_id, NEW.annotator, NEW.duration_ms, 1
    WHERE NEW.kind = 'label' AND NEW.source = 'human' AND NEW.duration_ms IS NOT NULL
    ON CONFLICT (project_id, annotator) DO UPDATE
      SET duration_sum = duration_sum + excluded.duration_sum, duration_n = duration_n + 1;

  DELETE FROM project_annotator_state WHERE project_id = NEW.project_id AND sample_id = NEW.sample_id;
  INSERT INTO project_annotator_state
    (project_id, sample_id, annotator, label_event, label_class, last_event, last_kind)
  SELECT NEW.project_id, NEW.sample_id, a.annotator, a.label_event,
         (SELECT class_idx FROM label_events WHERE id = a.label_event),
         a.last_event, (SELECT kind FROM label_events WHERE id = a.last_event)
  FROM (
    SELECT e.annotator,
           max(CASE WHEN e.kind = 'label' THEN e.id END) AS label_event,
           max(e.id) AS last_event
    FROM label_events e
    WHERE e.project_id = NEW.project_id AND e.sample_id = NEW.sample_id
      AND e.kind <> 'undo' AND e.source <> 'pseudo'
      AND NOT EXISTS (SELECT 1 FROM label_events u WHERE u.undoes_event_id = e.id)
    GROUP BY e.annotator
  ) a;

  DELETE FROM project_sample_state WHERE project_id = NEW.project_id AND sample_id = NEW.sample_id;
  INSERT INTO project_sample_state
    (project_id, sample_id, label_event, label_class, label_via, unsure_event, disagree)
  SELECT NEW.project_id, NEW.sample_id, s.label_event,
         (SELECT class_idx FROM label_events WHERE id = s.label_event),
         (SELECT via FROM label_events WHERE id = s.label_event),
         (SELECT max(e.id) FROM label_events e
          WHERE e.project_id = NEW.project_id AND e.sample_id = NEW.sample_id AND e.kind = 'unsure'
            AND e.source <> 'pseudo'
            AND NOT EXISTS (SELECT 1 FROM label_events u WHERE u.undoes_event_id = e.id)),
         s.classes > 1
  FROM (
    SELECT max(label_event) AS label_event, count(DISTINCT label_class) AS classes
    FROM project_annotator_state WHERE project_id = NEW.project_id AND sample_id = NEW.sample_id
  ) s
  WHERE EXISTS (SELECT 1 FROM project_annotator_state
                WHERE project_id = NEW.project_id AND sample_id = NEW.sample_id);
END;
`);
    // Rebuild the state of the projects recorded so far: each project sample's trigger work once.
    db.exec(`
INSERT INTO project_annotators (project_id, annotator, duration_sum, duration_n)
  SELECT project_id, annotator, sum(duration_ms), count(*) FROM label_events
  WHERE project_id IS NOT NULL AND kind = 'label' AND source = 'human' AND duration_ms IS NOT NULL
  GROUP BY project_id, annotator;

INSERT INTO project_annotator_state
  (project_id, sample_id, annotator, label_event, label_class, last_event, last_kind)
SELECT a.project_id, a.sample_id, a.annotator, a.label_event,
       (SELECT class_idx FROM label_events WHERE id = a.label_event),
       a.last_event, (SELECT kind FROM label_events WHERE id = a.last_event)
FROM (
  SELECT e.project_id, e.sample_id, e.annotator,
         max(CASE WHEN e.kind = 'label' THEN e.id END) AS label_event,
         max(e.id) AS last_event
  FROM label_events e
  WHERE e.project_id IS NOT NULL AND e.kind <> 'undo' AND e.source <> 'pseudo'
    AND NOT EXISTS (SELECT 1 FROM label_events u WHERE u.undoes_event_id = e.id)
  GROUP BY e.project_id, e.sample_id, e.annotator
) a;

INSERT INTO project_sample_state
  (project_id, sample_id, label_event, label_class, label_via, unsure_event, disagree)
SELECT s.project_id, s.sample_id, s.label_event,
       (SELECT class_idx FROM label_events WHERE id = s.label_event),
       (SELECT via FROM label_events WHERE id = s.label_event),
       (SELECT max(e.id) FROM label_events e
        WHERE e.project_id = s.project_id AND e.sample_id = s.sample_id AND e.kind = 'unsure'
          AND e.source <> 'pseudo'
          AND NOT EXISTS (SELECT 1 FROM label_events u WHERE u.undoes_event_id = e.id)),
       s.classes > 1
FROM (
  SELECT project_id, sample_id, max(label_event) AS label_event,
         count(DISTINCT label_class) AS classes
  FROM project_annotator_state GROUP BY project_id, sample_id
) s;

INSERT INTO project_queue (project_id, sample_id, batch_id, pos, open)
SELECT b.project_id, j.value, max(b.id), 0, 1
FROM project_batches b, json_each(b.sample_ids) j
GROUP BY b.project_id, j.value;
UPDATE project_queue SET pos = (
  SELECT j.key FROM project_batches b, json_each(b.sample_ids) j
  WHERE b.id = project_queue.batch_id AND j.value = project_queue.sample_id LIMIT 1);
UPDATE project_queue SET open = coalesce((
  SELECT s.label_event IS NULL AND s.unsure_event IS NULL FROM project_sample_state s
  WHERE s.project_id = project_queue.project_id AND s.sample_id = project_queue.sample_id), 1);
`);
  },
};
