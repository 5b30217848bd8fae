import { dirname, join } from 'node:path';
import type { ErrorCode, Handlers, AppEvent } from '../../shared/contract.ts';
import type { annotationChannels, ProjectStatus } from '../../shared/annotation.ts';
import { readProjectSettings } from '../../shared/annotation.ts';
import {
  classState,
  listTrainings,
  projectEvents,
  predictionFor,
  sampleById,
} from '../store/annotation.ts';
import type { ProjectEvent } from '../store/annotation.ts';
import type { Store } from '../store/store.ts';
import { ExportError, exportProject, exportTarget, safeName } from '../annotation/exporter.ts';
import { readPreferences, writePreferences } from '../annotation/preferences.ts';
import { encodeFile, sampleFile } from '../annotation/images.ts';
import { importExport } from '../annotation/importer.ts';
import {
  changeProjectSettings,
  createAnnotationProject,
  ProjectInputError,
  projectStatus,
  projectSummary,
  queueView,
  requireProject,
  submitEvent,
  undoLatest,
} from '../annotation/projects.ts';
import { agreement, sampleStates } from '../annotation/queue.ts';
import { effectiveClass } from '../store/annotation.ts';
import type { MlWorker } from './mlWorker.ts';
import { relativePathProblem } from './paths.ts';
import { WorkerJobError } from './mlWorker.ts';

type AnnotationChannel = keyof typeof annotationChannels;

/** What the native save dialog is asked (Electron's SaveDialogOptions, the part used). */
export interface SavePathRequest {
  title: string;
  defaultPath: string;
  filters: { name: string; extensions: string[] }[];
}

export interface AnnotationDeps {
  getStore(): Promise<Store>;
  worker: MlWorker;
  dbPath: string;
  emit(e: AppEvent): void;
  /** Throw the services' coded error. */
  fail(code: ErrorCode, message: string): never;
  /** What `~` in an export path names: the person's home folder (injected in tests). */
  home: string;
  /** The native save dialog (desktop only). */
  chooseSavePath?: (request: SavePathRequest) => Promise<string | null>;
}

interface TrainingState {
  jobId: number;
  phase: string;
  /** Settles once the job has ended and its outcome is recorded here. */
  settled: Promise<'done' | 'failed' | 'cancelled'>;
}

/**
 * The annotation channels. Labels are written here, on the main connection, one transaction per
 * event, before the answer goes back; retrains run in the ML worker (its own connection), so
 * labeling never waits for the model. One retrain per project at a time: one asked for while
 * another runs starts when it ends.
 */
export function createAnnotationHandlers(deps: AnnotationDeps): {
  handlers: Pick<Handlers, AnnotationChannel>;
  cancelAll(): void;
  /** Projects with a retrain running now. */
  retraining(): number[];
  /** Forget what was remembered about the database (after a restore replaced it). */
  reset(): void;
} {
  const running = new Map<number, TrainingState>();
  const again = new Set<number>();
  const lastError = new Map<number, string>();
  /** Projects whose latest retrain was cancelled (cleared when the next one starts). */
  const cancelled = new Set<number>();
  const missing = new Map<number, number>();
  /** Labeled count when the project's last retrain started (for "every N new labels"). */
  const startedAt = new Map<number, number>();
  /** Labeled count when an empty queue last asked for a batch, so it asks once per state. */
  const emptyAt = new Map<number, number>();

  async function guard<T>(fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ProjectInputError || err instanceof ExportError)
        deps.fail('invalid-argument', err.message);
      if (err instanceof WorkerJobError) throw err;
      throw err;
    }
  }

  function trainingState(projectId: number): ProjectStatus['training'] {
    const r = running.get(projectId);
    return {
      running: !!r,
      phase: r?.phase ?? null,
      error: lastError.get(projectId) ?? null,
      cancelled: cancelled.has(projectId),
    };
  }

  function startTraining(store: Store, projectId: number): boolean {
    if (running.has(projectId)) {
      again.add(projectId);
      return false;
    }
    startedAt.set(projectId, projectSummary(store, requireProject(store, projectId)).labeled);
    const job = deps.worker.run(
      { kind: 'annotation-train', dbPath: deps.dbPath, projectId },
      (p) => {
        if (!('stage' in p)) return;
        const state = running.get(projectId);
        if (state) state.phase = p.stage;
        deps.emit({
          kind: 'project-training',
          projectId,
          phase: p.stage,
          done: p.done,
          total: p.total,
        });
      },
    );
    const settled = job.done.then(
      (r) => {
        running.delete(projectId);
        missing.set(projectId, r.missing);
        deps.emit({ kind: 'project-queue', projectId, batchId: r.batchId });
        deps.emit({ kind: 'project-training', projectId, phase: 'done' });
        void followUp(projectId);
        return 'done' as const;
      },
      (err: unknown) => {
        running.delete(projectId);
        again.delete(projectId);
        // Cancelled before anything was recorded: the previous model and queue stand, and the
        // project says "cancelled", never "done" or "failed".
        if (err instanceof WorkerJobError && err.code === 'cancelled') {
          cancelled.add(projectId);
          deps.emit({ kind: 'project-training', projectId, phase: 'cancelled' });
          return 'cancelled' as const;
        }
        const message = err instanceof Error ? err.message : String(err);
        lastError.set(projectId, message);
        deps.emit({ kind: 'project-training', projectId, phase: 'failed', message });
        return 'failed' as const;
      },
    );
    running.set(projectId, { jobId: job.jobId, phase: 'started', settled });
    lastError.delete(projectId);
    cancelled.delete(projectId);
    deps.emit({ kind: 'project-training', projectId, phase: 'started' });
    return true;
  }

  /** After a retrain: run the one asked for meanwhile, or the next due by label count. */
  async function followUp(projectId: number): Promise<void> {
    try {
      const store = await deps.getStore();
      if (again.delete(projectId) || due(store, projectId)) startTraining(store, projectId);
    } catch {
      // Shutting down.
    }
  }

  function due(store: Store, projectId: number): boolean {
    const project = store.getProject(projectId);
    if (!project) return false;
    const settings = readProjectSettings(project.settings);
    const labeled = projectSummary(store, project).labeled;
    const last = startedAt.get(projectId) ?? listTrainings(store, projectId).at(-1)?.labels ?? 0;
    return labeled - last >= settings.retrainEvery;
  }

  const toProjectEvent = (e: ReturnType<Store['labelHistory']>[number]): ProjectEvent => ({
    id: e.id,
    sampleId: e.sampleId,
    kind: e.kind,
    classIdx: e.classIdx,
    undoesEventId: e.undoesEventId,
    annotator: e.annotator,
    source: e.source,
    via: e.via,
    durationMs: e.durationMs,
    createdAt: e.createdAt,
    undoneBy: e.undoneBy,
  });

  const handlers: Pick<Handlers, AnnotationChannel> = {
    async 'projects:list'() {
      const s = await deps.getStore();
      return s
        .listProjects()
        .map((p) => projectSummary(s, p))
        .reverse();
    },
    async 'projects:create'(args) {
      return guard(async () => {
        const s = await deps.getStore();
        const id = createAnnotationProject(s, args);
        startTraining(s, id);
        return projectSummary(s, requireProject(s, id));
      });
    },
    async 'projects:status'({ projectId }) {
      return guard(async () => {
        const s = await deps.getStore();
        return projectStatus(s, projectId, trainingState(projectId), missing.get(projectId) ?? 0);
      });
    },
    async 'projects:classes'({ projectId, change, changedBy }) {
      return guard(async () => {
        const s = await deps.getStore();
        requireProject(s, projectId);
        const { changeClasses } = await import('../store/annotation.ts');
        try {
          changeClasses(s, projectId, change, changedBy);
        } catch (err) {
          throw new ProjectInputError(err instanceof Error ? err.message : String(err));
        }
        return projectStatus(s, projectId, trainingState(projectId), missing.get(projectId) ?? 0);
      });
    },
    async 'projects:retrain'({ projectId }) {
      return guard(async () => {
        const s = await deps.getStore();
        requireProject(s, projectId);
        const started = startTraining(s, projectId);
        return {
          started,
          reason: started
            ? 'Retraining in the background; keep labeling.'
            : 'A retrain is running; another starts when it ends.',
        };
      });
    },
    async 'projects:settings'({ projectId, settings, changedBy }) {
      return guard(async () => {
        const s = await deps.getStore();
        requireProject(s, projectId);
        // The catalog lives in the ML worker (it loads TensorFlow.js); ask it only when needed.
        const strategies =
          settings.strategy === undefined
            ? undefined
            : (await deps.worker.run({ kind: 'strategies' }).done).map((x) => x.id);
        changeProjectSettings(s, projectId, settings, changedBy, strategies ? { strategies } : {});
        return projectStatus(s, projectId, trainingState(projectId), missing.get(projectId) ?? 0);
      });
    },
    async 'projects:cancelRetrain'({ projectId }) {
      return guard(async () => {
        requireProject(await deps.getStore(), projectId);
        const r = running.get(projectId);
        if (!r) return { cancelled: false, reason: 'No retrain is running.' };
        again.delete(projectId);
        deps.worker.cancel(r.jobId);
        // The worker stops between batches; answer with what actually happened.
        const outcome = await r.settled;
        return outcome === 'cancelled'
          ? {
              cancelled: true,
              reason: 'Retrain cancelled; the previous model and queue are kept.',
            }
          : outcome === 'done'
            ? {
                cancelled: false,
                reason: 'The retrain finished before it could be cancelled; its model is in use.',
              }
            : {
                cancelled: false,
                reason: `The retrain failed before it could be cancelled: ${lastError.get(projectId) ?? ''}`,
              };
      });
    },
    async 'projects:export'(args) {
      // `~` is the home folder; a relative path is refused with the full path it may have meant.
      return guard(async () => exportProject(await deps.getStore(), args, { home: deps.home }));
    },
    async 'projects:exportTarget'({ out }) {
      return exportTarget(out, { home: deps.home });
    },
    async 'projects:chooseExport'({ projectId, format }) {
      const choose = deps.chooseSavePath;
      if (!choose) return { supported: false, path: null };
      return guard(async () => {
        const project = requireProject(await deps.getStore(), projectId);
        const base = `${safeName(project.name)}-labels`;
        const ext = format === 'csv' ? 'csv' : format === 'folders' ? null : 'json';
        const path = await choose({
          title:
            format === 'folders'
              ? 'Name a new folder for the export (one sub-folder per class)'
              : `Export the labels as ${format.toUpperCase()}`,
          defaultPath: join(deps.home, ext ? `${base}.${ext}` : base),
          filters: ext ? [{ name: format.toUpperCase(), extensions: [ext] }] : [],
        });
        return { supported: true, path };
      });
    },
    async 'projects:import'(args) {
      const relative = relativePathProblem(args.path, 'The path to import');
      if (relative) deps.fail('invalid-argument', relative);
      return guard(async () => {
        const s = await deps.getStore();
        const id = await importExport(s, args, async (path) => {
          const { datasetId } = await deps.worker.run({ kind: 'import', dbPath: deps.dbPath, path })
            .done;
          return datasetId;
        });
        startTraining(s, id);
        return projectSummary(s, requireProject(s, id));
      });
    },
    async 'labels:annotator'() {
      return readPreferences(dirname(deps.dbPath));
    },
    async 'labels:setAnnotator'({ annotator }) {
      const dir = dirname(deps.dbPath);
      try {
        await writePreferences(dir, { ...(await readPreferences(dir)), annotator });
      } catch (err) {
        deps.fail(
          'failed',
          `Could not remember the annotator name in ${dir}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      return { annotator };
    },
    async 'labels:queue'(args) {
      return guard(async () => {
        const s = await deps.getStore();
        const view = queueView(s, args, running.has(args.projectId));
        // No batch yet, or the queue ran dry: ask the worker for one (once per labeled count),
        // unless the person just cancelled that retrain.
        if (
          args.mode === 'queue' &&
          view.total === 0 &&
          !running.has(args.projectId) &&
          !cancelled.has(args.projectId)
        ) {
          const unlabeledLeft =
            view.labeled < projectSummary(s, requireProject(s, args.projectId)).poolSize;
          if (unlabeledLeft && emptyAt.get(args.projectId) !== view.labeled) {
            emptyAt.set(args.projectId, view.labeled);
            startTraining(s, args.projectId);
            return { ...view, preparing: true };
          }
        }
        return view;
      });
    },
    async 'labels:sample'({ projectId, sampleId, annotator, guesses, maxSide }) {
      return guard(async () => {
        const s = await deps.getStore();
        const project = requireProject(s, projectId);
        const sample = sampleById(s, sampleId);
        if (!sample || sample.datasetId !== project.datasetId)
          throw new ProjectInputError(`Sample ${sampleId} is not in project "${project.name}".`);
        const dataset = s.getDataset(project.datasetId)!;
        const image =
          dataset.format === 'image-folder' && sample.sourcePath !== null
            ? await encodeFile(await sampleFile(dataset.source, sample.sourcePath), maxSide)
            : {
                kind: 'raw' as const,
                ...(await deps.worker.run({
                  kind: 'annotation-pixels',
                  dbPath: deps.dbPath,
                  sampleId,
                }).done),
              };
        const { merges } = classState(s, projectId);
        const events = s
          .labelHistory(sampleId)
          .filter((e) => e.projectId === projectId)
          .map(toProjectEvent);
        const state = sampleStates(events).get(sampleId);
        const cls = (c: number) => effectiveClass(merges, c);
        const pred = guesses ? predictionFor(s, projectId, sampleId) : undefined;
        return {
          sampleId,
          path: sample.sourcePath ?? `${sample.split} #${sample.idx}`,
          image,
          current: state?.current
            ? { classIdx: cls(state.current.classIdx!), annotator: state.current.annotator }
            : null,
          mine: state?.byAnnotator.has(annotator)
            ? cls(state.byAnnotator.get(annotator)!.classIdx!)
            : null,
          labels: state
            ? [...state.byAnnotator.entries()].map(([a, e]) => ({
                annotator: a,
                classIdx: cls(e.classIdx!),
              }))
            : [],
          guesses: guesses ? (pred?.top.map(([c, p]) => ({ classIdx: cls(c), p })) ?? []) : null,
        };
      });
    },
    async 'labels:submit'(args) {
      return guard(async () => {
        const s = await deps.getStore();
        const eventId = submitEvent(s, args);
        const labeled = projectSummary(s, requireProject(s, args.projectId)).labeled;
        const retrainStarted =
          args.kind === 'label' && !running.has(args.projectId) && due(s, args.projectId)
            ? startTraining(s, args.projectId)
            : false;
        return { eventId, labeled, retrainStarted };
      });
    },
    async 'labels:undo'({ projectId, annotator }) {
      return guard(async () => {
        const s = await deps.getStore();
        const undone = undoLatest(s, projectId, annotator);
        return { undone, labeled: projectSummary(s, requireProject(s, projectId)).labeled };
      });
    },
    async 'labels:agreement'({ projectId }) {
      return guard(async () => {
        const s = await deps.getStore();
        requireProject(s, projectId);
        return agreement(projectEvents(s, projectId), classState(s, projectId).merges);
      });
    },
  };

  return {
    handlers,
    cancelAll() {
      for (const r of running.values()) deps.worker.cancel(r.jobId);
    },
    retraining() {
      return [...running.keys()];
    },
    reset() {
      for (const m of [again, lastError, cancelled, missing, startedAt, emptyAt]) m.clear();
    },
  };
}
