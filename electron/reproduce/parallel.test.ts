import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lockStudy } from './lock.ts';
import { chooseJobs, threadsPerJob } from './parallel.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'electron', 'cli', 'bin.mjs');
const dir = mkdtempSync(join(tmpdir(), 'deepal-parallel-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const env: NodeJS.ProcessEnv = { ...process.env, DEEPAL_HOME: dir, DEEPAL_BACKEND: 'wasm' };
delete env.DEEPAL_WASM_THREADS;
const smoke = (name: string, extra: string[]) => [
  bin,
  'reproduce',
  '--plan',
  'smoke',
  '--db-dir',
  join(dir, name, 'db'),
  '--out',
  join(dir, name, 'out'),
  '--no-figures',
  ...extra,
];
const SMOKE_KEYS = ['demo', 'ablation-epochs-1', 'ablation-epochs-2', 'ablation-batch-40'];

type Report = {
  runs: { strategy: string; repeat: number; curve: { labeled: number; accuracy: number }[] }[];
};
const reportOf = (name: string, key: string) =>
  JSON.parse(readFileSync(join(dir, name, 'out', key, 'report.json'), 'utf8')) as Report;
const curves = (r: Report) =>
  r.runs.map((x) => [x.strategy, x.repeat, x.curve.map((p) => [p.labeled, p.accuracy])]);

describe('how many studies side by side', () => {
  test('auto: one per CPU on wasm/cpu, 1 where a native backend may load; never more than studies', () => {
    assert.equal(chooseJobs('auto', 9, { cpus: 2, nativeInstalled: false }), 2);
    assert.equal(chooseJobs('auto', 9, { cpus: 2, nativeInstalled: true }), 1);
    assert.equal(chooseJobs('auto', 9, { cpus: 2, nativeInstalled: true, backend: 'wasm' }), 2);
    assert.equal(chooseJobs('auto', 9, { cpus: 16, nativeInstalled: false, backend: 'node' }), 1);
    assert.equal(chooseJobs('auto', 3, { cpus: 16, nativeInstalled: false }), 3);
    assert.equal(chooseJobs('auto', 0, { cpus: 16, nativeInstalled: false }), 1);
    assert.equal(chooseJobs(4, 2, { nativeInstalled: true }), 2);
    assert.equal(chooseJobs(3, 9, { nativeInstalled: true }), 3);
    assert.equal(threadsPerJob(2, 2), 1);
    assert.equal(threadsPerJob(3, 2), 1);
    assert.equal(threadsPerJob(2, 8), 4);
    assert.equal(threadsPerJob(4, 8), 2);
    assert.equal(threadsPerJob(1, 32), 4);
  });

  test('--jobs refuses what is not a count', () => {
    const r = spawnSync(process.execPath, smoke('bad', ['--jobs', '0']), { env, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--jobs.*whole number of at least 1, or auto/);
  });
});

describe('study lock', () => {
  test('a live holder is named and refused; a dead one is taken over; release removes it', async () => {
    const db = join(dir, 'locked.db');
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    await new Promise((r) => sleeper.once('spawn', r));
    writeFileSync(`${db}.lock`, `${sleeper.pid}\n`);
    assert.throws(
      () => lockStudy(db, 'study x'),
      new RegExp(`study x is being run by process ${sleeper.pid} \\(lock .*locked\\.db\\.lock\\)`),
    );
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.once('exit', r));
    const release = lockStudy(db, 'study x');
    assert.equal(readFileSync(`${db}.lock`, 'utf8').trim(), String(process.pid));
    release();
    assert.equal(existsSync(`${db}.lock`), false);
    writeFileSync(`${db}.lock`, 'garbage');
    lockStudy(db, 'study x')();
  });
});

describe('deepal reproduce --jobs', { timeout: 240_000 }, () => {
  test('studies side by side record exactly what one process records', () => {
    const one = spawnSync(process.execPath, smoke('one', ['--jobs', '1']), {
      env,
      encoding: 'utf8',
    });
    assert.equal(one.status, 0, one.stderr);
    assert.doesNotMatch(one.stderr, /at a time/);
    const two = spawnSync(process.execPath, smoke('two', ['--jobs', '2']), {
      env,
      encoding: 'utf8',
    });
    assert.equal(two.status, 0, two.stderr);
    assert.match(
      two.stderr,
      /4 studies, 2 at a time, each in its own process with \d wasm thread\(s\)/,
    );
    for (const key of SMOKE_KEYS) {
      assert.match(two.stderr, new RegExp(`study ${key} done`));
      assert.deepEqual(curves(reportOf('two', key)), curves(reportOf('one', key)), key);
      assert.ok(reportOf('two', key).runs.length > 0);
    }
    const readme = readFileSync(join(dir, 'two', 'out', 'README.md'), 'utf8');
    assert.match(readme, /Every planned study is complete\./);
    for (const key of SMOKE_KEYS)
      assert.equal(existsSync(join(dir, 'two', 'db', `${key}.db.lock`)), false);
  });

  test('a study another process holds fails with its name; the others finish', () => {
    const name = 'held';
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      spawnSync('mkdir', ['-p', join(dir, name, 'db')]);
      writeFileSync(join(dir, name, 'db', 'ablation-epochs-2.db.lock'), `${sleeper.pid}\n`);
      const r = spawnSync(process.execPath, smoke(name, ['--jobs', '2']), {
        env,
        encoding: 'utf8',
      });
      assert.notEqual(r.status, 0);
      assert.match(
        r.stderr,
        new RegExp(`study ablation-epochs-2 is being run by process ${sleeper.pid}`),
      );
      assert.match(r.stderr, /study ablation-epochs-2 failed \(exit code 1\)/);
      for (const key of ['demo', 'ablation-epochs-1', 'ablation-batch-40'])
        assert.match(r.stderr, new RegExp(`study ${key} done`));
      assert.equal(existsSync(join(dir, name, 'out', 'README.md')), false, 'not published');
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  test('Ctrl-C stops every study after its batch; the same command finishes them', async () => {
    const name = 'stop';
    const child = spawn(process.execPath, smoke(name, ['--jobs', '2']), { env });
    let err = '';
    let sent = false;
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        if (!sent && / round 1\/\d+:/.test(err)) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      child.on('exit', (c) => resolve(c));
    });
    assert.ok(sent, err);
    assert.equal(code, 130, err);
    assert.match(err, /Stopped; every completed round is stored \(not finished: /);
    assert.equal(existsSync(join(dir, name, 'out', 'README.md')), false);
    const again = spawnSync(process.execPath, smoke(name, ['--jobs', '2']), {
      env,
      encoding: 'utf8',
    });
    assert.equal(again.status, 0, again.stderr);
    for (const key of SMOKE_KEYS) {
      assert.ok(existsSync(join(dir, 'one', 'out', key, 'report.json')), 'needs the first test');
      assert.deepEqual(curves(reportOf(name, key)), curves(reportOf('one', key)), key);
    }
  });
});
