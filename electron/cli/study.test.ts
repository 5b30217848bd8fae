import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { StudyReport } from '../../shared/report.ts';
import { requireRealData } from '../ml/datasets/realData.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'electron', 'cli', 'bin.mjs');
const dir = mkdtempSync(join(tmpdir(), 'deepal-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function deepal(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, DEEPAL_HOME: dir },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Start a study, send `signal` once `killAfter` rounds were reported, and return what it printed
 * and how it ended.
 */
function interruptMidway(
  args: string[],
  killAfter: number,
  signal: NodeJS.Signals,
): Promise<{ stderr: string; code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: dir,
      env: { ...process.env, DEEPAL_HOME: dir },
    });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const rounds = (stderr.match(/^\[\d+\/\d+\]/gm) ?? []).length;
      if (rounds >= killAfter && !sent) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, exitSignal) => {
      if (sent) resolvePromise({ stderr, code, signal: exitSignal });
      else reject(new Error(`the study ended (${code}) before ${killAfter} rounds:\n${stderr}`));
    });
  });
}

function readReport(out: string): StudyReport {
  return JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as StudyReport;
}

function curves(report: StudyReport): Record<string, [number, number][]> {
  return Object.fromEntries(
    report.runs.map((r) => [
      `${r.strategy}/${r.repeat}`,
      r.curve.map((p) => [p.labeled, p.accuracy] as [number, number]),
    ]),
  );
}

describe('deepal study', () => {
  test('refuses impossible settings up front with what to change', () => {
    const r = deepal(['study', '--db', join(dir, 'bad.db'), '--budget', '0']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--budget must be a whole number of at least 1/);
    const r2 = deepal(['study', '--db', join(dir, 'bad.db'), '--strategies', 'Entropy,Nope']);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /Nope/);
    const r3 = deepal(['study', '--db', join(dir, 'bad.db'), '--resume']);
    assert.equal(r3.status, 1);
    assert.match(r3.stderr, /Nothing to resume/);
  });

  test('killed with SIGKILL midway, --resume finishes with the report of an uninterrupted run', async () => {
    const common = [
      'study',
      '--dataset',
      'demo',
      '--strategies',
      'Random,Margin',
      '--repeats',
      '2',
      '--init',
      '20',
      '--batch',
      '20',
    ];
    const tiny = [
      ...common,
      '--budget',
      '40',
      '--epochs',
      '2',
      '--model',
      'mlp',
      '--pool-size',
      '300',
      '--test-size',
      '200',
      '--backend',
      'wasm',
    ];
    const ref = deepal([...tiny, '--db', join(dir, 'ref.db'), '--out', join(dir, 'ref')]);
    assert.equal(ref.status, 0, ref.stderr);
    assert.match(ref.stdout, /AUBC %/);

    const db = join(dir, 'killed.db');
    const killed = await interruptMidway(
      [...tiny, '--db', db, '--out', join(dir, 'never')],
      5,
      'SIGKILL',
    );
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(!existsSync(join(dir, 'never', 'report.json')));
    const resumed = deepal([
      'study',
      '--resume',
      '--db',
      db,
      '--out',
      join(dir, 'resumed'),
      '--backend',
      'wasm',
    ]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /already recorded, resuming/);

    const a = readReport(join(dir, 'ref'));
    const b = readReport(join(dir, 'resumed'));
    assert.deepEqual(curves(b), curves(a));
    assert.deepEqual(
      b.summary.map((s) => [s.strategy, s.aubcMean]),
      a.summary.map((s) => [s.strategy, s.aubcMean]),
    );
    const html = readFileSync(join(dir, 'resumed', 'report.html'), 'utf8');
    for (const s of b.summary)
      assert.ok(
        html.includes(`${(s.aubcMean * 100).toFixed(2)} ±`),
        `${s.strategy}'s AUBC is in the HTML`,
      );
    assert.doesNotMatch(html, /https?:\/\//, 'the report loads nothing from the network');
  });

  test('Ctrl-C cancels after the current batch, keeps the store consistent, and --resume finishes', async () => {
    const db = join(dir, 'sigint.db');
    const args = [
      'study',
      '--strategies',
      'Random',
      '--repeats',
      '1',
      '--init',
      '20',
      '--batch',
      '20',
      '--budget',
      '100',
    ];
    const tiny = [
      ...args,
      '--epochs',
      '2',
      '--model',
      'mlp',
      '--pool-size',
      '300',
      '--test-size',
      '200',
      '--backend',
      'wasm',
    ];
    const run = await interruptMidway(
      [...tiny, '--db', db, '--out', join(dir, 'int')],
      2,
      'SIGINT',
    );
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /cancelled; completed rounds are stored/);
    const { openStore } = await import('../store/store.ts');
    const store = openStore(db);
    try {
      assert.equal(store.integrityCheck(), 'ok');
      const study = store.listStudies()[0]!;
      assert.equal(study.status, 'cancelled');
      const rounds = store.listRounds(store.listRuns(study.id)[0]!.id);
      assert.ok(rounds.length >= 2 && rounds.length < 6, `${rounds.length} rounds kept`);
    } finally {
      store.close();
    }
    const resumed = deepal([
      'study',
      '--resume',
      '--db',
      db,
      '--out',
      join(dir, 'int'),
      '--backend',
      'wasm',
    ]);
    assert.equal(resumed.status, 0, resumed.stderr);
    const report = readReport(join(dir, 'int'));
    assert.deepEqual(
      report.runs[0]!.curve.map((p) => p.labeled),
      [20, 40, 60, 80, 100, 120],
    );
  });

  test('Fashion-MNIST study: 4 strategies x 2 repeats, killed and resumed (real data)', async (t) => {
    const dataDir = requireRealData(t, 'fashion-mnist');
    if (!dataDir) return;
    const args = [
      'study',
      '--dataset',
      'fashion-mnist',
      '--data-dir',
      dataDir,
      '--strategies',
      'Random,Entropy,KCenter,BADGE',
      '--repeats',
      '2',
      '--seed',
      '3',
      '--init',
      '40',
      '--batch',
      '40',
      '--budget',
      '80',
      '--epochs',
      '2',
      '--model',
      'cnn',
      '--pool-size',
      '1000',
      '--test-size',
      '500',
      '--backend',
      'wasm',
    ];
    const db = join(dir, 'fmnist.db');
    await interruptMidway([...args, '--db', db, '--out', join(dir, 'fm-never')], 9, 'SIGKILL');
    const resumed = deepal([
      'study',
      '--resume',
      '--db',
      db,
      '--out',
      join(dir, 'fm'),
      '--backend',
      'wasm',
    ]);
    assert.equal(resumed.status, 0, resumed.stderr);
    const report = readReport(join(dir, 'fm'));
    assert.equal(report.runs.length, 8);
    assert.ok(report.runs.every((r) => r.complete && r.curve.length === 3));
    assert.equal(report.summary.length, 4);
    for (const s of report.summary) {
      // 10 classes: a CNN on 120 labels is well above chance (10%) on Fashion-MNIST.
      assert.ok(s.faccMean > 0.3, `${s.strategy} final accuracy ${s.faccMean}`);
    }
    const csv = readFileSync(join(dir, 'fm', 'results.csv'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(csv.length, 1 + 8 * 3);
  });
});

describe('deepal study: careless starts (issue 19)', () => {
  const tinyArgs = [
    '--dataset',
    'demo',
    '--strategies',
    'Random',
    '--repeats',
    '1',
    '--init',
    '20',
    '--batch',
    '20',
    '--budget',
    '20',
    '--epochs',
    '1',
    '--model',
    'mlp',
    '--pool-size',
    '100',
    '--test-size',
    '50',
    '--backend',
    'wasm',
  ];

  async function studiesIn(db: string): Promise<{ id: number; status: string }[]> {
    const { openStore } = await import('../store/store.ts');
    const store = openStore(db, { readonly: true });
    try {
      return store.listStudies().map((s) => ({ id: s.id, status: s.status }));
    } finally {
      store.close();
    }
  }

  test('item 7: a dataset that does not exist or a pool of 1e12 leaves no study behind for --resume to pick', async () => {
    const db = join(dir, 'junk.db');
    const good = deepal(['study', ...tinyArgs, '--db', db, '--out', join(dir, 'junk-good')]);
    assert.equal(good.status, 0, good.stderr);
    const nope = deepal(['study', ...tinyArgs, '--dataset', 'nope', '--db', db]);
    assert.equal(nope.status, 1);
    assert.match(nope.stderr, /nope: not a known dataset name .* no such file or folder/);
    assert.doesNotMatch(nope.stderr, /^Study \d+/m);
    const huge = deepal(['study', ...tinyArgs, '--pool-size', '1e12', '--db', db]);
    assert.equal(huge.status, 1);
    assert.match(huge.stderr, /the pool size 1000000000000 is over the limit of 2000000/);
    assert.doesNotMatch(huge.stderr, /Invalid typed array length/);
    // A failure only the data itself reveals: the study created for it is removed again.
    const csv = join(dir, 'one-class.csv');
    writeFileSync(csv, 'a,label\n1,x\n2,x\n3,x\n');
    const data = deepal(['study', ...tinyArgs, '--dataset', csv, '--db', db]);
    assert.equal(data.status, 1);
    assert.match(data.stderr, /recorded nothing and was removed/);
    assert.deepEqual(await studiesIn(db), [{ id: 1, status: 'done' }]);
    const resume = deepal(['study', '--resume', '--db', db]);
    assert.equal(resume.status, 1);
    assert.match(resume.stderr, /Nothing to resume/);
  });

  test('item 3: --out that is a file is refused before training; report files are never overwritten silently', () => {
    const db = join(dir, 'out.db');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'mine');
    const r = deepal(['study', ...tinyArgs, '--db', db, '--out', file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--out .*a-file is a file, not a folder/);
    assert.doesNotMatch(r.stderr, /^Study \d+/m, 'refused before a study was created');
    const out = join(dir, 'mine');
    mkdirSync(out);
    writeFileSync(join(out, 'results.csv'), 'my own results');
    const refused = deepal(['study', ...tinyArgs, '--db', db, '--out', out]);
    assert.equal(refused.status, 1);
    assert.match(
      refused.stderr,
      /already holds results\.csv; add --overwrite to replace them, or choose another --out/,
    );
    assert.equal(readFileSync(join(out, 'results.csv'), 'utf8'), 'my own results');
    const replaced = deepal(['study', ...tinyArgs, '--db', db, '--out', out, '--overwrite']);
    assert.equal(replaced.status, 0, replaced.stderr);
    assert.match(readFileSync(join(out, 'results.csv'), 'utf8'), /strategy/);
  });

  test('item 9: --db a device, a folder or (with --resume) a missing file: each a sentence, nothing created', () => {
    // The old code left /dev/zero-journal behind; compare with what was there before.
    const journal = existsSync('/dev/zero-journal');
    const dev = deepal(['study', ...tinyArgs, '--db', '/dev/zero']);
    assert.equal(dev.status, 1);
    assert.match(dev.stderr, /--db \/dev\/zero is a device, not a database file/);
    assert.equal(existsSync('/dev/zero-journal'), journal, 'no journal created beside a device');
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    const d = deepal(['study', ...tinyArgs, '--db', folder]);
    assert.equal(d.status, 1);
    assert.match(
      d.stderr,
      /--db .*a-folder is a folder; give the database file, for example .*a-folder\/workspace\.db/,
    );
    assert.doesNotMatch(d.stderr, /writable/);
    const typo = join(dir, 'typo.db');
    const t = deepal(['study', '--resume', '--db', typo]);
    assert.equal(t.status, 1);
    assert.match(t.stderr, /Nothing to resume: there is no workspace database at .*typo\.db/);
    assert.ok(!existsSync(typo), '--resume created no database');
  });

  test('item 2: a second writer of the same study is refused, naming the process; a dead holder is taken over', async () => {
    const db = join(dir, 'locked.db');
    const { openStore } = await import('../store/store.ts');
    const { createStudy } = await import('../study/engine.ts');
    const store = openStore(db);
    const config = {
      dataset: 'demo',
      strategies: ['Random'],
      repeats: 1,
      seed: 1,
      initial: 20,
      batch: 20,
      budget: 20,
      epochs: 1,
      model: 'mlp' as const,
      trainBatchSize: 16,
      learningRate: 0.001,
      poolSize: 100,
      testSize: 50,
    };
    const id = createStudy(store, config);
    store.close();
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
      stdio: 'ignore',
    });
    try {
      writeFileSync(`${db}.study-${id}.lock`, `${holder.pid}\n`);
      const second = deepal(['study', '--resume', '--db', db, '--out', join(dir, 'locked')]);
      assert.equal(second.status, 1);
      assert.match(
        second.stderr,
        new RegExp(`Study ${id} of .*locked\\.db is being run by process ${holder.pid}`),
      );
      assert.deepEqual(await studiesIn(db), [{ id, status: 'created' }]);
    } finally {
      holder.kill();
    }
    await new Promise((r) => holder.once('exit', r));
    const after = deepal([
      'study',
      '--resume',
      '--db',
      db,
      '--out',
      join(dir, 'locked'),
      '--backend',
      'wasm',
    ]);
    assert.equal(after.status, 0, after.stderr);
    assert.ok(!existsSync(`${db}.study-${id}.lock`), 'the lock is released');
  });
});
