import type { AppEvent, BackupSummary, ErrorCode, Handlers } from '../../shared/contract.ts';
import {
  backupBeforeMigration,
  backupDirFor,
  createBackup,
  DEFAULT_KEEP,
  ensureRecentBackup,
  findBackup,
  listBackups,
  restoreBackup,
  type BackupInfo,
} from '../store/backup.ts';
import { NewerSchemaError, type Store } from '../store/store.ts';

/** How the app keeps rolling backups of the workspace database. */
export interface BackupOptions {
  /**
   * A backup is made when the services open the database and the newest backup is older than
   * this, and on a timer of this period while the app runs (only when something was written).
   * Default one hour.
   */
  intervalMs?: number;
  /** How many are kept (default DEFAULT_KEEP). */
  keep?: number;
  /** The backup folder (default `backups/` beside the database). */
  dir?: string;
}

export const DEFAULT_BACKUP_INTERVAL_MS = 60 * 60 * 1000;

type BackupChannel = 'backups:list' | 'backups:create' | 'backups:restore';

export interface BackupDeps {
  dbPath: string;
  /** False: no automatic backups (the channels still work). */
  options: BackupOptions | false;
  /** The main connection if it is open now (never opens it). */
  current(): Store | null;
  /** The main connection, opened if needed (waits while a restore has it closed). */
  getStore(): Promise<Store>;
  /**
   * Close the main connection and keep every caller of getStore waiting until the returned
   * function is called.
   */
  suspend(): Promise<() => void>;
  /** Why the database must not be replaced now (work writing to it), or null. */
  busy(): string | null;
  emit(e: AppEvent): void;
  fail(code: ErrorCode, message: string): never;
}

function summary(b: BackupInfo): BackupSummary {
  return { name: b.name, createdAt: b.createdAt, reason: b.reason, bytes: b.bytes };
}

const text = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Rolling backups inside the app: on open (when the newest is older than the interval), hourly
 * while the app runs, before a migration of an existing database, and on request; plus restore.
 * Every backup and restore runs one at a time, so a restore never overlaps a backup.
 */
export function createBackupService(deps: BackupDeps): {
  handlers: Pick<Handlers, BackupChannel>;
  /** Before the main connection first opens the database: back it up if it will be migrated. */
  beforeOpen(): Promise<void>;
  /** The main connection opened: the on-open backup (in the background) and the timer. */
  opened(): void;
  /** Stop the timer and wait for a backup in progress. */
  close(): Promise<void>;
} {
  const auto = deps.options === false ? null : deps.options;
  const intervalMs = auto?.intervalMs ?? DEFAULT_BACKUP_INTERVAL_MS;
  const keep = deps.options === false ? DEFAULT_KEEP : (deps.options.keep ?? DEFAULT_KEEP);
  const dir = (deps.options !== false && deps.options.dir) || backupDirFor(deps.dbPath);
  const inMemory = deps.dbPath === ':memory:';
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  let lastError: string | null = null;
  let closed = false;

  /** Run backup work one at a time, in the order asked. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = chain.then(fn, fn);
    chain = next.catch(() => {});
    return next;
  }

  function automatic(reason: 'open' | 'scheduled'): Promise<void> {
    return serial(async () => {
      const store = deps.current();
      if (!store || closed) return;
      try {
        await ensureRecentBackup(store, {
          maxAgeMs: intervalMs,
          keep,
          dir,
          reason,
          skipUnchanged: reason === 'scheduled',
        });
        lastError = null;
      } catch (err) {
        // Shown in the Backups list; labeling goes on, a full disk must not stop the app.
        lastError = `The automatic backup failed: ${text(err)}`;
      }
    });
  }

  function requireFile(): void {
    if (inMemory) deps.fail('failed', 'This workspace is in memory; it has no file to back up.');
  }

  const handlers: Pick<Handlers, BackupChannel> = {
    async 'backups:list'() {
      requireFile();
      let backups: BackupInfo[];
      try {
        backups = listBackups(deps.dbPath, dir);
      } catch (err) {
        deps.fail('failed', `Cannot read the backup folder ${dir}: ${text(err)}`);
      }
      return {
        folder: dir,
        keep,
        intervalMs: auto ? intervalMs : null,
        backups: backups.map(summary),
        lastError,
      };
    },
    async 'backups:create'() {
      requireFile();
      return serial(async () => {
        const store = await deps.getStore();
        try {
          return summary(await createBackup(store, { keep, dir, reason: 'manual' }));
        } catch (err) {
          deps.fail('failed', text(err));
        }
      });
    },
    async 'backups:restore'({ name }) {
      requireFile();
      const refuse = () => {
        const why = deps.busy();
        if (why) deps.fail('busy', `${why} Restore a backup once it has stopped.`);
      };
      refuse();
      return serial(async () => {
        refuse();
        let backup: BackupInfo;
        try {
          backup = findBackup(deps.dbPath, name, dir);
        } catch (err) {
          deps.fail('not-found', text(err));
        }
        const release = await deps.suspend();
        let result: Awaited<ReturnType<typeof restoreBackup>>;
        try {
          // Work that started in the moment before the connection closed.
          refuse();
          result = await restoreBackup(deps.dbPath, backup, { dir });
        } catch (err) {
          if ((err as { code?: unknown }).code === 'busy') throw err;
          // A newer app's backup, a damaged one: refused by the checks that come before the write.
          const unchanged =
            err instanceof NewerSchemaError || /damaged|cannot be opened/.test(text(err));
          deps.fail('failed', `${text(err)}${unchanged ? ' Nothing was changed.' : ''}`);
        } finally {
          release();
        }
        // Reopen now, so a database that cannot be opened says so here rather than on the next call.
        await deps.getStore();
        const safetyCopy = result.safetyCopy ? summary(result.safetyCopy) : null;
        deps.emit({
          kind: 'backup-restored',
          name: backup.name,
          safetyCopy: safetyCopy?.name ?? null,
        });
        return { restored: summary(backup), safetyCopy, movedAside: result.movedAside };
      });
    },
  };

  return {
    handlers,
    async beforeOpen() {
      if (inMemory || !auto) return;
      try {
        await backupBeforeMigration(deps.dbPath, { dir, keep });
      } catch (err) {
        // Upgrading without a copy could lose the only one; refuse and say what to do.
        deps.fail(
          'failed',
          `The workspace database needs upgrading, but it could not be backed up first (${text(err)}); nothing was changed. Free some space or make the folder writable, then start again.`,
        );
      }
    },
    opened() {
      if (inMemory || !auto || closed) return;
      void automatic('open');
      if (!timer) {
        timer = setInterval(() => void automatic('scheduled'), intervalMs);
        // A pending backup must not keep the app (or a test) alive.
        timer.unref();
      }
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      await chain;
    },
  };
}
