/**
 * The runs a study's committed report already holds. The databases stay on the machine that ran
 * them (they are not committed), so a fresh checkout would otherwise train every run again; with
 * the report files in git, a reproduction run in several sittings on several machines continues
 * from the last commit: each complete run of `docs/results/<study>/report.json` whose study was
 * planned with the same settings, and whose strategy the report records at the code's
 * implementation version (electron/ml/strategies/versions.ts), is imported into the new database
 * and skipped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveSeed } from '../../shared/random.ts';
import type { StudyReport } from '../../shared/report.ts';
import { StudyConfigSchema, type StudyConfigInput } from '../../shared/study.ts';
import { strategyVersion, strategyVersionsOf } from '../ml/strategies/versions.ts';
import type { Store } from '../store/store.ts';
import type { PlannedStudy } from './plan.ts';

/** The settings that decide a study's results (not where its data was read from). */
export function comparableSettings(cfg: StudyConfigInput): string {
  const parsed = StudyConfigSchema.parse(cfg);
  const { dataDir: _ignored, ...rest } = parsed;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

export interface CommittedRun {
  strategy: string;
  repeat: number;
  seed: number;
  rounds: {
    round: number;
    labeled: number;
    accuracy: number;
    loss: number;
    trainMs: number;
    queryMs: number;
    /** The round's confusion matrix, when the report has one (older reports do not). */
    details?: { confusion: number[][] };
  }[];
}

export interface CommittedRuns {
  file: string;
  runs: CommittedRun[];
  /** Why the report's runs cannot be used, when they cannot (other settings, unreadable). */
  ignored?: string;
  /**
   * Complete runs left out because another implementation of their strategy made them (its
   * version in the report differs from the code's): they are trained again.
   */
  outdated?: OutdatedRuns[];
}

/** The complete runs of one strategy that an older (or other) implementation made. */
export interface OutdatedRuns {
  strategy: string;
  runs: number;
  /** The version the report records (1 when it records none) and the code's. */
  version: number;
  current: number;
}

/** A study report with the implementation version of each strategy that made its runs. */
export type VersionedReport = StudyReport & { strategyVersions?: Record<string, number> };

/**
 * The report with the code's implementation version of each of its config's strategies: what
 * made its runs, when every run in the database it was built from is current (see versions.ts).
 */
export function withStrategyVersions(report: StudyReport): VersionedReport {
  return { ...report, strategyVersions: strategyVersionsOf(report.config.strategies) };
}

/** The version of `strategy` that made a report's runs: 1 for reports that record none. */
export function reportedVersion(report: VersionedReport, strategy: string): number {
  const v = report.strategyVersions?.[strategy];
  return typeof v === 'number' && Number.isInteger(v) ? v : 1;
}

/** A report.json file, read and checked for a config and runs; throws when it is not one. */
export function readStudyReport(file: string): StudyReport {
  const report = JSON.parse(readFileSync(file, 'utf8')) as StudyReport;
  if (!report || !Array.isArray(report.runs) || typeof report.config !== 'object')
    throw new Error('it has no config and runs');
  return report;
}

/**
 * The complete runs of `<outDir>/<key>/report.json`, when that report was made by a study with
 * the plan's settings. No report: no runs. A report of other settings, or one that does not
 * parse, gives no runs and says why (it is overwritten when the study writes its report).
 */
export function committedRuns(outDir: string, planned: PlannedStudy): CommittedRuns {
  const file = join(outDir, planned.key, 'report.json');
  if (!existsSync(file)) return { file, runs: [] };
  let report: StudyReport;
  try {
    report = readStudyReport(file);
  } catch (err) {
    return {
      file,
      runs: [],
      ignored: `${file} is not a study report (${err instanceof Error ? err.message : String(err)})`,
    };
  }
  let same: boolean;
  try {
    same = comparableSettings(report.config) === comparableSettings(planned.config);
  } catch {
    same = false;
  }
  if (!same)
    return { file, runs: [], ignored: `${file} was made with other settings than the plan's` };
  const cfg = StudyConfigSchema.parse(planned.config);
  const runs: CommittedRun[] = [];
  const outdated = new Map<string, OutdatedRuns>();
  for (const run of report.runs) {
    // Only complete runs of the plan's strategies, seeded as the plan seeds that repeat.
    if (!run.complete || !cfg.strategies.includes(run.strategy)) continue;
    if (!Number.isInteger(run.repeat) || run.repeat < 0 || run.repeat >= cfg.repeats) continue;
    if (run.seed !== deriveSeed(cfg.seed, 'repeat', run.repeat)) continue;
    // A run of another implementation of its strategy is not what the code would record now.
    const version = reportedVersion(report, run.strategy);
    const current = strategyVersion(run.strategy);
    if (version !== current) {
      const o = outdated.get(run.strategy) ?? { strategy: run.strategy, runs: 0, version, current };
      o.runs += 1;
      outdated.set(run.strategy, o);
      continue;
    }
    runs.push({
      strategy: run.strategy,
      repeat: run.repeat,
      seed: run.seed,
      rounds: run.curve.map((p) => ({
        round: p.round,
        labeled: p.labeled,
        accuracy: p.accuracy,
        // JSON writes a diverged model's NaN loss as null.
        loss: typeof p.loss === 'number' ? p.loss : NaN,
        trainMs: p.trainMs,
        queryMs: p.queryMs,
        ...(p.confusion ? { details: { confusion: p.confusion } } : {}),
      })),
    });
  }
  return outdated.size > 0 ? { file, runs, outdated: [...outdated.values()] } : { file, runs };
}

/** "BatchBALD (3 runs, version 1, now 2), WAAL (3 runs, ...)". */
export function describeOutdated(outdated: readonly OutdatedRuns[]): string {
  return outdated
    .map((o) => `${o.strategy} (${o.runs} run(s), version ${o.version}, now ${o.current})`)
    .join(', ');
}

/**
 * Import the committed complete runs that `store`'s study has not recorded itself. Returns how
 * many were imported.
 */
export function importCommittedRuns(
  store: Store,
  studyId: number,
  committed: CommittedRuns,
): number {
  let imported = 0;
  for (const run of committed.runs) {
    if (store.importRun({ studyId, ...run })) imported++;
  }
  return imported;
}
