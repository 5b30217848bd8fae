import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng, deriveSeed } from '../../../shared/random.ts';
import { badge, cachedClustering, clusterMargin, dbal, strategies } from './hybrid.ts';
import { margin, topK } from './scores.ts';
import { fakeContext, fakeModelView, fakePool } from './testing.ts';
import type { ModelView, QueryContext, Strategy } from './types.ts';

await tf.setBackend('cpu');

// Helpers copied from diversity.test.ts (importing a test file would run its tests here too).
/**
 * A pool of `blobs` well-separated Gaussian blobs in D dims; blob b is predicted as class b % C.
 * Blobs listed in `unsure` get flat (very uncertain) probabilities, the others moderately sure.
 */
function blobPool(
  blobs: number,
  per: number,
  D: number,
  C: number,
  unsure: number[],
  seed = 1,
): { model: ModelView; blobOf: (i: number) => number; N: number } {
  const rng = new Rng(seed);
  const N = blobs * per;
  const centres = Float32Array.from({ length: blobs * D }, () => rng.normal() * 20);
  const emb = new Float32Array(N * D);
  const probs = new Float32Array(N * C);
  for (let i = 0; i < N; i++) {
    const b = i % blobs;
    for (let j = 0; j < D; j++) emb[i * D + j] = centres[b * D + j]! + rng.normal() * 0.5;
    const flat = unsure.includes(b);
    let z = 0;
    for (let c = 0; c < C; c++) {
      const v = Math.exp((c === b % C ? (flat ? 0.3 : 2.5) : 0) + rng.normal() * 0.05);
      probs[i * C + c] = v;
      z += v;
    }
    for (let c = 0; c < C; c++) probs[i * C + c]! /= z;
  }
  return {
    model: fakeModelView({ probs, embeddings: emb, numClasses: C, embeddingDim: D }),
    blobOf: (i) => i % blobs,
    N,
  };
}

/** The contract every strategy keeps (types.ts QueryResult, and the common brief). */
function checkContract(
  strategy: Strategy,
  make: (over: Partial<QueryContext>) => QueryContext,
): void {
  test(`${strategy.id}: min(b, |U|) distinct picks from the unlabeled pool, deterministic`, async () => {
    const ctx = make({});
    const before = tf.memory().numTensors;
    const a = await strategy.query(ctx);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    const U = new Set(ctx.unlabeled);
    assert.equal(a.selected.length, Math.min(ctx.budget, ctx.unlabeled.length));
    assert.equal(new Set(a.selected).size, a.selected.length, 'duplicates');
    for (const i of a.selected) assert.ok(U.has(i), `${i} is not unlabeled`);
    const b = await strategy.query(make({}));
    assert.deepEqual(b.selected, a.selected, 'not deterministic for a seed');
  });
  test(`${strategy.id}: b >= pool left returns the whole pool; empty pool throws`, async () => {
    const base = make({});
    const whole = await strategy.query(make({ budget: base.unlabeled.length + 3 }));
    assert.deepEqual(
      Array.from(whole.selected).sort((x, y) => x - y),
      Array.from(base.unlabeled).sort((x, y) => x - y),
    );
    await assert.rejects(
      strategy.query(make({ unlabeled: new Int32Array(0) })),
      /no unlabeled samples left to query/,
    );
  });
  test(`${strategy.id}: honours an aborted signal`, async () => {
    const ac = new AbortController();
    ac.abort(new Error('cancelled by test'));
    await assert.rejects(strategy.query(make({ signal: ac.signal })), /cancelled by test/);
  });
}

describe('catalog entries', () => {
  test('ids, families and defaults', () => {
    assert.deepEqual(
      strategies.map((s) => [s.id, s.family]),
      [
        ['BADGE', 'hybrid'],
        ['ClusterMargin', 'hybrid'],
        ['DBAL', 'hybrid'],
      ],
    );
    assert.equal(dbal.params.find((p) => p.name === 'rho')?.default, 10);
  });
});

describe('contract', () => {
  const { model, N } = blobPool(6, 30, 8, 4, [0]);
  const unlabeled = Int32Array.from({ length: N / 2 }, (_, i) => 2 * i + 1);
  for (const s of strategies) {
    // A fresh pool object per query: ClusterMargin caches per pool.
    checkContract(s, (over) => ({
      ...fakeContext({ model, poolSize: N, budget: 12, unlabeled, seed: 3, pool: fakePool(N) }),
      ...over,
    }));
  }
});

describe('behaviour on well-separated clusters', () => {
  const blobs = 10;
  const { model, blobOf, N } = blobPool(blobs, 40, 16, 10, [0, 1]);
  const b = 10;
  const clustersOf = (sel: ArrayLike<number>): number => new Set(Array.from(sel, blobOf)).size;

  test('ClusterMargin spreads the uncertain candidates over clusters; Margin does not', async () => {
    const pool = fakePool(N);
    const ctx = fakeContext({
      model,
      poolSize: N,
      budget: b,
      seed: 2,
      pool,
      params: { clusters: 10 },
    });
    const probs = await model.probs(ctx.unlabeled);
    const top = Array.from(topK(margin(probs, 10), b, 'asc'), (p) => ctx.unlabeled[p]!);
    const marginClusters = clustersOf(top);
    const sel = (await clusterMargin.query(ctx)).selected;
    const cm = clustersOf(sel);
    assert.ok(marginClusters <= 2, `margin covered ${marginClusters}`);
    assert.ok(cm >= 5 && cm > marginClusters, `ClusterMargin covered ${cm}`);
    // Every pick is among the km = 10 b lowest margins.
    const cand = new Set(
      Array.from(topK(margin(probs, 10), 10 * b, 'asc'), (p) => ctx.unlabeled[p]!),
    );
    for (const i of sel) assert.ok(cand.has(i), `${i} is not a low-margin candidate`);
  });

  test('ClusterMargin clusters once per pool and reuses it in later rounds', async () => {
    const pool = fakePool(N);
    const ctx = fakeContext({ model, poolSize: N, budget: b, seed: 2, pool });
    await clusterMargin.query(ctx);
    const first = cachedClustering(pool);
    assert.ok(first, 'no clustering cached');
    assert.ok(first.numClusters >= 2);
    const later = { ...ctx, round: 2, unlabeled: ctx.unlabeled.subarray(20) };
    await clusterMargin.query(later);
    assert.equal(cachedClustering(pool), first, 'the clustering was rebuilt');
  });

  test('ClusterMargin clusters once per run: later rounds (new seeds, a partial last batch) reuse it', async () => {
    const pool = fakePool(N);
    const round = (r: number, labeled: Int32Array, budget: number): QueryContext => {
      const isL = new Uint8Array(N);
      for (const i of labeled) isL[i] = 1;
      return {
        ...fakeContext({ model, poolSize: N, budget, pool }),
        labeled,
        labels: labeled.map((i) => i % 10),
        unlabeled: Int32Array.from({ length: N }, (_, i) => i).filter((i) => !isL[i]),
        // The engine's per-round query seed.
        seed: deriveSeed(77, 'ClusterMargin', 'query', r),
        round: r,
      };
    };
    const seedSet = Int32Array.from({ length: 40 }, (_, i) => i * 10);
    const first = await clusterMargin.query(round(1, seedSet, b));
    const clustering = cachedClustering(pool);
    assert.ok(clustering, 'no clustering cached');
    assert.equal(clustering.numClusters, b);
    const grown = Int32Array.from([...seedSet, ...first.selected]);
    // Round 2 with a partial batch of 7: same clustering, same number of clusters.
    await clusterMargin.query(round(2, grown, 7));
    assert.equal(cachedClustering(pool), clustering, 'round 2 clustered the pool again');
    // The next repeat starts from another labeled seed: its own clustering.
    const otherSeedSet = Int32Array.from({ length: 40 }, (_, i) => i * 10 + 1);
    await clusterMargin.query(round(1, otherSeedSet, b));
    assert.notEqual(
      cachedClustering(pool),
      clustering,
      'a new run reused the last run’s clustering',
    );
  });

  test('DBAL picks only among the rho x b most uncertain, spread over their clusters', async () => {
    const ctx = fakeContext({
      model,
      poolSize: N,
      budget: b,
      seed: 2,
      params: { rho: 12, pcaDims: 0 },
    });
    const probs = await model.probs(ctx.unlabeled);
    const cand = new Set(
      Array.from(topK(margin(probs, 10), 12 * b, 'asc'), (p) => ctx.unlabeled[p]!),
    );
    const sel = (await dbal.query(ctx)).selected;
    for (const i of sel) assert.ok(cand.has(i), `${i} is not a candidate`);
    const candClusters = clustersOf([...cand]);
    assert.ok(
      clustersOf(sel) >= Math.min(candClusters, b) - 1,
      `DBAL covered ${clustersOf(sel)} of ${candClusters}`,
    );
  });

  test('BADGE starts from the largest gradient norm', async () => {
    const ctx = fakeContext({ model, poolSize: N, budget: 1, seed: 2 });
    const { probs, embeddings } = await model.probsAndEmbeddings(ctx.unlabeled);
    let best = -1;
    let bestNorm = -1;
    for (let i = 0; i < ctx.unlabeled.length; i++) {
      let arg = 0;
      for (let c = 1; c < 10; c++) if (probs[i * 10 + c]! > probs[i * 10 + arg]!) arg = c;
      let a2 = 0;
      for (let c = 0; c < 10; c++) a2 += (probs[i * 10 + c]! - (c === arg ? 1 : 0)) ** 2;
      let h2 = 0;
      for (let j = 0; j < 16; j++) h2 += embeddings[i * 16 + j]! ** 2;
      if (a2 * h2 > bestNorm) [bestNorm, best] = [a2 * h2, ctx.unlabeled[i]!];
    }
    assert.deepEqual(Array.from((await badge.query(ctx)).selected), [best]);
  });
});
