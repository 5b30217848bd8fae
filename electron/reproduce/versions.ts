/**
 * Which implementation of each strategy made the runs in a study's database. The report files
 * record it (`strategyVersions`, see committed.ts); a database records it in a file beside it,
 * `<study>.db.versions.json`, written when the reproduction opens the database. A database
 * without that file was made before versions existed: every strategy at version 1.
 *
 * When the code's version of a strategy differs from the database's, that strategy's runs are
 * not what the code would record now. The database is then rebuilt: the old one is kept beside it
 * as `<study>.db.superseded` (nothing recorded is deleted), and a new one holds the complete runs
 * of the other strategies, so the study trains only the changed strategies again.
 */
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { roundCount, StudyConfigSchema, type StudyConfigInput } from '../../shared/study.ts';
import { strategyVersion, strategyVersionsOf } from '../ml/strategies/versions.ts';
import { openStore, type Store } from '../store/store.ts';
import { writeFileAtomic } from '../study/output.ts';
import { comparableSettings } from './committed.ts';

const SUFFIXES = ['', '-wal', '-shm'] as const;

export function versionsFileOf(dbPath: string): string {
  return `${dbPath}.versions.json`;
}

/** The versions recorded beside a database; undefined when it has no such file. */
export function readDbVersions(dbPath: string): Record<string, number> | undefined {
  const file = versionsFileOf(dbPath);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { strategyVersions?: unknown };
    const v = parsed.strategyVersions;
    if (v && typeof v === 'object') return v as Record<string, number>;
  } catch {
    // An unreadable file says nothing: treat the database as made before versions.
  }
  return undefined;
}

/** Record that the runs in the database were made by the code's versions of `strategies`. */
export function writeDbVersions(dbPath: string, strategies: readonly string[]): void {
  writeFileAtomic(
    versionsFileOf(dbPath),
    `${JSON.stringify({ strategyVersions: strategyVersionsOf(strategies) }, null, 2)}\n`,
  );
}

/** The version of `strategy` that made the database's runs (1 when it records none). */
export function dbVersion(recorded: Record<string, number> | undefined, strategy: string): number {
  const v = recorded?.[strategy];
  return typeof v === 'number' && Number.isInteger(v) ? v : 1;
}

/** Whether the database's runs of `strategy` are what the code would record now. */
export function isCurrentInDb(
  recorded: Record<string, number> | undefined,
  strategy: string,
): boolean {
  return dbVersion(recorded, strategy) === strategyVersion(strategy);
}

/** Delete a database, its journal files and its versions file (--from-scratch). */
export function removeDatabase(dbPath: string): void {
  for (const suffix of SUFFIXES) rmSync(`${dbPath}${suffix}`, { force: true });
  rmSync(versionsFileOf(dbPath), { force: true });
}

export interface Rebuilt {
  /** Strategies whose runs another implementation made: left in the superseded database. */
  outdated: { strategy: string; version: number; current: number }[];
  /** Complete runs of the other strategies, carried into the new database. */
  kept: number;
  /** Where the old database now is. */
  superseded: string;
}

/**
 * Make the database at `dbPath` hold only runs of the code's strategy versions (see above).
 * `create` makes the new database's study (the orchestrator's ensurePlannedStudy). Returns what
 * was rebuilt, or null when nothing had to be: no database, no study in it, a study of other
 * settings (refused later, as before), or no outdated runs. The caller holds the study's lock.
 */
export function dropOutdatedRuns(
  dbPath: string,
  planned: { config: StudyConfigInput },
  create: (store: Store) => number,
): Rebuilt | null {
  if (!existsSync(dbPath)) return null;
  const recorded = readDbVersions(dbPath);
  const outdated = new Map<string, Rebuilt['outdated'][number]>();
  const keep: Parameters<Store['importRun']>[0][] = [];
  const old = openStore(dbPath, { readonly: true });
  try {
    const study = old.listStudies()[0];
    if (!study) return null;
    let same = false;
    try {
      same =
        comparableSettings(study.config as StudyConfigInput) === comparableSettings(planned.config);
    } catch {
      same = false;
    }
    if (!same) return null;
    const rounds = roundCount(StudyConfigSchema.parse(study.config)) + 1;
    for (const run of old.listRuns(study.id)) {
      if (!isCurrentInDb(recorded, run.strategy)) {
        outdated.set(run.strategy, {
          strategy: run.strategy,
          version: dbVersion(recorded, run.strategy),
          current: strategyVersion(run.strategy),
        });
        continue;
      }
      const recordedRounds = old.listRounds(run.id);
      // An incomplete run of a current strategy starts again from its first round.
      if (recordedRounds.length !== rounds) continue;
      keep.push({
        studyId: 0,
        strategy: run.strategy,
        repeat: run.repeat,
        seed: run.seed,
        rounds: recordedRounds.map((r) => ({
          round: r.round,
          labeled: r.labeled,
          accuracy: r.accuracy,
          loss: r.loss,
          trainMs: r.trainMs,
          queryMs: r.queryMs,
          details: r.details,
        })),
      });
    }
  } finally {
    old.close();
  }
  if (outdated.size === 0) return null;
  const superseded = `${dbPath}.superseded`;
  for (const suffix of SUFFIXES) rmSync(`${superseded}${suffix}`, { force: true });
  for (const suffix of SUFFIXES) {
    if (existsSync(`${dbPath}${suffix}`))
      renameSync(`${dbPath}${suffix}`, `${superseded}${suffix}`);
  }
  rmSync(versionsFileOf(dbPath), { force: true });
  const fresh = openStore(dbPath);
  try {
    const studyId = create(fresh);
    for (const run of keep) fresh.importRun({ ...run, studyId });
  } finally {
    fresh.close();
  }
  return { outdated: [...outdated.values()], kept: keep.length, superseded };
}
