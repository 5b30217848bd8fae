import { InvalidArgumentError, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultDbPath } from '../main/paths.ts';

/** `deepal backup list|create|restore`: the workspace database's rolling backups. */
export function registerBackup(program: Command): void {
  const backup = program
    .command('backup')
    .description(
      'rolling backups of the workspace database (SQLite online backup; kept in backups/ beside it)',
    );
  const dbOption = `workspace database (default ${defaultDbPath()})`;
  const keepArg = (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`--keep must be a whole number >= 0, got "${v}"`);
    return n;
  };

  backup
    .command('list')
    .description('the backups, newest first')
    .option('--db <file>', dbOption)
    .option('--json', 'machine-readable output')
    .action(async (opts: { db?: string; json?: boolean }) => {
      const { listBackups, backupDirFor } = await import('../store/backup.ts');
      const db = resolve(opts.db ?? defaultDbPath());
      const list = listBackups(db);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        process.stdout.write(`No backups of ${db} in ${backupDirFor(db)} yet.\n`);
        return;
      }
      for (const b of list) {
        process.stdout.write(
          `${b.name}  ${b.createdAt}  ${b.reason.padEnd(14)}  ${(b.bytes / 1024).toFixed(0)} KiB\n`,
        );
      }
    });

  backup
    .command('create')
    .description('back the database up now, keeping the newest --keep backups')
    .option('--db <file>', dbOption)
    .option('--keep <k>', 'how many backups to keep (0: all)', keepArg, 7)
    .action(async (opts: { db?: string; keep: number }) => {
      const [{ openStore }, { createBackup }] = await Promise.all([
        import('../store/store.ts'),
        import('../store/backup.ts'),
      ]);
      const db = resolve(opts.db ?? defaultDbPath());
      if (!existsSync(db)) throw new Error(`There is no database at ${db} to back up`);
      const store = openStore(db);
      try {
        const b = await createBackup(store, { keep: opts.keep, reason: 'manual' });
        process.stdout.write(`Backed up to ${b.file}\n`);
      } finally {
        store.close();
      }
    });

  backup
    .command('restore <name>')
    .description(
      'replace the database with a backup (by the name `list` shows); the current state is backed up first. Close the app first.',
    )
    .option('--db <file>', dbOption)
    .action(async (name: string, opts: { db?: string }) => {
      const { findBackup, restoreBackup } = await import('../store/backup.ts');
      const db = resolve(opts.db ?? defaultDbPath());
      const r = await restoreBackup(db, findBackup(db, name));
      process.stdout.write(
        `Restored ${r.restored.name} into ${db} (schema ${r.schemaVersion}).\n` +
          (r.safetyCopy
            ? `The database as it was is kept as ${r.safetyCopy.name}; restore that to undo.\n`
            : '') +
          (r.movedAside ? `The unreadable database was moved to ${r.movedAside}.\n` : ''),
      );
    });
}
