import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  backupDirFor,
  createBackup,
  ensureRecentBackup,
  findBackup,
  listBackups,
  restoreBackup,
} from './backup.ts';
import { importTiny, tempDir } from './fixtures/helpers.ts';
import { MIGRATIONS } from './migrations/index.ts';
import { NewerSchemaError, openStore, type Store } from './store.ts';

const tmp = tempDir();
after(tmp.cleanup);

function labelCount(s: Store, datasetId: number): number {
  let n = 0;
  for (const id of s.sampleIds(datasetId, 'train')) if (id > 0) n += s.labelHistory(id).length;
  return n;
}

function addLabels(s: Store, datasetId: number, n: number): void {
  const ids = s.sampleIds(datasetId, 'train');
  for (let i = 0; i < n; i++) {
    s.appendLabelEvent({ sampleId: ids[i % ids.length]!, classIdx: i % 3, annotator: 'person' });
  }
}

const at = (minute: number) => new Date(Date.UTC(2025, 0, 2, 3, minute, 5, 678));

describe('rolling backups', () => {
  test('keeps the newest K, newest first, each a consistent copy of its moment', async () => {
    const file = join(tmp.dir, 'rolling.db');
    const s = openStore(file);
    const datasetId = importTiny(s);
    try {
      for (let k = 0; k < 5; k++) {
        addLabels(s, datasetId, 2);
        const b = await createBackup(s, { keep: 3, now: at(k) });
        assert.equal(b.name, `rolling-20250102T03${String(k).padStart(2, '0')}05.678Z-manual.db`);
      }
    } finally {
      s.close();
    }
    const list = listBackups(file);
    assert.deepEqual(
      list.map((b) => b.createdAt),
      ['2025-01-02T03:04:05.678Z', '2025-01-02T03:03:05.678Z', '2025-01-02T03:02:05.678Z'],
    );
    assert.equal(list[0]!.file, join(backupDirFor(file), list[0]!.name));
    // The backup of moment k holds the 2(k+1) labels made before it.
    list.forEach((b, i) => {
      const copy = openStore(b.file, { readonly: true });
      try {
        assert.equal(copy.integrityCheck(), 'ok');
        assert.equal(labelCount(copy, datasetId), 2 * (5 - i));
      } finally {
        copy.close();
      }
    });
    // No .partial or -journal leftovers beside them.
    assert.deepEqual(
      readdirSync(backupDirFor(file)).filter((n) => !n.endsWith('.db')),
      [],
      'only finished backups in the folder',
    );
  });

  test('a leftover .partial (a crashed backup) is never listed', async () => {
    const file = join(tmp.dir, 'partial.db');
    const s = openStore(file);
    try {
      const b = await createBackup(s, { now: at(1) });
      writeFileSync(join(backupDirFor(file), 'partial-20250102T030905.678Z-manual.db.partial'), '');
      assert.deepEqual(
        listBackups(file).map((x) => x.name),
        [b.name],
      );
    } finally {
      s.close();
    }
  });

  test('ensureRecentBackup makes one only when the newest is older than the limit', async () => {
    const file = join(tmp.dir, 'recent.db');
    const s = openStore(file);
    try {
      const hour = 3_600_000;
      const first = await ensureRecentBackup(s, { maxAgeMs: hour, now: at(0), reason: 'open' });
      assert.equal(first?.reason, 'open');
      assert.equal(await ensureRecentBackup(s, { maxAgeMs: hour, now: at(59) }), null);
      const later = await ensureRecentBackup(s, { maxAgeMs: 30 * 60_000, now: at(59) });
      assert.equal(later?.reason, 'scheduled');
      assert.equal(listBackups(file).length, 2);
    } finally {
      s.close();
    }
  });

  test('an unwritable backup folder gives a clear error and lists nothing', async () => {
    const file = join(tmp.dir, 'nowhere.db');
    const blocker = join(tmp.dir, 'a-file');
    writeFileSync(blocker, 'not a folder');
    const s = openStore(file);
    try {
      // A folder path that runs through a regular file cannot be created, even by root.
      await assert.rejects(
        createBackup(s, { dir: join(blocker, 'backups') }),
        /Backup: cannot create the backup folder .*a-file\/backups: the path cannot hold files/,
      );
      assert.deepEqual(listBackups(file, join(blocker, 'backups')), []);
    } finally {
      s.close();
    }
  });
});

describe('restore', () => {
  test('restores a chosen backup and keeps the current state as a safety copy: nothing lost', async () => {
    const file = join(tmp.dir, 'restore.db');
    const s = openStore(file);
    const datasetId = importTiny(s);
    addLabels(s, datasetId, 4);
    const old = await createBackup(s, { now: at(10) });
    addLabels(s, datasetId, 6);
    s.close();

    const r = await restoreBackup(file, findBackup(file, old.name));
    assert.equal(r.restored.name, old.name);
    assert.equal(r.movedAside, null);
    assert.equal(r.safetyCopy?.reason, 'before-restore');
    const db = openStore(file);
    try {
      assert.equal(db.integrityCheck(), 'ok');
      assert.equal(labelCount(db, datasetId), 4);
      addLabels(db, datasetId, 1);
      assert.equal(labelCount(db, datasetId), 5, 'the restored database takes writes');
    } finally {
      db.close();
    }
    const safety = openStore(r.safetyCopy!.file, { readonly: true });
    try {
      assert.equal(labelCount(safety, datasetId), 10, 'the labels made after the backup are kept');
    } finally {
      safety.close();
    }
    // The chosen backup itself is unchanged and can be restored again.
    assert.ok(listBackups(file).some((b) => b.name === old.name));
  });

  test('only listed backup names are accepted (no paths, no traversal)', () => {
    const file = join(tmp.dir, 'restore.db');
    for (const name of [
      '../restore.db',
      '/etc/passwd',
      'restore.db',
      'nope-20250102T030505.678Z-manual.db',
    ]) {
      assert.throws(() => findBackup(file, name), /Restore: there is no backup named/);
    }
  });

  test('a backup from a newer app is refused with a message; the database is untouched', async () => {
    const file = join(tmp.dir, 'newer-target.db');
    const s = openStore(file);
    importTiny(s);
    s.close();
    // A database written by a "newer app": one more migration than this build knows.
    const future = join(tmp.dir, 'future.db');
    const f = openStore(future, {
      migrations: [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'future', up() {} }],
    });
    const b = await createBackup(f, { dir: backupDirFor(file), now: at(20) });
    f.close();
    // Named as a backup of the target, as if the newer app had made it beside it.
    const renamed = join(backupDirFor(file), b.name.replace(/^future-/, 'newer-target-'));
    writeFileSync(renamed, readFileSync(b.file));

    const before = readFileSync(file);
    const backup = findBackup(file, renamed.split('/').pop()!);
    await assert.rejects(
      restoreBackup(file, backup),
      (e: unknown) =>
        e instanceof NewerSchemaError &&
        /was written by a newer DeepAL Studio \(schema \d+, this app knows \d+\); open it with a newer version/.test(
          e.message,
        ),
    );
    assert.deepEqual(readFileSync(file), before, 'the database is byte-identical');
    assert.ok(!listBackups(file).some((x) => x.reason === 'before-restore'));
  });

  test('a damaged backup is refused, and the database is untouched', async () => {
    const file = join(tmp.dir, 'damaged-target.db');
    const s = openStore(file);
    importTiny(s, 'fp', 300, 10);
    const b = await createBackup(s, { now: at(30) });
    s.close();
    const bytes = readFileSync(b.file);
    // Garbage over the second half: b-tree pages no longer parse.
    bytes.fill(0xa5, Math.floor(bytes.length / 2));
    writeFileSync(b.file, bytes);
    const before = readFileSync(file);
    await assert.rejects(
      restoreBackup(file, findBackup(file, b.name)),
      /Restore: damaged-target-.*\.db (is damaged|cannot be opened)/,
    );
    assert.deepEqual(readFileSync(file), before);
  });

  test('a database that cannot be opened is moved aside whole, not overwritten', async () => {
    const file = join(tmp.dir, 'broken.db');
    const s = openStore(file);
    importTiny(s);
    const b = await createBackup(s, { now: at(40) });
    s.close();
    writeFileSync(file, 'this is not a database any more');
    const r = await restoreBackup(file, findBackup(file, b.name));
    assert.ok(r.movedAside && existsSync(r.movedAside));
    assert.equal(readFileSync(r.movedAside, 'utf8'), 'this is not a database any more');
    const db = openStore(file);
    try {
      assert.equal(db.listDatasets().length, 1);
    } finally {
      db.close();
    }
  });
});
