import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import { Adam } from './adam.ts';

before(async () => {
  await tf.setBackend('cpu');
});

/** Plain-JS Adam as PyTorch writes it, in float64, as the reference. */
function reference(init: Float32Array, grads: (Float32Array | null)[], lr: number): Float64Array {
  const p = Float64Array.from(init);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  let t = 0;
  for (const g of grads) {
    // PyTorch skips a parameter without a gradient, step count included.
    if (!g) continue;
    t++;
    for (let i = 0; i < p.length; i++) {
      m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * g[i]! * g[i]!;
      const mHat = m[i]! / (1 - 0.9 ** t);
      const vHat = v[i]! / (1 - 0.999 ** t);
      p[i] = p[i]! - (lr * mHat) / (Math.sqrt(vHat) + 1e-8);
    }
  }
  return p;
}

function check(skipEvery: number): void {
  const rng = new Rng(3);
  const init = Float32Array.from({ length: 50 }, () => rng.normal());
  const grads = Array.from({ length: 12 }, (_, s) =>
    skipEvery > 0 && s % skipEvery === 0
      ? null
      : Float32Array.from({ length: 50 }, () => rng.normal()),
  );
  const start = tf.memory().numTensors;
  const p = tf.tidy(() => tf.variable(tf.tensor(init, [5, 10])));
  const opt = new Adam(0.01);
  for (const g of grads) {
    tf.tidy(() => opt.step([p], { [p.name]: g ? tf.tensor(g, [5, 10]) : null }));
  }
  const got = p.dataSync();
  const want = reference(init, grads, 0.01);
  for (let i = 0; i < 50; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5, `element ${i}`);
  opt.dispose();
  p.dispose();
  assert.equal(tf.memory().numTensors, start);
}

test("matches PyTorch's Adam update", () => check(0));

test('a variable without a gradient on some steps is left alone on those steps', () => check(3));
