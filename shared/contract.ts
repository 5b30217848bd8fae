import { z } from 'zod';
import { channel } from './channel.ts';
import type { StudyReport } from './report.ts';
import { StudyConfigSchema } from './study.ts';
import { ANNOTATION_CAPABILITIES, annotationChannels, type AnnotationEvent } from './annotation.ts';
import {
  LABEL_QUALITY_CAPABILITIES,
  labelQualityChannels,
  type LabelQualityEvent,
} from './labelQuality.ts';

/**
 * The one contract between the user interface and the back end.
 *
 * Every capability is a channel named `domain:verb` with a zod schema for its argument and a type
 * for its result. The Electron main process (IPC), the browser-mode host (HTTP) and the renderer's
 * bridge all use this map, so the three cannot drift: a channel added here is a type error in
 * each of them until it is implemented.
 *
 * Results always cross as {@link Result}: `{ ok: true, value }` or `{ ok: false, error }` with an
 * {@link ErrorCode} and a sentence a person can act on. Nothing throws across the boundary.
 *
 * Long work (studies, imports) reports progress as {@link AppEvent}s on one event stream (IPC
 * `events` in Electron, the WebSocket in browser mode).
 */

// ---------------------------------------------------------------------------------------------
// Results and errors

/** Why a call failed. `invalid-argument` means the caller can fix its input. */
export type ErrorCode =
  | 'invalid-argument'
  | 'not-found'
  | 'busy'
  | 'cancelled'
  | 'unknown-channel'
  | 'unauthorized'
  | 'failed'
  | 'internal';

export interface ContractError {
  code: ErrorCode;
  /** A sentence for a person: what went wrong and what to do. */
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ContractError };

/** A successful result. */
export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** A failed result. */
export function fail<T = never>(code: ErrorCode, message: string): Result<T> {
  return { ok: false, error: { code, message } };
}

/** Readable one-line reasons from a zod error (path: message; ...). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

// ---------------------------------------------------------------------------------------------
// Domain types crossing the boundary

/** Where the app runs and what it computes with. */
export interface AppInfo {
  name: string;
  version: string;
  /** `electron` with the desktop shell, `browser` for the loopback browser mode. */
  mode: 'electron' | 'browser';
  /** Why the desktop shell is not used (browser mode only). */
  modeReason?: string;
  dataDir: string;
  dbPath: string;
  /** The ML worker's TensorFlow.js backend, once it has started. */
  backend: string | null;
  backendThreads: number | null;
  platform: string;
  /** The app's own features that are not ready yet, shown as such in the UI. */
  comingSoon: string[];
}

export interface StrategyParamInfo {
  name: string;
  type: 'number' | 'integer' | 'boolean' | 'string';
  default: number | boolean | string;
  min?: number;
  max?: number;
  description: string;
}

export interface StrategyInfo {
  id: string;
  name: string;
  family: string;
  description: string;
  params: StrategyParamInfo[];
}

/** A dataset registered in the workspace. */
export interface DatasetSummary {
  id: number;
  name: string;
  /** The path (or built-in name) studies load it from. */
  source: string;
  format: string;
  classNames: string[];
  sampleShape: number[];
  trainCount: number;
  testCount: number;
  createdAt: string;
}

/** One sample image for a preview grid: raw pixels, drawn on a canvas by the renderer. */
export interface Thumbnail {
  index: number;
  className: string;
  width: number;
  height: number;
  channels: number;
  /** Base64 of uint8 HWC pixels. */
  pixels: string;
}

/** What importing a path would give, before anything is written. */
export interface DatasetPreview {
  path: string;
  format: string;
  description: string;
  sampleShape: number[];
  trainCount: number;
  testCount: number;
  classes: { name: string; train: number; test: number }[];
  /** Empty for tabular data. */
  thumbnails: Thumbnail[];
  /** Files the reader passed over, and why. */
  skipped: { path: string; reason: string }[];
  /** Things to know before importing (no test split, class imbalance...). */
  notes: string[];
}

export type StudyStatus = 'created' | 'running' | 'cancelled' | 'failed' | 'done';

export interface StudySummary {
  id: number;
  name: string;
  status: StudyStatus;
  dataset: string;
  strategies: string[];
  repeats: number;
  createdAt: string;
  /** Rounds recorded so far and the protocol's total, over every strategy and repeat. */
  roundsDone: number;
  roundsTotal: number;
  /** True while the ML worker is running this study. */
  active: boolean;
  /** Why it last failed, as the person was told; null when it did not fail. Kept across reloads. */
  message: string | null;
}

/** A rough duration estimate for a study on this machine's backend. */
export interface StudyEstimate {
  totalMs: number;
  trainMs: number;
  queryMs: number;
  runs: number;
  roundsPerRun: number;
  /** Training samples seen over the whole study (epochs x labeled set per round). */
  sampleEpochs: number;
  backend: string;
  /** `measured`: timed on this machine; `heuristic`: no measurement could be made. */
  basis: 'measured' | 'heuristic';
  /** Measured training throughput, samples per second. */
  samplesPerSecond: number;
  note: string;
}

/** One rolling backup of the workspace database. */
export interface BackupSummary {
  /** File name in the backup folder; what `backups:restore` takes. */
  name: string;
  /** When it was made, ISO 8601. */
  createdAt: string;
  /** Why it was made: manual, open, scheduled, before-restore, before-migration... */
  reason: string;
  bytes: number;
}

/** The workspace's backups and how they are kept. */
export interface BackupList {
  /** The backup folder (beside the database). */
  folder: string;
  /** How many are kept; older ones are deleted. */
  keep: number;
  /** How often the app backs up while it runs (when something changed), ms; null when off. */
  intervalMs: number | null;
  /** Newest first. */
  backups: BackupSummary[];
  /** Why the last automatic backup failed; null when it did not. */
  lastError: string | null;
}

/** What a restore did. */
export interface BackupRestore {
  restored: BackupSummary;
  /** The database as it was just before the restore, saved as a backup; null when there was none. */
  safetyCopy: BackupSummary | null;
  /** Where an unreadable database was moved instead of being backed up; null otherwise. */
  movedAside: string | null;
}

// ---------------------------------------------------------------------------------------------
// Events

/** Progress of a running study, as the study engine reports it. */
export type StudyProgress =
  | { type: 'dataset'; description: string; pool: number; test: number }
  /** Feature extraction (or self-supervised pretraining) before the first round. */
  | { type: 'features'; phase: string; done: number; total: number; description: string }
  | {
      type: 'run-start';
      strategy: string;
      repeat: number;
      runIndex: number;
      runCount: number;
      resumedAt: number;
    }
  | {
      type: 'round';
      strategy: string;
      repeat: number;
      round: number;
      rounds: number;
      labeled: number;
      accuracy: number;
      trainMs: number;
      queryMs: number;
    }
  | {
      type: 'epoch';
      strategy: string;
      repeat: number;
      round: number;
      epoch: number;
      epochs: number;
      loss: number;
    }
  | {
      type: 'run-end';
      strategy: string;
      repeat: number;
      status: 'done' | 'cancelled' | 'failed';
    };

/** Everything the back end pushes to the user interface. */
export type AppEvent =
  | AnnotationEvent
  | LabelQualityEvent
  /** The database was replaced by a backup: every view must load its data again. */
  | { kind: 'backup-restored'; name: string; safetyCopy: string | null }
  | { kind: 'study-progress'; studyId: number; progress: StudyProgress }
  | {
      kind: 'study-status';
      studyId: number;
      status: StudyStatus;
      /** Set when status is `failed`. */
      message?: string;
    }
  | {
      kind: 'import-progress';
      jobId: number;
      path: string;
      phase: 'reading' | 'saving' | 'done';
      done: number;
      total: number;
    };

// ---------------------------------------------------------------------------------------------
// Channels

const empty = z.object({}).strict().default({});
const chooseKind = z.object({ kind: z.enum(['folder', 'file']) }).strict();
const studyId = z.object({ id: z.number().int().positive() }).strict();
const jobIdArgs = z.object({ jobId: z.number().int().positive() }).strict();
const backupName = z
  .object({
    name: z
      .string({ error: 'name must be text' })
      .min(1, { error: 'choose a backup from the list' })
      .max(255, { error: 'name is too long' })
      .regex(/^[^/\\]+\.db$/, { error: 'name must be a backup file name from the list' }),
  })
  .strict();
const datasetPath = z
  .string({ error: 'path must be text' })
  .trim()
  .min(1, { error: 'type the path of a dataset folder or file' })
  .max(4096, { error: 'path is too long' });

/** Every channel: argument schema, result type and a one-line summary. */
export const contract = {
  'app:info': channel<typeof empty, AppInfo>(
    empty,
    'Where the app runs, its data folder and ML backend.',
  ),
  'strategies:list': channel<typeof empty, StrategyInfo[]>(
    empty,
    'The query strategies, by family.',
  ),
  'datasets:list': channel<typeof empty, DatasetSummary[]>(
    empty,
    'Datasets registered in the workspace.',
  ),
  'datasets:preview': channel<z.ZodObject<{ path: typeof datasetPath }>, DatasetPreview>(
    z.object({ path: datasetPath }).strict(),
    'Read a dataset path: format, class counts, sample thumbnails, skipped files (reading progress as import-progress events). Writes nothing.',
  ),
  'datasets:import': channel<
    z.ZodObject<{ path: typeof datasetPath; name: z.ZodOptional<z.ZodString> }>,
    DatasetSummary
  >(
    z.object({ path: datasetPath, name: z.string().trim().min(1).max(200).optional() }).strict(),
    'Register a dataset in the workspace (progress as import-progress events).',
  ),
  'datasets:cancel': channel<typeof jobIdArgs, { cancelling: boolean }>(
    jobIdArgs,
    'Stop a running preview or import (its jobId comes with its import-progress events); a cancelled import leaves nothing behind. Within seconds, whatever the reader was doing.',
  ),
  'studies:list': channel<typeof empty, StudySummary[]>(empty, 'Studies, newest first.'),
  'studies:create': channel<
    z.ZodObject<{ config: typeof StudyConfigSchema; name: z.ZodOptional<z.ZodString> }>,
    StudySummary
  >(
    z
      .object({ config: StudyConfigSchema, name: z.string().trim().min(1).max(200).optional() })
      .strict(),
    'Create a study from validated settings (does not start it).',
  ),
  'studies:start': channel<typeof studyId, StudySummary>(
    studyId,
    'Start a created study in the ML worker.',
  ),
  'studies:resume': channel<typeof studyId, StudySummary>(
    studyId,
    'Continue a cancelled or failed study from its last completed round.',
  ),
  'studies:cancel': channel<typeof studyId, { cancelling: boolean }>(
    studyId,
    'Stop a running study after the current batch; completed rounds stay stored.',
  ),
  'studies:report': channel<typeof studyId, StudyReport>(
    studyId,
    'The study report (curves, AUBC, F-acc, win-tie-loss, time) from what is stored.',
  ),
  'studies:estimate': channel<z.ZodObject<{ config: typeof StudyConfigSchema }>, StudyEstimate>(
    z.object({ config: StudyConfigSchema }).strict(),
    "Rough duration of a study on this machine's backend.",
  ),
  'datasets:choose': channel<typeof chooseKind, { supported: boolean; path: string | null }>(
    chooseKind,
    'Ask for a dataset folder or file with the native dialog (desktop only; browser mode answers supported: false).',
  ),
  'backups:list': channel<typeof empty, BackupList>(
    empty,
    'The rolling backups of the workspace database, newest first.',
  ),
  'backups:create': channel<typeof empty, BackupSummary>(
    empty,
    'Back the workspace database up now (SQLite online backup; the oldest beyond the kept number are deleted).',
  ),
  'backups:restore': channel<typeof backupName, BackupRestore>(
    backupName,
    'Replace the workspace database with a listed backup, saving the current one first; refused (busy) while a study, retrain or import runs. Sends backup-restored.',
  ),
  // Annotation projects and labeling (shared/annotation.ts).
  ...annotationChannels,
  // Suspect labels and annotator weights (shared/labelQuality.ts).
  ...labelQualityChannels,
} as const;

export type Contract = typeof contract;
export type Channel = keyof Contract;
/** What a caller passes (before defaults). */
export type ArgsOf<C extends Channel> = z.input<Contract[C]['args']>;
/** What a handler receives (after parsing and defaults). */
export type ParsedArgsOf<C extends Channel> = z.output<Contract[C]['args']>;
export type ResultOf<C extends Channel> = NonNullable<Contract[C]['result']>;

export const CHANNELS = Object.keys(contract) as Channel[];

/** Is `name` one of the contract's channels? */
export function isChannel(name: string): name is Channel {
  return Object.prototype.hasOwnProperty.call(contract, name);
}

/**
 * Parse a channel's argument. Returns the parsed value or an `invalid-argument` error naming each
 * problem, so every front door refuses bad input the same way.
 */
export function parseArgs<C extends Channel>(
  channelName: C,
  raw: unknown,
): { ok: true; value: ParsedArgsOf<C> } | { ok: false; error: ContractError } {
  const parsed = contract[channelName].args.safeParse(raw ?? {});
  if (parsed.success) return { ok: true, value: parsed.data as ParsedArgsOf<C> };
  return {
    ok: false,
    error: { code: 'invalid-argument', message: `${channelName}: ${describeIssues(parsed.error)}` },
  };
}

/** The implementation side: one async function per channel, taking parsed arguments. */
export type Handlers = { [C in Channel]: (args: ParsedArgsOf<C>) => Promise<ResultOf<C>> };

/** The calling side: one async function per channel, resolving to a Result. */
export type Invoke = <C extends Channel>(
  channelName: C,
  args: ArgsOf<C>,
) => Promise<Result<ResultOf<C>>>;

/**
 * The preload's API in Electron (`window.deepal`): one named function per capability, plus the
 * event subscription. The names map 1:1 to channels through {@link CAPABILITIES}.
 */
export const CAPABILITIES = {
  appInfo: 'app:info',
  listStrategies: 'strategies:list',
  listDatasets: 'datasets:list',
  chooseDatasetPath: 'datasets:choose',
  previewDataset: 'datasets:preview',
  importDataset: 'datasets:import',
  cancelDatasetJob: 'datasets:cancel',
  listStudies: 'studies:list',
  createStudy: 'studies:create',
  startStudy: 'studies:start',
  resumeStudy: 'studies:resume',
  cancelStudy: 'studies:cancel',
  studyReport: 'studies:report',
  estimateStudy: 'studies:estimate',
  listBackups: 'backups:list',
  createBackup: 'backups:create',
  restoreBackup: 'backups:restore',
  ...ANNOTATION_CAPABILITIES,
  ...LABEL_QUALITY_CAPABILITIES,
} as const satisfies Record<string, Channel>;

type Capabilities = typeof CAPABILITIES;

export type DeepalApi = {
  [K in keyof Capabilities]: (
    args: ArgsOf<Capabilities[K]>,
  ) => Promise<Result<ResultOf<Capabilities[K]>>>;
} & {
  /** Subscribe to back-end events; returns the unsubscribe function. */
  onEvent(listener: (event: AppEvent) => void): () => void;
};

/** The IPC channel that carries {@link AppEvent}s from main to the renderer. */
export const EVENTS_CHANNEL = 'events:app';

/** The browser-mode host's HTTP paths: `POST /api/<channel>` and the `/events` WebSocket. */
export const API_PREFIX = '/api/';
export const EVENTS_PATH = '/events';
/** The header carrying the per-launch token in browser mode. */
export const TOKEN_HEADER = 'x-deepal-token';
