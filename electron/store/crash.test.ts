import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../shared/random.ts';
import { openStore } from './store.ts';
import { importTiny, tempDir, tinySamples } from './fixtures/helpers.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const child = join(here, 'fixtures', 'crashChild.ts');
const tmp = tempDir();
after(tmp.cleanup);

/**
 * Run the child until it has printed `killAfter` lines, SIGKILL it, and return every line it
 * printed (lines printed between the kill decision and death are kept too: they were committed).
 */
function runAndKill(
  args: string[],
  killAfter: number,
): Promise<{ lines: string[]; signal: string | null }> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killed = false;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!killed && out.split('\n').length - 1 >= killAfter) {
        killed = true;
        proc.kill('SIGKILL');
      }
    });
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`child exited with code ${code} before it was killed:\n${err}`));
        return;
      }
      // Only complete lines: a line cut by the kill was not reported.
      const lines = out.split('\n');
      lines.pop();
      resolvePromise({ lines, signal });
    });
  });
}

describe('crash safety (SIGKILL mid-write)', () => {
  // Random kill points, reproducible: DEEPAL_CRASH_SEED=<n> reruns a failing case.
  const seed = Number(process.env.DEEPAL_CRASH_SEED ?? Date.now() % 1_000_000);
  const rng = new Rng(seed);

  for (let trial = 0; trial < 2; trial++) {
    const killAfter = 20 + rng.int(300);
    test(`label events: every reported commit survives (seed ${seed}, kill after ${killAfter})`, async () => {
      const file = join(tmp.dir, `labels${trial}.sqlite`);
      const setup = openStore(file);
      const datasetId = importTiny(setup, 'fp-crash', 50, 0);
      setup.close();

      const { lines } = await runAndKill([file, 'labels', String(datasetId)], killAfter);
      assert.ok(lines.length >= killAfter, `child reported ${lines.length} commits`);

      const s = openStore(file);
      try {
        assert.equal(s.integrityCheck(), 'ok');
        const stored = new Map<number, number | null>();
        for (const sampleId of s.sampleIds(datasetId, 'train')) {
          for (const e of s.labelHistory(sampleId)) stored.set(e.id, e.classIdx);
        }
        for (const line of lines) {
          const [id, classIdx] = line.split(' ').map(Number);
          assert.equal(
            stored.get(id!),
            classIdx,
            `reported event ${id} (class ${classIdx}) is missing or differs`,
          );
        }
        // At most the one commit in flight when the kill landed went unreported.
        assert.ok(
          stored.size - lines.length <= 1,
          `${stored.size} stored, ${lines.length} reported`,
        );
        // The store still takes writes.
        s.appendLabelEvent({
          sampleId: s.sampleIds(datasetId, 'train')[0]!,
          classIdx: 0,
          annotator: 'after',
        });
      } finally {
        s.close();
      }
    });
  }

  test('a hot rollback journal left by a crash (as mid-restore) is rolled back on open', async () => {
    const file = join(tmp.dir, 'hot-journal.sqlite');
    const setup = openStore(file);
    const datasetId = importTiny(setup, 'fp-hot-journal', 20, 0);
    const before = setup.appendLabelEvent({
      sampleId: setup.sampleIds(datasetId, 'train')[0]!,
      classIdx: 1,
      annotator: 'before',
    });
    setup.close();
    // A writer in rollback-journal mode (the online backup API writes a restore's target this
    // way) killed inside a big transaction that has spilled to the file: a hot -journal is left.
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const D = require('better-sqlite3'); const db = new D(process.argv[1]);
         db.pragma('journal_mode = DELETE'); db.pragma('cache_size = 10');
         db.exec('BEGIN; CREATE TABLE filler (x BLOB)');
         const ins = db.prepare('INSERT INTO filler VALUES (randomblob(4000))');
         for (let i = 0; i < 2000; i++) ins.run();
         process.stdout.write('ready\\n'); setInterval(() => {}, 1000);`,
        file,
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((res, rej) => {
      writer.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) writer.kill('SIGKILL');
      });
      writer.on('close', () => res());
      writer.on('error', rej);
    });
    assert.ok(existsSync(`${file}-journal`), 'the killed writer left a hot journal');
    // A read-only connection cannot roll it back (SQLITE_READONLY_ROLLBACK): refused, clearly.
    assert.throws(() => openStore(file, { readonly: true }), /readonly|read-only|Cannot open/);
    // A normal open rolls it back and finds everything committed before.
    const s = openStore(file);
    try {
      assert.equal(s.integrityCheck(), 'ok');
      const ids = s.labelHistory(s.sampleIds(datasetId, 'train')[0]!).map((e) => e.id);
      assert.ok(ids.includes(before), 'the label committed before the crash is there');
    } finally {
      s.close();
    }
  });

  test('a killed import stays incomplete and is replaced by the next import', async () => {
    const file = join(tmp.dir, 'import.sqlite');
    openStore(file).close();
    const { lines } = await runAndKill([file, 'import'], 3);
    assert.ok(
      !lines.includes('finished'),
      'the import finished before the kill; it must be slower',
    );

    const s = openStore(file);
    try {
      assert.equal(s.integrityCheck(), 'ok');
      assert.deepEqual(s.listDatasets(), []);
      const leftover = s.listDatasets({ includeIncomplete: true });
      assert.equal(leftover.length, 1);
      assert.equal(leftover[0]!.status, 'importing');
      assert.ok(
        s.sampleIds(leftover[0]!.id, 'train').length >= 300,
        'the committed chunks are there',
      );

      const id = s.importDataset(
        {
          name: 'killed',
          source: 'again',
          format: 'test',
          classNames: ['a', 'b', 'c'],
          sampleShape: [4],
          fingerprint: 'fp-killed',
        },
        tinySamples(30, 5),
      );
      const all = s.listDatasets({ includeIncomplete: true });
      assert.deepEqual(
        all.map((d) => [d.id, d.status]),
        [[id, 'complete']],
      );
      assert.deepEqual(all[0]!.counts, { train: 30, test: 5, unlabeled: 0 });
      assert.equal(s.sampleIds(leftover[0]!.id, 'train').length, leftover[0]!.id === id ? 30 : 0);
    } finally {
      s.close();
    }
  });
});
