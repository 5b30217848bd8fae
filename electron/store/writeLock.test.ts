import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { openStore } from './store.ts';

/**
 * Another connection (the ML worker's, here a thread of its own) commits a label while this one is
 * inside a write transaction that has read but not yet written. Began DEFERRED, the transaction's
 * first write failed at once with "database is locked" (SQLITE_BUSY_SNAPSHOT: its snapshot is
 * stale, which no waiting can fix); begun IMMEDIATE it holds the write lock from the start, the
 * other connection waits its busy timeout, and both writes are stored.
 */
test('a write transaction that reads first survives another connection writing meanwhile', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepal-lock-'));
  const file = join(dir, 'w.db');
  const store = openStore(file);
  try {
    const datasetId = store.importDataset(
      {
        name: 'tiny',
        source: 'test',
        format: 'test',
        classNames: ['a', 'b'],
        sampleShape: [1],
        fingerprint: 'tiny',
      },
      [0, 1].map((idx) => ({ split: 'train' as const, idx })),
    );
    const [first, second] = Array.from(store.sampleIds(datasetId, 'train'));
    // flags[0]: the other connection may write now; flags[1]: it has committed.
    const flags = new Int32Array(new SharedArrayBuffer(8));
    const other = new Worker(
      `const { workerData } = require('node:worker_threads');
       const Database = require(workerData.driver);
       const flags = new Int32Array(workerData.flags);
       const db = new Database(workerData.file);
       db.pragma('busy_timeout = 5000');
       Atomics.wait(flags, 0, 0);
       db.prepare("INSERT INTO label_events (sample_id, class_idx, kind, annotator, source) VALUES (?, 1, 'label', 'worker', 'human')").run(workerData.sampleId);
       Atomics.store(flags, 1, 1);
       db.close();`,
      {
        eval: true,
        workerData: {
          driver: createRequire(import.meta.url).resolve('better-sqlite3'),
          flags: flags.buffer,
          file,
          sampleId: second,
        },
      },
    );
    const exited = new Promise<number>((resolve, reject) => {
      other.once('error', reject);
      other.once('exit', resolve);
    });
    await new Promise((resolve) => other.once('online', resolve));

    store.inTransaction(() => {
      // Read first, as recordTraining and undo do (the project, the event to undo)...
      assert.equal(store.currentLabels({ datasetId }).length, 0);
      Atomics.store(flags, 0, 1);
      Atomics.notify(flags, 0);
      // ...give the other connection a moment to commit (it cannot while we hold the lock)...
      Atomics.wait(flags, 1, 0, 1000);
      // ...then write.
      store.appendLabelEvent({ sampleId: first!, classIdx: 0, annotator: 'main' });
    });
    assert.equal(await exited, 0, 'the other connection wrote and closed');
    const labels = store.currentLabels({ datasetId }).map((l) => [l.sampleId, l.annotator]);
    assert.deepEqual(labels, [
      [first, 'main'],
      [second, 'worker'],
    ]);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
