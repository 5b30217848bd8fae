import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  applyMigrations,
  checkMigrationOrder,
  latestVersion,
  MIGRATIONS,
  type Migration,
} from './migrations/index.ts';

/**
 * The workspace database: DeepAL Studio's system of record. This module is the only code that
 * opens SQLite. Every multi-row write is one transaction; labels are an append-only event log from
 * which the current label is derived, so nothing a person labeled is ever overwritten.
 *
 * The API is synchronous (better-sqlite3). Give the Store to one owner per process (the ML worker
 * or the CLI), not the Electron main thread, so a long read never freezes the UI.
 */

/** `PRAGMA application_id` of our databases ("DALS"), so a foreign SQLite file is refused. */
export const APPLICATION_ID = 0x44414c53;

/** How long a writer waits for another connection's lock before failing, milliseconds. */
const BUSY_TIMEOUT_MS = 5000;

const DEFAULT_IMPORT_CHUNK = 2000;

export type Split = 'train' | 'test' | 'unlabeled';
export type DatasetStatus = 'importing' | 'complete';
export type LabelKind = 'label' | 'skip' | 'unsure' | 'undo';
export type LabelSource = 'human' | 'simulated' | 'pseudo';
/** Where an annotation-project event was entered: the queue, the review queue, a second opinion, browsing, an import. */
export type LabelVia = 'queue' | 'review' | 'second' | 'browse' | 'import';
export type StudyStatus = 'created' | 'running' | 'done' | 'cancelled' | 'failed';
export type RunStatus = 'pending' | 'running' | 'done' | 'cancelled' | 'failed';

const SPLITS: readonly Split[] = ['train', 'test', 'unlabeled'];
const STUDY_STATUSES: readonly StudyStatus[] = [
  'created',
  'running',
  'done',
  'cancelled',
  'failed',
];
const RUN_STATUSES: readonly RunStatus[] = ['pending', 'running', 'done', 'cancelled', 'failed'];
const LABEL_SOURCES: readonly LabelSource[] = ['human', 'simulated', 'pseudo'];

/** Annotator name written on simulated-oracle and pseudo-label events of studies. */
export const ORACLE_ANNOTATOR = 'oracle';
export const MODEL_ANNOTATOR = 'model';

/** Thrown when a database was written by a newer DeepAL Studio; the file is left untouched. */
/**
 * Input the store refuses (a class name given twice, an empty name): the caller's to fix, so the
 * app answers `invalid-argument` with this sentence rather than an internal error.
 */
export class StoreInputError extends Error {
  override name = 'StoreInputError';
}

export class NewerSchemaError extends Error {
  constructor(
    readonly file: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `${file} was written by a newer DeepAL Studio (schema ${found}, this app knows ${known}); open it with a newer version`,
    );
    this.name = 'NewerSchemaError';
  }
}

export interface DatasetMeta {
  name: string;
  /** Where it came from: a path, a URL, a built-in name. */
  source: string;
  /** Reader that produced it, e.g. 'idx', 'folder', 'csv'. */
  format: string;
  classNames: readonly string[];
  sampleShape: readonly number[];
  /** Content hash; importing the same content twice returns the first import. */
  fingerprint: string;
}

export interface SampleInput {
  split: Split;
  /** Position within its split, 0-based. */
  idx: number;
  /** Class index; null, undefined or -1 when unknown. */
  groundTruth?: number | null;
  sourcePath?: string | null;
  pixels?: Uint8Array | null;
}

export type SplitCounts = Record<Split, number>;

export interface DatasetRow {
  id: number;
  name: string;
  source: string;
  format: string;
  classNames: string[];
  sampleShape: number[];
  counts: SplitCounts;
  fingerprint: string;
  status: DatasetStatus;
  createdAt: string;
}

export interface ImportOptions {
  /** Called after each committed chunk with the number of samples written so far. */
  onProgress?: (written: number) => void;
  /** Samples per transaction (default 2000). */
  chunkSize?: number;
}

export interface LabelEventInput {
  sampleId: number;
  /** Default 'label'. Undo has its own method, undoLabelEvent. */
  kind?: Exclude<LabelKind, 'undo'>;
  /** Required for 'label', absent otherwise. */
  classIdx?: number | null;
  annotator: string;
  /** Default 'human'. */
  source?: LabelSource;
  projectId?: number | null;
  studyRunId?: number | null;
  round?: number | null;
  durationMs?: number | null;
  /** Where a person entered it (annotation projects); see LabelVia. */
  via?: LabelVia | null;
}

export interface LabelEvent {
  id: number;
  sampleId: number;
  classIdx: number | null;
  kind: LabelKind;
  undoesEventId: number | null;
  annotator: string;
  source: LabelSource;
  projectId: number | null;
  studyRunId: number | null;
  round: number | null;
  durationMs: number | null;
  via: LabelVia | null;
  createdAt: string;
  /** Id of the undo event that retracted this one, if any. */
  undoneBy: number | null;
}

/**
 * Which label stream to read. Labels are kept per scope: an annotation project, a study run, or
 * neither (labels made on the dataset itself). Give at most one of projectId / studyRunId;
 * datasetId further restricts to one dataset's samples.
 */
export interface LabelScope {
  datasetId?: number;
  projectId?: number;
  studyRunId?: number;
}

export interface CurrentLabel {
  sampleId: number;
  classIdx: number;
  annotator: string;
  eventId: number;
  source: LabelSource;
  createdAt: string;
}

export interface ProjectRow {
  id: number;
  name: string;
  datasetId: number;
  classNames: string[];
  settings: Record<string, unknown>;
  createdAt: string;
}

export interface ClassListChange {
  id: number;
  projectId: number;
  classNames: string[];
  changedBy: string;
  createdAt: string;
}

export interface StudyRow {
  id: number;
  name: string;
  datasetId: number | null;
  datasetSpec: string;
  config: unknown;
  status: StudyStatus;
  /** Why it last failed (a sentence), or null. */
  message: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface RunRow {
  id: number;
  studyId: number;
  strategy: string;
  repeat: number;
  seed: number;
  status: RunStatus;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface RoundInput {
  runId: number;
  round: number;
  labeled: number;
  /** Test accuracy, a fraction in [0, 1]. */
  accuracy: number;
  /** Test loss; NaN (a diverged model) is stored as NULL and read back as NaN. */
  loss: number;
  trainMs: number;
  queryMs: number;
  /** Pool indices added this round (round 0: the initial seed). */
  selected: readonly number[];
  /** What else the round measured or decided; stored as one JSON object (default `{}`). */
  details?: RoundDetails;
}

/**
 * A round's free-form record beyond accuracy and loss. Only `confusion` has a fixed meaning:
 * the test set's confusion matrix, counts, `confusion[true class][predicted class]`.
 */
export interface RoundDetails {
  confusion?: number[][];
  [key: string]: unknown;
}

export interface RoundRow extends Omit<RoundInput, 'selected' | 'details'> {
  id: number;
  selected: number[];
  /** `{}` for rounds recorded before details existed. */
  details: RoundDetails;
  createdAt: string;
}

export interface SampleLabel {
  sampleId: number;
  classIdx: number;
}

export interface OpenOptions {
  readonly?: boolean;
  /** @internal Tests only: a different migration list. */
  migrations?: readonly Migration[];
}

// Raw row shapes as SQLite returns them.
interface DatasetDb {
  id: number;
  name: string;
  source: string;
  format: string;
  class_names: string;
  sample_shape: string;
  counts: string;
  fingerprint: string;
  status: DatasetStatus;
  created_at: string;
}
interface EventDb {
  id: number;
  sample_id: number;
  class_idx: number | null;
  kind: LabelKind;
  undoes_event_id: number | null;
  annotator: string;
  source: LabelSource;
  project_id: number | null;
  study_run_id: number | null;
  round: number | null;
  duration_ms: number | null;
  via: LabelVia | null;
  created_at: string;
  undone_by: number | null;
}
interface ProjectDb {
  id: number;
  name: string;
  dataset_id: number;
  class_names: string;
  settings: string;
  created_at: string;
}
interface StudyDb {
  id: number;
  name: string;
  dataset_id: number | null;
  dataset_spec: string;
  config: string;
  status: StudyStatus;
  message: string | null;
  created_at: string;
  updated_at: string;
}
interface RunDb {
  id: number;
  study_id: number;
  strategy: string;
  repeat: number;
  seed: number;
  status: RunStatus;
  started_at: string | null;
  finished_at: string | null;
}
interface RoundDb {
  id: number;
  run_id: number;
  round: number;
  labeled: number;
  accuracy: number;
  loss: number | null;
  train_ms: number;
  query_ms: number;
  selected: string;
  details?: string;
  created_at: string;
}

const NOW_SQL = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function requireId(v: unknown, what: string): number {
  if (!isNonNegInt(v) || v === 0)
    throw new Error(`${what} must be a positive integer id, got ${String(v)}`);
  return v;
}

function checkClassNames(names: readonly string[], what: string): void {
  if (!Array.isArray(names))
    throw new StoreInputError(`${what}: class names must be a list of names`);
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (typeof n !== 'string' || n.trim() === '') {
      throw new StoreInputError(
        `${what}: class ${i + 1} has an empty name; give every class a name`,
      );
    }
    if (seen.has(n))
      throw new StoreInputError(
        `${what}: class name "${n}" appears twice; give every class its own name`,
      );
    seen.add(n);
  });
}

function toDataset(r: DatasetDb): DatasetRow {
  const counts = JSON.parse(r.counts) as Partial<SplitCounts>;
  return {
    id: r.id,
    name: r.name,
    source: r.source,
    format: r.format,
    classNames: JSON.parse(r.class_names) as string[],
    sampleShape: JSON.parse(r.sample_shape) as number[],
    counts: { train: counts.train ?? 0, test: counts.test ?? 0, unlabeled: counts.unlabeled ?? 0 },
    fingerprint: r.fingerprint,
    status: r.status,
    createdAt: r.created_at,
  };
}

function toEvent(r: EventDb): LabelEvent {
  return {
    id: r.id,
    sampleId: r.sample_id,
    classIdx: r.class_idx,
    kind: r.kind,
    undoesEventId: r.undoes_event_id,
    annotator: r.annotator,
    source: r.source,
    projectId: r.project_id,
    studyRunId: r.study_run_id,
    round: r.round,
    durationMs: r.duration_ms,
    via: r.via ?? null,
    createdAt: r.created_at,
    undoneBy: r.undone_by,
  };
}

function toProject(r: ProjectDb): ProjectRow {
  return {
    id: r.id,
    name: r.name,
    datasetId: r.dataset_id,
    classNames: JSON.parse(r.class_names) as string[],
    settings: JSON.parse(r.settings) as Record<string, unknown>,
    createdAt: r.created_at,
  };
}

function toStudy(r: StudyDb): StudyRow {
  return {
    id: r.id,
    name: r.name,
    datasetId: r.dataset_id,
    datasetSpec: r.dataset_spec,
    config: JSON.parse(r.config) as unknown,
    status: r.status,
    message: r.message ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toRun(r: RunDb): RunRow {
  return {
    id: r.id,
    studyId: r.study_id,
    strategy: r.strategy,
    repeat: r.repeat,
    seed: r.seed,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/**
 * A round's details as the JSON the rounds table stores: a plain object whose `confusion`, when
 * present, is a square matrix of counts. Refused with the reason otherwise, before anything is
 * written, so a report never has to second-guess a stored matrix.
 */
function roundDetailsJson(details: RoundDetails | undefined, where: string): string {
  if (details === undefined) return '{}';
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    throw new Error(`${where}: details must be an object`);
  }
  const m = details.confusion;
  if (m !== undefined) {
    const square =
      Array.isArray(m) &&
      m.length > 0 &&
      m.every((row) => Array.isArray(row) && row.length === m.length && row.every(isNonNegInt));
    if (!square) {
      throw new Error(
        `${where}: details.confusion must be a square matrix of counts (integers >= 0), one row and one column per class`,
      );
    }
  }
  try {
    return JSON.stringify(details);
  } catch {
    throw new Error(`${where}: details must be plain JSON data (no cycles, no BigInt)`);
  }
}

function toRound(r: RoundDb): RoundRow {
  return {
    id: r.id,
    runId: r.run_id,
    round: r.round,
    labeled: r.labeled,
    accuracy: r.accuracy,
    loss: r.loss ?? NaN,
    trainMs: r.train_ms,
    queryMs: r.query_ms,
    selected: JSON.parse(r.selected) as number[],
    // Absent only on a store opened with an older migration list (tests do).
    details: r.details === undefined ? {} : (JSON.parse(r.details) as RoundDetails),
    createdAt: r.created_at,
  };
}

function message(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // SQLite's own words for a full disk or an unwritable file do not say what to do.
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === 'SQLITE_FULL')
    return `the disk is full (${text}); free some space and try again: this write was not saved`;
  if (code.startsWith('SQLITE_READONLY'))
    return `the database cannot be written (${text}); check that its folder is writable and not on a read-only drive: this write was not saved`;
  if (code.startsWith('SQLITE_IOERR'))
    return `the disk reported an error (${text}); check the drive: this write was not saved`;
  return text;
}

/**
 * Look at an existing file without writing to it (a read-only connection never checkpoints or
 * changes the header), and refuse what we must not touch.
 *
 * One exception: a WAL database left by a crash (a hot WAL whose index must be rebuilt) cannot be
 * read by a read-only connection at all (SQLITE_READONLY_RECOVERY). When the caller may write,
 * it is then looked at through a read-write connection, whose open runs SQLite's own recovery of
 * the WAL, exactly what any later open would do; nothing else is written.
 */
function probe(file: string, known: number, mayRecover: boolean): { version: number } {
  try {
    return inspect(file, known, true);
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if (mayRecover && typeof code === 'string' && code.startsWith('SQLITE_READONLY')) {
      return inspect(file, known, false);
    }
    throw err;
  }
}

function inspect(file: string, known: number, readonly: boolean): { version: number } {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly, fileMustExist: true });
  } catch (err) {
    throw new Error(`Cannot open ${file}: ${message(err)}`, { cause: err });
  }
  try {
    let version: number;
    let appId: number;
    let objects: number;
    try {
      version = db.pragma('user_version', { simple: true }) as number;
      appId = db.pragma('application_id', { simple: true }) as number;
      objects = (db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n;
    } catch (err) {
      throw new Error(`${file} is not a DeepAL Studio database (SQLite says: ${message(err)})`, {
        cause: err,
      });
    }
    if (appId !== APPLICATION_ID && !(appId === 0 && version === 0 && objects === 0)) {
      throw new Error(
        `${file} is not a DeepAL Studio database (it is another application's SQLite file); choose a different file`,
      );
    }
    if (version > known) throw new NewerSchemaError(file, version, known);
    return { version };
  } finally {
    db.close();
  }
}

/**
 * Open (creating if needed) the workspace database at `file` and bring its schema up to date.
 * Sets WAL, synchronous=FULL, foreign keys and a busy timeout. A database written by a newer app
 * is refused with NewerSchemaError and left byte-identical; a read-only open also refuses a
 * database that still needs migrating, since it cannot migrate it.
 */
export function openStore(file: string, opts: OpenOptions = {}): Store {
  const migrations = opts.migrations ?? MIGRATIONS;
  checkMigrationOrder(migrations);
  const known = latestVersion(migrations);
  const readonly = opts.readonly ?? false;
  const path = file === ':memory:' ? file : resolve(file);
  if (path !== ':memory:' && existsSync(path)) {
    const { version } = probe(path, known, !readonly);
    if (readonly && version < known) {
      throw new Error(
        `${path} uses schema ${version} and this app needs ${known}; open it once read-write to upgrade it`,
      );
    }
  } else if (readonly) {
    throw new Error(`Cannot open ${path} read-only: the file does not exist`);
  }

  let db: Database.Database;
  try {
    db = new Database(path, { readonly });
  } catch (err) {
    throw new Error(
      `Cannot create the workspace database ${path}: ${message(err)}; check that its folder exists and is writable`,
      { cause: err },
    );
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    if (!readonly) {
      // Checked again on this connection before the first write: another process may have
      // upgraded the file since the probe.
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > known) throw new NewerSchemaError(path, version, known);
      if (path !== ':memory:') {
        const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
        if (mode !== 'wal')
          throw new Error(`${path}: could not switch to WAL journaling (got ${mode})`);
      }
      db.pragma('synchronous = FULL');
      if (version === 0) db.pragma(`application_id = ${APPLICATION_ID}`);
      applyMigrations(db, migrations);
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return new Store(db, path, readonly);
}

/** The workspace database. Create with openStore. */
export class Store {
  private closed = false;
  private readonly stmtCache = new Map<string, Database.Statement>();

  /** @internal Use openStore. */
  constructor(
    private readonly db: Database.Database,
    /** Absolute path of the database file. */
    readonly file: string,
    /** Opened read-only: writes fail, nothing is migrated. */
    readonly isReadonly: boolean,
  ) {}

  private stmt(sql: string): Database.Statement {
    let s = this.stmtCache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmtCache.set(sql, s);
    }
    return s;
  }

  /** The schema version (`user_version`) of the open database. */
  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /**
   * @internal For store-layer modules in electron/store/ only (annotation.ts): a cached prepared
   * statement, and a function run as one transaction.
   */
  prepared(sql: string): Database.Statement {
    return this.stmt(sql);
  }

  /** @internal See prepared(). A write transaction: see write(). */
  inTransaction<T>(fn: () => T): T {
    return this.write(fn);
  }

  /**
   * Run `fn` as one write transaction, begun IMMEDIATE: the write lock is taken first, waiting up
   * to the busy timeout for another connection (the ML worker, the CLI) to finish. A deferred
   * transaction reads first and asks for the lock only at its first write; if another connection
   * wrote meanwhile, SQLite answers "database is locked" (SQLITE_BUSY_SNAPSHOT, or SQLITE_BUSY while
   * the other one writes) at once and cannot wait, since waiting could not make its snapshot
   * current. Nested calls run as savepoints of the outer transaction.
   */
  private write<T>(fn: () => T): T {
    const t = this.db.transaction(fn);
    // A read-only connection cannot take the write lock (and every write in it fails anyway).
    return this.isReadonly ? t() : t.immediate();
  }

  /** @internal Tests only: a PRAGMA's current value. */
  pragma(name: string): unknown {
    return this.db.pragma(name, { simple: true });
  }

  // ---------------------------------------------------------------- datasets

  /**
   * Import a dataset and its samples; returns the dataset id. Idempotent on the fingerprint: a
   * complete import with the same fingerprint is returned as is (the samples are not read).
   *
   * Samples are written in chunked transactions under status 'importing', and the dataset flips to
   * 'complete' only in the final transaction, so an interrupted import is never listed as complete.
   * If the samples fail (a bad row, a reader error) the partial import is removed before the error
   * is rethrown; a leftover from a crash is removed by the next import of the same fingerprint.
   */
  importDataset(
    meta: DatasetMeta,
    samples: Iterable<SampleInput>,
    opts: ImportOptions = {},
  ): number {
    if (typeof meta.name !== 'string' || meta.name.trim() === '') {
      throw new Error('Dataset import: the dataset needs a name');
    }
    if (typeof meta.fingerprint !== 'string' || meta.fingerprint === '') {
      throw new Error(`Dataset import "${meta.name}": the fingerprint is empty`);
    }
    checkClassNames(meta.classNames, `Dataset import "${meta.name}"`);
    if (
      !Array.isArray(meta.sampleShape) ||
      !meta.sampleShape.every((d) => isNonNegInt(d) && d > 0)
    ) {
      throw new Error(
        `Dataset import "${meta.name}": sample shape ${JSON.stringify(meta.sampleShape)} must be a list of positive integers`,
      );
    }
    const chunkSize = opts.chunkSize ?? DEFAULT_IMPORT_CHUNK;
    if (!isNonNegInt(chunkSize) || chunkSize === 0) {
      throw new Error(`Dataset import: chunkSize must be a positive integer, got ${chunkSize}`);
    }

    const existing = this.stmt('SELECT id, status FROM datasets WHERE fingerprint = ?').get(
      meta.fingerprint,
    ) as { id: number; status: DatasetStatus } | undefined;
    if (existing?.status === 'complete') return existing.id;

    const datasetId = this.write(() => {
      if (existing) this.deleteIncomplete(existing.id);
      return Number(
        this.stmt(
          `INSERT INTO datasets (name, source, format, class_names, sample_shape, fingerprint, status)
           VALUES (?, ?, ?, ?, ?, ?, 'importing')`,
        ).run(
          meta.name,
          meta.source,
          meta.format,
          JSON.stringify(meta.classNames),
          JSON.stringify(meta.sampleShape),
          meta.fingerprint,
        ).lastInsertRowid,
      );
    });

    const insert = this.stmt(
      `INSERT INTO samples (dataset_id, idx, split, source_path, pixels, ground_truth)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    const classCount = meta.classNames.length;
    let written = 0;
    let chunk: SampleInput[] = [];
    const writeChunk = this.db.transaction((rows: SampleInput[]) => {
      rows.forEach((s, k) => {
        const at = written + k;
        const where = `Dataset import "${meta.name}", sample ${at} (${String(s.split)} #${String(s.idx)})`;
        if (!SPLITS.includes(s.split)) {
          throw new Error(`${where}: split must be one of ${SPLITS.join(', ')}`);
        }
        if (!isNonNegInt(s.idx)) throw new Error(`${where}: idx must be an integer >= 0`);
        let gt: number | null = null;
        if (s.groundTruth !== undefined && s.groundTruth !== null && s.groundTruth !== -1) {
          if (!isNonNegInt(s.groundTruth) || s.groundTruth >= classCount) {
            throw new Error(
              `${where}: ground truth ${s.groundTruth} is not a class index in [0, ${classCount})`,
            );
          }
          gt = s.groundTruth;
        }
        try {
          insert.run(datasetId, s.idx, s.split, s.sourcePath ?? null, s.pixels ?? null, gt);
        } catch (err) {
          const dup = (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
          throw new Error(
            dup ? `${where}: ${s.split} #${s.idx} appears twice` : `${where}: ${message(err)}`,
            { cause: err },
          );
        }
      });
    });

    try {
      for (const s of samples) {
        chunk.push(s);
        if (chunk.length >= chunkSize) {
          writeChunk.immediate(chunk);
          written += chunk.length;
          chunk = [];
          opts.onProgress?.(written);
        }
      }
      if (chunk.length > 0) {
        writeChunk.immediate(chunk);
        written += chunk.length;
        opts.onProgress?.(written);
      }
      this.write(() => {
        const counts: SplitCounts = { train: 0, test: 0, unlabeled: 0 };
        const rows = this.stmt(
          'SELECT split, count(*) AS n FROM samples WHERE dataset_id = ? GROUP BY split',
        ).all(datasetId) as { split: Split; n: number }[];
        for (const r of rows) counts[r.split] = r.n;
        this.stmt(
          `UPDATE datasets SET counts = ?, status = 'complete' WHERE id = ? AND status = 'importing'`,
        ).run(JSON.stringify(counts), datasetId);
      });
    } catch (err) {
      try {
        this.write(() => this.deleteIncomplete(datasetId));
      } catch {
        // The leftover stays 'importing' (never listed) and the next import of this fingerprint
        // removes it; the original error is the one worth reporting.
      }
      throw err;
    }
    return datasetId;
  }

  private deleteIncomplete(datasetId: number): void {
    this.stmt('DELETE FROM samples WHERE dataset_id = ?').run(datasetId);
    this.stmt(`DELETE FROM datasets WHERE id = ? AND status = 'importing'`).run(datasetId);
  }

  /** A dataset by id, complete or not. */
  getDataset(id: number): DatasetRow | undefined {
    const r = this.stmt('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetDb | undefined;
    return r ? toDataset(r) : undefined;
  }

  /** Datasets, oldest first; only complete ones unless asked (an import in progress or crashed). */
  listDatasets(opts: { includeIncomplete?: boolean } = {}): DatasetRow[] {
    const rows = (
      opts.includeIncomplete
        ? this.stmt('SELECT * FROM datasets ORDER BY id')
        : this.stmt(`SELECT * FROM datasets WHERE status = 'complete' ORDER BY id`)
    ).all() as DatasetDb[];
    return rows.map(toDataset);
  }

  /**
   * Stable sample ids of one split, indexed by position: `ids[idx]` is the sample id of `idx`
   * (-1 where a position has no sample).
   */
  sampleIds(datasetId: number, split: Split): Int32Array {
    const rows = this.stmt(
      'SELECT idx, id FROM samples WHERE dataset_id = ? AND split = ? ORDER BY idx',
    )
      .raw()
      .all(datasetId, split) as [number, number][];
    const last = rows[rows.length - 1];
    const out = new Int32Array(last ? last[0] + 1 : 0).fill(-1);
    for (const [idx, id] of rows) {
      if (id > 0x7fffffff) throw new Error(`Sample id ${id} does not fit an Int32Array`);
      out[idx] = id;
    }
    return out;
  }

  // ---------------------------------------------------------------- label events

  private checkEvent(e: LabelEventInput, where: string): void {
    requireId(e.sampleId, `${where}: sampleId`);
    const kind = e.kind ?? 'label';
    if (kind !== 'label' && kind !== 'skip' && kind !== 'unsure') {
      throw new Error(`${where}: kind must be label, skip or unsure (use undoLabelEvent to undo)`);
    }
    if (kind === 'label') {
      if (!isNonNegInt(e.classIdx)) {
        throw new Error(`${where}: a 'label' event needs classIdx, an integer >= 0`);
      }
    } else if (e.classIdx !== undefined && e.classIdx !== null) {
      throw new Error(`${where}: a '${kind}' event carries no classIdx`);
    }
    if (typeof e.annotator !== 'string' || e.annotator.trim() === '') {
      throw new Error(`${where}: annotator must be a non-empty name`);
    }
    if (e.source !== undefined && !LABEL_SOURCES.includes(e.source)) {
      throw new Error(`${where}: source must be one of ${LABEL_SOURCES.join(', ')}`);
    }
    if (e.projectId != null && e.studyRunId != null) {
      throw new Error(`${where}: an event belongs to a project or to a study run, not both`);
    }
    if (e.round != null && (e.studyRunId == null || !isNonNegInt(e.round))) {
      throw new Error(`${where}: round must be an integer >= 0 and needs studyRunId`);
    }
    if (e.durationMs != null && !(Number.isFinite(e.durationMs) && e.durationMs >= 0)) {
      throw new Error(`${where}: durationMs must be a finite number >= 0`);
    }
    if (e.via != null && !['queue', 'review', 'second', 'browse', 'import'].includes(e.via)) {
      throw new Error(`${where}: via must be queue, review, second, browse or import`);
    }
    if (e.via != null && e.projectId == null) {
      throw new Error(`${where}: via applies to annotation-project events only`);
    }
  }

  private insertEvent(e: LabelEventInput, where: string): number {
    this.checkEvent(e, where);
    const kind = e.kind ?? 'label';
    try {
      return Number(
        this.stmt(
          `INSERT INTO label_events
             (sample_id, class_idx, kind, annotator, source, project_id, study_run_id, round, duration_ms, via)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          e.sampleId,
          kind === 'label' ? e.classIdx : null,
          kind,
          e.annotator,
          e.source ?? 'human',
          e.projectId ?? null,
          e.studyRunId ?? null,
          e.round ?? null,
          e.durationMs ?? null,
          e.via ?? null,
        ).lastInsertRowid,
      );
    } catch (err) {
      throw new Error(`${where} (sample ${e.sampleId}): ${message(err)}`, { cause: err });
    }
  }

  /** Append one label/skip/unsure event (committed on return); returns its id. */
  appendLabelEvent(e: LabelEventInput): number {
    return this.insertEvent(e, 'Label event');
  }

  /** Append several events in one transaction: all or none. Returns their ids in order. */
  appendLabelEvents(events: readonly LabelEventInput[]): number[] {
    return this.write(() => events.map((e, i) => this.insertEvent(e, `Label event ${i}`)));
  }

  /**
   * Retract an event by appending an 'undo' that names it (in the same sample and scope). The
   * retracted event stays in the log. An event can be undone once; an undo cannot be undone (label
   * again instead). Returns the undo event's id.
   */
  undoLabelEvent(
    eventId: number,
    annotator: string,
    opts: { source?: LabelSource; durationMs?: number } = {},
  ): number {
    return this.write(() => {
      const target = this.eventById(eventId);
      if (!target) throw new Error(`Undo: there is no label event ${eventId}`);
      if (target.kind === 'undo') {
        throw new Error(`Undo: event ${eventId} is itself an undo; append the label again instead`);
      }
      if (target.undoneBy !== null) {
        throw new Error(`Undo: event ${eventId} was already undone by event ${target.undoneBy}`);
      }
      if (typeof annotator !== 'string' || annotator.trim() === '') {
        throw new Error('Undo: annotator must be a non-empty name');
      }
      if (opts.durationMs != null && !(Number.isFinite(opts.durationMs) && opts.durationMs >= 0)) {
        throw new Error('Undo: durationMs must be a finite number >= 0');
      }
      return Number(
        this.stmt(
          `INSERT INTO label_events
             (sample_id, kind, undoes_event_id, annotator, source, project_id, study_run_id, round, duration_ms)
           VALUES (?, 'undo', ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          target.sampleId,
          target.id,
          annotator,
          opts.source ?? 'human',
          target.projectId,
          target.studyRunId,
          target.round,
          opts.durationMs ?? null,
        ).lastInsertRowid,
      );
    });
  }

  private eventById(id: number): LabelEvent | undefined {
    const r = this.stmt(
      `SELECT e.*, (SELECT u.id FROM label_events u WHERE u.undoes_event_id = e.id) AS undone_by
       FROM label_events e WHERE e.id = ?`,
    ).get(id) as EventDb | undefined;
    return r ? toEvent(r) : undefined;
  }

  /**
   * The current label of every labeled sample in a scope (see LabelScope), derived from the event
   * log: the latest 'label' event that no undo retracts. Pseudo-labels never count. Ordered by
   * sample id.
   */
  currentLabels(scope: LabelScope = {}): CurrentLabel[] {
    if (scope.projectId !== undefined && scope.studyRunId !== undefined) {
      throw new Error('currentLabels: give a projectId or a studyRunId, not both');
    }
    const where = [
      scope.projectId !== undefined ? 'project_id = @projectId' : 'project_id IS NULL',
      scope.studyRunId !== undefined ? 'study_run_id = @studyRunId' : 'study_run_id IS NULL',
    ];
    if (scope.datasetId !== undefined) where.push('dataset_id = @datasetId');
    const rows = this.stmt(
      `SELECT sample_id, class_idx, annotator, event_id, source, created_at FROM current_labels
       WHERE ${where.join(' AND ')} ORDER BY sample_id`,
    ).all({
      ...(scope.projectId !== undefined ? { projectId: scope.projectId } : {}),
      ...(scope.studyRunId !== undefined ? { studyRunId: scope.studyRunId } : {}),
      ...(scope.datasetId !== undefined ? { datasetId: scope.datasetId } : {}),
    }) as {
      sample_id: number;
      class_idx: number;
      annotator: string;
      event_id: number;
      source: LabelSource;
      created_at: string;
    }[];
    return rows.map((r) => ({
      sampleId: r.sample_id,
      classIdx: r.class_idx,
      annotator: r.annotator,
      eventId: r.event_id,
      source: r.source,
      createdAt: r.created_at,
    }));
  }

  /** Every event of a sample in every scope, oldest first, each with the undo that retracted it. */
  labelHistory(sampleId: number): LabelEvent[] {
    const rows = this.stmt(
      `SELECT e.*, (SELECT u.id FROM label_events u WHERE u.undoes_event_id = e.id) AS undone_by
       FROM label_events e WHERE e.sample_id = ? ORDER BY e.id`,
    ).all(sampleId) as EventDb[];
    return rows.map(toEvent);
  }

  // ---------------------------------------------------------------- projects

  /**
   * Create an annotation project over a complete dataset; the class list defaults to the
   * dataset's and is recorded as the first entry of the project's class history.
   */
  createProject(p: {
    name: string;
    datasetId: number;
    classNames?: readonly string[];
    settings?: Record<string, unknown>;
    createdBy?: string;
  }): number {
    return this.write(() => {
      const dataset = this.getDataset(p.datasetId);
      if (!dataset || dataset.status !== 'complete') {
        throw new Error(`Create project "${p.name}": there is no complete dataset ${p.datasetId}`);
      }
      const classNames = p.classNames ?? dataset.classNames;
      checkClassNames(classNames, `Create project "${p.name}"`);
      if (classNames.length === 0) {
        throw new Error(`Create project "${p.name}": the project needs at least one class`);
      }
      if (typeof p.name !== 'string' || p.name.trim() === '') {
        throw new Error('Create project: the project needs a name');
      }
      const id = Number(
        this.stmt(
          'INSERT INTO projects (name, dataset_id, class_names, settings) VALUES (?, ?, ?, ?)',
        ).run(p.name, p.datasetId, JSON.stringify(classNames), JSON.stringify(p.settings ?? {}))
          .lastInsertRowid,
      );
      this.stmt(
        'INSERT INTO project_class_history (project_id, class_names, changed_by) VALUES (?, ?, ?)',
      ).run(id, JSON.stringify(classNames), p.createdBy ?? 'system');
      return id;
    });
  }

  getProject(id: number): ProjectRow | undefined {
    const r = this.stmt('SELECT * FROM projects WHERE id = ?').get(id) as ProjectDb | undefined;
    return r ? toProject(r) : undefined;
  }

  /** Projects, oldest first, optionally of one dataset. */
  listProjects(opts: { datasetId?: number } = {}): ProjectRow[] {
    const rows = (
      opts.datasetId !== undefined
        ? this.stmt('SELECT * FROM projects WHERE dataset_id = ? ORDER BY id').all(opts.datasetId)
        : this.stmt('SELECT * FROM projects ORDER BY id').all()
    ) as ProjectDb[];
    return rows.map(toProject);
  }

  /**
   * Replace a project's class list and record the change. Labels store class positions, so a
   * rename keeps its labels; a list too short for a class that current labels use is refused.
   */
  updateProjectClasses(projectId: number, classNames: readonly string[], changedBy: string): void {
    this.write(() => {
      const project = this.getProject(projectId);
      if (!project) throw new Error(`Update classes: there is no project ${projectId}`);
      checkClassNames(classNames, `Update classes of project "${project.name}"`);
      if (classNames.length === 0) {
        throw new Error(`Update classes of project "${project.name}": keep at least one class`);
      }
      const used = this.stmt(
        `SELECT max(class_idx) AS top, count(*) AS n FROM current_labels
         WHERE project_id = ? AND class_idx >= ?`,
      ).get(projectId, classNames.length) as { top: number | null; n: number };
      if (used.n > 0) {
        throw new Error(
          `Update classes of project "${project.name}": ${used.n} sample(s) are labeled with class ${used.top} (${project.classNames[used.top ?? 0] ?? '?'}), which the new list of ${classNames.length} classes drops; relabel or undo them first`,
        );
      }
      this.stmt('UPDATE projects SET class_names = ? WHERE id = ?').run(
        JSON.stringify(classNames),
        projectId,
      );
      this.stmt(
        'INSERT INTO project_class_history (project_id, class_names, changed_by) VALUES (?, ?, ?)',
      ).run(projectId, JSON.stringify(classNames), changedBy);
    });
  }

  /**
   * A project's class lists, oldest (its creation) first. Settings changes share the table
   * (annotation.ts, updateProjectSettings) and are left out.
   */
  projectClassHistory(projectId: number): ClassListChange[] {
    const rows = this.stmt(
      `SELECT * FROM project_class_history
       WHERE project_id = ? AND json_extract(change, '$.op') IS NOT 'settings' ORDER BY id`,
    ).all(projectId) as {
      id: number;
      project_id: number;
      class_names: string;
      changed_by: string;
      created_at: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      projectId: r.project_id,
      classNames: JSON.parse(r.class_names) as string[],
      changedBy: r.changed_by,
      createdAt: r.created_at,
    }));
  }

  // ---------------------------------------------------------------- studies, runs, rounds

  /** Create a study; `config` is stored as JSON (an object). Returns its id. */
  createStudy(s: {
    name: string;
    datasetSpec: string;
    datasetId?: number;
    config: unknown;
  }): number {
    if (typeof s.config !== 'object' || s.config === null || Array.isArray(s.config)) {
      throw new Error(`Create study "${s.name}": config must be an object`);
    }
    if (s.datasetId !== undefined)
      this.requireCompleteDataset(s.datasetId, `Create study "${s.name}"`);
    return Number(
      this.stmt(
        'INSERT INTO studies (name, dataset_id, dataset_spec, config) VALUES (?, ?, ?, ?)',
      ).run(s.name, s.datasetId ?? null, s.datasetSpec, JSON.stringify(s.config)).lastInsertRowid,
    );
  }

  private requireCompleteDataset(datasetId: number, where: string): void {
    const d = this.getDataset(datasetId);
    if (!d || d.status !== 'complete')
      throw new Error(`${where}: there is no complete dataset ${datasetId}`);
  }

  getStudy(id: number): StudyRow | undefined {
    const r = this.stmt('SELECT * FROM studies WHERE id = ?').get(id) as StudyDb | undefined;
    return r ? toStudy(r) : undefined;
  }

  /** Studies, oldest first. */
  listStudies(): StudyRow[] {
    return (this.stmt('SELECT * FROM studies ORDER BY id').all() as StudyDb[]).map(toStudy);
  }

  /**
   * Record why a study failed (a sentence, at most 4000 characters kept), or clear it with null.
   * Kept across reloads: the failure event alone is gone once the window is closed.
   */
  setStudyMessage(id: number, message: string | null): void {
    const text = message === null ? null : message.slice(0, 4000);
    const r = this.stmt(`UPDATE studies SET message = ?, updated_at = ${NOW_SQL} WHERE id = ?`).run(
      text,
      id,
    );
    if (r.changes === 0) throw new Error(`Set study message: there is no study ${id}`);
  }

  /**
   * Remove a study that recorded nothing (a start that failed before its first round), so it is
   * not left behind for a later `--resume` to pick. Returns false, removing nothing, when any of
   * its runs recorded a round.
   */
  deleteStudyIfEmpty(id: number): boolean {
    return this.write(() => {
      const rounds = this.stmt(
        'SELECT count(*) AS n FROM rounds r JOIN runs u ON u.id = r.run_id WHERE u.study_id = ?',
      ).get(id) as { n: number };
      const events = this.stmt(
        'SELECT count(*) AS n FROM label_events e JOIN runs u ON u.id = e.study_run_id WHERE u.study_id = ?',
      ).get(id) as { n: number };
      if (rounds.n > 0 || events.n > 0) return false;
      this.stmt('DELETE FROM runs WHERE study_id = ?').run(id);
      return this.stmt('DELETE FROM studies WHERE id = ?').run(id).changes > 0;
    });
  }

  setStudyStatus(id: number, status: StudyStatus): void {
    if (!STUDY_STATUSES.includes(status)) {
      throw new Error(`Study status must be one of ${STUDY_STATUSES.join(', ')}, got ${status}`);
    }
    const r = this.stmt(`UPDATE studies SET status = ?, updated_at = ${NOW_SQL} WHERE id = ?`).run(
      status,
      id,
    );
    if (r.changes === 0) throw new Error(`Set study status: there is no study ${id}`);
  }

  /**
   * Record which imported dataset a study runs on (its simulated labels reference that dataset's
   * samples). Re-attaching the same dataset is a no-op; a different one is refused once the study
   * has recorded rounds, because those rounds are about the first dataset's samples.
   */
  attachStudyDataset(studyId: number, datasetId: number): void {
    this.write(() => {
      const study = this.getStudy(studyId);
      if (!study) throw new Error(`Attach dataset: there is no study ${studyId}`);
      this.requireCompleteDataset(datasetId, `Attach dataset to study ${studyId}`);
      if (study.datasetId === datasetId) return;
      const rounds = this.stmt(
        'SELECT count(*) AS n FROM rounds r JOIN runs u ON u.id = r.run_id WHERE u.study_id = ?',
      ).get(studyId) as { n: number };
      if (study.datasetId !== null && rounds.n > 0) {
        const was = this.getDataset(study.datasetId);
        const now = this.getDataset(datasetId);
        throw new Error(
          `Study ${studyId} recorded ${rounds.n} round(s) on dataset ${study.datasetId} (fingerprint ${was?.fingerprint}), but its data now loads as dataset ${datasetId} (fingerprint ${now?.fingerprint}); the data changed, so the study cannot continue: start a new study`,
        );
      }
      this.stmt(`UPDATE studies SET dataset_id = ?, updated_at = ${NOW_SQL} WHERE id = ?`).run(
        datasetId,
        studyId,
      );
    });
  }

  /**
   * The run of (study, strategy, repeat), created 'pending' if absent. An existing run is returned
   * as is, which is how a study resumes; one stored with a different seed is refused.
   */
  ensureRun(r: { studyId: number; strategy: string; repeat: number; seed: number }): RunRow {
    if (!isNonNegInt(r.repeat))
      throw new Error(`ensureRun: repeat must be an integer >= 0, got ${r.repeat}`);
    if (!Number.isSafeInteger(r.seed))
      throw new Error(`ensureRun: seed must be an integer, got ${r.seed}`);
    return this.write(() => {
      if (!this.getStudy(r.studyId)) throw new Error(`ensureRun: there is no study ${r.studyId}`);
      this.stmt(
        `INSERT INTO runs (study_id, strategy, repeat, seed) VALUES (?, ?, ?, ?)
         ON CONFLICT (study_id, strategy, repeat) DO NOTHING`,
      ).run(r.studyId, r.strategy, r.repeat, r.seed);
      const row = toRun(
        this.stmt('SELECT * FROM runs WHERE study_id = ? AND strategy = ? AND repeat = ?').get(
          r.studyId,
          r.strategy,
          r.repeat,
        ) as RunDb,
      );
      if (row.seed !== r.seed) {
        throw new Error(
          `Run ${row.id} (${r.strategy}, repeat ${r.repeat}) was started with seed ${row.seed}, not ${r.seed}; resuming it with another seed would mix two experiments`,
        );
      }
      return row;
    });
  }

  getRun(id: number): RunRow | undefined {
    const r = this.stmt('SELECT * FROM runs WHERE id = ?').get(id) as RunDb | undefined;
    return r ? toRun(r) : undefined;
  }

  /** A study's runs in creation order. */
  listRuns(studyId: number): RunRow[] {
    return (
      this.stmt('SELECT * FROM runs WHERE study_id = ? ORDER BY id').all(studyId) as RunDb[]
    ).map(toRun);
  }

  /** 'running' stamps started_at (first time) and clears finished_at; an end status stamps finished_at. */
  setRunStatus(id: number, status: RunStatus): void {
    if (!RUN_STATUSES.includes(status)) {
      throw new Error(`Run status must be one of ${RUN_STATUSES.join(', ')}, got ${status}`);
    }
    const sql =
      status === 'running'
        ? `UPDATE runs SET status = ?, started_at = coalesce(started_at, ${NOW_SQL}), finished_at = NULL WHERE id = ?`
        : status === 'pending'
          ? 'UPDATE runs SET status = ? WHERE id = ?'
          : `UPDATE runs SET status = ?, finished_at = ${NOW_SQL} WHERE id = ?`;
    const r = this.stmt(sql).run(status, id);
    if (r.changes === 0) throw new Error(`Set run status: there is no run ${id}`);
  }

  /**
   * Record one round of a run with its simulated-oracle labels (and a strategy's pseudo-labels) in
   * ONE transaction: all of it commits or none. Rounds are recorded in order, each once: a round
   * already recorded, or one that skips ahead, is refused, so a resumed run never repeats a round.
   * Returns the round row's id.
   */
  recordRound(
    r: RoundInput,
    simulatedLabels: readonly SampleLabel[] = [],
    pseudoLabels: readonly SampleLabel[] = [],
  ): number {
    const where = `Record round ${r.round} of run ${r.runId}`;
    if (!isNonNegInt(r.round)) throw new Error(`${where}: round must be an integer >= 0`);
    if (!isNonNegInt(r.labeled)) throw new Error(`${where}: labeled must be an integer >= 0`);
    if (!(Number.isFinite(r.accuracy) && r.accuracy >= 0 && r.accuracy <= 1)) {
      throw new Error(`${where}: accuracy ${r.accuracy} is not a fraction in [0, 1]`);
    }
    if (typeof r.loss !== 'number') throw new Error(`${where}: loss must be a number`);
    for (const [k, v] of [
      ['trainMs', r.trainMs],
      ['queryMs', r.queryMs],
    ] as const) {
      if (!(Number.isFinite(v) && v >= 0))
        throw new Error(`${where}: ${k} ${v} must be a finite number >= 0`);
    }
    if (!Array.isArray(r.selected) || !r.selected.every(isNonNegInt)) {
      throw new Error(`${where}: selected must be a list of pool indices (integers >= 0)`);
    }
    const details = roundDetailsJson(r.details, where);
    return this.write(() => {
      if (!this.getRun(r.runId)) throw new Error(`${where}: there is no run ${r.runId}`);
      const next = (
        this.stmt('SELECT coalesce(max(round) + 1, 0) AS next FROM rounds WHERE run_id = ?').get(
          r.runId,
        ) as { next: number }
      ).next;
      if (r.round < next) {
        throw new Error(
          `${where}: that round is already recorded (the run continues at round ${next}); a resumed run must not repeat a round`,
        );
      }
      if (r.round > next) {
        throw new Error(`${where}: rounds must be recorded in order; the next one is ${next}`);
      }
      const id = Number(
        this.stmt(
          `INSERT INTO rounds (run_id, round, labeled, accuracy, loss, train_ms, query_ms, selected, details)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          r.runId,
          r.round,
          r.labeled,
          r.accuracy,
          Number.isNaN(r.loss) ? null : r.loss,
          r.trainMs,
          r.queryMs,
          JSON.stringify(r.selected),
          details,
        ).lastInsertRowid,
      );
      const add = (labels: readonly SampleLabel[], source: LabelSource, annotator: string) =>
        labels.forEach((l, i) =>
          this.insertEvent(
            {
              sampleId: l.sampleId,
              kind: 'label',
              classIdx: l.classIdx,
              annotator,
              source,
              studyRunId: r.runId,
              round: r.round,
            },
            `${where}, ${source} label ${i}`,
          ),
        );
      add(simulatedLabels, 'simulated', ORACLE_ANNOTATOR);
      add(pseudoLabels, 'pseudo', MODEL_ANNOTATOR);
      return id;
    });
  }

  /**
   * Store a complete run recorded elsewhere (a committed study report) as 'done', all of its
   * rounds in ONE transaction: a study continued on another machine skips it instead of training
   * it again. The report carries each round's numbers but not which samples were picked, so the
   * rounds' `selected` lists are empty and no label events are written; such a run is only ever
   * reported, never resumed. Returns false (and changes nothing) when the run already has rounds
   * here: what this database recorded itself wins.
   */
  importRun(r: {
    studyId: number;
    strategy: string;
    repeat: number;
    seed: number;
    rounds: readonly Omit<RoundInput, 'runId' | 'selected'>[];
  }): boolean {
    return this.write(() => {
      const run = this.ensureRun(r);
      if (this.listRounds(run.id).length > 0) return false;
      for (const round of r.rounds) this.recordRound({ ...round, runId: run.id, selected: [] });
      this.setRunStatus(run.id, 'done');
      return true;
    });
  }

  /** A run's rounds in order. */
  listRounds(runId: number): RoundRow[] {
    return (
      this.stmt('SELECT * FROM rounds WHERE run_id = ? ORDER BY round').all(runId) as RoundDb[]
    ).map(toRound);
  }

  /**
   * The pseudo-labels recorded with a round (those its model was trained with), as pool indices
   * (train-split positions) and classes; undefined when there are none.
   */
  pseudoLabels(
    runId: number,
    round: number,
  ): { indices: Int32Array; labels: Int32Array } | undefined {
    const rows = this.stmt(
      `SELECT s.idx, e.class_idx FROM label_events e JOIN samples s ON s.id = e.sample_id
       WHERE e.study_run_id = ? AND e.round = ? AND e.source = 'pseudo' AND e.kind = 'label'
       ORDER BY e.id`,
    )
      .raw()
      .all(runId, round) as [number, number][];
    if (rows.length === 0) return undefined;
    return {
      indices: Int32Array.from(rows, (r) => r[0]),
      labels: Int32Array.from(rows, (r) => r[1]),
    };
  }

  // ---------------------------------------------------------------- maintenance

  /**
   * Copy the database to `destFile` with SQLite's online backup (safe while in use), then check
   * the copy. Overwrites `destFile`. The copy is a single self-contained file (rollback journal,
   * not WAL), so opening it later leaves no -wal/-shm files beside it.
   */
  async backup(destFile: string): Promise<void> {
    const dest = resolve(destFile);
    if (dest === this.file)
      throw new Error(`Backup: ${dest} is the database itself; choose another file`);
    await this.db.backup(dest);
    const copy = new Database(dest, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
      const result = copy.pragma('quick_check', { simple: true }) as string;
      if (result !== 'ok')
        throw new Error(`Backup: the copy at ${dest} fails its check: ${result}`);
    } finally {
      copy.close();
    }
  }

  /** SQLite's integrity_check plus foreign_key_check: 'ok', or the problems as sentences. */
  integrityCheck(): 'ok' | string[] {
    const problems = (this.db.pragma('integrity_check') as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .filter((m) => m !== 'ok');
    const fk = this.db.pragma('foreign_key_check') as {
      table: string;
      rowid: number;
      parent: string;
      fkid: number;
    }[];
    for (const f of fk) {
      problems.push(`${f.table} row ${f.rowid} references a missing row of ${f.parent}`);
    }
    return problems.length === 0 ? 'ok' : problems;
  }

  /** Close the database (running PRAGMA optimize first when writable). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.isReadonly && this.db.open) this.db.pragma('optimize');
    } finally {
      this.db.close();
    }
  }
}
