import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchTrain } from './bench.ts';

/** Smoke only: no speed is asserted (timings on a shared machine are noisy). */
test('deepal bench train --raw --loop reports positive throughputs and ours / raw', async () => {
  const r = await benchTrain({
    model: 'cnn',
    input: 'mnist',
    backend: 'wasm',
    batchSize: 8,
    batches: 2,
    warmup: 1,
    loop: true,
    raw: true,
  });
  for (const v of [r.trainSamplesPerSec, r.inferSamplesPerSec, r.loopSamplesPerSec]) {
    assert.ok(typeof v === 'number' && v > 0, String(v));
  }
  assert.ok(r.raw, 'the raw comparison is in the result');
  assert.equal(r.raw.rounds, 3);
  assert.ok(r.raw.ourSamplesPerSec > 0 && r.raw.rawSamplesPerSec > 0);
  assert.ok(Math.abs(r.raw.ratio - r.raw.ourSamplesPerSec / r.raw.rawSamplesPerSec) < 1e-9);
});

test('--raw is refused for a model the raw reference does not have', async () => {
  await assert.rejects(
    benchTrain({
      model: 'mlp',
      input: 'mnist',
      backend: 'wasm',
      batchSize: 8,
      batches: 1,
      warmup: 0,
      raw: true,
    }),
    /--raw compares the CNN on mnist input/,
  );
});
