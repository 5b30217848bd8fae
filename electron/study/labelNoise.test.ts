/**
 * The noisy simulated oracle: the flips by hand, and a study with label noise whose report says
 * how many wrong labels each strategy acquired and the suspect finder caught.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { describeLabelNoise } from '../../shared/labelQuality.ts';
import type { StudyConfigInput } from '../../shared/study.ts';
import { initBackend } from '../ml/backend.ts';
import { openStore } from '../store/store.ts';
import { createStudy, runStudy, validateStudyConfig } from './engine.ts';
import { nearestClassMap, noisyLabels } from './labelNoise.ts';

describe('label noise, by hand', () => {
  test('the nearest class by class means, each column standardised', () => {
    // Class means on column 0: 0, 1, 10 (column 1 is the same everywhere, std 0 -> 1).
    const x = [0, 5, 0, 5, 1, 5, 1, 5, 10, 5, 10, 5];
    const y = [0, 0, 1, 1, 2, 2];
    assert.deepEqual([...nearestClassMap(x, 2, y, 4)], [1, 0, 1, 3]);
  });

  test('flips exactly round(rate * n) answers, each to another class, seeded', () => {
    const truth = Int32Array.from({ length: 200 }, (_, i) => i % 4);
    const a = noisyLabels(truth, 4, 0.1, 'uniform', 5);
    const flipped = [...a.flipped].filter(Boolean).length;
    assert.equal(flipped, 20);
    for (let i = 0; i < truth.length; i++) {
      assert.equal(a.labels[i] !== truth[i], a.flipped[i] === 1);
    }
    assert.deepEqual(noisyLabels(truth, 4, 0.1, 'uniform', 5), a);
    assert.notDeepEqual(noisyLabels(truth, 4, 0.1, 'uniform', 6).flipped, a.flipped);
    // Confusable: every flip goes to map[true class].
    const map = [2, 3, 0, 1];
    const c = noisyLabels(truth, 4, 0.25, 'confusable', 5, map);
    for (let i = 0; i < truth.length; i++)
      if (c.flipped[i]) assert.equal(c.labels[i], map[truth[i]!]);
    assert.equal([...c.flipped].filter(Boolean).length, 50);
    assert.throws(() => noisyLabels(truth, 4, 1, 'uniform', 1), /label noise must be in \[0, 1\)/);
    assert.throws(() => noisyLabels(truth, 4, 0.1, 'confusable', 1), /needs a class map/);
  });

  test('study settings: noise from 0 to 0.5, a kind only with a rate', () => {
    const base: StudyConfigInput = {
      dataset: 'demo',
      strategies: ['Random'],
      repeats: 1,
      seed: 1,
      initial: 10,
      batch: 10,
      budget: 10,
      epochs: 1,
      model: 'linear',
      trainBatchSize: 32,
      learningRate: 1e-3,
    };
    assert.equal(validateStudyConfig({ ...base, labelNoise: 0.1 }).labelNoise, 0.1);
    assert.throws(() => validateStudyConfig({ ...base, labelNoise: 0.7 }), /at most 0.5/);
    assert.throws(
      () => validateStudyConfig({ ...base, noiseKind: 'confusable' }),
      /a noise kind needs label noise/,
    );
  });
});

describe('a study with a noisy oracle', () => {
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-noisy-study-'));
    await initBackend('wasm');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the oracle answers wrong on the set share; the report says what the suspect finder caught', async () => {
    const store = openStore(join(dir, 'noisy.db'));
    try {
      const id = createStudy(store, {
        dataset: 'demo',
        strategies: ['Random', 'Entropy'],
        repeats: 1,
        seed: 4,
        initial: 60,
        batch: 30,
        budget: 60,
        epochs: 1,
        model: 'linear',
        trainBatchSize: 32,
        learningRate: 1e-3,
        poolSize: 300,
        testSize: 100,
        labelNoise: 0.2,
        noiseKind: 'uniform',
      });
      const report = await runStudy(store, id);
      const noise = report.labelNoise!;
      assert.equal(noise.rate, 0.2);
      assert.equal(noise.strategies.length, 2);
      for (const s of noise.strategies) {
        // 120 labels acquired from a pool with 20% wrong answers.
        assert.ok(s.flipped > 10 && s.flipped < 40, `${s.strategy}: ${s.flipped} flipped`);
        assert.ok(s.caught <= s.flipped && s.caught <= s.listed);
        assert.ok(s.caught > s.flipped / 2, `${s.strategy}: caught ${s.caught} of ${s.flipped}`);
      }
      assert.match(describeLabelNoise(noise), /20% of its answers flipped/);
      // The oracle's answers are in the store; the ground truth stays true.
      const run = store.listRuns(id)[0]!;
      const events = store.currentLabels({ studyRunId: run.id });
      const truth = new Map(
        store
          .prepared('SELECT id, ground_truth FROM samples WHERE dataset_id = ?')
          .raw()
          .all(store.getStudy(id)!.datasetId) as [number, number][],
      );
      const wrong = events.filter((e) => e.classIdx !== truth.get(e.sampleId)).length;
      const rounds = store.listRounds(run.id);
      const last = rounds.at(-1)!.details.labelNoise as { flipped: number; labeled: number };
      assert.equal(last.labeled, events.length);
      assert.equal(wrong, last.flipped);
      assert.equal((rounds[0]!.details.labelNoise as { suspects?: unknown }).suspects, undefined);
    } finally {
      store.close();
    }
  });
});
