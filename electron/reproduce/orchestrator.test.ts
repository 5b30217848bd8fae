import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../store/store.ts';
import { ensurePlannedStudy } from './orchestrator.ts';
import { buildPlan, SMOKE_PLAN } from './plan.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'electron', 'cli', 'bin.mjs');
const dir = mkdtempSync(join(tmpdir(), 'deepal-reproduce-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const env = { ...process.env, DEEPAL_HOME: dir, DEEPAL_WASM_THREADS: '1' };
const args = (extra: string[]) => [
  bin,
  'reproduce',
  '--plan',
  'smoke',
  '--only',
  'demo',
  '--db-dir',
  join(dir, 'db'),
  '--out',
  join(dir, 'out'),
  '--no-figures',
  ...extra,
];

/** Start the reproduction and kill -9 it once `after` rounds were printed. */
function killAfter(rounds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args([]), { env });
    let err = '';
    let sent = false;
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      if (!sent && (err.match(/ round \d+\/\d+:/g) ?? []).length >= rounds) {
        sent = true;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', () => (sent ? resolve(err) : reject(new Error(`ended first:\n${err}`))));
  });
}

function recorded(): {
  runs: number;
  rounds: { run: string; round: number; accuracy: number; selected: number[] }[];
} {
  const store = openStore(join(dir, 'db', 'demo.db'), { readonly: true });
  try {
    const study = store.listStudies();
    assert.equal(study.length, 1);
    const runs = store.listRuns(study[0]!.id);
    return {
      runs: runs.length,
      rounds: runs.flatMap((r) =>
        store.listRounds(r.id).map((x) => ({
          run: `${r.strategy}/${r.repeat}`,
          round: x.round,
          accuracy: x.accuracy,
          selected: x.selected,
        })),
      ),
    };
  } finally {
    store.close();
  }
}

describe('deepal reproduce: resumable after kill -9', { timeout: 60_000 }, () => {
  test('killed mid-study, rerun: keeps every recorded round, repeats none, finishes', async () => {
    await killAfter(4);
    const before = recorded();
    assert.ok(before.rounds.length >= 4, `${before.rounds.length} rounds recorded before the kill`);
    // 2 strategies x 2 repeats x 3 rounds (seed + 2 queries).
    assert.ok(before.rounds.length < 12, 'killed before the end');
    // The report files were rewritten when the first run completed, before the kill.
    const killedReport = JSON.parse(
      readFileSync(join(dir, 'out', 'demo', 'report.json'), 'utf8'),
    ) as { runs: { complete: boolean }[] };
    assert.ok(killedReport.runs.filter((r) => r.complete).length >= 1);

    const dry = spawnSync(process.execPath, args(['--dry-run']), { env, encoding: 'utf8' });
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`demo\\s+4\\s+12 \\(${before.rounds.length}\\)`));

    const again = spawnSync(process.execPath, args([]), { env, encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /study 1\/1 demo: resuming/);
    const afterRun = recorded();
    assert.equal(afterRun.runs, 4);
    assert.equal(afterRun.rounds.length, 12);
    for (const r of before.rounds)
      assert.deepEqual(
        afterRun.rounds.find((x) => x.run === r.run && x.round === r.round),
        r,
      );
    const keys = afterRun.rounds.map((r) => `${r.run}#${r.round}`);
    assert.equal(new Set(keys).size, 12, 'no round twice');

    const report = JSON.parse(readFileSync(join(dir, 'out', 'demo', 'report.json'), 'utf8')) as {
      runs: { complete: boolean }[];
    };
    assert.equal(report.runs.filter((r) => r.complete).length, 4);
    const readme = readFileSync(join(dir, 'out', 'README.md'), 'utf8');
    assert.match(readme, /\| \[demo\]\(demo\/report.html\) .* complete \(4\/4 runs\) \|/);
    // The other smoke studies were not selected: listed as not run, never as complete.
    assert.match(readme, /\| ablation-epochs-2 \| .* \*\*NOT RUN\*\* yet \|/);

    // Run again: nothing left to do, nothing recorded twice.
    const third = spawnSync(process.execPath, args(['--no-publish']), { env, encoding: 'utf8' });
    assert.equal(third.status, 0, third.stderr);
    assert.doesNotMatch(third.stderr, / round \d+\/\d+:/);
    assert.equal(recorded().rounds.length, 12);

    // Rewriting the reports keeps the backend the runs were trained on (nothing trains then).
    const backendOf = () =>
      (
        JSON.parse(readFileSync(join(dir, 'out', 'demo', 'report.json'), 'utf8')) as {
          backend: string;
        }
      ).backend;
    const trainedOn = backendOf();
    assert.notEqual(trainedOn, 'unknown');
    const rewrite = spawnSync(process.execPath, args(['--report-only', '--no-publish']), {
      env,
      encoding: 'utf8',
    });
    assert.equal(rewrite.status, 0, rewrite.stderr);
    assert.equal(backendOf(), trainedOn);
  });

  test('a fresh checkout (report committed, no database) carries complete runs over, trains only the rest', () => {
    const reportFile = join(dir, 'out', 'demo', 'report.json');
    type Report = {
      config: Record<string, unknown>;
      runs: {
        strategy: string;
        repeat: number;
        complete: boolean;
        aubc: number;
        curve: unknown[];
      }[];
    };
    const full = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    assert.equal(full.runs.filter((r) => r.complete).length, 4, 'the first test completed it');
    // As committed after a sitting that stopped mid-study: Entropy's repeat 2 cut short.
    const partial: Report = {
      ...full,
      runs: full.runs.map((r) =>
        r.strategy === 'Entropy' && r.repeat === 1
          ? { ...r, complete: false, curve: r.curve.slice(0, 2) }
          : r,
      ),
    };
    writeFileSync(reportFile, JSON.stringify(partial));
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(join(dir, 'db', `demo.db${suffix}`), { force: true });

    const dry = spawnSync(process.execPath, args(['--dry-run']), { env, encoding: 'utf8' });
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /demo\s+4\s+12 \(9\)/, 'three complete runs count as done');

    const run = spawnSync(process.execPath, args(['--no-publish']), { env, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /demo: 3 complete run\(s\) carried over from .*report\.json/);
    const trained = [...run.stderr.matchAll(/demo (\w+) repeat (\d) round \d+\/\d+:/g)].map(
      (m) => `${m[1]}/${m[2]}`,
    );
    assert.deepEqual(new Set(trained), new Set(['Entropy/2']), 'only the cut run is trained');
    assert.equal(trained.length, 3, 'all three of its rounds: a cut run starts over');

    const after = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    assert.equal(after.runs.filter((r) => r.complete).length, 4);
    for (const r of full.runs.filter((x) => !(x.strategy === 'Entropy' && x.repeat === 1))) {
      const same = after.runs.find((x) => x.strategy === r.strategy && x.repeat === r.repeat)!;
      assert.deepEqual(same.curve, r.curve, `${r.strategy}/${r.repeat + 1} kept as committed`);
      assert.equal(same.aubc, r.aubc);
    }

    // A report of other settings is not carried over: its runs are trained again.
    writeFileSync(reportFile, JSON.stringify({ ...full, config: { ...full.config, epochs: 3 } }));
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(join(dir, 'db', `demo.db${suffix}`), { force: true });
    const other = spawnSync(process.execPath, args(['--no-publish']), { env, encoding: 'utf8' });
    assert.equal(other.status, 0, other.stderr);
    assert.match(
      other.stderr,
      /made with other settings than the plan's; its runs are trained here/,
    );
    assert.equal([...other.stderr.matchAll(/ round \d+\/\d+:/g)].length, 12);

    // --from-scratch trains everything again even with a matching committed report.
    const scratch = spawnSync(process.execPath, args(['--no-publish', '--from-scratch']), {
      env,
      encoding: 'utf8',
    });
    assert.equal(scratch.status, 0, scratch.stderr);
    assert.doesNotMatch(scratch.stderr, /carried over/);
    assert.equal([...scratch.stderr.matchAll(/ round \d+\/\d+:/g)].length, 12);
  });

  test('split over two machines (--shard 1/2, 2/2), brought together with --merge', () => {
    const machine = (k: number, extra: string[]) =>
      spawnSync(
        process.execPath,
        [
          bin,
          'reproduce',
          '--plan',
          'smoke',
          '--only',
          'demo',
          '--db-dir',
          join(dir, `m${k}`, 'db'),
          '--out',
          join(dir, `m${k}`, 'out'),
          '--no-figures',
          ...extra,
        ],
        { env, encoding: 'utf8' },
      );
    const runsOf = (k: number) =>
      (
        JSON.parse(readFileSync(join(dir, `m${k}`, 'out', 'demo', 'report.json'), 'utf8')) as {
          runs: { strategy: string; repeat: number; complete: boolean; aubc: number }[];
        }
      ).runs;
    const one = machine(1, ['--shard', '1/2']);
    assert.equal(one.status, 0, one.stderr);
    const two = machine(2, ['--shard', '2/2']);
    assert.equal(two.status, 0, two.stderr);
    const a = runsOf(1);
    const b = runsOf(2);
    assert.equal(a.length + b.length, 4);
    assert.ok(a.length > 0 && b.length > 0, 'both machines ran something');
    const keys = [...a, ...b].map((r) => `${r.strategy}/${r.repeat}`);
    assert.equal(new Set(keys).size, 4, 'no run on both machines');

    const merged = machine(3, [
      '--report-only',
      '--no-publish',
      '--merge',
      join(dir, 'm1', 'out'),
      '--merge',
      join(dir, 'm2', 'out'),
    ]);
    assert.equal(merged.status, 0, merged.stderr);
    const all = runsOf(3);
    assert.equal(all.filter((r) => r.complete).length, 4);
    for (const r of [...a, ...b])
      assert.equal(
        all.find((x) => x.strategy === r.strategy && x.repeat === r.repeat)!.aubc,
        r.aubc,
      );

    assert.match(
      machine(1, ['--shard', '1/2', '--jobs', '2']).stderr,
      /--shard runs its share in one process/,
    );
    assert.match(machine(1, ['--shard', '3/2']).stderr, /expected i\/n with 1 <= i <= n/);
  });

  test('a stored study with other settings is refused, not mixed', () => {
    const [planned] = buildPlan(SMOKE_PLAN);
    const store = openStore(join(dir, 'other.db'));
    try {
      const first = ensurePlannedStudy(store, planned!);
      assert.equal(first.resumed, false);
      assert.deepEqual(ensurePlannedStudy(store, planned!), { id: first.id, resumed: true });
      const changed = { ...planned!, config: { ...planned!.config, epochs: 3 } };
      assert.throws(
        () => ensurePlannedStudy(store, changed),
        /other settings.*--from-scratch --only demo/,
      );
    } finally {
      store.close();
    }
  });
});
