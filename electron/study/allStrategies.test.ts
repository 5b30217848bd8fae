import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../ml/backend.ts';
import { STRATEGY_IDS } from '../ml/strategies/catalog.ts';
import { openStore } from '../store/store.ts';
import { createStudy, runStudy } from './engine.ts';

/** One query round of 15 on 240 demo drawings. */
const ONE_ROUND = {
  dataset: 'demo',
  repeats: 1,
  seed: 5,
  initial: 30,
  batch: 15,
  budget: 15,
  trainBatchSize: 32,
  learningRate: 1e-3,
  poolSize: 240,
  testSize: 100,
};

let dir = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deepal-all-'));
  await initBackend('wasm');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('every catalog strategy runs an active-learning round with the small CNN on wasm', async () => {
  assert.equal(STRATEGY_IDS.length, 22);
  const store = openStore(join(dir, 'all.db'));
  try {
    const id = createStudy(store, {
      ...ONE_ROUND,
      strategies: [...STRATEGY_IDS],
      epochs: 2,
      model: 'cnn',
    });
    const tensors = tf.memory().numTensors;
    const report = await runStudy(store, id);
    assert.equal(tf.memory().numTensors, tensors, 'no strategy leaves tensors behind');
    assert.equal(report.runs.length, 22);
    for (const run of report.runs) {
      assert.ok(run.complete, `${run.strategy} completed its round`);
      assert.deepEqual(
        run.curve.map((p) => p.labeled),
        [30, 45],
        run.strategy,
      );
    }
    // The engine checks each selection (distinct, unlabeled, exactly b); the store holds it.
    for (const r of store.listRuns(id)) {
      const rounds = store.listRounds(r.id);
      const picked = rounds[1]!.selected;
      assert.equal(new Set([...rounds[0]!.selected, ...picked]).size, 45, r.strategy);
    }
  } finally {
    store.close();
  }
});

test('every strategy but the two that train the representation runs on a feature model', async () => {
  const store = openStore(join(dir, 'features.db'));
  const refused = ['LPL', 'WAAL'];
  try {
    const base = { ...ONE_ROUND, epochs: 1 };
    for (const id of refused) {
      assert.throws(
        () => createStudy(store, { ...base, strategies: [id], model: 'linear' }),
        new RegExp(`${id} changes how the network learns its representation`),
      );
    }
    const usable = STRATEGY_IDS.filter((s) => !refused.includes(s));
    // The MLP head: the MC-dropout strategies sample its dropout, BADGE its hidden layer.
    const id = createStudy(store, {
      ...base,
      strategies: usable,
      model: 'mlp',
      features: { kind: 'descriptors' },
    });
    const tensors = tf.memory().numTensors;
    const report = await runStudy(store, id);
    assert.equal(tf.memory().numTensors, tensors, 'no strategy leaves tensors behind');
    assert.equal(report.runs.length, 20);
    for (const run of report.runs) {
      assert.ok(run.complete, `${run.strategy} completed its round`);
      assert.deepEqual(
        run.curve.map((p) => p.labeled),
        [30, 45],
        run.strategy,
      );
    }
  } finally {
    store.close();
  }
});
