import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deriveSeed } from '../../shared/random.ts';
import { buildReport, type StudyReport } from '../../shared/report.ts';
import { roundCount, StudyConfigSchema } from '../../shared/study.ts';
import { STRATEGY_VERSIONS, strategyVersion } from '../ml/strategies/versions.ts';
import { openStore } from '../store/store.ts';
import { writeStudyOutputs } from '../study/output.ts';
import { committedRuns, withStrategyVersions } from './committed.ts';
import { ensurePlannedStudy } from './orchestrator.ts';
import {
  buildPlan,
  CATALOG_IDS,
  selectStrategies,
  SMOKE_PLAN,
  withOnlyStrategies,
  type PlannedStudy,
} from './plan.ts';
import { dropOutdatedRuns, readDbVersions, versionsFileOf, writeDbVersions } from './versions.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'electron', 'cli', 'bin.mjs');
const dir = mkdtempSync(join(tmpdir(), 'deepal-versions-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A study of Random (never changed: version 1) and BALD (changed in issue 18: version 2).
const demo = buildPlan(SMOKE_PLAN).find((p) => p.key === 'demo')!;
const planned: PlannedStudy = {
  ...demo,
  config: { ...demo.config, strategies: ['Random', 'BALD'] },
};
const cfg = StudyConfigSchema.parse(planned.config);
const runsOf = (strategies: string[]) =>
  strategies.flatMap((strategy) =>
    [0, 1].map((repeat) => ({
      strategy,
      repeat,
      seed: deriveSeed(cfg.seed, 'repeat', repeat),
      rounds: Array.from({ length: roundCount(cfg) + 1 }, (_, round) => ({
        round,
        labeled: cfg.initial + round * cfg.batch,
        accuracy: 0.5 + 0.1 * round,
        loss: 1,
        trainMs: 10,
        queryMs: round === 0 ? 0 : 2,
      })),
    })),
  );
const report = (): StudyReport =>
  buildReport({
    config: cfg,
    dataset: { description: 'demo', pool: 200, test: 100, classes: ['a', 'b'] },
    backend: 'test',
    runs: runsOf(['Random', 'BALD']).map((r) => ({ ...r, status: 'done' })),
    expectedRounds: roundCount(cfg),
  });

describe('strategy implementation versions', () => {
  test('a committed run of an older implementation of its strategy is not carried over', () => {
    assert.equal(strategyVersion('Random'), 1);
    assert.equal(strategyVersion('BALD'), 2);
    // A report written before versions existed: every strategy at version 1.
    const out = join(dir, 'old');
    writeStudyOutputs(report(), join(out, 'demo'));
    const old = committedRuns(out, planned);
    assert.deepEqual(
      old.runs.map((r) => r.strategy),
      ['Random', 'Random'],
    );
    assert.deepEqual(old.outdated, [{ strategy: 'BALD', runs: 2, version: 1, current: 2 }]);
    // Written by this code: it records the versions, and every run is current.
    const now = join(dir, 'now');
    const versioned = withStrategyVersions(report());
    assert.deepEqual(versioned.strategyVersions, { Random: 1, BALD: 2 });
    writeStudyOutputs(versioned, join(now, 'demo'));
    const current = committedRuns(now, planned);
    assert.equal(current.runs.length, 4);
    assert.equal(current.outdated, undefined);
  });

  test('a database of older runs is set aside; the other strategies’ complete runs are kept', () => {
    const path = join(dir, 'demo.db');
    const store = openStore(path);
    try {
      const { id } = ensurePlannedStudy(store, planned);
      for (const run of runsOf(['Random', 'BALD'])) store.importRun({ studyId: id, ...run });
      // An incomplete Random run: started again from its first round.
      const cut = store.ensureRun({ studyId: id, strategy: 'Random', repeat: 2, seed: 1 });
      store.recordRound({ ...runsOf(['Random'])[0]!.rounds[0]!, runId: cut.id, selected: [] });
    } finally {
      store.close();
    }
    assert.equal(readDbVersions(path), undefined, 'made before versions: all at 1');
    const rebuilt = dropOutdatedRuns(path, planned, (s) => ensurePlannedStudy(s, planned).id);
    assert.deepEqual(rebuilt, {
      outdated: [{ strategy: 'BALD', version: 1, current: 2 }],
      kept: 2,
      superseded: `${path}.superseded`,
    });
    const fresh = openStore(path, { readonly: true });
    try {
      const runs = fresh.listRuns(fresh.listStudies()[0]!.id);
      assert.deepEqual(
        runs.map((r) => `${r.strategy}/${r.repeat}/${r.status}`),
        ['Random/0/done', 'Random/1/done'],
      );
    } finally {
      fresh.close();
    }
    const kept = openStore(`${path}.superseded`, { readonly: true });
    try {
      assert.equal(kept.listRuns(kept.listStudies()[0]!.id).length, 5, 'nothing deleted');
    } finally {
      kept.close();
    }
    writeDbVersions(path, planned.config.strategies);
    assert.deepEqual(readDbVersions(path), { Random: 1, BALD: 2 });
    assert.equal(
      dropOutdatedRuns(path, planned, () => 0),
      null,
      'current now: left alone',
    );
    assert.ok(existsSync(versionsFileOf(path)));
  });

  test('versions are kept for catalog strategies only', () => {
    for (const id of Object.keys(STRATEGY_VERSIONS)) assert.ok(CATALOG_IDS.includes(id), id);
    for (const v of Object.values(STRATEGY_VERSIONS)) assert.ok(Number.isInteger(v) && v >= 2);
  });

  test('--strategies names strategies of the plan; estimates see only theirs', () => {
    const plan = buildPlan(SMOKE_PLAN);
    assert.equal(selectStrategies(plan, undefined), undefined);
    assert.deepEqual(selectStrategies(plan, ' Entropy '), new Set(['Entropy']));
    assert.throws(() => selectStrategies(plan, 'Entropy,Bogus'), /unknown Bogus; .*Random/);
    const only = withOnlyStrategies(plan, new Set(['Entropy']));
    assert.equal(only.length, plan.length);
    for (const s of only) assert.deepEqual(s.config.strategies, ['Entropy']);
    assert.deepEqual(withOnlyStrategies([planned], new Set(['Entropy'])), []);
  });
});

describe(
  'deepal reproduce re-runs only the strategies whose implementation changed',
  { timeout: 120_000 },
  () => {
    const env = { ...process.env, DEEPAL_HOME: dir, DEEPAL_WASM_THREADS: '1' };
    const cli = (extra: string[]) =>
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
          join(dir, 'cli', 'db'),
          '--out',
          join(dir, 'cli', 'out'),
          '--no-publish',
          ...extra,
        ],
        { env, encoding: 'utf8' },
      );
    const reportFile = join(dir, 'cli', 'out', 'demo', 'report.json');
    const dbFile = join(dir, 'cli', 'db', 'demo.db');
    type Report = {
      strategyVersions?: Record<string, number>;
      runs: { strategy: string; repeat: number; complete: boolean; curve: unknown[] }[];
    };
    const read = () => JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    const trained = (stderr: string) =>
      [...stderr.matchAll(/demo (\w+) repeat \d round \d+\/\d+:/g)].map((m) => m[1]);

    test('committed runs of a changed strategy are trained again, the others carried over', () => {
      const first = cli(['--strategies', 'Random']);
      assert.equal(first.status, 0, first.stderr);
      assert.deepEqual(new Set(trained(first.stderr)), new Set(['Random']), 'only Random trained');
      assert.deepEqual(
        read().runs.map((r) => r.strategy),
        ['Random', 'Random'],
      );
      const both = cli([]);
      assert.equal(both.status, 0, both.stderr);
      assert.deepEqual(new Set(trained(both.stderr)), new Set(['Entropy']));
      const full = read();
      assert.deepEqual(full.strategyVersions, { Random: 1, Entropy: 1 });

      // As if Entropy had changed since the report was committed (its recorded version is older),
      // on a fresh checkout (no database).
      writeFileSync(
        reportFile,
        JSON.stringify({ ...full, strategyVersions: { Random: 1, Entropy: 0 } }),
      );
      rmSync(dbFile, { force: true });
      rmSync(versionsFileOf(dbFile), { force: true });
      const dry = cli(['--dry-run']);
      assert.equal(dry.status, 0, dry.stderr);
      assert.match(dry.stdout, /demo\s+4\s+12 \(6\)/, 'Random’s two runs count as done');
      assert.match(dry.stdout, /demo: Entropy \(2 run\(s\), version 0, now 1\)/);
      const again = cli([]);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stderr, /demo: 2 complete run\(s\) carried over/);
      assert.match(again.stderr, /made by another implementation of their strategy.*Entropy/);
      assert.deepEqual(trained(again.stderr).length, 6);
      assert.deepEqual(new Set(trained(again.stderr)), new Set(['Entropy']));
      const after1 = read();
      for (const r of full.runs.filter((x) => x.strategy === 'Random'))
        assert.deepEqual(
          after1.runs.find((x) => x.strategy === 'Random' && x.repeat === r.repeat)!.curve,
          r.curve,
          'Random kept as committed',
        );

      // The same change found in a database (and in the report it wrote): the database is set
      // aside and only Entropy trains again.
      const older = { strategyVersions: { Random: 1, Entropy: 0 } };
      writeFileSync(versionsFileOf(dbFile), JSON.stringify(older));
      writeFileSync(reportFile, JSON.stringify({ ...read(), ...older }));
      const db = cli([]);
      assert.equal(db.status, 0, db.stderr);
      assert.match(db.stderr, /database held runs of another implementation of Entropy/);
      assert.deepEqual(new Set(trained(db.stderr)), new Set(['Entropy']));
      assert.ok(existsSync(`${dbFile}.superseded`));
      assert.equal(read().runs.filter((r) => r.complete).length, 4);
    });
  },
);
