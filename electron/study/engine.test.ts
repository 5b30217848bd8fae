import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { confusionAccuracy } from '../../shared/metrics.ts';
import { resultsCsv } from '../../shared/report.ts';
import type { StudyConfigInput } from '../../shared/study.ts';
import { initBackend } from '../ml/backend.ts';
import { openStore } from '../store/store.ts';
import { createStudy, runStudy, StudyCancelled, validateStudyConfig } from './engine.ts';

// A study small enough for a unit test, with a partial last batch (budget 50 = 20 + 20 + 10).
const TINY: StudyConfigInput = {
  dataset: 'demo',
  strategies: ['Random', 'Entropy'],
  repeats: 2,
  seed: 7,
  initial: 20,
  batch: 20,
  budget: 50,
  epochs: 2,
  model: 'mlp',
  trainBatchSize: 32,
  learningRate: 1e-3,
  poolSize: 300,
  testSize: 200,
};

let dir = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deepal-engine-'));
  await initBackend('wasm');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('validateStudyConfig', () => {
  test('refuses settings that cannot work, saying what to change', () => {
    assert.throws(
      () => validateStudyConfig({ ...TINY, batch: 0 }),
      /batch \(the query size\) must be at least 1/,
    );
    assert.throws(() => validateStudyConfig({ ...TINY, epochs: -1 }), /epochs must be at least 1/);
    assert.throws(
      () => validateStudyConfig({ ...TINY, strategies: ['Entropy', 'NoSuchThing'] }),
      /NoSuchThing/,
    );
    assert.throws(
      () => validateStudyConfig({ ...TINY, strategies: ['Entropy', 'Entropy'] }),
      /listed twice/,
    );
    assert.throws(() => validateStudyConfig({ ...TINY, strategies: [] }), /at least one strategy/);
  });

  test('a budget larger than the pool is refused before any training', async () => {
    const store = openStore(join(dir, 'too-big.db'));
    try {
      const id = createStudy(store, { ...TINY, budget: 5000 });
      await assert.rejects(runStudy(store, id), /exceeds the pool \(300 samples\)/);
      assert.equal(store.listRuns(id).length, 0);
    } finally {
      store.close();
    }
  });
});

describe('runStudy', () => {
  test('runs every strategy x repeat to the budget with a partial last round', async () => {
    const store = openStore(join(dir, 'full.db'));
    try {
      const id = createStudy(store, TINY);
      const before = tf.memory().numTensors;
      const report = await runStudy(store, id);
      assert.equal(tf.memory().numTensors, before, 'no tensors leaked by a whole study');
      assert.equal(report.runs.length, 4);
      for (const run of report.runs) {
        assert.ok(run.complete);
        assert.deepEqual(
          run.curve.map((p) => p.labeled),
          [20, 40, 60, 70],
        );
        for (const p of run.curve) {
          assert.ok(p.accuracy >= 0 && p.accuracy <= 1);
          assert.ok(p.trainMs > 0);
        }
        assert.equal(run.curve[0]!.queryMs, 0);
        assert.ok(run.curve.slice(1).every((p) => p.queryMs > 0));
      }
      assert.deepEqual(report.summary.map((s) => s.strategy).sort(), ['Entropy', 'Random']);
      assert.equal(resultsCsv(report).trim().split('\n').length, 1 + 4 * 4);
      assert.equal(store.getStudy(id)!.status, 'done');

      // Every round records its test confusion matrix; the report's per-class metrics use it.
      for (const run of store.listRuns(id)) {
        for (const x of store.listRounds(run.id)) {
          const m = x.details.confusion!;
          assert.equal(m.length, report.dataset.classes.length);
          assert.equal(
            m.flat().reduce((a, b) => a + b, 0),
            report.dataset.test,
          );
          assert.equal(confusionAccuracy(m), x.accuracy);
        }
      }
      for (const s of report.summary) {
        assert.ok(s.balancedAubcMean! > 0 && s.balancedFaccMean! > 0, s.strategy);
        assert.equal(s.finalRecall!.length, report.dataset.classes.length);
      }
      assert.equal(report.classSupport!.length, report.dataset.classes.length);

      // Same initial seed for every strategy within a repeat; different seeds across repeats.
      const runs = store.listRuns(id);
      const seedOf = (strategy: string, repeat: number) => {
        const run = runs.find((r) => r.strategy === strategy && r.repeat === repeat)!;
        return store.listRounds(run.id)[0]!.selected;
      };
      assert.deepEqual(seedOf('Random', 0), seedOf('Entropy', 0));
      assert.deepEqual(seedOf('Random', 1), seedOf('Entropy', 1));
      assert.notDeepEqual(seedOf('Random', 0), seedOf('Random', 1));

      // Every selected sample was labeled once, as a simulated label event.
      const run = runs.find((r) => r.strategy === 'Entropy' && r.repeat === 0)!;
      const selected = store.listRounds(run.id).flatMap((r) => r.selected);
      assert.equal(new Set(selected).size, 70);
    } finally {
      store.close();
    }
  });

  test("a strategy's runs do not depend on the study's other strategies", async () => {
    // The reproduction uses this: the Fashion-MNIST main study's runs of the ablation's
    // strategies stand for a separate ablation study with the same settings.
    const store = openStore(join(dir, 'subset.db'));
    try {
      const both = await runStudy(store, createStudy(store, { ...TINY, repeats: 1 }));
      const alone = await runStudy(
        store,
        createStudy(store, { ...TINY, repeats: 1, strategies: ['Entropy'] }),
      );
      const entropy = both.runs.find((r) => r.strategy === 'Entropy')!;
      assert.equal(alone.runs.length, 1);
      assert.equal(alone.runs[0]!.seed, entropy.seed);
      assert.deepEqual(
        alone.runs[0]!.curve.map((p) => [p.labeled, p.accuracy, p.loss]),
        entropy.curve.map((p) => [p.labeled, p.accuracy, p.loss]),
      );
      const selected = (studyId: number) =>
        store
          .listRuns(studyId)
          .filter((r) => r.strategy === 'Entropy')
          .flatMap((r) => store.listRounds(r.id).map((x) => x.selected));
      const ids = store.listStudies().map((x) => x.id);
      assert.deepEqual(selected(ids[1]!), selected(ids[0]!));
    } finally {
      store.close();
    }
  });

  test('a cancelled study resumes from its last completed round and ends with the same report', async () => {
    const reference = openStore(join(dir, 'reference.db'));
    const interrupted = openStore(join(dir, 'interrupted.db'));
    try {
      const refReport = await runStudy(reference, createStudy(reference, TINY));

      const id = createStudy(interrupted, TINY);
      const controller = new AbortController();
      let rounds = 0;
      await assert.rejects(
        runStudy(interrupted, id, {
          signal: controller.signal,
          onEvent: (e) => {
            if (e.type === 'round' && ++rounds === 6) controller.abort();
          },
        }),
        StudyCancelled,
      );
      assert.equal(interrupted.getStudy(id)!.status, 'cancelled');
      const recorded = interrupted
        .listRuns(id)
        .reduce((n, r) => n + interrupted.listRounds(r.id).length, 0);
      assert.ok(recorded >= 6 && recorded < 16, `recorded ${recorded} rounds before the cancel`);

      let resumedRounds = 0;
      const report = await runStudy(interrupted, id, {
        onEvent: (e) => {
          if (e.type === 'round') resumedRounds++;
        },
      });
      assert.equal(resumedRounds, 16 - recorded, 'nothing recorded was run again');
      // The cpu backend is deterministic and every round is seeded, so the curves are identical.
      for (const run of refReport.runs) {
        const other = report.runs.find(
          (r) => r.strategy === run.strategy && r.repeat === run.repeat,
        )!;
        assert.deepEqual(
          other.curve.map((p) => [p.labeled, p.accuracy]),
          run.curve.map((p) => [p.labeled, p.accuracy]),
          `${run.strategy} repeat ${run.repeat}`,
        );
      }
    } finally {
      reference.close();
      interrupted.close();
    }
  });
});
