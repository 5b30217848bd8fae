/**
 * Studies on feature models: the built-in descriptors of the demo images, heads fitted per round,
 * `auto`'s choice recorded with each round, and the combinations that cannot work refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { StudyConfigInput } from '../../shared/study.ts';
import { initBackend } from '../ml/backend.ts';
import { openStore } from '../store/store.ts';
import { createStudy, runStudy, validateStudyConfig } from './engine.ts';
import { reportHtml } from './reportHtml.ts';

const AUTO: StudyConfigInput = {
  dataset: 'demo',
  strategies: ['Margin', 'BALD'],
  repeats: 1,
  seed: 3,
  initial: 24,
  batch: 12,
  budget: 12,
  epochs: 1,
  model: 'auto',
  trainBatchSize: 32,
  learningRate: 1e-3,
  poolSize: 240,
  testSize: 120,
};

let dir = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deepal-feature-study-'));
  await initBackend('wasm');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('feature models in studies', () => {
  test('auto on the built-in descriptors: every round records the head and the CV scores', async () => {
    const dbPath = join(dir, 'auto.db');
    const store = openStore(dbPath);
    const before = tf.memory().numTensors;
    try {
      const id = createStudy(store, AUTO);
      const events: string[] = [];
      const report = await runStudy(store, id, { onEvent: (e) => events.push(e.type) });
      assert.ok(events.includes('features'), 'feature progress is reported');
      assert.equal(report.summary.length, 2);
      // The report says which heads auto chose, per round, and the HTML says so in a sentence.
      const rounds = (report.modelChoices ?? []).reduce((a, c) => a + c.rounds, 0);
      assert.equal(rounds, 4, 'two runs of two rounds');
      assert.match(reportHtml(report), /auto chose, by cross-validation on each round/);
      assert.ok(report.runs[0]!.curve[0]!.model?.auto?.scores.length);
      for (const run of store.listRuns(id)) {
        const rounds = store.listRounds(run.id);
        assert.equal(rounds.length, 2);
        for (const r of rounds) {
          const model = r.details.model as {
            head: string;
            auto: { folds: number; scores: { id: string; balancedAccuracy: number }[] };
          };
          assert.ok(model.head, `${run.strategy} round ${r.round} names its head`);
          assert.equal(model.auto.folds, 3);
          // The descriptors name their blocks: logreg x2, the MLP, logreg on the texture blocks.
          assert.equal(model.auto.scores.length, 4);
        }
      }
      // Shapes of 28 x 28: the descriptors were computed once and cached beside the database.
      const cached = readdirSync(join(dir, 'features')).filter((f) => f.endsWith('.json'));
      assert.equal(cached.length, 2, 'one matrix for the pool, one for the test set');
      const accuracy = report.summary[0]!.faccMean;
      assert.ok(accuracy > 0.5, `final accuracy ${accuracy} on 4 shapes (chance 0.25)`);
      assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    } finally {
      store.close();
    }
  });

  test('a second study on the same data reuses the cached features', async () => {
    const store = openStore(join(dir, 'auto.db'));
    try {
      const id = createStudy(store, { ...AUTO, strategies: ['Random'], model: 'linear' });
      const started = performance.now();
      await runStudy(store, id);
      const runs = store.listRuns(id);
      const model = store.listRounds(runs[0]!.id)[0]!.details.model as { head: string };
      assert.equal(model.head, 'logreg C=1');
      assert.ok(performance.now() - started < 60_000);
      const cached = readdirSync(join(dir, 'features')).filter((f) => f.endsWith('.json'));
      assert.equal(cached.length, 2, 'no new cache entries');
    } finally {
      store.close();
    }
  });

  test('refused up front with the reason: LPL and WAAL on a feature model, a CNN with features', () => {
    assert.throws(
      () => validateStudyConfig({ ...AUTO, strategies: ['Random', 'LPL'] }),
      /LPL changes how the network learns its representation.*Choose --model cnn for LPL/,
    );
    assert.throws(
      () => validateStudyConfig({ ...AUTO, strategies: ['WAAL'], model: 'linear' }),
      /WAAL .*cannot work with it/,
    );
    assert.throws(
      () => validateStudyConfig({ ...AUTO, model: 'cnn', features: { kind: 'descriptors' } }),
      /the cnn model learns from pixels and takes no feature extractor/,
    );
    // The same strategies stay available on the CNN.
    assert.doesNotThrow(() => validateStudyConfig({ ...AUTO, strategies: ['LPL'], model: 'cnn' }));
  });

  test('a CSV of features: linear trains on its columns; --features is refused', async () => {
    const csv = join(dir, 'points.csv');
    const lines = ['a,b,label'];
    for (let i = 0; i < 120; i++) {
      const c = i % 2;
      lines.push(`${(c * 2 + Math.sin(i)).toFixed(3)},${(Math.cos(i * 1.7) - c).toFixed(3)},${c}`);
    }
    writeFileSync(csv, `${lines.join('\n')}\n`);
    const store = openStore(join(dir, 'csv.db'));
    try {
      const cfg = { ...AUTO, dataset: csv, strategies: ['Entropy'], poolSize: 90, testSize: 30 };
      const id = createStudy(store, { ...cfg, model: 'linear' });
      const report = await runStudy(store, id);
      assert.ok(report.summary[0]!.faccMean > 0.7, `accuracy ${report.summary[0]!.faccMean}`);
      const bad = createStudy(store, { ...cfg, features: { kind: 'descriptors' } });
      await assert.rejects(runStudy(store, bad), /--features extracts features from images/);
    } finally {
      store.close();
    }
  });
});
