import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import {
  averageLinkage,
  cutDendrogram,
  densePointSet,
  gradientEmbeddingSet,
  kCenterGreedy,
  kmeansPlusPlus,
  lloyd,
  nearestDistinct,
  pcaProject,
} from './geometry.ts';

await tf.setBackend('cpu');

function randn(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}

function sqDist(X: Float32Array, i: number, Y: Float32Array, j: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += (X[i * d + t]! - Y[j * d + t]!) ** 2;
  return s;
}

describe('gradient embeddings (BADGE)', () => {
  test('distances from (p, h) equal distances of the materialised g = a (outer) h', () => {
    const n = 7;
    const C = 3;
    const D = 5;
    const r = new Rng(3);
    const probs = new Float32Array(n * C);
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let c = 0; c < C; c++) z += probs[i * C + c] = Math.exp(r.normal());
      for (let c = 0; c < C; c++) probs[i * C + c]! /= z;
    }
    const H = randn(n * D, 4);
    const set = gradientEmbeddingSet(probs, C, H, D, n);
    // Materialise g explicitly.
    const G = new Float32Array(n * C * D);
    for (let i = 0; i < n; i++) {
      let arg = 0;
      for (let c = 1; c < C; c++) if (probs[i * C + c]! > probs[i * C + arg]!) arg = c;
      for (let c = 0; c < C; c++) {
        const a = probs[i * C + c]! - (c === arg ? 1 : 0);
        for (let d = 0; d < D; d++) G[i * C * D + c * D + d] = a * H[i * D + d]!;
      }
    }
    const cols = Int32Array.from([0, 3, 6]);
    const blk = set.dotBlock(0, n, cols);
    for (let i = 0; i < n; i++) {
      for (let jj = 0; jj < cols.length; jj++) {
        const j = cols[jj]!;
        const want = sqDist(G, i, G, j, C * D);
        const viaDot = set.sqNorms[i]! + set.sqNorms[j]! - 2 * set.dot(i, j);
        const viaBlock = set.sqNorms[i]! + set.sqNorms[j]! - 2 * blk[i * cols.length + jj]!;
        assert.ok(
          Math.abs(viaDot - want) < 1e-4 * (1 + want),
          `pair ${i},${j}: ${viaDot} vs ${want}`,
        );
        assert.ok(Math.abs(viaBlock - want) < 1e-4 * (1 + want), `block ${i},${j}`);
      }
    }
  });
});

describe('kmeansPlusPlus', () => {
  test('k distinct rows, the largest norm first, deterministic for a seed', () => {
    const n = 300;
    const d = 6;
    const X = randn(n * d, 1);
    const set = densePointSet(X, n, d);
    const a = kmeansPlusPlus(set, 40, new Rng(9), { first: 'maxNorm', refreshEvery: 7 });
    const b = kmeansPlusPlus(set, 40, new Rng(9), { first: 'maxNorm', refreshEvery: 7 });
    assert.deepEqual(a, b);
    assert.equal(new Set(a).size, 40);
    let best = 0;
    for (let i = 1; i < n; i++) if (set.sqNorms[i]! > set.sqNorms[best]!) best = i;
    assert.equal(a[0], best);
    assert.equal(kmeansPlusPlus(set, n + 5, new Rng(1), { first: 'random' }).length, n);
  });

  test('seeds one centre per well-separated blob (D^2 sampling)', () => {
    const blobs = 6;
    const per = 50;
    const d = 4;
    const r = new Rng(2);
    const X = new Float32Array(blobs * per * d);
    for (let b = 0; b < blobs; b++)
      for (let i = 0; i < per; i++)
        for (let t = 0; t < d; t++)
          X[(b * per + i) * d + t] = (t === b % d ? 100 * (1 + b) : 0) + r.normal() * 0.1;
    for (const refreshEvery of [1, 3, 64]) {
      const picks = kmeansPlusPlus(densePointSet(X, blobs * per, d), blobs, new Rng(5), {
        first: 'random',
        refreshEvery,
      });
      assert.equal(new Set(Array.from(picks, (p) => Math.floor(p / per))).size, blobs);
    }
  });

  test('zero weights are never seeded (weighted k-means++)', () => {
    const n = 100;
    const X = randn(n * 3, 8);
    const w = Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0));
    const picks = kmeansPlusPlus(densePointSet(X, n, 3), 20, new Rng(3), {
      first: 'random',
      weights: w,
    });
    for (const p of picks) assert.equal(p % 2, 0, `picked zero-weight row ${p}`);
  });
});

describe('kCenterGreedy', () => {
  /** Farthest-first by brute force: a full pass over every candidate per pick. */
  function reference(
    cand: Float32Array,
    n: number,
    fixed: Float32Array,
    m: number,
    d: number,
    k: number,
    rng: Rng,
  ): number[] {
    const minD = Array.from({ length: n }, (_, i) =>
      Math.min(...Array.from({ length: m }, (_, j) => sqDist(cand, i, fixed, j, d))),
    );
    const want: number[] = [];
    for (let t = 0; t < k; t++) {
      let best = -1;
      if (t === 0 && m === 0) best = rng.int(n);
      else
        for (let i = 0; i < n; i++)
          if (!want.includes(i) && (best < 0 || minD[i]! > minD[best]!)) best = i;
      want.push(best);
      for (let i = 0; i < n; i++) minD[i] = Math.min(minD[i]!, sqDist(cand, i, cand, best, d));
    }
    return want;
  }

  test('matches a brute-force farthest-first (with labeled points)', () => {
    const cand = randn(80 * 3, 11);
    const fixed = randn(5 * 3, 12);
    const got = kCenterGreedy(cand, 80, fixed, 5, 3, 10, new Rng(1));
    assert.deepEqual(Array.from(got), reference(cand, 80, fixed, 5, 3, 10, new Rng(1)));
  });

  test('matches brute force across many lazy refreshes (no labeled points)', () => {
    const n = 400;
    const cand = randn(n * 4, 13);
    const got = kCenterGreedy(cand, n, new Float32Array(0), 0, 4, 200, new Rng(2));
    assert.deepEqual(
      Array.from(got),
      reference(cand, n, new Float32Array(0), 0, 4, 200, new Rng(2)),
    );
  });
});

describe('lloyd', () => {
  test('bounded (Hamerly) iterations give the plain Lloyd result', () => {
    const n = 500;
    const d = 3;
    const k = 12;
    const X = randn(n * d, 41);
    const w = Float32Array.from({ length: n }, (_, i) => 0.5 + (i % 3));
    const init = X.slice(0, k * d);
    const got = lloyd(X, n, d, init, k, 8, w);
    // Plain weighted Lloyd: full assignment every iteration.
    const C = Float64Array.from(init);
    const nearest = (i: number): number => {
      let best = 0;
      let bd = Infinity;
      for (let c = 0; c < k; c++) {
        let v = 0;
        for (let j = 0; j < d; j++) v += (X[i * d + j]! - C[c * d + j]!) ** 2;
        if (v < bd) [bd, best] = [v, c];
      }
      return best;
    };
    let assign = Array.from({ length: n }, (_, i) => nearest(i));
    for (let it = 0; it < 8; it++) {
      const sum = new Float64Array(k * d);
      const mass = new Float64Array(k);
      assign.forEach((c, i) => {
        mass[c]! += w[i]!;
        for (let j = 0; j < d; j++) sum[c * d + j]! += w[i]! * X[i * d + j]!;
      });
      for (let c = 0; c < k; c++)
        if (mass[c]! > 0) for (let j = 0; j < d; j++) C[c * d + j] = sum[c * d + j]! / mass[c]!;
      const next = Array.from({ length: n }, (_, i) => nearest(i));
      const same = next.every((c, i) => c === assign[i]);
      assign = next;
      if (same) break;
    }
    assert.deepEqual(Array.from(got.assign), assign);
    for (let t = 0; t < k * d; t++) assert.ok(Math.abs(got.centres[t]! - C[t]!) < 1e-4);
  });
});

describe('nearestDistinct', () => {
  test('returns sample ids; a centre whose nearest is taken gets its next nearest', () => {
    // Samples on a line at 0, 1, 2, 10; centres at 0.1 and 0.2 both want sample 0.
    const X = Float32Array.from([0, 1, 2, 10]);
    const centres = Float32Array.from([0.2, 0.1, 9]);
    const got = nearestDistinct(X, 4, centres, 3, 1);
    assert.deepEqual(Array.from(got), [1, 0, 3]);
  });
});

describe('pcaProject', () => {
  test('keeps pairwise distances of data that lies in a k-dimensional subspace', () => {
    const n = 200;
    const d = 12;
    const k = 3;
    const Z = randn(n * k, 21);
    const B = randn(k * d, 22);
    const X = new Float32Array(n * d);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < d; j++) {
        let s = 5;
        for (let c = 0; c < k; c++) s += Z[i * k + c]! * B[c * d + j]!;
        X[i * d + j] = s;
      }
    const p = pcaProject(X, n, d, k, 1, 64);
    assert.equal(p.dim, k);
    for (const [i, j] of [
      [0, 1],
      [5, 100],
      [7, 199],
    ] as const) {
      const a = sqDist(X, i, X, j, d);
      const b = sqDist(p.data, i, p.data, j, k);
      assert.ok(Math.abs(a - b) < 1e-3 * (1 + a), `${i},${j}: ${a} vs ${b}`);
    }
    assert.equal(pcaProject(X, n, d, 0, 1).data, X);
  });

  test('tells its progress block by block, and the result does not depend on listening', () => {
    const n = 5000;
    const d = 20;
    const X = randn(n * d, 23);
    const seen: [number, number][] = [];
    const p = pcaProject(X, n, d, 4, 7, 2000, (done, total) => seen.push([done, total]));
    // The covariance of the 2,000-row sample in blocks, then the 5,000 rows projected in blocks.
    assert.ok(seen.length >= 6, `${seen.length} progress calls`);
    assert.ok(seen.every(([a, t], i) => t === 7000 && (i === 0 || a > seen[i - 1]![0])));
    assert.deepEqual(seen.at(-1), [7000, 7000]);
    assert.deepEqual(p.data, pcaProject(X, n, d, 4, 7, 2000).data);
  });
});

describe('averageLinkage', () => {
  test('merge heights match a naive average-linkage implementation', () => {
    const n = 14;
    const d = 2;
    const X = randn(n * d, 31);
    const merges = averageLinkage(X, n, d);
    let clusters: number[][] = Array.from({ length: n }, (_, i) => [i]);
    const dist = (a: number[], b: number[]): number => {
      let s = 0;
      for (const i of a) for (const j of b) s += Math.sqrt(sqDist(X, i, X, j, d));
      return s / (a.length * b.length);
    };
    const want: number[] = [];
    while (clusters.length > 1) {
      let best = [0, 1];
      let bd = Infinity;
      for (let a = 0; a < clusters.length; a++)
        for (let b = a + 1; b < clusters.length; b++) {
          const v = dist(clusters[a]!, clusters[b]!);
          if (v < bd) [bd, best] = [v, [a, b]];
        }
      want.push(bd);
      const [a, b] = best as [number, number];
      clusters = [
        ...clusters.filter((_, i) => i !== a && i !== b),
        [...clusters[a]!, ...clusters[b]!],
      ];
    }
    const got = merges.map((m) => m.h).sort((a, b) => a - b);
    want.sort((a, b) => a - b);
    got.forEach((h, i) =>
      assert.ok(Math.abs(h - want[i]!) < 1e-4, `merge ${i}: ${h} vs ${want[i]}`),
    );
  });

  test('cutting two far groups into 2 clusters separates them', () => {
    const X = Float32Array.from([0, 0, 0.1, 0, 0, 0.2, 50, 50, 50.1, 50, 50, 50.3]);
    const labels = cutDendrogram(averageLinkage(X, 6, 2), 6, 2);
    assert.deepEqual(Array.from(labels), [0, 0, 0, 1, 1, 1]);
  });
});
