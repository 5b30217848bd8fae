import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AppEvent, Result, StudySummary } from '../../shared/contract.ts';
import type { StudyReport } from '../../shared/report.ts';
import type { StudyConfigInput } from '../../shared/study.ts';
import { createServices, type Services } from './services.ts';

/** A tiny study on the built-in demo data: an MLP, two strategies, four rounds each. */
const TINY: StudyConfigInput = {
  dataset: 'demo',
  strategies: ['Random', 'Entropy'],
  repeats: 1,
  seed: 3,
  initial: 20,
  batch: 10,
  budget: 40,
  epochs: 2,
  model: 'mlp',
  trainBatchSize: 16,
  learningRate: 0.001,
  poolSize: 200,
  testSize: 100,
};

function waitFor(
  services: Services,
  pred: (e: AppEvent) => boolean,
  timeoutMs = 60_000,
): Promise<AppEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('timed out waiting for an event'));
    }, timeoutMs);
    const off = services.onEvent((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

describe('services over the ML worker', { timeout: 120_000 }, () => {
  let dir: string;
  let services: Services;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-services-'));
    services = createServices({
      dataDir: dir,
      dbPath: join(dir, 'workspace.db'),
      mode: 'browser',
      version: 'test',
    });
  });

  after(async () => {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('create, start, cancel mid-study, resume to the end; events and report agree', async () => {
    const created = await services.invoke('studies:create', { config: TINY, name: 'tiny' });
    assert.equal(created.ok, true, JSON.stringify(created));
    const id = (created as { value: StudySummary }).value.id;
    assert.equal((created as { value: StudySummary }).value.roundsTotal, 10);

    const rounds: number[] = [];
    const off = services.onEvent((e) => {
      if (e.kind === 'study-progress' && e.progress.type === 'round') rounds.push(e.progress.round);
    });
    const firstRound = waitFor(
      services,
      (e) => e.kind === 'study-progress' && e.progress.type === 'round',
    );
    const stopped = waitFor(services, (e) => e.kind === 'study-status' && e.status !== 'running');
    const started = await services.invoke('studies:start', { id });
    assert.equal(started.ok, true, JSON.stringify(started));
    // A second start while it runs is refused with a typed error.
    const again = await services.invoke('studies:start', { id });
    assert.equal(again.ok ? 'ok' : again.error.code, 'busy');

    await firstRound;
    const cancel = await services.invoke('studies:cancel', { id });
    assert.deepEqual(cancel, { ok: true, value: { cancelling: true } });
    const end = await stopped;
    assert.equal(end.kind === 'study-status' && end.status, 'cancelled');

    const mid = await services.invoke('studies:report', { id });
    assert.equal(mid.ok, true);
    const midRounds = (mid as { value: StudyReport }).value.runs.reduce(
      (a, r) => a + r.curve.length,
      0,
    );
    assert.ok(midRounds >= 1 && midRounds < 10, `${midRounds} rounds stored after cancelling`);

    const finished = waitFor(services, (e) => e.kind === 'study-status' && e.status !== 'running');
    const resumed = await services.invoke('studies:resume', { id });
    assert.equal(resumed.ok, true, JSON.stringify(resumed));
    const done = await finished;
    off();
    assert.equal(done.kind === 'study-status' && done.status, 'done', JSON.stringify(done));

    const report = await services.invoke('studies:report', { id });
    assert.equal(report.ok, true);
    const r = (report as { value: StudyReport }).value;
    assert.equal(r.summary.length, 2);
    for (const run of r.runs) {
      assert.equal(run.complete, true);
      assert.deepEqual(
        run.curve.map((p) => p.labeled),
        [20, 30, 40, 50, 60],
      );
    }
    // Every round was reported once as an event (none repeated on resume).
    assert.equal(rounds.length, 10);

    const list = (await services.invoke('studies:list', {})) as Result<StudySummary[]>;
    assert.equal(list.ok && list.value[0]?.status, 'done');
    assert.equal(list.ok && list.value[0]?.roundsDone, 10);
    const finishedStart = await services.invoke('studies:resume', { id });
    assert.equal(finishedStart.ok ? 'ok' : finishedStart.error.code, 'invalid-argument');
  });

  test('invalid study settings come back as invalid-argument with the reason', async () => {
    const unknown = await services.invoke('studies:create', {
      config: { ...TINY, strategies: ['NoSuchStrategy'] },
    });
    assert.equal(unknown.ok, false);
    assert.equal(!unknown.ok && unknown.error.code, 'invalid-argument');
    assert.match(!unknown.ok ? unknown.error.message : '', /NoSuchStrategy/);
    const missing = await services.invoke('datasets:preview', { path: join(dir, 'nope') });
    assert.equal(!missing.ok && missing.error.code, 'invalid-argument');
    const notFound = await services.invoke('studies:report', { id: 999 });
    assert.equal(!notFound.ok && notFound.error.code, 'not-found');
  });
});
