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

  test('one typical image per blob, never an outlier; labeled blobs are covered', async () => {
    const { X, n, d, blob } = blobs(4);
    const picks = await typiclust(X, n, d, [], 3, new Rng(1));
    assert.deepEqual(
      [...picks].map((p) => blob[p]).sort(),
      [0, 1, 2],
      'each blob once, no outlier (-1)',
    );
    // With blob 0 already labeled, two picks go to the other blobs.
    const next = await typiclust(X, n, d, [0], 2, new Rng(1));
    assert.deepEqual([...next].map((p) => blob[p]).sort(), [1, 2]);
    // Deterministic for a seed; distinct; never a labeled row.
    assert.deepEqual(await typiclust(X, n, d, [0], 2, new Rng(1)), next);
    const many = await typiclust(X, n, d, [0, 1], 30, new Rng(2));
    assert.equal(new Set(many).size, 30);
    assert.ok(![...many].some((p) => p === 0 || p === 1));
  });

  test('typicality in blocks of candidates equals the pairwise definition', () => {
    const rng = new Rng(9);
    const d = 5;
    const m = 700; // more than one block of candidates
    const X = Float32Array.from({ length: (m + 10) * d }, () => rng.normal());
    const rows = Array.from({ length: m }, (_, i) => i + 10);
    const candidates = [0, 1, 255, 256, 257, 511, 512, 699];
    const got = typicality(X, d, rows, 20, candidates);
    candidates.forEach((c, i) => {
      const dist: number[] = [];
      for (let j = 0; j < m; j++) {
        if (j === c) continue;
        let s = 0;
        for (let t = 0; t < d; t++) s += (X[rows[c]! * d + t]! - X[rows[j]! * d + t]!) ** 2;
        dist.push(Math.sqrt(s));
      }
      dist.sort((a, b) => a - b);
      const want = 20 / dist.slice(0, 20).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(got[i]! - want) < 1e-4 * want, `candidate ${c}: ${got[i]} vs ${want}`);
    });
  });

  test('a pool of thousands: reports progress, still one typical image per blob, and cancels', async () => {
    // Three blobs of 3,000 (each beyond the candidate sample) and no outliers.
    const rng = new Rng(5);
    const d = 4;
    const n = 9000;
    const X = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const b = Math.floor(i / 3000);
      for (let j = 0; j < d; j++) X[i * d + j] = (j === b ? 20 : 0) + rng.normal();
    }
    const seen: [number, number][] = [];
    const picks = await typiclust(X, n, d, [], 3, new Rng(3), {
      progress: (done, total) => seen.push([done, total]),
    });
    assert.deepEqual([...picks].map((p) => Math.floor(p / 3000)).sort(), [0, 1, 2]);
    // Typical: near its blob's centre (the blob's points lie at distance ~2 from it on average).
    for (const p of picks) {
      const b = Math.floor(p / 3000);
      let s = 0;
      for (let j = 0; j < d; j++) s += (X[p * d + j]! - (j === b ? 20 : 0)) ** 2;
      assert.ok(Math.sqrt(s) < 1.2, `pick ${p} lies ${Math.sqrt(s).toFixed(2)} from its centre`);
    }
    assert.equal(seen.at(-1)![0], seen.at(-1)![1], 'progress ends at its total');
    assert.ok(seen.length >= 3 && seen.every(([a], i) => i === 0 || a > seen[i - 1]![0]));

    const ctl = new AbortController();
    ctl.abort();
    await assert.rejects(typiclust(X, n, d, [], 3, new Rng(3), { signal: ctl.signal }));
  });
});
