import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../shared/random.ts';
import {
  argmax,
  bald,
  entropy,
  leastConfidence,
  margin,
  meanOverPasses,
  meanStd,
  topK,
  varRatio,
} from './scores.ts';

const f32 = (a: number[]): Float32Array => Float32Array.from(a);
function close(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length, 'length');
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i]! - expected[i]!) <= tol,
      `element ${i}: got ${actual[i]}, expected ${expected[i]}`,
    );
  }
}

describe('one-pass scores', () => {
  test('entropy: uniform two-class is ln 2, [0.9, 0.1] is 0.325, certain is 0', () => {
    // -(0.9 ln 0.9 + 0.1 ln 0.1) = 0.9 * 0.1053605 + 0.1 * 2.3025851 = 0.3250830
    close(entropy(f32([0.5, 0.5, 0.9, 0.1, 1, 0]), 2), [Math.LN2, 0.325083, 0]);
  });

  test('entropy of a uniform C-class row is ln C', () => {
    close(entropy(f32([0.25, 0.25, 0.25, 0.25]), 4), [Math.log(4)]);
  });

  test('margin is top-1 minus top-2, whatever their positions', () => {
    // [0.2, 0.5, 0.3]: 0.5 - 0.3 = 0.2; [0.1, 0.1, 0.8]: 0.8 - 0.1 = 0.7; ties give 0.
    close(margin(f32([0.5, 0.5, 0.9, 0.1]), 2), [0, 0.8]);
    close(margin(f32([0.2, 0.5, 0.3, 0.1, 0.1, 0.8, 0.4, 0.4, 0.2]), 3), [0.2, 0.7, 0]);
  });

  test('leastConfidence is the largest probability', () => {
    close(leastConfidence(f32([0.5, 0.5, 0.9, 0.1, 0.2, 0.8]), 2), [0.5, 0.9, 0.8]);
  });

  test('argmax takes the lowest class on ties', () => {
    assert.deepEqual(Array.from(argmax(f32([0.4, 0.4, 0.2, 0.1, 0.2, 0.7]), 3)), [0, 2]);
  });

  test('a buffer that is not whole rows is refused', () => {
    assert.throws(() => entropy(f32([0.5, 0.5, 1]), 2), /whole number of rows/);
  });
});

describe('Monte-Carlo scores ([T, n, C], pass-major)', () => {
  // Three samples, two passes, two classes. Pass-major layout: pass 0 rows, then pass 1 rows.
  //   sample 0: passes agree   [0.5,0.5] [0.5,0.5]
  //   sample 1: passes disagree, each certain [1,0] [0,1]
  //   sample 2: passes disagree, each fairly sure [0.9,0.1] [0.1,0.9]
  const mc = f32([0.5, 0.5, 1, 0, 0.9, 0.1, /* pass 1 */ 0.5, 0.5, 0, 1, 0.1, 0.9]);

  test('meanOverPasses averages each sample over passes', () => {
    close(meanOverPasses(mc, 2, 3, 2), [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  });

  test('BALD: zero when passes agree, ln 2 when certain passes disagree', () => {
    // sample 0: H(mean) = ln2, mean H = ln2            -> 0
    // sample 1: H(mean) = ln2, mean H = 0              -> ln2 = 0.693147
    // sample 2: H(mean) = ln2, mean H = 0.325083       -> 0.368064
    close(bald(mc, 2, 3, 2), [0, Math.LN2, Math.LN2 - 0.325083]);
  });

  test('BALD of an agreeing but confident sample is also 0', () => {
    const agree = f32([0.9, 0.1, 0.9, 0.1, 0.9, 0.1]);
    close(bald(agree, 3, 1, 2), [0]);
  });

  test('MeanSTD: population std over passes, averaged over classes', () => {
    // sample 0: both classes constant -> 0
    // sample 1: class values {1,0} -> mean .5, std .5; same for class 1 -> 0.5
    // sample 2: {0.9,0.1} -> std 0.4 per class -> 0.4
    close(meanStd(mc, 2, 3, 2), [0, 0.5, 0.4]);
    // [0.9,0.1] and [0.7,0.3]: std 0.1 for each class -> 0.1
    close(meanStd(f32([0.9, 0.1, 0.7, 0.3]), 2, 1, 2), [0.1]);
  });

  test('VarRatio with T = 4: 1 - modal count / 4', () => {
    // C = 3, n = 3. Predicted classes per pass:
    //   sample 0: 0, 0, 0, 1 -> modal 3 -> 0.25
    //   sample 1: 0, 1, 2, 1 -> modal 2 -> 0.5
    //   sample 2: 2, 2, 2, 2 -> modal 4 -> 0
    const rows: number[][] = [
      [0.6, 0.3, 0.1, 0.4, 0.3, 0.3, 0.1, 0.1, 0.8],
      [0.5, 0.4, 0.1, 0.3, 0.6, 0.1, 0.2, 0.2, 0.6],
      [0.7, 0.2, 0.1, 0.2, 0.3, 0.5, 0.3, 0.3, 0.4],
      [0.3, 0.6, 0.1, 0.2, 0.7, 0.1, 0.0, 0.1, 0.9],
    ];
    close(varRatio(f32(rows.flat()), 4, 3, 3), [0.25, 0.5, 0]);
  });

  test('VarRatio with one pass is 0 for everything (it needs MC passes)', () => {
    close(varRatio(f32([0.5, 0.5, 0.9, 0.1]), 1, 2, 2), [0, 0]);
  });

  test('a wrong [T, n, C] size is refused with the sizes', () => {
    assert.throws(() => bald(mc, 3, 3, 2), /expected 9 x 2 = 18 values, got 12/);
  });
});

describe('topK', () => {
  test('desc and asc with ties broken by the lower position', () => {
    const s = Float32Array.from([0.3, 0.9, 0.5, 0.9, 0.1, 0.5]);
    assert.deepEqual(Array.from(topK(s, 3, 'desc')), [1, 3, 2]);
    assert.deepEqual(Array.from(topK(s, 3, 'asc')), [4, 0, 2]);
    assert.deepEqual(Array.from(topK(s, 6, 'asc')), [4, 0, 2, 5, 1, 3]);
  });

  test('k beyond n returns everything; k = 0 returns nothing; NaN ranks last', () => {
    const s = Float64Array.from([NaN, 2, 1]);
    assert.deepEqual(Array.from(topK(s, 10, 'desc')), [1, 2, 0]);
    assert.deepEqual(Array.from(topK(s, 10, 'asc')), [2, 1, 0]);
    assert.equal(topK(s, 0, 'desc').length, 0);
  });

  test('matches a full stable sort on a 50,000-element pool with many ties', () => {
    const rng = new Rng(7);
    const n = 50_000;
    const s = new Float32Array(n);
    for (let i = 0; i < n; i++) s[i] = Math.floor(rng.next() * 1000) / 1000;
    for (const order of ['desc', 'asc'] as const) {
      const ref = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
        order === 'desc' ? s[b]! - s[a]! || a - b : s[a]! - s[b]! || a - b,
      );
      for (const k of [1, 100, 2500]) {
        assert.deepEqual(Array.from(topK(s, k, order)), ref.slice(0, k), `${order} k=${k}`);
      }
    }
  });
});
