/**
 * The annotation-project part of the store layer: class lists with merges, the project's event
 * log, retrain records, proposed batches and the latest model's guesses. It runs on the Store's
 * one connection (store.ts opens SQLite; this module never does), each write in one transaction.
 */
import type { ClassChange, SettingsChange } from '../../shared/annotation.ts';
import { packPredictions, PredictionSet } from './predictionPack.ts';
import type { LabelEvent, LabelSource, LabelVia, Split, Store } from './store.ts';

/** Class positions merged away, and the position each one now counts as. */
export type Merges = ReadonlyMap<number, number>;

export interface ClassState {
  classNames: string[];
  merges: Map<number, number>;
}

export interface ProjectSample {
  id: number;
  split: Split;
  idx: number;
  sourcePath: string | null;
  groundTruth: number | null;
}

export interface TrainingInput {
  projectId: number;
  labels: number;
  trainCount: number;
  holdoutCount: number;
  accuracy: number | null;
  accuracyLow: number | null;
  accuracyHigh: number | null;
  stopKappa: number | null;
  stopSet: number;
  details: Record<string, unknown>;
  trainMs: number;
  queryMs: number;
}

export interface TrainingRow extends TrainingInput {
  id: number;
  createdAt: string;
}

export interface BatchRow {
  id: number;
  projectId: number;
  trainingId: number | null;
  strategy: string;
  note: string;
  sampleIds: number[];
  createdAt: string;
}

export interface PredictionInput {
  sampleId: number;
  classIdx: number;
  /** Top guesses, most likely first: [classIdx, probability]. */
  top: [number, number][];
}

/** A project's label events with their undo marks, as the queue and agreement logic read them. */
export interface ProjectEvent {
  id: number;
  sampleId: number;
  kind: LabelEvent['kind'];
  classIdx: number | null;
  undoesEventId: number | null;
  annotator: string;
  source: LabelSource;
  via: LabelVia | null;
  durationMs: number | null;
  createdAt: string;
  undoneBy: number | null;
}

/** The class a label counts as after merges (merges may chain: B into A, then A into C). */
export function effectiveClass(merges: Merges, classIdx: number): number {
  let c = classIdx;
  for (let hops = 0; hops <= merges.size; hops++) {
    const next = merges.get(c);
    if (next === undefined) return c;
    c = next;
  }
  throw new Error(`Class merges form a cycle at class ${classIdx}`);
}

function parseMerges(json: string): Map<number, number> {
  const obj = JSON.parse(json) as Record<string, number>;
  return new Map(Object.entries(obj).map(([k, v]) => [Number(k), v]));
}

function mergesJson(m: Merges): string {
  return JSON.stringify(Object.fromEntries([...m.entries()].map(([k, v]) => [String(k), v])));
}

/** A project's class list and merges. */
export function classState(store: Store, projectId: number): ClassState {
  const r = store
    .prepared('SELECT class_names, class_merges FROM projects WHERE id = ?')
    .get(projectId) as { class_names: string; class_merges: string } | undefined;
  if (!r) throw new Error(`There is no project ${projectId}`);
  return { classNames: JSON.parse(r.class_names) as string[], merges: parseMerges(r.class_merges) };
}

/**
 * Change a project's class list (add, rename, merge) and record the change in its history, in
 * one transaction. Positions never move: a merged class keeps its place and its labels count for
 * the class it was merged into.
 */
export function changeClasses(
  store: Store,
  projectId: number,
  change: ClassChange,
  changedBy: string,
): ClassState {
  if (typeof changedBy !== 'string' || changedBy.trim() === '') {
    throw new Error('Change classes: say who makes the change (a non-empty name)');
  }
  return store.inTransaction(() => {
    const project = store.getProject(projectId);
    if (!project) throw new Error(`Change classes: there is no project ${projectId}`);
    const { classNames, merges } = classState(store, projectId);
    const where = `Change classes of project "${project.name}"`;
    const names = [...classNames];
    const checkName = (name: string, except: number | null) => {
      const n = name.trim();
      if (n === '') throw new Error(`${where}: a class needs a name`);
      const clash = names.findIndex((x, i) => x === n && i !== except);
      if (clash >= 0) throw new Error(`${where}: there is already a class named "${n}"`);
      return n;
    };
    const checkIdx = (i: number, what: string) => {
      if (!Number.isInteger(i) || i < 0 || i >= names.length) {
        throw new Error(
          `${where}: ${what} ${i} is not a class of this project (0..${names.length - 1})`,
        );
      }
      if (merges.has(i)) {
        throw new Error(
          `${where}: class "${names[i]}" was merged into "${names[merges.get(i)!]}"; use that one`,
        );
      }
    };
    if (change.op === 'add') {
      names.push(checkName(change.name, null));
    } else if (change.op === 'rename') {
      checkIdx(change.classIdx, 'class');
      names[change.classIdx] = checkName(change.name, change.classIdx);
    } else {
      checkIdx(change.from, 'class');
      checkIdx(change.into, 'class');
      if (change.from === change.into)
        throw new Error(`${where}: a class cannot merge into itself`);
      merges.set(change.from, change.into);
      // Keep the map flat: what was merged into `from` now counts for `into` directly.
      for (const [k, v] of merges) if (v === change.from) merges.set(k, change.into);
    }
    store
      .prepared('UPDATE projects SET class_names = ?, class_merges = ? WHERE id = ?')
      .run(JSON.stringify(names), mergesJson(merges), projectId);
    store
      .prepared(
        `INSERT INTO project_class_history (project_id, class_names, changed_by, change, class_merges)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(projectId, JSON.stringify(names), changedBy, JSON.stringify(change), mergesJson(merges));
    return { classNames: names, merges };
  });
}

/**
 * Change a project's settings and record who changed which fields, from what to what, in ONE
 * transaction. `update` gets the stored settings and returns the whole new object; it runs inside
 * the transaction, so two edits never overwrite each other's read. Returns null (and records
 * nothing) when no field changes.
 *
 * The history lives in project_class_history, the project's append-only change log, as rows whose
 * `change` is `{ op: 'settings', changes: [{ field, from, to }] }` (class list and merges kept as
 * they are), so it needs no migration; classHistory() leaves these rows out.
 */
export function updateProjectSettings(
  store: Store,
  projectId: number,
  update: (current: Record<string, unknown>) => Record<string, unknown>,
  changedBy: string,
  /** Fills in what an older row left out (defaults), so only real changes are recorded. */
  normalize: (stored: unknown) => Record<string, unknown> = (x) => x as Record<string, unknown>,
): { settings: Record<string, unknown>; change: SettingsChange | null } {
  if (typeof changedBy !== 'string' || changedBy.trim() === '') {
    throw new Error('Change settings: say who makes the change (a non-empty name)');
  }
  return store.inTransaction(() => {
    const r = store
      .prepared('SELECT settings, class_names, class_merges FROM projects WHERE id = ?')
      .get(projectId) as
      { settings: string; class_names: string; class_merges: string } | undefined;
    if (!r) throw new Error(`Change settings: there is no project ${projectId}`);
    const current = normalize(JSON.parse(r.settings));
    const next = update(structuredClone(current));
    const changes: SettingsChange['changes'] = [];
    for (const field of new Set([...Object.keys(current), ...Object.keys(next)])) {
      const from = current[field] ?? null;
      const to = next[field] ?? null;
      if (JSON.stringify(from) !== JSON.stringify(to)) changes.push({ field, from, to });
    }
    if (changes.length === 0) return { settings: current, change: null };
    store
      .prepared('UPDATE projects SET settings = ? WHERE id = ?')
      .run(JSON.stringify(next), projectId);
    const info = store
      .prepared(
        `INSERT INTO project_class_history (project_id, class_names, changed_by, change, class_merges)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(
        projectId,
        r.class_names,
        changedBy,
        JSON.stringify({ op: 'settings', changes }),
        r.class_merges,
      );
    const row = store
      .prepared('SELECT created_at FROM project_class_history WHERE id = ?')
      .get(info.lastInsertRowid) as { created_at: string };
    return {
      settings: next,
      change: { id: Number(info.lastInsertRowid), changes, changedBy, createdAt: row.created_at },
    };
  });
}

/** A project's settings changes after creation, oldest first. */
export function settingsHistory(store: Store, projectId: number): SettingsChange[] {
  const rows = store
    .prepared(
      `SELECT id, change, changed_by, created_at FROM project_class_history
       WHERE project_id = ? AND json_extract(change, '$.op') = 'settings' ORDER BY id`,
    )
    .all(projectId) as { id: number; change: string; changed_by: string; created_at: string }[];
  return rows.map((r) => ({
    id: r.id,
    changes: (JSON.parse(r.change) as { changes: SettingsChange['changes'] }).changes,
    changedBy: r.changed_by,
    createdAt: r.created_at,
  }));
}

export function classHistory(
  store: Store,
  projectId: number,
): {
  id: number;
  classNames: string[];
  change: unknown;
  merges: Record<string, number>;
  changedBy: string;
  createdAt: string;
}[] {
  const rows = store
    .prepared(
      `SELECT id, class_names, change, class_merges, changed_by, created_at FROM project_class_history
       WHERE project_id = ? AND json_extract(change, '$.op') IS NOT 'settings' ORDER BY id`,
    )
    .all(projectId) as {
    id: number;
    class_names: string;
    change: string | null;
    class_merges: string;
    changed_by: string;
    created_at: string;
  }[];
  return rows.map((r) => ({
    id: r.id,
    classNames: JSON.parse(r.class_names) as string[],
    change: r.change === null ? { op: 'create' } : (JSON.parse(r.change) as unknown),
    merges: JSON.parse(r.class_merges) as Record<string, number>,
    changedBy: r.changed_by,
    createdAt: r.created_at,
  }));
}

/** Every sample of a dataset (all splits), by id. */
export function datasetSamples(store: Store, datasetId: number): ProjectSample[] {
  const rows = store
    .prepared(
      'SELECT id, split, idx, source_path, ground_truth FROM samples WHERE dataset_id = ? ORDER BY id',
    )
    .raw()
    .all(datasetId) as [number, Split, number, string | null, number | null][];
  return rows.map(([id, split, idx, sourcePath, groundTruth]) => ({
    id,
    split,
    idx,
    sourcePath,
    groundTruth,
  }));
}

export function sampleById(
  store: Store,
  sampleId: number,
): (ProjectSample & { datasetId: number }) | undefined {
  const r = store
    .prepared(
      'SELECT id, dataset_id, split, idx, source_path, ground_truth FROM samples WHERE id = ?',
    )
    .get(sampleId) as
    | {
        id: number;
        dataset_id: number;
        split: Split;
        idx: number;
        source_path: string | null;
        ground_truth: number | null;
      }
    | undefined;
  if (!r) return undefined;
  return {
    id: r.id,
    datasetId: r.dataset_id,
    split: r.split,
    idx: r.idx,
    sourcePath: r.source_path,
    groundTruth: r.ground_truth,
  };
}

/** Every event of a project, oldest first, each with the undo that retracted it. */
export function projectEvents(store: Store, projectId: number): ProjectEvent[] {
  const rows = store
    .prepared(
      `SELECT e.id, e.sample_id, e.kind, e.class_idx, e.undoes_event_id, e.annotator, e.source, e.via,
              e.duration_ms, e.created_at, u.id AS undone_by
       FROM label_events e LEFT JOIN label_events u ON u.undoes_event_id = e.id
       WHERE e.project_id = ? ORDER BY e.id`,
    )
    .raw()
    .all(projectId) as [
    number,
    number,
    LabelEvent['kind'],
    number | null,
    number | null,
    string,
    LabelSource,
    LabelVia | null,
    number | null,
    string,
    number | null,
  ][];
  return rows.map((r) => ({
    id: r[0],
    sampleId: r[1],
    kind: r[2],
    classIdx: r[3],
    undoesEventId: r[4],
    annotator: r[5],
    source: r[6],
    via: r[7],
    durationMs: r[8],
    createdAt: r[9],
    undoneBy: r[10],
  }));
}

/** A sample's current label (anyone's latest in force) with its event and the sample's place. */
export interface CurrentLabel {
  sampleId: number;
  /** As labeled, before merges. */
  classIdx: number;
  annotator: string;
  source: LabelSource;
  createdAt: string;
  durationMs: number | null;
  split: Split;
  idx: number;
  sourcePath: string | null;
}

/**
 * Every labeled sample of a project with its current label, by sample id: one query over the
 * label state the store keeps (migration 006), instead of replaying the event log.
 */
export function currentLabels(store: Store, projectId: number): CurrentLabel[] {
  const rows = store
    .prepared(
      `SELECT s.sample_id, e.class_idx, e.annotator, e.source, e.created_at, e.duration_ms,
              d.split, d.idx, d.source_path
       FROM project_sample_state s
       JOIN label_events e ON e.id = s.label_event
       JOIN samples d ON d.id = s.sample_id
       WHERE s.project_id = ? AND s.label_event IS NOT NULL
       ORDER BY s.sample_id`,
    )
    .raw()
    .all(projectId) as [
    number,
    number,
    string,
    LabelSource,
    string,
    number | null,
    Split,
    number,
    string | null,
  ][];
  return rows.map((r) => ({
    sampleId: r[0],
    classIdx: r[1],
    annotator: r[2],
    source: r[3],
    createdAt: r[4],
    durationMs: r[5],
    split: r[6],
    idx: r[7],
    sourcePath: r[8],
  }));
}

/**
 * Number of samples with a current (human or simulated) label in the project: a counter kept by
 * the label-state triggers (migration 006), not a count over the event log.
 */
export function labeledCount(store: Store, projectId: number): number {
  const r = store
    .prepared('SELECT n FROM project_label_counts WHERE project_id = ? AND class_idx = -1')
    .get(projectId) as { n: number } | undefined;
  return r?.n ?? 0;
}

/**
 * Labeled samples per class as the current labels store it (before merges: a merged-away class
 * keeps its own count here; add it to the class it was merged into).
 */
export function labelCountsByClass(store: Store, projectId: number): Map<number, number> {
  const rows = store
    .prepared(
      'SELECT class_idx, n FROM project_label_counts WHERE project_id = ? AND class_idx >= 0 AND n > 0',
    )
    .raw()
    .all(projectId) as [number, number][];
  return new Map(rows);
}

/**
 * Open unsure marks, and unsettled disagreements among samples without one, as queue.ts's
 * reviewCounts finds them in the event log, from the maintained sample states.
 */
export function reviewCountsOf(
  store: Store,
  projectId: number,
  merges: Merges,
): { unsure: number; disagreements: number } {
  const unsure = (
    store
      .prepared(
        `SELECT count(*) AS n FROM project_sample_state
         WHERE project_id = ? AND (unsure_event IS NOT NULL OR disagree = 1)
           AND unsure_event > coalesce(label_event, 0)`,
      )
      .get(projectId) as { n: number }
  ).n;
  // Differing labels, no open unsure mark, and the latest label not entered in the review queue.
  const disagreeing = `FROM project_sample_state
    WHERE project_id = ? AND (unsure_event IS NOT NULL OR disagree = 1) AND disagree = 1
      AND NOT (unsure_event IS NOT NULL AND unsure_event > coalesce(label_event, 0))
      AND coalesce(label_via, '') <> 'review'`;
  if (merges.size === 0) {
    const n = (
      store.prepared(`SELECT count(*) AS n ${disagreeing}`).get(projectId) as { n: number }
    ).n;
    return { unsure, disagreements: n };
  }
  // Merges can make differing classes one: look at each annotator's class after them.
  const rows = store
    .prepared(
      `SELECT a.sample_id, a.label_class FROM project_annotator_state a
       WHERE a.project_id = ? AND a.label_event IS NOT NULL
         AND a.sample_id IN (SELECT sample_id ${disagreeing})`,
    )
    .raw()
    .all(projectId, projectId) as [number, number][];
  const classes = new Map<number, Set<number>>();
  for (const [sampleId, c] of rows) {
    let set = classes.get(sampleId);
    if (!set) classes.set(sampleId, (set = new Set()));
    set.add(effectiveClass(merges, c));
  }
  let disagreements = 0;
  for (const set of classes.values()) if (set.size > 1) disagreements++;
  return { unsure, disagreements };
}

/**
 * Per annotator: samples whose current label is theirs, and the mean time of their timed human
 * label events (queue.ts's annotatorStats), from the maintained counters. By name.
 */
export function annotatorSummary(
  store: Store,
  projectId: number,
): { name: string; labels: number; meanMs: number | null }[] {
  const rows = store
    .prepared(
      `SELECT annotator, labels, duration_sum, duration_n FROM project_annotators
       WHERE project_id = ? AND (labels > 0 OR duration_n > 0)`,
    )
    .raw()
    .all(projectId) as [string, number, number, number][];
  return rows
    .map(([name, labels, sum, n]) => ({ name, labels, meanMs: n > 0 ? sum / n : null }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The labeling queue (queue.ts's buildQueue, mode 'queue') from the maintained queue: proposed
 * samples with no current label and no open unsure mark, newest batch first in rank order, those
 * this annotator skipped last. `total` counts them all; `items` holds the first `limit`.
 */
export function openQueue(
  store: Store,
  projectId: number,
  annotator: string,
  limit: number,
): { items: { sampleId: number; reason: 'proposed' | 'skipped' }[]; total: number } {
  const rows = store
    .prepared(
      `SELECT q.sample_id, coalesce(a.last_kind = 'skip', 0) AS skipped
       FROM project_queue q
       LEFT JOIN project_annotator_state a
         ON a.project_id = q.project_id AND a.sample_id = q.sample_id AND a.annotator = ?
       WHERE q.project_id = ? AND q.open = 1
       ORDER BY skipped, q.batch_id DESC, q.pos`,
    )
    .raw()
    .all(annotator, projectId) as [number, number][];
  return {
    items: rows
      .slice(0, limit)
      .map(([sampleId, skipped]) => ({ sampleId, reason: skipped ? 'skipped' : 'proposed' })),
    total: rows.length,
  };
}

/** The newest proposed batch, or undefined (one row, not the whole history). */
export function latestBatch(store: Store, projectId: number): BatchRow | undefined {
  const r = store
    .prepared('SELECT * FROM project_batches WHERE project_id = ? ORDER BY id DESC LIMIT 1')
    .get(projectId) as Record<string, unknown> | undefined;
  return r ? toBatch(r) : undefined;
}

/** A project's events of some samples only (oldest first), with their undo marks. */
export function projectEventsOf(
  store: Store,
  projectId: number,
  sampleIds: Iterable<number>,
): ProjectEvent[] {
  const out: ProjectEvent[] = [];
  const stmt = store.prepared(
    `SELECT e.id, e.sample_id, e.kind, e.class_idx, e.undoes_event_id, e.annotator, e.source, e.via,
            e.duration_ms, e.created_at, u.id AS undone_by
     FROM label_events e LEFT JOIN label_events u ON u.undoes_event_id = e.id
     WHERE e.project_id = ? AND e.sample_id = ?`,
  );
  for (const id of sampleIds) {
    for (const r of stmt.all(projectId, id) as Record<string, unknown>[]) {
      out.push({
        id: r.id as number,
        sampleId: r.sample_id as number,
        kind: r.kind as LabelEvent['kind'],
        classIdx: r.class_idx as number | null,
        undoesEventId: r.undoes_event_id as number | null,
        annotator: r.annotator as string,
        source: r.source as LabelSource,
        via: r.via as LabelVia | null,
        durationMs: r.duration_ms as number | null,
        createdAt: r.created_at as string,
        undoneBy: r.undone_by as number | null,
      });
    }
  }
  return out.sort((a, b) => a.id - b.id);
}

/**
 * The annotator's latest event in the project that is still in force (not undone, not an undo),
 * or undefined. Undo walks back through these one at a time.
 */
export function latestActiveEvent(
  store: Store,
  projectId: number,
  annotator: string,
): ProjectEvent | undefined {
  const r = store
    .prepared(
      `SELECT e.id FROM label_events e
       WHERE e.project_id = ? AND e.annotator = ? AND e.kind <> 'undo' AND e.source = 'human'
         AND COALESCE(e.via, '') <> 'import'
         AND NOT EXISTS (SELECT 1 FROM label_events u WHERE u.undoes_event_id = e.id)
       ORDER BY e.id DESC LIMIT 1`,
    )
    .get(projectId, annotator) as { id: number } | undefined;
  if (!r) return undefined;
  const sample = store.prepared('SELECT sample_id FROM label_events WHERE id = ?').get(r.id) as {
    sample_id: number;
  };
  return projectEventsOf(store, projectId, [sample.sample_id]).find((e) => e.id === r.id);
}

function toTraining(r: Record<string, unknown>): TrainingRow {
  return {
    id: r.id as number,
    projectId: r.project_id as number,
    labels: r.labels as number,
    trainCount: r.train_count as number,
    holdoutCount: r.holdout_count as number,
    accuracy: r.accuracy as number | null,
    accuracyLow: r.accuracy_low as number | null,
    accuracyHigh: r.accuracy_high as number | null,
    stopKappa: r.stop_kappa as number | null,
    stopSet: r.stop_set as number,
    details: JSON.parse(r.details as string) as Record<string, unknown>,
    trainMs: r.train_ms as number,
    queryMs: r.query_ms as number,
    createdAt: r.created_at as string,
  };
}

export function listTrainings(store: Store, projectId: number): TrainingRow[] {
  return (
    store
      .prepared('SELECT * FROM project_trainings WHERE project_id = ? ORDER BY id')
      .all(projectId) as Record<string, unknown>[]
  ).map(toTraining);
}

function toBatch(r: Record<string, unknown>): BatchRow {
  return {
    id: r.id as number,
    projectId: r.project_id as number,
    trainingId: r.training_id as number | null,
    strategy: r.strategy as string,
    note: r.note as string,
    sampleIds: JSON.parse(r.sample_ids as string) as number[],
    createdAt: r.created_at as string,
  };
}

/** Proposed batches, newest first. */
export function listBatches(store: Store, projectId: number): BatchRow[] {
  return (
    store
      .prepared('SELECT * FROM project_batches WHERE project_id = ? ORDER BY id DESC')
      .all(projectId) as Record<string, unknown>[]
  ).map(toBatch);
}

function checkSampleIds(store: Store, projectId: number, ids: readonly number[]): void {
  const project = store.getProject(projectId);
  if (!project) throw new Error(`There is no project ${projectId}`);
  const seen = new Set<number>();
  const q = store.prepared('SELECT dataset_id FROM samples WHERE id = ?');
  for (const id of ids) {
    if (seen.has(id)) throw new Error(`Batch of project ${projectId}: sample ${id} appears twice`);
    seen.add(id);
    const r = q.get(id) as { dataset_id: number } | undefined;
    if (!r || r.dataset_id !== project.datasetId) {
      throw new Error(
        `Batch of project ${projectId}: sample ${id} is not in the project's dataset`,
      );
    }
  }
}

/** Record a proposed batch (sample ids in rank order); returns its id. */
export function recordBatch(
  store: Store,
  b: {
    projectId: number;
    trainingId: number | null;
    strategy: string;
    note: string;
    sampleIds: readonly number[];
  },
): number {
  return store.inTransaction(() => {
    checkSampleIds(store, b.projectId, b.sampleIds);
    return Number(
      store
        .prepared(
          'INSERT INTO project_batches (project_id, training_id, strategy, note, sample_ids) VALUES (?, ?, ?, ?, ?)',
        )
        .run(b.projectId, b.trainingId, b.strategy, b.note, JSON.stringify(b.sampleIds))
        .lastInsertRowid,
    );
  });
}

/**
 * Record a retrain, the model's guesses (replacing the previous model's) and the batch it
 * proposes, in ONE transaction: the queue never points at a training that is not stored.
 */
export function recordTraining(
  store: Store,
  t: TrainingInput,
  predictions: readonly PredictionInput[],
  batch: { strategy: string; note: string; sampleIds: readonly number[] },
): { trainingId: number; batchId: number } {
  return store.inTransaction(() => {
    if (!store.getProject(t.projectId)) throw new Error(`There is no project ${t.projectId}`);
    const trainingId = Number(
      store
        .prepared(
          `INSERT INTO project_trainings (project_id, labels, train_count, holdout_count, accuracy,
             accuracy_low, accuracy_high, stop_kappa, stop_set, details, train_ms, query_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          t.projectId,
          t.labels,
          t.trainCount,
          t.holdoutCount,
          t.accuracy,
          t.accuracyLow,
          t.accuracyHigh,
          t.stopKappa,
          t.stopSet,
          JSON.stringify(t.details),
          t.trainMs,
          t.queryMs,
        ).lastInsertRowid,
    );
    // One packed row for the whole pool (migration 007): the write lock is held for milliseconds.
    const packed = packPredictions(predictions);
    store
      .prepared(
        `INSERT INTO project_prediction_sets (project_id, training_id, count, top_k, sample_ids, classes, top)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (project_id) DO UPDATE SET training_id = excluded.training_id,
           count = excluded.count, top_k = excluded.top_k, sample_ids = excluded.sample_ids,
           classes = excluded.classes, top = excluded.top`,
      )
      .run(
        t.projectId,
        trainingId,
        packed.count,
        packed.topK,
        packed.sampleIds,
        packed.classes,
        packed.top,
      );
    const batchId = recordBatch(store, { projectId: t.projectId, trainingId, ...batch });
    return { trainingId, batchId };
  });
}

/** Decoded guesses by store and project, kept while the project's training id is the same. */
const predictionCache = new WeakMap<Store, Map<number, PredictionSet>>();

function predictionSet(store: Store, projectId: number): PredictionSet | undefined {
  const head = store
    .prepared('SELECT training_id FROM project_prediction_sets WHERE project_id = ?')
    .get(projectId) as { training_id: number } | undefined;
  let byProject = predictionCache.get(store);
  if (!head) {
    byProject?.delete(projectId);
    return undefined;
  }
  const hit = byProject?.get(projectId);
  if (hit && hit.trainingId === head.training_id) return hit;
  const r = store
    .prepared(
      'SELECT training_id, top_k, sample_ids, classes, top FROM project_prediction_sets WHERE project_id = ?',
    )
    .get(projectId) as {
    training_id: number;
    top_k: number;
    sample_ids: Buffer;
    classes: Buffer;
    top: Buffer;
  };
  const set = new PredictionSet(r.training_id, r.top_k, r.sample_ids, r.classes, r.top);
  if (!byProject) predictionCache.set(store, (byProject = new Map()));
  byProject.set(projectId, set);
  return set;
}

/** The latest model's guesses, by sample id. */
export function predictions(
  store: Store,
  projectId: number,
): Map<number, { classIdx: number; top: [number, number][]; trainingId: number }> {
  const set = predictionSet(store, projectId);
  if (!set) return new Map();
  return new Map(set.entries().map(([id, p]) => [id, { ...p, trainingId: set.trainingId }]));
}

/** The latest model's guesses for one sample (the project's set is decoded once per training). */
export function predictionFor(
  store: Store,
  projectId: number,
  sampleId: number,
): { classIdx: number; top: [number, number][] } | undefined {
  return predictionSet(store, projectId)?.get(sampleId);
}
