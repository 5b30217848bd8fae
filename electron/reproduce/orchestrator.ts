/**
 * Runs a reproduction plan study by study: one SQLite database per study (`<dbDir>/<key>.db`),
 * each resumed where it stopped (the study engine never repeats a recorded round, also after
 * kill -9), and its report files written to `<outDir>/<key>/` after it finishes or stops, so the
 * publisher always has the latest state (partial reports say so: their runs are not complete).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildReport, type RoundModel, type StudyReport } from '../../shared/report.ts';
import { roundCount, StudyConfigSchema, type StudyConfigInput } from '../../shared/study.ts';
import type { BackendChoice } from '../ml/backend.ts';
import { openStore, type Store } from '../store/store.ts';
import { createStudy, runStudy, StudyCancelled, type StudyEvent } from '../study/engine.ts';
import { writeStudyOutputs } from '../study/output.ts';
import {
  committedRuns,
  comparableSettings,
  describeOutdated,
  importCommittedRuns,
  readStudyReport,
  withStrategyVersions,
} from './committed.ts';
import { lockStudy } from './lock.ts';
import type { PlannedStudy } from './plan.ts';
import {
  dropOutdatedRuns,
  isCurrentInDb,
  readDbVersions,
  removeDatabase,
  writeDbVersions,
} from './versions.ts';

export type OrchestratorEvent =
  | { type: 'study-start'; key: string; index: number; count: number; resumed: boolean }
  | { type: 'carried-over'; key: string; runs: number; from: string }
  | { type: 'committed-ignored'; key: string; reason: string }
  | { type: 'committed-outdated'; key: string; from: string; strategies: string }
  | {
      type: 'database-rebuilt';
      key: string;
      strategies: string;
      kept: number;
      superseded: string;
    }
  | { type: 'study-end'; key: string; status: 'done' | 'cancelled' | 'failed'; out: string }
  | { type: 'engine'; key: string; event: StudyEvent };

export interface RunPlanOptions {
  dbDir: string;
  outDir: string;
  /**
   * Delete each selected study's database first, and train every run again instead of carrying
   * over the complete runs of its committed report.
   */
  fromScratch?: boolean;
  backend?: BackendChoice;
  signal?: AbortSignal;
  onEvent?: (e: OrchestratorEvent) => void;
  /**
   * More report folders (other machines' `--out`) whose complete runs are carried over too, as
   * those of `outDir`'s committed reports are.
   */
  carryFrom?: readonly string[];
  /** Only these runs (a shard of the plan: `--shard`); all when absent. */
  only?: (study: string, strategy: string, repeat: number) => boolean;
}

export function dbPathOf(dbDir: string, key: string): string {
  return join(dbDir, `${key}.db`);
}

/**
 * The study of `key` in its database: the stored one when its settings equal the plan's, a new
 * one when the database holds none. A stored study with other settings is refused: its rounds
 * belong to another experiment (start over with --from-scratch).
 */
export function ensurePlannedStudy(
  store: Store,
  planned: PlannedStudy,
): { id: number; resumed: boolean } {
  const studies = store.listStudies();
  if (studies.length > 1)
    throw new Error(
      `${planned.key}: its database holds ${studies.length} studies, expected one; start over with --from-scratch`,
    );
  const stored = studies[0];
  if (stored) {
    if (
      comparableSettings(stored.config as StudyConfigInput) !== comparableSettings(planned.config)
    ) {
      throw new Error(
        `${planned.key}: the stored study was run with other settings than the plan's; its rounds cannot be continued. Start it over with --from-scratch --only ${planned.key}`,
      );
    }
    return { id: stored.id, resumed: true };
  }
  return { id: createStudy(store, planned.config, `reproduce: ${planned.key}`), resumed: false };
}

/**
 * The report of the study stored in `store` (complete or not), without loading its data: the
 * dataset's description and sizes come from the store, as the app's dashboards do.
 */
export function reportFromStore(store: Store, studyId: number, backend: string): StudyReport {
  const row = store.getStudy(studyId);
  if (!row) throw new Error(`No study ${studyId} in this database`);
  const cfg = StudyConfigSchema.parse(row.config);
  const dataset = row.datasetId !== null ? store.getDataset(row.datasetId) : undefined;
  return buildReport({
    config: cfg,
    dataset: {
      description: dataset?.name ?? cfg.dataset,
      pool: dataset?.counts.train ?? cfg.poolSize ?? 0,
      test: dataset?.counts.test ?? cfg.testSize ?? 0,
      classes: dataset?.classNames ?? [],
    },
    backend,
    runs: store.listRuns(studyId).map((r) => ({
      strategy: r.strategy,
      repeat: r.repeat,
      seed: r.seed,
      status: r.status,
      rounds: store.listRounds(r.id).map((x) => ({
        round: x.round,
        labeled: x.labeled,
        accuracy: x.accuracy,
        loss: x.loss,
        trainMs: x.trainMs,
        queryMs: x.queryMs,
        confusion: x.details.confusion ?? null,
        model: (x.details.model as RoundModel | undefined) ?? null,
      })),
    })),
    expectedRounds: roundCount(cfg),
  });
}

/**
 * Recorded rounds per strategy and repeat of each study: those of its database (opened
 * read-only) and the complete runs carried over from its reports in `outDirs` (the committed
 * ones, other machines'). For the estimate of what is left (`deepal reproduce --dry-run`).
 */
export function recordedRounds(
  plan: readonly PlannedStudy[],
  dbDir: string,
  outDirs: readonly string[] = [],
): Record<string, Record<string, number[]>> {
  const out: Record<string, Record<string, number[]>> = {};
  for (const s of plan) {
    const per: Record<string, number[]> = {};
    const path = dbPathOf(dbDir, s.key);
    if (existsSync(path)) {
      const versions = readDbVersions(path);
      const store = openStore(path, { readonly: true });
      try {
        const study = store.listStudies()[0];
        if (study) {
          for (const run of store.listRuns(study.id)) {
            // Runs of another implementation of their strategy are trained again.
            if (!isCurrentInDb(versions, run.strategy)) continue;
            (per[run.strategy] ??= [])[run.repeat] = store.listRounds(run.id).length;
          }
        }
      } finally {
        store.close();
      }
    }
    for (const dir of outDirs) {
      for (const run of committedRuns(dir, s).runs) {
        const counts = (per[run.strategy] ??= []);
        counts[run.repeat] = Math.max(counts[run.repeat] ?? 0, run.rounds.length);
      }
    }
    if (Object.keys(per).length > 0) out[s.key] = per;
  }
  return out;
}

/**
 * Set aside a database holding runs of another implementation of their strategy, keeping the
 * complete runs of the other strategies in a new one (versions.ts). The caller holds the lock.
 */
function rebuildIfOutdated(
  path: string,
  planned: PlannedStudy,
  emit: (e: OrchestratorEvent) => void,
): void {
  const rebuilt = dropOutdatedRuns(path, planned, (store) => ensurePlannedStudy(store, planned).id);
  if (rebuilt)
    emit({
      type: 'database-rebuilt',
      key: planned.key,
      strategies: rebuilt.outdated
        .map((o) => `${o.strategy} (version ${o.version}, now ${o.current})`)
        .join(', '),
      kept: rebuilt.kept,
      superseded: rebuilt.superseded,
    });
}

/** Import the complete runs of the study's reports in `dirs` that its database lacks. */
function carryOver(
  store: Store,
  studyId: number,
  planned: PlannedStudy,
  dirs: readonly string[],
  emit: (e: OrchestratorEvent) => void,
): void {
  for (const dir of dirs) {
    const committed = committedRuns(dir, planned);
    if (committed.ignored)
      emit({ type: 'committed-ignored', key: planned.key, reason: committed.ignored });
    if (committed.outdated)
      emit({
        type: 'committed-outdated',
        key: planned.key,
        from: committed.file,
        strategies: describeOutdated(committed.outdated),
      });
    const runs = importCommittedRuns(store, studyId, committed);
    if (runs > 0) emit({ type: 'carried-over', key: planned.key, runs, from: committed.file });
  }
}

/**
 * Run the studies in order. Each finished or stopped study gets its report files; a cancelled
 * one (signal) stops the whole plan with StudyCancelled, keeping every completed round.
 */
export async function runPlan(plan: readonly PlannedStudy[], opts: RunPlanOptions): Promise<void> {
  mkdirSync(opts.dbDir, { recursive: true });
  const emit = opts.onEvent ?? (() => {});
  for (const [index, planned] of plan.entries()) {
    if (opts.signal?.aborted) throw new StudyCancelled();
    const path = dbPathOf(opts.dbDir, planned.key);
    const release = lockStudy(path, `study ${planned.key}`);
    let store: Store;
    try {
      if (opts.fromScratch) removeDatabase(path);
      else rebuildIfOutdated(path, planned, emit);
      store = openStore(path);
    } catch (err) {
      release();
      throw err;
    }
    const out = join(opts.outDir, planned.key);
    try {
      const { id, resumed } = ensurePlannedStudy(store, planned);
      // Every run in it is now the code's version of its strategy (or none is there yet).
      writeDbVersions(path, planned.config.strategies);
      if (!opts.fromScratch)
        carryOver(store, id, planned, [opts.outDir, ...(opts.carryFrom ?? [])], emit);
      emit({ type: 'study-start', key: planned.key, index, count: plan.length, resumed });
      try {
        const report = await runStudy(store, id, {
          backend: opts.backend,
          signal: opts.signal,
          only: opts.only && ((strategy, repeat) => opts.only!(planned.key, strategy, repeat)),
          onEvent: (event) => {
            // The report files are what travels (git, another machine's --merge): rewrite them
            // after every complete run, so a kill -9 loses no complete run from them either.
            if (event.type === 'run-end' && event.status === 'done')
              writeStudyOutputs(
                withStrategyVersions(reportFromStore(store, id, tf.getBackend() ?? 'unknown')),
                out,
              );
            emit({ type: 'engine', key: planned.key, event });
          },
        });
        writeStudyOutputs(withStrategyVersions(report), out);
        emit({ type: 'study-end', key: planned.key, status: 'done', out });
      } catch (err) {
        // Whatever was recorded is worth publishing as partial; the publisher says it is partial.
        writeStudyOutputs(
          withStrategyVersions(reportFromStore(store, id, tf.getBackend() ?? 'unknown')),
          out,
        );
        emit({
          type: 'study-end',
          key: planned.key,
          status: err instanceof StudyCancelled ? 'cancelled' : 'failed',
          out,
        });
        throw err;
      }
    } finally {
      store.close();
      release();
    }
  }
}

/** The compute backend a report names (nothing trains when reports are only rewritten). */
function backendOfReport(file: string): string {
  try {
    const { backend } = readStudyReport(file) as { backend?: unknown };
    return typeof backend === 'string' ? backend : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Rewrite each selected study's report files from its database without running anything (after
 * kill -9 the last report may be older than the database), keeping the complete runs of the
 * committed report, and of the reports in `carryFrom`, that the database lacks. A study with no
 * database and nothing to carry from elsewhere keeps its committed report as it is. Returns the
 * keys written.
 */
export function refreshReports(
  plan: readonly PlannedStudy[],
  dbDir: string,
  outDir: string,
  carryFrom: readonly string[] = [],
): string[] {
  const written: string[] = [];
  for (const s of plan) {
    const path = dbPathOf(dbDir, s.key);
    const elsewhere = carryFrom.some((dir) => committedRuns(dir, s).runs.length > 0);
    if (!existsSync(path) && !elsewhere) continue;
    mkdirSync(dbDir, { recursive: true });
    // A study being run right now carried its committed runs over when it started: read it.
    let release: (() => void) | undefined;
    try {
      release = lockStudy(path, `study ${s.key}`);
    } catch (err) {
      if (elsewhere) throw err;
      release = undefined;
    }
    try {
      if (release) rebuildIfOutdated(path, s, () => {});
      const store = openStore(path, { readonly: release === undefined });
      try {
        let id = store.listStudies()[0]?.id;
        if (release) {
          id ??= ensurePlannedStudy(store, s).id;
          writeDbVersions(path, s.config.strategies);
          carryOver(store, id, s, [outDir, ...carryFrom], () => {});
        }
        if (id === undefined) continue;
        writeStudyOutputs(
          withStrategyVersions(
            reportFromStore(store, id, backendOfReport(join(outDir, s.key, 'report.json'))),
          ),
          join(outDir, s.key),
        );
        written.push(s.key);
      } finally {
        store.close();
      }
    } finally {
      release?.();
    }
  }
  return written;
}
