import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { ProjectStatus } from '../../shared/annotation.ts';
import type {
  AppEvent,
  BackupList,
  BackupRestore,
  BackupSummary,
  Result,
} from '../../shared/contract.ts';
import { createAnnotationProject } from '../annotation/projects.ts';
import { backupDirFor, listBackups } from '../store/backup.ts';
import { importTiny, tempDir } from '../store/fixtures/helpers.ts';
import { MIGRATIONS } from '../store/migrations/index.ts';
import { openStore } from '../store/store.ts';
import { MlWorker, WorkerJobError } from './mlWorker.ts';
import { createServices, type Services, type ServicesOptions } from './services.ts';

/**
 * The app's rolling backups through the services (what the Backups card and the preload call):
 * the automatic backups (on open, before a migration, on the timer when something changed),
 * backups:list/create/restore, and restore refused while work writes to the database.
 */
const tmp = tempDir();
after(tmp.cleanup);

function value<T>(r: Result<unknown>): T {
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

/** A workspace with a tiny image dataset and a project that never retrains by itself. */
function workspace(name: string): { dbPath: string; projectId: number; samples: number[] } {
  mkdirSync(join(tmp.dir, name));
  const dbPath = join(tmp.dir, name, 'workspace.db');
  const s = openStore(dbPath);
  try {
    const datasetId = importTiny(s, `fp-${name}`, 30, 0);
    const projectId = createAnnotationProject(s, {
      name: 'p',
      datasetId,
      classNames: ['a', 'b', 'c'],
      settings: { retrainEvery: 100_000 },
      createdBy: 'me',
    });
    return { dbPath, projectId, samples: [...s.sampleIds(datasetId, 'train')] };
  } finally {
    s.close();
  }
}

/** A worker whose study and retrain jobs never end (until cancelled): work "running". */
class StuckWorker extends MlWorker {
  readonly stuck = new Map<number, (e: Error) => void>();
  private next = 10_000;
  override run: MlWorker['run'] = (job, onProgress) => {
    if (job.kind !== 'study' && job.kind !== 'annotation-train') return super.run(job, onProgress);
    const jobId = this.next++;
    const done = new Promise<never>((_, reject) => this.stuck.set(jobId, reject));
    return { jobId, done };
  };
  override cancel(jobId: number): void {
    this.stuck.get(jobId)?.(new WorkerJobError('cancelled', 'The job was cancelled.'));
    this.stuck.delete(jobId);
  }
}

function open(dbPath: string, extra: Partial<ServicesOptions> = {}): Services {
  return createServices({ dataDir: tmp.dir, dbPath, mode: 'browser', version: 'test', ...extra });
}

async function until<T>(what: string, fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const labeled = async (services: Services, projectId: number) =>
  value<ProjectStatus>(await services.invoke('projects:status', { projectId })).labeled;

describe('backups in the app', { timeout: 60_000 }, () => {
  test('a backup when the store opens; list, create and keep the newest K', async () => {
    const { dbPath } = workspace('list');
    const services = open(dbPath, { backups: { keep: 2 } });
    try {
      value(await services.invoke('datasets:list', {}));
      const first = await until('the on-open backup', () => listBackups(dbPath)[0]);
      assert.equal(first.reason, 'open');
      const list = value<BackupList>(await services.invoke('backups:list', {}));
      assert.equal(list.folder, backupDirFor(dbPath));
      assert.equal(list.keep, 2);
      assert.equal(list.intervalMs, 60 * 60 * 1000);
      assert.deepEqual(
        list.backups.map((b) => b.name),
        [first.name],
      );
      assert.ok(list.backups[0]!.bytes > 0);
      assert.equal(list.lastError, null);

      const made: BackupSummary[] = [];
      for (let i = 0; i < 3; i++)
        made.push(value<BackupSummary>(await services.invoke('backups:create', {})));
      assert.ok(made.every((b) => b.reason === 'manual'));
      const after = value<BackupList>(await services.invoke('backups:list', {}));
      assert.deepEqual(
        after.backups.map((b) => b.name),
        [made[2]!.name, made[1]!.name],
        'newest first, only the newest 2 kept',
      );
    } finally {
      await services.close();
    }
    // Reopened within the interval: no second on-open backup.
    const again = open(dbPath, { backups: { keep: 2 } });
    try {
      value(await again.invoke('datasets:list', {}));
      value(await again.invoke('backups:list', {}));
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!listBackups(dbPath).some((b) => b.reason === 'open'));
    } finally {
      await again.close();
    }
  });

  test('restore: the chosen state comes back, the current one is saved first, the UI is told', async () => {
    const { dbPath, projectId, samples } = workspace('restore');
    const services = open(dbPath);
    const events: AppEvent[] = [];
    services.onEvent((e) => events.push(e));
    const submit = async (i: number) =>
      value(
        await services.invoke('labels:submit', {
          projectId,
          sampleId: samples[i]!,
          annotator: 'me',
          kind: 'label',
          classIdx: i % 3,
        }),
      );
    try {
      for (let i = 0; i < 3; i++) await submit(i);
      const chosen = value<BackupSummary>(await services.invoke('backups:create', {}));
      for (let i = 3; i < 5; i++) await submit(i);
      assert.equal(await labeled(services, projectId), 5);

      const r = value<BackupRestore>(
        await services.invoke('backups:restore', { name: chosen.name }),
      );
      assert.equal(r.restored.name, chosen.name);
      assert.ok(r.safetyCopy, 'the current database was saved first');
      assert.equal(r.safetyCopy.reason, 'before-restore');
      assert.equal(r.movedAside, null);
      assert.deepEqual(
        events.filter((e) => e.kind === 'backup-restored'),
        [{ kind: 'backup-restored', name: chosen.name, safetyCopy: r.safetyCopy.name }],
      );
      // The reopened store holds the backup's 3 labels and takes new ones.
      assert.equal(await labeled(services, projectId), 3);
      await submit(10);
      assert.equal(await labeled(services, projectId), 4);
      // Nothing lost: the 5 labels from before the restore are in the safety copy.
      const list = value<BackupList>(await services.invoke('backups:list', {}));
      const safety = list.backups.find((b) => b.name === r.safetyCopy!.name)!;
      const copy = openStore(join(list.folder, safety.name), { readonly: true });
      try {
        assert.equal(copy.currentLabels({ projectId }).length, 5);
      } finally {
        copy.close();
      }
    } finally {
      await services.close();
    }
    const s = openStore(dbPath);
    try {
      assert.equal(s.integrityCheck(), 'ok');
      assert.equal(s.currentLabels({ projectId }).length, 4);
    } finally {
      s.close();
    }
  });

  test('restore refuses unknown names, paths, and a backup from a newer app', async () => {
    const { dbPath, projectId } = workspace('refuse');
    const services = open(dbPath);
    try {
      const b = value<BackupSummary>(await services.invoke('backups:create', {}));
      const missing = await services.invoke('backups:restore', { name: 'nope.db' });
      assert.ok(!missing.ok && missing.error.code === 'not-found', JSON.stringify(missing));
      assert.match(missing.error.message, /there is no backup named "nope\.db"/);
      for (const name of ['../workspace.db', '/etc/passwd', 'a\\b.db', '', 'x.txt']) {
        const r = await services.invoke('backups:restore', { name });
        assert.ok(!r.ok && r.error.code === 'invalid-argument', `${name}: ${JSON.stringify(r)}`);
      }
      // A backup written by a newer app: refused with the reason, nothing changed.
      const newer = b.name.replace('-manual.db', '-scheduled.db');
      const folder = backupDirFor(dbPath);
      copyFileSync(join(folder, b.name), join(folder, newer));
      const raw = new Database(join(folder, newer));
      raw.pragma('user_version = 99');
      raw.close();
      const before = listBackups(dbPath).length;
      const r = await services.invoke('backups:restore', { name: newer });
      assert.ok(!r.ok && r.error.code === 'failed', JSON.stringify(r));
      assert.match(r.error.message, /newer DeepAL Studio.*Nothing was changed/);
      assert.equal(listBackups(dbPath).length, before, 'no safety copy for a refused restore');
      // The store is open again and works.
      assert.equal(await labeled(services, projectId), 0);
    } finally {
      await services.close();
    }
  });

  test('restore is refused (busy) while a retrain or a study runs, and works once it ends', async () => {
    const { dbPath, projectId } = workspace('busy');
    const setup = openStore(dbPath);
    const studyId = setup.createStudy({
      name: 's',
      datasetSpec: 'demo',
      config: { dataset: 'demo', strategies: ['Random'] },
    });
    setup.close();
    const worker = new StuckWorker();
    const services = open(dbPath, { worker });
    try {
      const b = value<BackupSummary>(await services.invoke('backups:create', {}));
      value(await services.invoke('projects:retrain', { projectId }));
      const r1 = await services.invoke('backups:restore', { name: b.name });
      assert.ok(!r1.ok && r1.error.code === 'busy', JSON.stringify(r1));
      assert.match(r1.error.message, /retrain of project \d+ is running/);
      value(await services.invoke('projects:cancelRetrain', { projectId }));

      value(await services.invoke('studies:start', { id: studyId }));
      const r2 = await services.invoke('backups:restore', { name: b.name });
      assert.ok(!r2.ok && r2.error.code === 'busy', JSON.stringify(r2));
      assert.match(r2.error.message, new RegExp(`Study ${studyId} is running`));
      value(await services.invoke('studies:cancel', { id: studyId }));
      await until('the study to stop', () => (worker.stuck.size === 0 ? true : undefined));
      await new Promise((r) => setImmediate(r));

      value<BackupRestore>(await services.invoke('backups:restore', { name: b.name }));
    } finally {
      await services.close();
    }
  });

  test('an existing database is backed up before it is migrated', async () => {
    mkdirSync(join(tmp.dir, 'migrate'));
    const dbPath = join(tmp.dir, 'migrate', 'workspace.db');
    const old = openStore(dbPath, { migrations: MIGRATIONS.slice(0, 1) });
    importTiny(old, 'fp-old', 5, 0);
    old.close();
    const services = open(dbPath);
    try {
      value(await services.invoke('datasets:list', {}));
      const pre = listBackups(dbPath).find((b) => b.reason === 'before-migration');
      assert.ok(pre, 'a before-migration backup');
      const raw = new Database(pre.file, { readonly: true });
      try {
        assert.equal(raw.pragma('user_version', { simple: true }), 1, 'taken before migrating');
      } finally {
        raw.close();
      }
    } finally {
      await services.close();
    }
    const now = openStore(dbPath, { readonly: true });
    try {
      assert.equal(now.schemaVersion, MIGRATIONS.length);
    } finally {
      now.close();
    }
  });

  test('the timer backs up only when something was written since the newest backup', async () => {
    const { dbPath, projectId, samples } = workspace('timer');
    const services = open(dbPath, { backups: { intervalMs: 300 } });
    try {
      value(await services.invoke('datasets:list', {}));
      await until('the on-open backup', () => listBackups(dbPath)[0]);
      // Idle for several periods: no copies of an unchanged database.
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(
        listBackups(dbPath).map((b) => b.reason),
        ['open'],
      );
      value(
        await services.invoke('labels:submit', {
          projectId,
          sampleId: samples[0]!,
          annotator: 'me',
          kind: 'label',
          classIdx: 1,
        }),
      );
      const scheduled = await until('a scheduled backup', () =>
        listBackups(dbPath).find((b) => b.reason === 'scheduled'),
      );
      const copy = openStore(scheduled.file, { readonly: true });
      try {
        assert.equal(copy.currentLabels({ projectId }).length, 1);
      } finally {
        copy.close();
      }
    } finally {
      await services.close();
    }
  });
});
