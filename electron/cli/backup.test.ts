import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importTiny } from '../store/fixtures/helpers.ts';
import { MIGRATIONS } from '../store/migrations/index.ts';
import { openStore } from '../store/store.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'electron', 'cli', 'bin.mjs');
const dir = mkdtempSync(join(tmpdir(), 'deepal-cli-backup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function deepal(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, DEEPAL_HOME: dir },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function labels(file: string): number {
  const s = openStore(file, { readonly: true });
  try {
    let n = 0;
    for (const d of s.listDatasets())
      for (const id of s.sampleIds(d.id, 'train')) if (id > 0) n += s.labelHistory(id).length;
    return n;
  } finally {
    s.close();
  }
}

describe('deepal backup', () => {
  test('create, list and restore; the state before the restore is kept', () => {
    const db = join(dir, 'workspace.db');
    const s = openStore(db);
    const datasetId = importTiny(s);
    const ids = s.sampleIds(datasetId, 'train');
    s.appendLabelEvent({ sampleId: ids[0]!, classIdx: 1, annotator: 'person' });
    s.close();

    assert.match(deepal(['backup', 'list']).stdout, /No backups of .*workspace\.db/);
    const made = deepal(['backup', 'create', '--keep', '2']);
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /Backed up to .*backups\/workspace-\d{8}T\d{6}\.\d{3}Z-manual\.db/);

    const w = openStore(db);
    w.appendLabelEvent({ sampleId: ids[1]!, classIdx: 2, annotator: 'person' });
    w.close();
    assert.equal(labels(db), 2);

    const list = JSON.parse(deepal(['backup', 'list', '--json']).stdout) as { name: string }[];
    assert.equal(list.length, 1);
    const restored = deepal(['backup', 'restore', list[0]!.name]);
    assert.equal(restored.status, 0, restored.stderr);
    assert.match(
      restored.stdout,
      /Restored .* \(schema \d+\)\.\nThe database as it was is kept as workspace-.*-before-restore\.db/,
    );
    assert.equal(labels(db), 1);
    const safety = JSON.parse(deepal(['backup', 'list', '--json']).stdout) as {
      name: string;
      reason: string;
      file: string;
    }[];
    const before = safety.find((b) => b.reason === 'before-restore');
    assert.ok(before);
    assert.equal(labels(before.file), 2, 'the label made after the backup is kept');

    const bad = deepal(['backup', 'restore', '../workspace.db']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /there is no backup named "\.\.\/workspace\.db"/);
    const keep = deepal(['backup', 'create', '--keep', '-1']);
    assert.equal(keep.status, 1);
    assert.match(keep.stderr, /--keep must be a whole number >= 0/);
  });

  test('a database from a newer app is refused with a message and left untouched', () => {
    const db = join(dir, 'newer.db');
    openStore(db, {
      migrations: [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'future', up() {} }],
    }).close();
    const bytes = readFileSync(db);
    for (const args of [
      ['backup', 'create', '--db', db],
      ['study', '--resume', '--db', db],
    ]) {
      const r = deepal(args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(
        r.stderr,
        /newer\.db was written by a newer DeepAL Studio \(schema \d+, this app knows \d+\); open it with a newer version/,
      );
    }
    assert.deepEqual(readFileSync(db), bytes);
  });
});
