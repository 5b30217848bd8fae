/**
 * Annotation projects over the store, without ML: create, status, queue, submit, undo. The
 * services (app) and the CLI both call these; the ML parts (cold start, retrain) live in
 * train.ts and run in the ML worker.
 */
import {
  readProjectSettings,
  ProjectSettingsSchema,
  STRATEGIES_CHANGING_TRAINING,
  type EventKind,
  type ProjectSettingsPatch,
  type ProjectSettings,
  type ProjectSettingsInput,
  type ProjectStatus,
  type ProjectSummary,
  type QueueMode,
  type QueueView,
  type TrainingSummary,
} from '../../shared/annotation.ts';
import { balancedAccuracy, classSupport, perClassRecall } from '../../shared/metrics.ts';
import {
  classHistory,
  classState,
  datasetSamples,
  effectiveClass,
  annotatorSummary,
  labelCountsByClass,
  labeledCount,
  latestActiveEvent,
  latestBatch,
  listTrainings,
  openQueue,
  projectEvents,
  reviewCountsOf,
  settingsHistory,
  updateProjectSettings,
  type TrainingRow,
} from '../store/annotation.ts';
import type { LabelVia, ProjectRow, Store } from '../store/store.ts';
import { secondOpinionRequests } from '../store/suspects.ts';
import { buildQueue } from './queue.ts';
import { stoppingAdvice, wilson } from './stopping.ts';

/** Annotator name on labels that came with the dataset (class folders) when a project starts from them. */
export const DATASET_ANNOTATOR = 'dataset';

export const ACCURACY_METHOD = (fraction: number, featureModel = false): string =>
  `Accuracy on the evaluation labels: ${Math.round(fraction * 100)}% of the pool is set aside at random (by a hash of each sample's id) and mixed into every batch at that share, never chosen by the strategy, so these labels are a fair sample of the pool. ${featureModel ? "The model that guesses and proposes the queue learns from every label; every label is also guessed by a model fitted on the others (out of fold), so the evaluation labels measure a model like it. The figure shown is for the images not yet labeled, predicted from the model's own confidence on each of them and corrected by how far that confidence was off on the evaluation labels (prediction-powered inference, Angelopoulos et al. 2023); the labeled images' out-of-fold results are taken out of the pool's (the strategy took the hard ones, so the rest is easier). 95% interval by Student's t on that correction; no overall figure while a class has no evaluation label." : 'They measure a model trained on the other labels, which also guesses and proposes the queue. 95% Wilson interval; no overall figure while a class has no evaluation label.'}`;

export const COLD_START_METHOD =
  'Cold start: greedy k-center (farthest-first) on label-free features, each image shrunk to 8x8 pixels per channel (area average) and standardised, so the first batch covers the look of the whole pool.';

export class ProjectInputError extends Error {
  override name = 'ProjectInputError';
}

export interface CreateProjectInput {
  name: string;
  datasetId: number;
  classNames?: string[];
  seedFromDataset?: boolean;
  settings?: ProjectSettingsInput;
  createdBy: string;
}

/** Create a project; with seedFromDataset the dataset's own labels become its first labels. */
export function createAnnotationProject(store: Store, p: CreateProjectInput): number {
  const dataset = store.getDataset(p.datasetId);
  if (!dataset || dataset.status !== 'complete') {
    throw new ProjectInputError(`There is no imported dataset ${p.datasetId}; import it first.`);
  }
  if (dataset.sampleShape.length !== 3) {
    throw new ProjectInputError(
      `Dataset "${dataset.name}" holds feature vectors (shape ${dataset.sampleShape.join('x')}), not images; annotation projects label images.`,
    );
  }
  const classNames = p.classNames && p.classNames.length > 0 ? p.classNames : dataset.classNames;
  if (classNames.length === 0) {
    throw new ProjectInputError(
      `Dataset "${dataset.name}" has no classes (an unlabeled folder): list the classes to label with.`,
    );
  }
  const parsed = ProjectSettingsSchema.safeParse(p.settings ?? {});
  if (!parsed.success) {
    throw new ProjectInputError(
      `Project settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  // Only what the person chose: a default (a batch of 40) never refuses a small pool.
  checkSettingsFit(
    parsed.data,
    { poolSize: dataset.counts.train + dataset.counts.test + dataset.counts.unlabeled, labeled: 0 },
    Object.keys(p.settings ?? {}),
  );
  return store.inTransaction(() => {
    const id = store.createProject({
      name: p.name,
      datasetId: p.datasetId,
      classNames,
      settings: parsed.data,
      createdBy: p.createdBy,
    });
    if (p.seedFromDataset) {
      // Map the dataset's classes onto the project's by name; a class the project does not
      // have is refused rather than guessed.
      const map = dataset.classNames.map((n) => classNames.indexOf(n));
      const events = [];
      for (const s of datasetSamples(store, p.datasetId)) {
        if (s.groundTruth === null) continue;
        const c = map[s.groundTruth] ?? -1;
        if (c < 0) {
          throw new ProjectInputError(
            `The dataset's class "${dataset.classNames[s.groundTruth]}" is not in the project's class list; add it or do not start from the dataset's labels.`,
          );
        }
        events.push({
          sampleId: s.id,
          classIdx: c,
          annotator: DATASET_ANNOTATOR,
          projectId: id,
          via: 'import' as const,
        });
      }
      store.appendLabelEvents(events);
    }
    return id;
  });
}

/**
 * Refuse settings that cannot work for this project, with the reason: a batch or budget larger
 * than the pool, a budget below the labels already made, a strategy that changes how the model
 * trains, or (when the catalog is given) a strategy it does not have. Only `fields` are checked
 * (default: all), so a value the person did not touch never blocks a change to another.
 */
export function checkSettingsFit(
  settings: ProjectSettings,
  project: { poolSize: number; labeled: number; strategies?: readonly string[] },
  fields?: Iterable<string>,
): void {
  const { poolSize, labeled, strategies } = project;
  const only = fields ? new Set(fields) : null;
  const check = (field: keyof ProjectSettings) => only === null || only.has(field);
  if (check('batchSize') && settings.batchSize > poolSize) {
    throw new ProjectInputError(
      `Project settings: a batch of ${settings.batchSize} is larger than the pool of ${poolSize} images; choose at most ${poolSize}.`,
    );
  }
  if (check('budget') && settings.budget !== undefined && settings.budget > poolSize) {
    throw new ProjectInputError(
      `Project settings: a budget of ${settings.budget} labels is more than the ${poolSize} images in the pool.`,
    );
  }
  if (check('budget') && settings.budget !== undefined && settings.budget < labeled) {
    throw new ProjectInputError(
      `Project settings: a budget of ${settings.budget} labels is below the ${labeled} already made; choose at least ${labeled}.`,
    );
  }
  if (check('strategy') && STRATEGIES_CHANGING_TRAINING.includes(settings.strategy)) {
    throw new ProjectInputError(
      `Project settings: strategy ${settings.strategy} changes how the model trains, which annotation projects do not support; choose another strategy (Entropy, Margin, BADGE, ...).`,
    );
  }
  if (check('strategy') && strategies && !strategies.includes(settings.strategy)) {
    throw new ProjectInputError(
      `Project settings: there is no strategy "${settings.strategy}"; choose one of ${strategies.filter((s) => !STRATEGIES_CHANGING_TRAINING.includes(s)).join(', ')}.`,
    );
  }
}

/** Settings that fix which labels are held out and the stop set, so they never change. */
const FIXED_SETTINGS = {
  seed: 'the seed fixes which labels are held out for the accuracy estimate and the stop set',
  holdoutFraction:
    'the held-out share fixes which labels estimate the accuracy, so later estimates would not compare with earlier ones',
} as const;

/**
 * Change some of a project's settings: merge the change into the stored settings, validate the
 * whole result, refuse combinations that cannot work, and record who changed what (in one
 * transaction). The next retrain, batch and retrain trigger read the new settings. Returns the
 * recorded change, or null when nothing changed.
 */
export function changeProjectSettings(
  store: Store,
  projectId: number,
  patch: ProjectSettingsPatch,
  changedBy: string,
  opts: { strategies?: readonly string[] } = {},
): ReturnType<typeof settingsHistory>[number] | null {
  const project = requireProject(store, projectId);
  const fields = Object.keys(patch) as (keyof ProjectSettingsPatch)[];
  if (fields.length === 0) throw new ProjectInputError('Project settings: nothing to change.');
  const summary = projectSummary(store, project);
  return updateProjectSettings(
    store,
    projectId,
    (current) => {
      for (const [field, why] of Object.entries(FIXED_SETTINGS)) {
        const to = patch[field as keyof typeof FIXED_SETTINGS];
        if (to !== undefined && to !== current[field as keyof typeof FIXED_SETTINGS]) {
          throw new ProjectInputError(
            `Project settings: ${field} cannot change after the project is created (${why}); create a new project for another ${field}.`,
          );
        }
      }
      const merged: Record<string, unknown> = { ...current, ...patch };
      if (patch.budget === null) delete merged.budget;
      const parsed = ProjectSettingsSchema.safeParse(merged);
      if (!parsed.success) {
        throw new ProjectInputError(
          `Project settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      }
      checkSettingsFit(
        parsed.data,
        {
          poolSize: summary.poolSize,
          labeled: summary.labeled,
          ...(opts.strategies ? { strategies: opts.strategies } : {}),
        },
        fields.filter((f) => JSON.stringify(patch[f]) !== JSON.stringify(current[f])),
      );
      return parsed.data;
    },
    changedBy,
    readProjectSettings,
  ).change;
}

export function requireProject(store: Store, projectId: number): ProjectRow {
  const project = store.getProject(projectId);
  if (!project) throw new ProjectInputError(`There is no project ${projectId} in this workspace.`);
  return project;
}

function poolSize(store: Store, datasetId: number): number {
  const d = store.getDataset(datasetId);
  return d ? d.counts.train + d.counts.test + d.counts.unlabeled : 0;
}

export function projectSummary(store: Store, project: ProjectRow): ProjectSummary {
  const settings = readProjectSettings(project.settings);
  const pool = poolSize(store, project.datasetId);
  return {
    id: project.id,
    name: project.name,
    datasetId: project.datasetId,
    datasetName: store.getDataset(project.datasetId)?.name ?? `dataset ${project.datasetId}`,
    classNames: project.classNames,
    poolSize: pool,
    labeled: labeledCount(store, project.id),
    budget: settings.budget ?? pool,
    createdAt: project.createdAt,
  };
}

/** Balanced accuracy and per-class recall from a retrain's held-out confusion matrix, if any. */
function heldOutPerClass(
  confusion: unknown,
): Pick<TrainingSummary, 'balancedAccuracy' | 'perClass'> {
  try {
    const m = confusion as number[][];
    const support = classSupport(m);
    const recall = perClassRecall(m);
    return {
      balancedAccuracy: balancedAccuracy(m),
      perClass: support.map((n, c) => {
        const w = n > 0 ? wilson(m[c]![c]!, n) : null;
        return { support: n, recall: recall[c]!, low: w?.low ?? null, high: w?.high ?? null };
      }),
    };
  } catch {
    // Absent (recorded before it was kept, or no held-out labels) or not a matrix of counts.
    return { balancedAccuracy: null, perClass: null };
  }
}

/**
 * A retrain as the Project tab shows it. `active`: the classes in use now; an overall estimate is
 * withheld while any of them has no evaluation label in the retrain's held-out set.
 */
export function trainingSummary(
  t: TrainingRow,
  active: readonly { idx: number; name: string }[] = [],
): TrainingSummary {
  const per = heldOutPerClass(t.details.confusion);
  const withheldFor =
    t.accuracy !== null && per.perClass
      ? active.filter((c) => (per.perClass![c.idx]?.support ?? 0) === 0).map((c) => c.name)
      : [];
  return {
    id: t.id,
    labels: t.labels,
    trainCount: t.trainCount,
    holdoutCount: t.holdoutCount,
    accuracy: t.accuracy,
    accuracyLow: t.accuracyLow,
    accuracyHigh: t.accuracyHigh,
    stopKappa: t.stopKappa,
    stopSet: t.stopSet,
    ...per,
    withheldFor,
    strategy: typeof t.details.strategy === 'string' ? t.details.strategy : '',
    model: describeModel(t.details),
    trainMs: t.trainMs,
    queryMs: t.queryMs,
    createdAt: t.createdAt,
  };
}

/** One sentence about the model a retrain recorded (see runProjectTraining's details). */
export function describeModel(details: Record<string, unknown>): string {
  const model = typeof details.model === 'string' ? details.model : 'cnn';
  if (typeof details.head === 'string') {
    const on = typeof details.features === 'string' ? ` on ${details.features}` : '';
    const auto = details.auto as
      | { folds: number; scores: { id: string; balancedAccuracy: number }[]; note?: string }
      | undefined;
    if (model !== 'auto') return `Logistic regression${on}.`;
    if (!auto) return `auto: ${details.head}${on} (kept from the last cross-validation).`;
    if (auto.scores.length === 0)
      return `auto: ${details.head}${on} (${auto.note ?? 'no cross-validation'}).`;
    const scores = auto.scores
      .map((s) => `${s.id} ${(s.balancedAccuracy * 100).toFixed(1)}%`)
      .join(', ');
    return `auto: ${details.head}${on}, chosen by ${auto.folds}-fold cross-validation on the training labels (balanced accuracy: ${scores}).`;
  }
  const epochs = typeof details.epochs === 'number' ? `, ${details.epochs} epochs` : '';
  return `${model === 'mlp' ? 'MLP' : 'Small CNN'} trained from scratch on pixels${epochs}.`;
}

/** Labels counted toward the next retrain: those made since the last training's snapshot. */
export function labelsSinceTraining(store: Store, projectId: number): number {
  const trainings = listTrainings(store, projectId);
  const last = trainings[trainings.length - 1];
  return Math.max(0, labeledCount(store, projectId) - (last?.labels ?? 0));
}

export function projectStatus(
  store: Store,
  projectId: number,
  training: ProjectStatus['training'],
  missing = 0,
): ProjectStatus {
  const project = requireProject(store, projectId);
  const settings: ProjectSettings = readProjectSettings(project.settings);
  const summary = projectSummary(store, project);
  const { classNames, merges } = classState(store, projectId);
  // Counts kept by the store (migration 006), not a replay of the event log.
  const counts = new Array<number>(classNames.length).fill(0);
  for (const [c, n] of labelCountsByClass(store, projectId)) {
    const k = effectiveClass(merges, c);
    counts[k] = (counts[k] ?? 0) + n;
  }
  const active = classNames.map((name, idx) => ({ idx, name })).filter((c) => !merges.has(c.idx));
  const trainings = listTrainings(store, projectId).map((t) => trainingSummary(t, active));
  const last = trainings[trainings.length - 1] ?? null;
  const unseenClasses = active.filter((c) => (counts[c.idx] ?? 0) === 0).map((c) => c.name);
  const batch = latestBatch(store, projectId);
  const stopSet = last?.stopSet || Math.min(settings.stopSetSize, summary.poolSize);
  const { unsure, disagreements } = reviewCountsOf(store, projectId, merges);
  return {
    ...summary,
    classes: classNames.map((name, idx) => ({
      idx,
      name,
      mergedInto: merges.get(idx) ?? null,
      count: counts[idx] ?? 0,
    })),
    settings,
    sinceTraining: Math.max(0, summary.labeled - (last?.labels ?? 0)),
    training,
    lastTraining: last,
    trainings,
    accuracyMethod: ACCURACY_METHOD(
      settings.holdoutFraction,
      settings.model === 'auto' || settings.model === 'linear',
    ),
    queueMethod: !batch
      ? 'The first batch is being prepared.'
      : batch.trainingId === null
        ? batch.note || COLD_START_METHOD
        : batch.note ||
          `Proposed by ${batch.strategy} on the model retrained with ${trainings.find((t) => t.id === batch.trainingId)?.trainCount ?? '?'} labels.`,
    stopping: stoppingAdvice(
      trainings.map((t) => t.stopKappa),
      { threshold: settings.stopKappa, window: settings.stopWindow, stopSet },
      {
        unseen: unseenClasses,
        withheldFor: last?.withheldFor ?? [],
        accuracy: last?.accuracy ?? null,
        low: last?.accuracyLow ?? null,
        high: last?.accuracyHigh ?? null,
        evaluated: last?.holdoutCount ?? 0,
      },
    ),
    annotators: annotatorSummary(store, projectId),
    classHistory: classHistory(store, projectId).map((h) => ({
      id: h.id,
      classNames: h.classNames,
      change: h.change,
      changedBy: h.changedBy,
      createdAt: h.createdAt,
    })),
    settingsHistory: settingsHistory(store, projectId),
    unsure,
    disagreements,
    unseenClasses,
    missing,
  };
}

export function queueView(
  store: Store,
  args: { projectId: number; annotator: string; mode: QueueMode; limit: number },
  preparing: boolean,
): QueueView {
  const project = requireProject(store, args.projectId);
  const summary = projectSummary(store, project);
  const batch = latestBatch(store, args.projectId);
  // The labeling queue is kept by the store (migration 006, buildQueue's queue-mode rule), so it
  // is not rebuilt from every event; the review and second-opinion queues replay the log.
  const kept =
    args.mode === 'queue' ? openQueue(store, args.projectId, args.annotator, args.limit) : null;
  const items = buildQueue({
    mode: args.mode,
    annotator: args.annotator,
    batches: [],
    events: kept ? [] : projectEvents(store, args.projectId),
    merges: classState(store, args.projectId).merges,
    ...(args.mode === 'second' ? { requested: secondOpinionRequests(store, args.projectId) } : {}),
  });
  return {
    projectId: args.projectId,
    mode: args.mode,
    items: kept ? kept.items : items.slice(0, args.limit),
    total: kept ? kept.total : items.length,
    labeled: summary.labeled,
    budget: summary.budget,
    batchId: batch?.id ?? null,
    batchStrategy: batch?.strategy ?? null,
    preparing,
  };
}

export interface SubmitInput {
  projectId: number;
  sampleId: number;
  annotator: string;
  kind: EventKind;
  classIdx?: number | undefined;
  durationMs?: number | undefined;
  via: LabelVia;
}

/** Record one label, skip or unsure; committed (its own transaction) when this returns. */
export function submitEvent(store: Store, e: SubmitInput): number {
  const project = requireProject(store, e.projectId);
  if (e.kind === 'label') {
    const { classNames, merges } = classState(store, e.projectId);
    const c = e.classIdx ?? -1;
    if (!(c >= 0 && c < classNames.length)) {
      throw new ProjectInputError(
        `Class ${c} is not a class of project "${project.name}" (0..${classNames.length - 1}).`,
      );
    }
    if (merges.has(c)) {
      throw new ProjectInputError(
        `Class "${classNames[c]}" was merged into "${classNames[merges.get(c)!]}"; label with that one.`,
      );
    }
  }
  const sample = store.prepared('SELECT dataset_id FROM samples WHERE id = ?').get(e.sampleId) as
    { dataset_id: number } | undefined;
  if (!sample || sample.dataset_id !== project.datasetId) {
    throw new ProjectInputError(`Sample ${e.sampleId} is not in project "${project.name}".`);
  }
  return store.appendLabelEvent({
    sampleId: e.sampleId,
    kind: e.kind,
    classIdx: e.kind === 'label' ? e.classIdx! : null,
    annotator: e.annotator,
    projectId: e.projectId,
    durationMs: e.durationMs ?? null,
    via: e.via,
  });
}

/** Undo the annotator's latest event still in force (appends an undo event). */
export function undoLatest(
  store: Store,
  projectId: number,
  annotator: string,
): { eventId: number; sampleId: number; kind: EventKind; classIdx: number | null } | null {
  requireProject(store, projectId);
  const target = latestActiveEvent(store, projectId, annotator);
  if (!target || target.kind === 'undo') return null;
  store.undoLabelEvent(target.id, annotator);
  return {
    eventId: target.id,
    sampleId: target.sampleId,
    kind: target.kind,
    classIdx: target.classIdx,
  };
}
