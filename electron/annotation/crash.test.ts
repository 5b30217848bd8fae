import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importTiny, tempDir } from '../store/fixtures/helpers.ts';
import { openStore } from '../store/store.ts';
import { createAnnotationProject } from './projects.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const tmp = tempDir();
after(tmp.cleanup);

/** Run the labeling child until it has acknowledged `acks` labels, then SIGKILL it. */
function labelThenKill(args: string[], acks: number): Promise<string[]> {
  return new Promise((done, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', join(here, 'fixtures', 'labelChild.ts'), ...args],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    let killed = false;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!killed && out.split('\n').length - 1 >= acks) {
        killed = true;
        proc.kill('SIGKILL');
      }
    });
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      if (signal !== 'SIGKILL')
        reject(new Error(`the child exited (${code}) before the kill:\n${err}`));
      const lines = out.split('\n');
      lines.pop();
      done(lines);
    });
  });
}

describe('labels survive a killed app', { timeout: 60_000 }, () => {
  test('every label the app acknowledged is in the store after a SIGKILL', async () => {
    const dbPath = join(tmp.dir, 'crash.db');
    const s = openStore(dbPath);
    const datasetId = importTiny(s, 'fp-crash', 30, 0);
    const projectId = createAnnotationProject(s, {
      name: 'typing',
      datasetId,
      classNames: ['a', 'b', 'c'],
      // No retrain: this test is about the label writes, not the model.
      settings: { retrainEvery: 100_000 },
      createdBy: 'typist',
    });
    const ids = [...s.sampleIds(datasetId, 'train')];
    s.close();

    const acked = new Map<number, { sampleId: number; classIdx: number }>();
    for (const stopAt of [7, 41]) {
      const lines = await labelThenKill([dbPath, String(projectId), ids.join(',')], stopAt);
      assert.ok(lines.length >= stopAt);
      for (const l of lines) {
        const a = JSON.parse(l) as { eventId: number; sampleId: number; classIdx: number };
        acked.set(a.eventId, a);
      }
      const after = openStore(dbPath);
      try {
        assert.equal(after.integrityCheck(), 'ok');
        const stored = new Map(
          ids.flatMap((id) => after.labelHistory(id)).map((e) => [e.id, e] as const),
        );
        for (const [eventId, a] of acked) {
          const e = stored.get(eventId);
          assert.ok(e, `acknowledged label ${eventId} is missing after the kill`);
          assert.equal(e.sampleId, a.sampleId);
          assert.equal(e.classIdx, a.classIdx);
          assert.equal(e.projectId, projectId);
          assert.equal(e.durationMs, 700);
        }
      } finally {
        after.close();
      }
    }
    assert.ok(acked.size >= 48);
  });
});
