import type { AppEvent, ErrorCode, Handlers } from '../../shared/contract.ts';
import { MIN_LABELS_FOR_SUSPECTS, type labelQualityChannels } from '../../shared/labelQuality.ts';
import { DAWID_SKENE_METHOD, projectConsensus } from '../annotation/dawidSkene.ts';
import { projectSummary, requireProject } from '../annotation/projects.ts';
import { suspectList } from '../annotation/suspects.ts';
import { classState, projectEvents } from '../store/annotation.ts';
import type { Store } from '../store/store.ts';
import { latestSuspectRun, recordSuspectReview } from '../store/suspects.ts';
import { WorkerJobError, type MlWorker } from './mlWorker.ts';

type LabelQualityChannel = keyof typeof labelQualityChannels;

export interface LabelQualityDeps {
  getStore(): Promise<Store>;
  worker: MlWorker;
  dbPath: string;
  emit(e: AppEvent): void;
  fail(code: ErrorCode, message: string): never;
}

interface Running {
  jobId: number;
  settled: Promise<'done' | 'failed' | 'cancelled'>;
}

/**
 * Suspect labels and annotator weights. Suspects are looked for in the ML worker after each
 * retrain of a project (when enough labels changed since the last time: see suspectsDue), in the
 * background, one computation per project at a time; one asked for meanwhile runs when it ends.
 * Reviews are written here, on the main connection, each in one transaction.
 */
export function createLabelQualityHandlers(deps: LabelQualityDeps): {
  handlers: Pick<Handlers, LabelQualityChannel>;
  /** Feed every app event through here: a finished retrain schedules a computation. */
  onEvent(e: AppEvent): void;
  /** Projects whose suspects are being computed now. */
  computing(): number[];
  cancelAll(): void;
  reset(): void;
} {
  const running = new Map<number, Running>();
  /** A computation asked for while one ran: true when forced. */
  const again = new Map<number, boolean>();

  function start(projectId: number, force: boolean): boolean {
    if (running.has(projectId)) {
      again.set(projectId, (again.get(projectId) ?? false) || force);
      return false;
    }
    const job = deps.worker.run({
      kind: 'annotation-suspects',
      dbPath: deps.dbPath,
      projectId,
      force,
    });
    const settled = job.done.then(
      (r) => {
        running.delete(projectId);
        deps.emit({
          kind: 'project-suspects',
          projectId,
          phase: r.runId === null ? 'skipped' : 'done',
          ...(r.runId !== null ? { runId: r.runId, flagged: r.flagged } : {}),
          ...(r.skipped ? { message: r.skipped } : {}),
        });
        next(projectId);
        return 'done' as const;
      },
      (err: unknown) => {
        running.delete(projectId);
        const cancelled = err instanceof WorkerJobError && err.code === 'cancelled';
        deps.emit({
          kind: 'project-suspects',
          projectId,
          phase: cancelled ? 'cancelled' : 'failed',
          ...(cancelled ? {} : { message: err instanceof Error ? err.message : String(err) }),
        });
        if (!cancelled) next(projectId);
        else again.delete(projectId);
        return cancelled ? ('cancelled' as const) : ('failed' as const);
      },
    );
    running.set(projectId, { jobId: job.jobId, settled });
    deps.emit({ kind: 'project-suspects', projectId, phase: 'started' });
    return true;
  }

  function next(projectId: number): void {
    const force = again.get(projectId);
    if (force === undefined) return;
    again.delete(projectId);
    start(projectId, force);
  }

  async function guarded<T>(fn: (s: Store) => T | Promise<T>): Promise<T> {
    const s = await deps.getStore();
    return fn(s);
  }

  const handlers: Pick<Handlers, LabelQualityChannel> = {
    async 'suspects:list'({ projectId, limit }) {
      return guarded((s) => {
        requireProject(s, projectId);
        return suspectList(s, projectId, { limit, computing: running.has(projectId) });
      });
    },
    async 'suspects:review'(args) {
      return guarded((s) => {
        const project = requireProject(s, args.projectId);
        const { reviewId, labelEventId } = recordSuspectReview(s, {
          projectId: args.projectId,
          sampleId: args.sampleId,
          judgedEventId: args.eventId,
          decision: args.decision,
          ...(args.classIdx !== undefined ? { classIdx: args.classIdx } : {}),
          reviewer: args.reviewer,
          durationMs: args.durationMs ?? null,
          runId: latestSuspectRun(s, args.projectId)?.id ?? null,
        });
        return { reviewId, labelEventId, labeled: projectSummary(s, project).labeled };
      });
    },
    async 'suspects:find'({ projectId }) {
      return guarded((s) => {
        const project = requireProject(s, projectId);
        const labeled = projectSummary(s, project).labeled;
        if (labeled < MIN_LABELS_FOR_SUSPECTS)
          return {
            started: false,
            reason: `Suspects need ${MIN_LABELS_FOR_SUSPECTS} labels over two classes; the project has ${labeled}.`,
          };
        const started = start(projectId, true);
        return {
          started,
          reason: started
            ? 'Looking for suspect labels in the background.'
            : 'Suspects are being looked for; another look follows when it ends.',
        };
      });
    },
    async 'suspects:cancel'({ projectId }) {
      return guarded(async (s) => {
        requireProject(s, projectId);
        const r = running.get(projectId);
        if (!r) return { cancelled: false, reason: 'Suspects are not being looked for now.' };
        again.delete(projectId);
        deps.worker.cancel(r.jobId);
        const outcome = await r.settled;
        return outcome === 'cancelled'
          ? { cancelled: true, reason: 'Stopped; the previous list of suspects stays.' }
          : { cancelled: false, reason: 'It finished before it could be stopped.' };
      });
    },
    async 'projects:annotators'({ projectId }) {
      return guarded((s) => {
        requireProject(s, projectId);
        const { classNames, merges } = classState(s, projectId);
        const c = projectConsensus(projectEvents(s, projectId), merges, classNames.length);
        return {
          projectId,
          method: DAWID_SKENE_METHOD,
          annotators: c.annotators,
          multiLabeled: c.multiLabeled,
          differsFromMajority: c.differsFromMajority,
          iterations: c.iterations,
          converged: c.converged,
        };
      });
    },
  };

  return {
    handlers,
    onEvent(e) {
      if (e.kind === 'project-training' && e.phase === 'done') start(e.projectId, false);
    },
    computing() {
      return [...running.keys()];
    },
    cancelAll() {
      again.clear();
      for (const r of running.values()) deps.worker.cancel(r.jobId);
    },
    reset() {
      again.clear();
    },
  };
}
