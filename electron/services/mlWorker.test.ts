import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MlWorker, WorkerJobError } from './mlWorker.ts';

/**
 * Issue 19, item 4: one stuck job (a CSV header checked in quadratic time, a walk of the whole
 * disk, `repeats: 1e15`) blocked the one ML worker, so every other channel stalled, and cancelling
 * it did nothing. The fixture worker gets stuck for real: it never reads a message again.
 */
const STUCK = new URL('./fixtures/stuckWorker.mjs', import.meta.url);

/** The promise's outcome, or 'pending' if it has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'done',
    (e: unknown) => (e instanceof WorkerJobError ? e.code : `not a WorkerJobError: ${String(e)}`),
  );

describe('ML worker: stuck jobs (issue 19 item 4)', { timeout: 60_000 }, () => {
  test('a stuck preview delays no other job, and cancelling it ends it within seconds', async () => {
    const w = new MlWorker(STUCK);
    try {
      const stuck = w.run({ kind: 'preview', path: 'spin' });
      const stuckCode = codeOf(stuck.done);
      // Another job answers while the preview spins.
      const other = await within(w.run({ kind: 'strategies' }).done, 5000);
      assert.deepEqual(other, [], 'the catalog job answered while a preview was stuck');
      const started = Date.now();
      w.cancel(stuck.jobId);
      assert.equal(await within(stuckCode, 10_000), 'cancelled');
      assert.ok(Date.now() - started < 8000, `cancel took ${Date.now() - started} ms`);
      assert.equal(w.isRunning(stuck.jobId), false);
    } finally {
      await w.close(100);
    }
  });

  test('a study stuck on the shared thread: cancel ends it, jobs beside it are told why, the next job gets a fresh thread', async () => {
    const w = new MlWorker(STUCK);
    try {
      const study = w.run({ kind: 'study', dbPath: 'x.db', studyId: 1 });
      const studyCode = codeOf(study.done);
      const beside = w.run({ kind: 'backend' });
      const besideOutcome = beside.done.then(
        () => 'done',
        (e: unknown) => (e instanceof WorkerJobError ? `${e.code}: ${e.message}` : String(e)),
      );
      await new Promise((r) => setTimeout(r, 200));
      w.cancel(study.jobId);
      assert.equal(await within(studyCode, 10_000), 'cancelled');
      assert.match(
        String(await within(besideOutcome, 2000)),
        /^failed: The ML worker was restarted because a cancelled job did not stop in time; start this again\.$/,
      );
      assert.deepEqual(await within(w.run({ kind: 'strategies' }).done, 10_000), []);
    } finally {
      await w.close(100);
    }
  });
});
