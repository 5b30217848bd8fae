import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { AppEvent, Result, StudySummary } from '../../shared/contract.ts';
import type { StudyConfigInput } from '../../shared/study.ts';
import { MlWorker } from '../services/mlWorker.ts';
import { createServices, type Services } from '../services/services.ts';
import { openStore } from '../store/store.ts';

/**
 * Issue 19 through the app's own channels, with the real ML worker: careless inputs that once
 * hung the worker, left junk behind, or answered with raw JavaScript error text. Each answer must
 * be a typed error with a sentence a person can act on.
 */
const TINY: StudyConfigInput = {
  dataset: 'demo',
  strategies: ['Random'],
  repeats: 1,
  seed: 3,
  initial: 20,
  batch: 10,
  budget: 20,
  epochs: 1,
  model: 'mlp',
  trainBatchSize: 16,
  learningRate: 0.001,
  poolSize: 200,
  testSize: 100,
};

type Err = { ok: false; error: { code: string; message: string } };

function failed(r: Result<unknown>): Err['error'] {
  assert.equal(r.ok, false, `expected a refusal, got ${JSON.stringify(r).slice(0, 300)}`);
  return (r as Err).error;
}

/** No raw JavaScript or system error text in what a person reads. */
function readable(message: string): void {
  assert.doesNotMatch(
    message,
    /\b(E[A-Z]{3,}|scandir|Invalid typed array length|Invalid string length|Maximum call stack|TypeError|RangeError)\b/,
    message,
  );
}

function waitFor(services: Services, pred: (e: AppEvent) => boolean, ms = 60_000) {
  return new Promise<AppEvent>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('timed out waiting for an event'));
    }, ms);
    const off = services.onEvent((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

async function png(v: number): Promise<Buffer> {
  return sharp(Buffer.alloc(8 * 8 * 3, v), { raw: { width: 8, height: 8, channels: 3 } })
    .png()
    .toBuffer();
}

describe('careless inputs through the services (issue 19)', { timeout: 180_000 }, () => {
  let dir: string;
  let dbPath: string;
  let services: Services;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-careless-'));
    dbPath = join(dir, 'workspace.db');
    services = createServices({ dataDir: dir, dbPath, mode: 'browser', version: 'test' });
  });

  after(async () => {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('item 4: repeats 1e15, a pool of 1e12 or 1e15 rounds are refused with the reason, at once', async () => {
    const started = Date.now();
    const repeats = failed(
      await services.invoke('studies:create', { config: { ...TINY, repeats: 1e15 } }),
    );
    assert.equal(repeats.code, 'invalid-argument');
    assert.match(repeats.message, /repeats 1000000000000000 is over the limit of 100: each repeat/);
    const pool = failed(
      await services.invoke('studies:create', { config: { ...TINY, poolSize: 1e12 } }),
    );
    assert.equal(pool.code, 'invalid-argument');
    assert.match(pool.message, /pool size 1000000000000 is over the limit/);
    readable(pool.message);
    const rounds = failed(
      await services.invoke('studies:estimate', {
        config: { ...TINY, budget: 1e15, batch: 1, poolSize: undefined },
      }),
    );
    assert.equal(rounds.code, 'invalid-argument');
    assert.match(rounds.message, /query rounds, over the limit of 10000/);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    const list = (await services.invoke('studies:list', {})) as { value: StudySummary[] };
    assert.deepEqual(list.value, [], 'nothing was created');
  });

  test('item 7: a study whose dataset does not exist is refused, and none is left behind', async () => {
    const e = failed(
      await services.invoke('studies:create', {
        config: { ...TINY, dataset: join(dir, 'no-such.csv') },
      }),
    );
    assert.equal(e.code, 'invalid-argument');
    assert.match(e.message, /no-such\.csv: not a known dataset name .* no such file or folder/);
    const list = (await services.invoke('studies:list', {})) as { value: StudySummary[] };
    assert.equal(list.value.length, 0);
  });

  test('items 4 and 7: a study stored before the limits fails at start, not forever; why is kept across a reopen', async () => {
    const store = openStore(dbPath);
    const id = store.createStudy({
      name: 'from an older version',
      datasetSpec: 'demo',
      config: { ...TINY, repeats: 1e15 },
    });
    store.close();
    const ended = waitFor(
      services,
      (e) => e.kind === 'study-status' && e.studyId === id && e.status !== 'running',
      30_000,
    );
    const r = await services.invoke('studies:start', { id });
    assert.equal(r.ok, true, JSON.stringify(r));
    const e = (await ended) as Extract<AppEvent, { kind: 'study-status' }>;
    assert.equal(e.status, 'failed');
    assert.match(e.message ?? '', /repeats 1000000000000000 is over the limit of 100/);

    // After a reload (a new back end on the same database) the reason is still there.
    const again = createServices({ dataDir: dir, dbPath, mode: 'browser', version: 'test' });
    try {
      const list = (await again.invoke('studies:list', {})) as { value: StudySummary[] };
      const s = list.value.find((x) => x.id === id)!;
      assert.equal(s.status, 'failed');
      assert.match(s.message ?? '', /repeats 1000000000000000 is over the limit of 100/);
    } finally {
      await again.close();
    }
  });

  test('item 2: a study another process is running is refused at start, naming the process', async () => {
    const created = await services.invoke('studies:create', { config: TINY });
    assert.equal(created.ok, true, JSON.stringify(created));
    const id = (created as { value: StudySummary }).value.id;
    let holder: ChildProcess | undefined;
    try {
      holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
        stdio: 'ignore',
      });
      writeFileSync(`${dbPath}.study-${id}.lock`, `${holder.pid}\n`);
      const e = failed(await services.invoke('studies:start', { id }));
      assert.equal(e.code, 'busy');
      assert.match(
        e.message,
        new RegExp(`Study ${id} is being run by another process \\(pid ${holder.pid}`),
      );
    } finally {
      holder?.kill();
      rmSync(`${dbPath}.study-${id}.lock`, { force: true });
    }
  });

  test("item 9: relative paths are refused, not resolved against the server's folder", async () => {
    for (const [channel, args] of [
      ['datasets:preview', { path: 'data/images' }],
      ['datasets:import', { path: './x.csv' }],
      ['studies:create', { config: { ...TINY, dataset: 'my.csv' } }],
      ['studies:estimate', { config: { ...TINY, dataDir: 'datasets' } }],
      ['projects:import', { path: 'export.json', createdBy: 'me' }],
      ['projects:export', { projectId: 1, format: 'csv', out: 'labels.csv' }],
    ] as const) {
      const e = failed(await services.invoke(channel, args));
      assert.equal(e.code, 'invalid-argument', channel);
      assert.match(
        e.message,
        /is a relative path, and the app cannot tell what it is relative to; give the full path/,
        channel,
      );
    }
    // Built-in names are not paths.
    const ok = await services.invoke('studies:estimate', { config: { ...TINY, dataset: 'demo' } });
    assert.equal(ok.ok, true, JSON.stringify(ok));
  });

  test(
    'item 8: a FIFO, a device and a folder-for-a-file answer with sentences, not ENOTDIR/EISDIR',
    {
      skip: process.platform === 'win32' ? 'no FIFOs or /dev on Windows' : false,
    },
    async () => {
      const fifo = join(dir, 'pipe');
      execFileSync('mkfifo', [fifo]);
      const p = failed(await services.invoke('datasets:preview', { path: fifo }));
      assert.equal(p.code, 'invalid-argument');
      assert.match(p.message, /is a named pipe \(FIFO\), not a dataset file or folder/);
      readable(p.message);
      const d = failed(await services.invoke('datasets:preview', { path: '/dev/zero' }));
      assert.match(d.message, /is a device, not a dataset file or folder/);
    },
  );

  test('item 8: a class name given twice is invalid-argument with a sentence, not internal', async () => {
    const images = join(dir, 'images');
    for (const cls of ['ant', 'bee'])
      for (let i = 0; i < 3; i++) {
        mkdirSync(join(images, cls), { recursive: true });
        writeFileSync(join(images, cls, `${i}.png`), await png(40 * i + (cls === 'ant' ? 0 : 20)));
      }
    const imported = await services.invoke('datasets:import', { path: images });
    assert.equal(imported.ok, true, JSON.stringify(imported));
    const datasetId = (imported as { value: { id: number } }).value.id;
    const e = failed(
      await services.invoke('projects:create', {
        name: 'bugs',
        datasetId,
        classNames: ['ant', 'bee', 'ant'],
        createdBy: 'me',
      }),
    );
    assert.equal(e.code, 'invalid-argument');
    assert.match(e.message, /class name "ant" appears twice; give every class its own name/);

    // An export over a folder with --overwrite once answered "EISDIR ... rename '.x.<hex>.tmp'".
    const project = await services.invoke('projects:create', {
      name: 'bugs',
      datasetId,
      createdBy: 'me',
    });
    assert.equal(project.ok, true, JSON.stringify(project));
    const projectId = (project as { value: { id: number } }).value.id;
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    const x = failed(
      await services.invoke('projects:export', {
        projectId,
        format: 'csv',
        out: folder,
        overwrite: true,
      }),
    );
    assert.equal(x.code, 'invalid-argument');
    assert.match(x.message, /is a folder; a csv export is written to a file/);
    readable(x.message);
  });
});

describe('cancelling a preview through the services (issue 19 item 4)', { timeout: 60_000 }, () => {
  test('datasets:cancel stops a preview that is stuck, within seconds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deepal-cancel-'));
    // The fixture worker gets stuck on a preview for real (it never reads a message again).
    const worker = new MlWorker(new URL('../services/fixtures/stuckWorker.mjs', import.meta.url));
    const services = createServices({
      dataDir: dir,
      dbPath: join(dir, 'workspace.db'),
      mode: 'browser',
      version: 'test',
      worker,
    });
    try {
      const progress = waitFor(services, (e) => e.kind === 'import-progress', 10_000);
      const preview = services.invoke('datasets:preview', { path: '/data/spin' });
      const e = (await progress) as Extract<AppEvent, { kind: 'import-progress' }>;
      const started = Date.now();
      const c = await services.invoke('datasets:cancel', { jobId: e.jobId });
      assert.deepEqual(c, { ok: true, value: { cancelling: true } });
      const r = failed(await preview);
      assert.equal(r.code, 'cancelled');
      assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);
      // A study is not this channel's to cancel, nor is a finished job.
      assert.deepEqual(await services.invoke('datasets:cancel', { jobId: e.jobId }), {
        ok: true,
        value: { cancelling: false },
      });
    } finally {
      await services.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a study stuck in its thread: studies:cancel ends it within seconds, records it cancelled and frees its lock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deepal-cancel-'));
    const dbPath = join(dir, 'workspace.db');
    const worker = new MlWorker(new URL('../services/fixtures/stuckWorker.mjs', import.meta.url));
    const services = createServices({
      dataDir: dir,
      dbPath,
      mode: 'browser',
      version: 'test',
      worker,
    });
    try {
      const store = openStore(dbPath);
      const id = store.createStudy({ name: 'stuck', datasetSpec: 'demo', config: TINY });
      store.close();
      // What the study's job writes when it takes the lock; a thread that is ended cannot remove it.
      writeFileSync(`${dbPath}.study-${id}.lock`, `${process.pid}\n`);
      const ended = waitFor(
        services,
        (e) => e.kind === 'study-status' && e.studyId === id && e.status !== 'running',
        20_000,
      );
      assert.equal((await services.invoke('studies:start', { id })).ok, true);
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      assert.deepEqual(await services.invoke('studies:cancel', { id }), {
        ok: true,
        value: { cancelling: true },
      });
      const e = (await ended) as Extract<AppEvent, { kind: 'study-status' }>;
      assert.equal(e.status, 'cancelled');
      assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);
      const list = (await services.invoke('studies:list', {})) as { value: StudySummary[] };
      assert.equal(list.value[0]!.status, 'cancelled', 'not left "running" for the next launch');
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(
        !existsSync(`${dbPath}.study-${id}.lock`),
        'the lock the ended thread held is freed',
      );
    } finally {
      await services.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
