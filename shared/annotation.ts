import { z } from 'zod';
import { channel } from './channel.ts';
import { FeatureSpecSchema } from './features.ts';

/**
 * Annotation projects in the contract: a person labels a dataset with a model in the loop.
 * Channels are spread into the one contract map in contract.ts; types here are what crosses the
 * boundary. Pure TypeScript: no Node, no DOM.
 */

// ---------------------------------------------------------------------------------------------
// Settings

/** How a project runs its model and queue. Every field has a default. */
export const ProjectSettingsSchema = z
  .object({
    /** Labels the person means to make (the counter's denominator); default: the pool size. */
    budget: z.number().int().min(1).max(100_000_000).optional(),
    /** Samples per proposed batch. Twice retrainEvery by default, so labeling goes on while the model retrains. */
    batchSize: z.number().int().min(1).max(10_000).default(10),
    /**
     * Retrain in the background after this many new labels. A feature model retrains in about a
     * second, so the queue follows the labels closely; a CNN needs 20 or more between retrains.
     */
    retrainEvery: z.number().int().min(1).max(100_000).default(5),
    /** The query strategy once a model exists (catalog id). */
    strategy: z.string().trim().min(1).max(60).default('Entropy'),
    /**
     * First batch with no labels: typical-cluster sampling (TypiClust) or farthest-first k-center
     * on label-free features (the model's features, or shrunk pixels for pixel models), or random.
     */
    coldStart: z.enum(['TypiClust', 'KCenter', 'Random']).default('TypiClust'),
    /**
     * 'auto': a head on `features` chosen by cross-validation on the labels (logistic regression
     * or a small MLP); 'linear': logistic regression on `features`; 'cnn' / 'mlp': trained from
     * scratch on pixels shrunk to `modelSide`, for `epochs`.
     */
    model: z.enum(['auto', 'linear', 'cnn', 'mlp']).default('auto'),
    /** Where a feature model's inputs come from (built-in descriptors by default). */
    features: FeatureSpecSchema.default({ kind: 'descriptors' }),
    epochs: z.number().int().min(1).max(200).default(15),
    /** Images are shrunk so their longer side is at most this many pixels for the model. */
    modelSide: z.number().int().min(8).max(128).default(32),
    /** Share of the labeled samples held out to estimate accuracy. */
    holdoutFraction: z.number().min(0.05).max(0.5).default(0.2),
    seed: z.number().int().min(0).max(2_147_483_647).default(1),
    /** Stopping advice (stabilising predictions): size of the fixed stop set... */
    stopSetSize: z.number().int().min(20).max(100_000).default(500),
    /** ...the Cohen's kappa between consecutive models' predictions on it that counts as stable... */
    stopKappa: z.number().min(0.5).max(1).default(0.99),
    /** ...and how many consecutive retrains must reach it. */
    stopWindow: z.number().int().min(1).max(20).default(3),
  })
  .strict();

export type ProjectSettings = z.output<typeof ProjectSettingsSchema>;
export type ProjectSettingsInput = z.input<typeof ProjectSettingsSchema>;

/** The settings a project stored (missing fields get today's defaults). */
export function readProjectSettings(raw: unknown): ProjectSettings {
  const parsed = ProjectSettingsSchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  // A stored project must stay usable: drop what no longer parses rather than fail.
  const obj = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const keep: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const one = ProjectSettingsSchema.safeParse({ [k]: v });
    if (one.success) keep[k] = v;
  }
  return ProjectSettingsSchema.parse(keep);
}

const S = ProjectSettingsSchema.shape;
/**
 * A change to a project's settings: only the fields to change, no defaults filled in (a
 * `.partial()` of the settings would fill them and so reset every field not named). `budget: null`
 * goes back to the default (the pool size).
 */
export const ProjectSettingsPatchSchema = z
  .object({
    budget: S.budget.unwrap().nullable().optional(),
    batchSize: S.batchSize.unwrap().optional(),
    retrainEvery: S.retrainEvery.unwrap().optional(),
    strategy: S.strategy.unwrap().optional(),
    coldStart: S.coldStart.unwrap().optional(),
    model: S.model.unwrap().optional(),
    features: FeatureSpecSchema.optional(),
    epochs: S.epochs.unwrap().optional(),
    modelSide: S.modelSide.unwrap().optional(),
    holdoutFraction: S.holdoutFraction.unwrap().optional(),
    seed: S.seed.unwrap().optional(),
    stopSetSize: S.stopSetSize.unwrap().optional(),
    stopKappa: S.stopKappa.unwrap().optional(),
    stopWindow: S.stopWindow.unwrap().optional(),
  })
  .strict();
export type ProjectSettingsPatch = z.output<typeof ProjectSettingsPatchSchema>;

/**
 * Catalog strategies an annotation project cannot use: they change how the model trains (a loss
 * module or a critic trained beside it), and a project's retrain is plain supervised training.
 */
export const STRATEGIES_CHANGING_TRAINING: readonly string[] = ['LPL', 'WAAL'];

/** One recorded change of a project's settings: each changed field's old and new value. */
export interface SettingsChange {
  id: number;
  changes: { field: string; from: unknown; to: unknown }[];
  changedBy: string;
  createdAt: string;
}

/** Minimum labels (over at least two classes) before the first model is trained. */
export const MIN_LABELS_TO_TRAIN = 10;
/** Minimum held-out labels before an accuracy estimate is shown. */
export const MIN_HOLDOUT = 5;

// ---------------------------------------------------------------------------------------------
// Types crossing the boundary

export type QueueMode = 'queue' | 'review' | 'second';
export type EventKind = 'label' | 'skip' | 'unsure';

export interface ProjectClass {
  /** Position in the class list; labels store it. Stable forever. */
  idx: number;
  name: string;
  /** Set when this class was merged into another (its labels count for that one). */
  mergedInto: number | null;
  /** Samples whose current label is this class (after merges). */
  count: number;
}

export interface TrainingSummary {
  id: number;
  labels: number;
  trainCount: number;
  holdoutCount: number;
  /** Accuracy on the held-out labeled subset, or null when it is too small. */
  accuracy: number | null;
  /** 95% interval of that accuracy (prediction-powered for feature models, Wilson for pixel models). */
  accuracyLow: number | null;
  accuracyHigh: number | null;
  /** Cohen's kappa between this model's and the previous model's predictions on the stop set. */
  stopKappa: number | null;
  stopSet: number;
  /**
   * Mean recall over the classes with held-out labels (shared/metrics balancedAccuracy); null
   * without an accuracy estimate, or for a retrain recorded before its confusion matrix was kept.
   */
  balancedAccuracy: number | null;
  /**
   * Per class position (as in the class list at that retrain): the held-out labels of that class
   * and the model's recall on them (null where it has none). Null when balancedAccuracy is.
   */
  perClass:
    { support: number; recall: number | null; low: number | null; high: number | null }[] | null;
  /**
   * Why no overall estimate is shown although one was computed: the names of the classes in use
   * that have no evaluation labels yet (an accuracy that cannot see a class says nothing about
   * it). Empty when the estimate stands.
   */
  withheldFor: string[];
  strategy: string;
  /**
   * The model in one sentence: for a feature model, its head and (for `auto`) the
   * cross-validated scores it was chosen by; for a CNN or MLP on pixels, its epochs.
   */
  model: string;
  trainMs: number;
  queryMs: number;
  createdAt: string;
}

export interface StoppingAdvice {
  /** true: more labels are unlikely to change the model's predictions much. */
  stop: boolean;
  rule: string;
  /** The kappas of the last retrains (newest last). */
  recent: number[];
  message: string;
}

export interface ProjectSummary {
  id: number;
  name: string;
  datasetId: number;
  datasetName: string;
  classNames: string[];
  poolSize: number;
  labeled: number;
  budget: number;
  createdAt: string;
}

export interface ProjectStatus extends ProjectSummary {
  classes: ProjectClass[];
  settings: ProjectSettings;
  /** Labels made since the last training started (toward the next retrain). */
  sinceTraining: number;
  /** `cancelled`: the latest retrain was cancelled (its model and batch were never recorded). */
  training: { running: boolean; phase: string | null; error: string | null; cancelled: boolean };
  lastTraining: TrainingSummary | null;
  trainings: TrainingSummary[];
  /** How the accuracy is estimated, in one sentence. */
  accuracyMethod: string;
  /** How the current queue was chosen, in one sentence. */
  queueMethod: string;
  stopping: StoppingAdvice;
  annotators: { name: string; labels: number; meanMs: number | null }[];
  classHistory: {
    id: number;
    classNames: string[];
    change: unknown;
    changedBy: string;
    createdAt: string;
  }[];
  /** Every settings change after creation, oldest first. */
  settingsHistory: SettingsChange[];
  unsure: number;
  disagreements: number;
  /** Classes in use with no label at all yet: the model has never seen them. */
  unseenClasses: string[];
  /** Samples the dataset's files no longer provide (deleted or unreadable since the import). */
  missing: number;
}

export interface QueueItem {
  sampleId: number;
  /** Why it is in this queue. */
  reason: 'proposed' | 'skipped' | 'unsure' | 'disagreement' | 'second';
}

export interface QueueView {
  projectId: number;
  mode: QueueMode;
  items: QueueItem[];
  /** Items in this queue in total (items may be cut to the limit). */
  total: number;
  labeled: number;
  budget: number;
  /** The batch the queue comes from, or null while the first one is being prepared. */
  batchId: number | null;
  batchStrategy: string | null;
  preparing: boolean;
}

/** An image to show: an encoded file (large photos, zoomable) or raw pixels (digits). */
export type SampleImage =
  | { kind: 'encoded'; mime: string; data: string; width: number; height: number }
  | { kind: 'raw'; width: number; height: number; channels: number; pixels: string };

export interface SampleView {
  sampleId: number;
  /** The file (relative to the dataset folder) or `split #index`. */
  path: string;
  image: SampleImage;
  /** The sample's current label in this project (anyone's latest), after merges. */
  current: { classIdx: number; annotator: string } | null;
  /** This annotator's own latest label. */
  mine: number | null;
  /** Every annotator's current label of it. */
  labels: { annotator: string; classIdx: number }[];
  /** The latest model's top guesses; only when asked for (so annotators are not biased by default). */
  guesses: { classIdx: number; p: number }[] | null;
}

export interface SubmitResult {
  eventId: number;
  labeled: number;
  retrainStarted: boolean;
}

export interface UndoResult {
  undone: { eventId: number; sampleId: number; kind: EventKind; classIdx: number | null } | null;
  labeled: number;
}

export interface AgreementView {
  pairs: {
    a: string;
    b: string;
    common: number;
    agree: number;
    /** Cohen's kappa over their common samples (null when undefined). */
    kappa: number | null;
  }[];
  /** Samples with differing labels from two or more people. */
  disagreements: {
    sampleId: number;
    labels: { annotator: string; classIdx: number }[];
    resolved: boolean;
  }[];
  /** Samples labeled by two or more people. */
  multiLabeled: number;
}

export type ExportFormat = 'csv' | 'json' | 'folders' | 'coco';

/** Which labels an export carries (see ExportOptionsSchema's `label`). */
export const EXPORT_LABELS = ['latest', 'consensus', 'all'] as const;
export type ExportLabels = (typeof EXPORT_LABELS)[number];

/** Where an export would be written, resolved before anything is written. */
export interface ExportTarget {
  /** The full path (`~` expanded), or null when the typed path is refused: `problem` says why. */
  path: string | null;
  problem: string | null;
  /** What is at that path now. */
  exists: 'file' | 'folder' | 'other' | null;
}

export interface ExportSummary {
  format: ExportFormat;
  out: string;
  files: number;
  labels: number;
  predictions: number;
  pseudo: number;
}

/** Events about annotation projects. */
export type AnnotationEvent =
  | {
      kind: 'project-training';
      projectId: number;
      phase: 'started' | 'loading' | 'training' | 'querying' | 'done' | 'failed' | 'cancelled';
      message?: string;
      done?: number;
      total?: number;
    }
  | { kind: 'project-queue'; projectId: number; batchId: number };

// ---------------------------------------------------------------------------------------------
// Schemas

const id = z.number().int().positive();
/** An annotator's name: printable, 1-60 characters. */
export const AnnotatorSchema = z
  .string({ error: 'annotator must be text' })
  .trim()
  .min(1, { error: 'choose who is labeling (an annotator name)' })
  .max(60, { error: 'annotator name is too long (60 characters at most)' })
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), {
    error: 'annotator name has control characters',
  });

export const ClassNameSchema = z
  .string({ error: 'class name must be text' })
  .trim()
  .min(1, { error: 'a class needs a name' })
  .max(100, { error: 'class name is too long (100 characters at most)' })
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), { error: 'class name has control characters' });

const pathSchema = z
  .string({ error: 'path must be text' })
  .trim()
  .min(1, { error: 'type a path' })
  .max(4096, { error: 'path is too long' });

export const ClassChangeSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('add'), name: ClassNameSchema }).strict(),
  z
    .object({ op: z.literal('rename'), classIdx: z.number().int().min(0), name: ClassNameSchema })
    .strict(),
  z
    .object({
      op: z.literal('merge'),
      from: z.number().int().min(0),
      into: z.number().int().min(0),
    })
    .strict(),
]);
export type ClassChange = z.infer<typeof ClassChangeSchema>;

export const ExportOptionsSchema = z
  .object({
    projectId: id,
    format: z.enum(['csv', 'json', 'folders', 'coco']),
    out: pathSchema,
    includePseudo: z.boolean().default(false),
    includePredictions: z.boolean().default(false),
    overwrite: z.boolean().default(false),
    /**
     * Which labels: each sample's latest (default), the Dawid-Skene consensus of its annotators
     * with its posterior (`confidence`), or every label event still in force (the history).
     */
    label: z.enum(EXPORT_LABELS).optional(),
  })
  .strict();
export type ExportOptions = z.output<typeof ExportOptionsSchema>;

const emptyArgs = z.object({}).strict().default({});
export const projectIdArgs = z.object({ projectId: id }).strict();
const createArgs = z
  .object({
    name: z.string().trim().min(1, { error: 'the project needs a name' }).max(200),
    datasetId: id,
    classNames: z.array(ClassNameSchema).max(1000).optional(),
    /** Start from the dataset's own labels (a partly labeled dataset), recorded as imported. */
    seedFromDataset: z.boolean().default(false),
    settings: ProjectSettingsSchema.optional(),
    createdBy: AnnotatorSchema,
  })
  .strict();
const classesArgs = z
  .object({ projectId: id, change: ClassChangeSchema, changedBy: AnnotatorSchema })
  .strict();
const queueArgs = z
  .object({
    projectId: id,
    annotator: AnnotatorSchema,
    mode: z.enum(['queue', 'review', 'second']).default('queue'),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();
const sampleArgs = z
  .object({
    projectId: id,
    sampleId: id,
    annotator: AnnotatorSchema,
    guesses: z.boolean().default(false),
    /**
     * Longer side of an encoded image, pixels (large photos are shrunk to it). The default is a
     * screen's size: a 4,000 px photo then decodes at half size and is sent in about 200 KB.
     */
    maxSide: z.number().int().min(16).max(8192).default(1600),
  })
  .strict();
const submitArgs = z
  .object({
    projectId: id,
    sampleId: id,
    annotator: AnnotatorSchema,
    kind: z.enum(['label', 'skip', 'unsure']),
    classIdx: z.number().int().min(0).optional(),
    durationMs: z.number().min(0).max(86_400_000).optional(),
    via: z.enum(['queue', 'review', 'second', 'browse']).default('queue'),
  })
  .strict()
  .refine((a) => (a.kind === 'label') === (a.classIdx !== undefined), {
    error: 'a label needs classIdx; skip and unsure take none',
  });
const undoArgs = z.object({ projectId: id, annotator: AnnotatorSchema }).strict();
const settingsArgs = z
  .object({ projectId: id, settings: ProjectSettingsPatchSchema, changedBy: AnnotatorSchema })
  .strict();
const exportTargetArgs = z.object({ out: pathSchema }).strict();
const chooseExportArgs = z
  .object({ projectId: id, format: z.enum(['csv', 'json', 'folders', 'coco']) })
  .strict();
const setAnnotatorArgs = z.object({ annotator: AnnotatorSchema }).strict();
const importArgs = z
  .object({
    path: pathSchema,
    name: z.string().trim().min(1).max(200).optional(),
    /** Needed for a CSV export, which does not name its dataset. */
    datasetId: id.optional(),
    createdBy: AnnotatorSchema,
  })
  .strict();

export const annotationChannels = {
  'projects:list': channel<typeof emptyArgs, ProjectSummary[]>(
    emptyArgs,
    'Annotation projects, newest first.',
  ),
  'projects:create': channel<typeof createArgs, ProjectSummary>(
    createArgs,
    'Create an annotation project over an imported dataset and prepare its first batch.',
  ),
  'projects:status': channel<typeof projectIdArgs, ProjectStatus>(
    projectIdArgs,
    'A project: classes, counts, model, estimated accuracy, stopping advice, history.',
  ),
  'projects:classes': channel<typeof classesArgs, ProjectStatus>(
    classesArgs,
    'Add, rename or merge a class; the change is kept in the class history.',
  ),
  'projects:retrain': channel<typeof projectIdArgs, { started: boolean; reason: string }>(
    projectIdArgs,
    'Retrain the model in the background now and refresh the queue.',
  ),
  'projects:settings': channel<typeof settingsArgs, ProjectStatus>(
    settingsArgs,
    "Change some of a project's settings (kept in its history); the next retrain and batch use them.",
  ),
  'projects:cancelRetrain': channel<typeof projectIdArgs, { cancelled: boolean; reason: string }>(
    projectIdArgs,
    'Cancel the running retrain; the previous model and queue stay as they were.',
  ),
  'projects:export': channel<typeof ExportOptionsSchema, ExportSummary>(
    ExportOptionsSchema,
    'Export the labeled set as CSV, JSON, class folders or COCO; never overwrites silently.',
  ),
  'projects:exportTarget': channel<typeof exportTargetArgs, ExportTarget>(
    exportTargetArgs,
    'Where an export path leads (~ expanded; a relative path refused with the reason) and what is there now. Writes nothing.',
  ),
  'projects:chooseExport': channel<
    typeof chooseExportArgs,
    { supported: boolean; path: string | null }
  >(
    chooseExportArgs,
    'Ask where to export with the native save dialog (desktop only; browser mode answers supported: false).',
  ),
  'projects:import': channel<typeof importArgs, ProjectSummary>(
    importArgs,
    'Create a project from a labeled export (JSON, COCO, CSV or class folders).',
  ),
  'labels:queue': channel<typeof queueArgs, QueueView>(
    queueArgs,
    'The next samples to label (queue), to review (unsure, disagreed), or for a second opinion.',
  ),
  'labels:sample': channel<typeof sampleArgs, SampleView>(
    sampleArgs,
    'One sample: its image, labels, and the model guesses when asked for.',
  ),
  'labels:submit': channel<typeof submitArgs, SubmitResult>(
    submitArgs,
    'Record a label, skip or unsure (committed before the answer).',
  ),
  'labels:undo': channel<typeof undoArgs, UndoResult>(
    undoArgs,
    "Undo this annotator's latest event in the project (appends an undo; nothing is deleted).",
  ),
  'labels:agreement': channel<typeof projectIdArgs, AgreementView>(
    projectIdArgs,
    'Agreement between annotators who labeled the same samples.',
  ),
  'labels:annotator': channel<typeof emptyArgs, { annotator: string | null }>(
    emptyArgs,
    'The annotator name last used on this machine (kept in the data folder), or null.',
  ),
  'labels:setAnnotator': channel<typeof setAnnotatorArgs, { annotator: string }>(
    setAnnotatorArgs,
    'Remember the annotator name for the next session.',
  ),
} as const;

/** The preload's named functions for the channels above. */
export const ANNOTATION_CAPABILITIES = {
  listProjects: 'projects:list',
  createProject: 'projects:create',
  projectStatus: 'projects:status',
  changeProjectClasses: 'projects:classes',
  retrainProject: 'projects:retrain',
  changeProjectSettings: 'projects:settings',
  cancelRetrain: 'projects:cancelRetrain',
  exportProject: 'projects:export',
  exportTarget: 'projects:exportTarget',
  chooseExportPath: 'projects:chooseExport',
  importProject: 'projects:import',
  labelQueue: 'labels:queue',
  labelSample: 'labels:sample',
  submitLabel: 'labels:submit',
  undoLabel: 'labels:undo',
  labelAgreement: 'labels:agreement',
  lastAnnotator: 'labels:annotator',
  rememberAnnotator: 'labels:setAnnotator',
} as const;
