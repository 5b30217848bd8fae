import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import { latestVersion, MIGRATIONS } from './migrations/index.ts';
import { APPLICATION_ID, NewerSchemaError, openStore, type Store } from './store.ts';

/**
 * Rolling backups of the workspace database, made with SQLite's online backup API (through
 * Store.backup), so a copy is consistent even while the app writes.
 *
 * A backup is written under a `.partial` name, checked, flushed to disk and only then renamed to
 * its final name: a crash or a full disk mid-backup leaves at most a `.partial` file, which is
 * never listed and never restored. Restoring first saves the current database as one more backup,
 * so a restore never loses what was labeled after the chosen backup was taken.
 */

/** How many backups are kept unless told otherwise. */
export const DEFAULT_KEEP = 7;

/** Why a backup was made; part of its file name. */
export type BackupReason =
  'manual' | 'open' | 'close' | 'scheduled' | 'before-restore' | 'before-migration';

const REASONS: readonly BackupReason[] = [
  'manual',
  'open',
  'close',
  'scheduled',
  'before-restore',
  'before-migration',
];

export interface BackupInfo {
  /** File name inside the backup folder; what `restore` takes. */
  name: string;
  /** Absolute path. */
  file: string;
  /** When it was made (from its name), ISO 8601. */
  createdAt: string;
  reason: BackupReason;
  bytes: number;
}

/** `<db base>-20250102T030405.678Z-<reason>.db`, with `-<n>` before `.db` when a name repeats. */
const NAME = /^(.+)-(\d{8}T\d{6}\.\d{3}Z)-([a-z-]+?)(?:-(\d+))?\.db$/;

/** The default backup folder of a database: `backups/` beside it. */
export function backupDirFor(dbFile: string): string {
  return join(dirname(resolve(dbFile)), 'backups');
}

function stampOf(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

function isoOfStamp(stamp: string): string {
  // 20250102T030405.678Z -> 2025-01-02T03:04:05.678Z
  return `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13)}`;
}

function dbBase(dbFile: string): string {
  return basename(dbFile).replace(/\.(db|sqlite3?)$/i, '');
}

function fsyncPath(path: string, what: 'file' | 'dir'): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch (err) {
    // Some platforms (Windows) cannot open or fsync a directory; the file itself was synced.
    if (what === 'file') throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function explainFsError(err: unknown, action: string, path: string): Error {
  const code = (err as { code?: string }).code;
  const why =
    code === 'ENOSPC' || code === 'SQLITE_FULL'
      ? 'the disk is full; free some space and try again'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'SQLITE_READONLY'
        ? 'the folder is not writable; choose a writable folder or fix its permissions'
        : code === 'ENOTDIR' || code === 'SQLITE_CANTOPEN'
          ? 'the path cannot hold files (a part of it is not a folder, or it is not writable)'
          : err instanceof Error
            ? err.message
            : String(err);
  return new Error(`${action} ${path}: ${why}`, { cause: err });
}

/** Backups of `dbFile` in `dir` (default backupDirFor), newest first; `.partial` files excluded. */
export function listBackups(dbFile: string, dir = backupDirFor(dbFile)): BackupInfo[] {
  if (!existsSync(dir)) return [];
  const base = dbBase(dbFile);
  const out: BackupInfo[] = [];
  for (const name of readdirSync(dir)) {
    const m = NAME.exec(name);
    if (!m || m[1] !== base || !REASONS.includes(m[3] as BackupReason)) continue;
    const file = join(dir, name);
    let bytes: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) continue;
      bytes = st.size;
    } catch {
      continue;
    }
    out.push({
      name,
      file,
      createdAt: isoOfStamp(m[2]!),
      reason: m[3] as BackupReason,
      bytes,
    });
  }
  // Names sort by time; the repeat counter breaks ties.
  return out.sort((a, b) =>
    a.createdAt === b.createdAt ? b.name.localeCompare(a.name) : a.createdAt < b.createdAt ? 1 : -1,
  );
}

export interface CreateBackupOptions {
  /** Backup folder (default backupDirFor(store.file)). */
  dir?: string;
  /** Keep this many backups, deleting the oldest (default DEFAULT_KEEP); 0 keeps all. */
  keep?: number;
  reason?: BackupReason;
  /** Tests: the time to name the backup after. */
  now?: Date;
}

/**
 * Back the open store up into its backup folder, then keep only the newest `keep` backups.
 * Resolves once the backup is checked and on disk under its final name.
 */
export async function createBackup(
  store: Pick<Store, 'file' | 'backup'>,
  opts: CreateBackupOptions = {},
): Promise<BackupInfo> {
  if (store.file === ':memory:') throw new Error('Backup: an in-memory database has no file');
  const dir = resolve(opts.dir ?? backupDirFor(store.file));
  const keep = opts.keep ?? DEFAULT_KEEP;
  if (!Number.isSafeInteger(keep) || keep < 0) {
    throw new Error(`Backup: keep must be a whole number >= 0, got ${keep}`);
  }
  const reason = opts.reason ?? 'manual';
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw explainFsError(err, 'Backup: cannot create the backup folder', dir);
  }
  const base = `${dbBase(store.file)}-${stampOf(opts.now ?? new Date())}-${reason}`;
  let name = `${base}.db`;
  for (let n = 2; existsSync(join(dir, name)) || existsSync(join(dir, `${name}.partial`)); n++) {
    name = `${base}-${n}.db`;
  }
  const file = join(dir, name);
  const partial = `${file}.partial`;
  try {
    await store.backup(partial);
    fsyncPath(partial, 'file');
    renameSync(partial, file);
    fsyncPath(dir, 'dir');
  } catch (err) {
    rmSync(partial, { force: true });
    rmSync(`${partial}-journal`, { force: true });
    throw explainFsError(err, 'Backup: could not write', file);
  }
  if (keep > 0) pruneBackups(store.file, keep, dir);
  const info = listBackups(store.file, dir).find((b) => b.name === name);
  if (!info) throw new Error(`Backup: ${file} vanished right after it was written`);
  return info;
}

/** Delete all but the newest `keep` backups, and leftovers of crashed backups and restores. */
export function pruneBackups(dbFile: string, keep: number, dir = backupDirFor(dbFile)): string[] {
  const removed: string[] = [];
  for (const b of listBackups(dbFile, dir).slice(keep)) {
    rmSync(b.file, { force: true });
    removed.push(b.name);
  }
  const base = dbBase(dbFile);
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const leftover =
      (name.startsWith(`${base}-`) && /\.db\.partial(-journal)?$/.test(name)) ||
      /^\.restore-\d+-\d+\.db(-wal|-shm|-journal)?$/.test(name);
    if (leftover) {
      // Only leftovers: a backup in progress in another process touched its file moments ago.
      const file = join(dir, name);
      if (Date.now() - statSync(file).mtimeMs > 60_000) {
        rmSync(file, { force: true });
        removed.push(name);
      }
    }
  }
  return removed;
}

/**
 * Find a backup by its name in the backup folder. Only names `listBackups` shows are accepted,
 * so a caller (the UI) cannot point restore at any other file.
 */
export function findBackup(dbFile: string, name: string, dir = backupDirFor(dbFile)): BackupInfo {
  const found = listBackups(dbFile, dir).find((b) => b.name === name);
  if (!found || resolve(found.file) !== resolve(dir) + sep + name) {
    const names = listBackups(dbFile, dir).map((b) => b.name);
    throw new Error(
      `Restore: there is no backup named "${name}" in ${dir}${names.length > 0 ? ` (there are: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''})` : ' (there are no backups yet)'}`,
    );
  }
  return found;
}

export interface RestoreResult {
  restored: BackupInfo;
  /** The backup of the database as it was just before the restore; null when there was none. */
  safetyCopy: BackupInfo | null;
  /** Where a database that could not be opened was moved to instead; null otherwise. */
  movedAside: string | null;
  /** Schema version of the restored database (after bringing it up to date). */
  schemaVersion: number;
}

/**
 * Replace the database at `dbFile` with a backup. The backup is checked first (a newer app's
 * backup is refused with NewerSchemaError; a damaged one with its problems), and the current
 * database is backed up before it is overwritten. The app must not have the database open.
 */
export async function restoreBackup(
  dbFile: string,
  backup: BackupInfo,
  opts: { dir?: string } = {},
): Promise<RestoreResult> {
  const dir = resolve(opts.dir ?? backupDirFor(dbFile));
  const target = resolve(dbFile);
  // Work on a copy: checking and migrating an old backup must not change the backup itself.
  const work = join(dir, `.restore-${process.pid}-${Date.now()}.db`);
  try {
    copyFileSync(backup.file, work);
  } catch (err) {
    throw explainFsError(err, 'Restore: cannot copy', backup.file);
  }
  try {
    let source: Store;
    try {
      source = openStore(work);
    } catch (err) {
      if (err instanceof NewerSchemaError) {
        throw new NewerSchemaError(backup.file, err.found, err.known);
      }
      throw new Error(
        `Restore: ${backup.name} cannot be opened: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    try {
      const check = source.integrityCheck();
      if (check !== 'ok') {
        throw new Error(`Restore: ${backup.name} is damaged: ${check.slice(0, 5).join('; ')}`);
      }
      let safetyCopy: BackupInfo | null = null;
      let movedAside: string | null = null;
      if (existsSync(target)) {
        let current: Store | null = null;
        try {
          current = openStore(target);
        } catch {
          // Damaged, foreign or from a newer app: it cannot be backed up through SQLite, so it
          // is moved aside whole (with its WAL) instead of being overwritten.
          movedAside = join(dir, `${dbBase(target)}-${stampOf(new Date())}-unreadable.db`);
          for (const suffix of ['-wal', '-shm', '']) {
            if (existsSync(target + suffix)) renameSync(target + suffix, movedAside + suffix);
          }
        }
        if (current) {
          try {
            safetyCopy = await createBackup(current, { dir, keep: 0, reason: 'before-restore' });
          } finally {
            current.close();
          }
        }
      }
      // The online backup API writes the target as one transaction: a crash mid-restore leaves
      // the old database or the restored one, never a mix.
      await source.backup(target);
      const restored = openStore(target);
      try {
        const after = restored.integrityCheck();
        if (after !== 'ok') throw new Error(`Restore: the restored database fails its check`);
        return {
          restored: backup,
          safetyCopy,
          movedAside,
          schemaVersion: restored.schemaVersion,
        };
      } finally {
        restored.close();
      }
    } finally {
      source.close();
    }
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal'])
      rmSync(`${work}${suffix}`, { force: true });
  }
}

/**
 * Make a backup when the newest one is older than `maxAgeMs` (or there is none): the "on open"
 * and scheduled backups. Resolves to the new backup, or null when a recent one exists.
 */
export async function ensureRecentBackup(
  store: Store,
  opts: {
    maxAgeMs: number;
    keep?: number;
    dir?: string;
    reason?: BackupReason;
    now?: Date;
    /**
     * Also skip when the database files have not been written since the newest backup, so an
     * idle app does not rotate the useful backups out with identical copies.
     */
    skipUnchanged?: boolean;
  },
): Promise<BackupInfo | null> {
  const now = opts.now ?? new Date();
  const newest = listBackups(store.file, opts.dir)[0];
  if (newest && now.getTime() - Date.parse(newest.createdAt) < opts.maxAgeMs) return null;
  if (newest && opts.skipUnchanged && lastWrite(store.file) < Date.parse(newest.createdAt))
    return null;
  return createBackup(store, {
    ...(opts.dir ? { dir: opts.dir } : {}),
    ...(opts.keep !== undefined ? { keep: opts.keep } : {}),
    reason: opts.reason ?? 'scheduled',
    now,
  });
}

/** When the database (or its WAL, where commits land first) was last written, in ms. */
function lastWrite(dbFile: string): number {
  let t = 0;
  for (const suffix of ['', '-wal']) {
    try {
      t = Math.max(t, statSync(dbFile + suffix).mtimeMs);
    } catch {
      // No WAL file: nothing was written through one.
    }
  }
  return t;
}

/**
 * Back up an existing database before this app migrates it to a newer schema, so an upgrade
 * that goes wrong (or a wish to go back to the older app) loses nothing. Call it before the first
 * openStore of a session. Does nothing (null) for a new or empty file, a database already on the
 * current schema, or one this app does not recognise (openStore refuses those with the reason).
 */
export async function backupBeforeMigration(
  dbFile: string,
  opts: { dir?: string; keep?: number; now?: Date } = {},
): Promise<BackupInfo | null> {
  const file = resolve(dbFile);
  if (dbFile === ':memory:' || !existsSync(file)) return null;
  const known = latestVersion(MIGRATIONS);
  let version: number;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      version = db.pragma('user_version', { simple: true }) as number;
      const appId = db.pragma('application_id', { simple: true }) as number;
      if (appId !== APPLICATION_ID) return null;
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
  if (version === 0 || version >= known) return null;
  // Opened with only the migrations it already has, so nothing is migrated before the copy.
  const old = openStore(file, { migrations: MIGRATIONS.slice(0, version) });
  try {
    return await createBackup(old, { ...opts, reason: 'before-migration' });
  } finally {
    old.close();
  }
}
