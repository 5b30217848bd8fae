import type Database from 'better-sqlite3';
import { migration as m001 } from './001_init.ts';
import { migration as m002 } from './002_annotation.ts';
import { migration as m003 } from './003_round_details.ts';
import { migration as m004 } from './004_study_message.ts';
import { migration as m005 } from './005_label_quality.ts';
import { migration as m006 } from './006_label_state.ts';
import { migration as m007 } from './007_prediction_sets.ts';

/**
 * One schema step. `up` runs inside a transaction that also sets `user_version` to `version`, so
 * a migration is applied whole or not at all. Never edit a released migration: add the next one.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  up(db: Database.Database): void;
}

/** Every migration, oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = [m001, m002, m003, m004, m005, m006, m007];

/**
 * Refuse a migration list that is not 1, 2, 3, ... in order: a gap or a duplicate would leave some
 * databases on a schema no migration describes.
 */
export function checkMigrationOrder(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(
        `Migration list out of order: entry ${i} (${m.name}) has version ${m.version}, expected ${i + 1}`,
      );
    }
  });
}

/** The schema version this build of the app writes. */
export function latestVersion(list: readonly Migration[] = MIGRATIONS): number {
  return list.length === 0 ? 0 : list[list.length - 1]!.version;
}

/**
 * Apply the migrations above the database's `user_version`, each in its own transaction. The caller
 * has already refused a database newer than `list` knows. Returns the versions applied.
 */
export function applyMigrations(
  db: Database.Database,
  list: readonly Migration[] = MIGRATIONS,
): number[] {
  checkMigrationOrder(list);
  const applied: number[] = [];
  for (const m of list) {
    if (m.version <= (db.pragma('user_version', { simple: true }) as number)) continue;
    // IMMEDIATE: the write lock first, then the version read again under it, so two processes
    // opening an old database at once apply each migration once (the second one waits, then
    // finds it applied) instead of failing half-way.
    const ran = db
      .transaction(() => {
        if (m.version <= (db.pragma('user_version', { simple: true }) as number)) return false;
        m.up(db);
        // PRAGMA takes no bound parameters; the version is an integer we control.
        db.pragma(`user_version = ${Math.trunc(m.version)}`);
        return true;
      })
      .immediate();
    if (ran) applied.push(m.version);
  }
  return applied;
}
