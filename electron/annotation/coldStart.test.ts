import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Rng } from '../../shared/random.ts';
import { initBackend } from '../ml/backend.ts';
import { typicality, typiclust } from './coldStart.ts';

/** Three blobs (sizes 60, 40, 20) around distant centres in 6 dimensions, plus 6 far outliers. */
function blobs(seed: number): { X: Float32Array; n: number; d: number; blob: Int32Array } {
  const rng = new Rng(seed);
  const d = 6;
  const sizes = [60, 40, 20];
  const n = sizes.reduce((a, b) => a + b, 0) + 6;
  const X = new Float32Array(n * d);
  const blob = new Int32Array(n).fill(-1);
  let i = 0;
  sizes.forEach((size, b) => {
    for (let k = 0; k < size; k++, i++) {
      blob[i] = b;
      for (let j = 0; j < d; j++) X[i * d + j] = (j === b ? 10 : 0) + rng.normal() * 0.5;
    }
  });
  for (; i < n; i++) for (let j = 0; j < d; j++) X[i * d + j] = rng.normal() * 12;
  return { X, n, d, blob };
}

describe('TypiClust cold start', () => {
  before(async () => {
    await initBackend('cpu');
  });

  test('typicality: the centre of a cluster beats its edge', () => {
    const X = Float32Array.from([0, 0, 1, 0, -1, 0, 0, 1, 0, -1, 3, 3]);
    const t = typicality(X, 2, [0, 1, 2, 3, 4, 5], 3);
    const best = t.indexOf(Math.max(...t));
    assert.equal(best, 0, `typicality ${Array.from(t)}`);
    assert.ok(t[5]! < t[1]!, 'the far point is the least typical');
  });

  test('one typical image per blob, never an outlier; labeled blobs are covered', () => {
    const { X, n, d, blob } = blobs(4);
    const picks = typiclust(X, n, d, [], 3, new Rng(1));
    assert.deepEqual(
      [...picks].map((p) => blob[p]).sort(),
      [0, 1, 2],
      'each blob once, no outlier (-1)',
    );
    // With blob 0 already labeled, two picks go to the other blobs.
    const next = typiclust(X, n, d, [0], 2, new Rng(1));
    assert.deepEqual([...next].map((p) => blob[p]).sort(), [1, 2]);
    // Deterministic for a seed; distinct; never a labeled row.
    assert.deepEqual(typiclust(X, n, d, [0], 2, new Rng(1)), next);
    const many = typiclust(X, n, d, [0, 1], 30, new Rng(2));
    assert.equal(new Set(many).size, 30);
    assert.ok(![...many].some((p) => p === 0 || p === 1));
  });
});
