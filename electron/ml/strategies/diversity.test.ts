import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend.ts';
import { Rng } from '../../../shared/random.ts';
import { kcenter, kmeans, strategies } from './diversity.ts';
import { badge } from './hybrid.ts';
import { entropy, topK } from './scores.ts';
import { fakeContext, fakeModelView } from './testing.ts';
import type { ModelView, QueryContext, Strategy } from './types.ts';

// The product's CPU backend; the memory test below needs its fast matrix products.
await initBackend('wasm');

/**
 * A pool of `blobs` well-separated Gaussian blobs in D dims; blob b is predicted as class b % C.
 * Blobs listed in `unsure` get flat (very uncertain) probabilities, the others moderately sure.
 */
export function blobPool(
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
export function checkContract(
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
        ['KMeans', 'diversity'],
        ['KCenter', 'diversity'],
      ],
    );
    const pca = kcenter.params.find((p) => p.name === 'pcaDims');
    assert.equal(pca?.default, 32);
  });
});

describe('contract', () => {
  const { model, N } = blobPool(6, 30, 8, 4, [0]);
  // Unlabeled = odd indices, so positions and pool ids differ.
  const unlabeled = Int32Array.from({ length: N / 2 }, (_, i) => 2 * i + 1);
  for (const s of strategies) {
    checkContract(s, (over) => ({
      ...fakeContext({ model, poolSize: N, budget: 12, unlabeled, seed: 3 }),
      ...over,
    }));
  }
});

describe('behaviour on well-separated clusters', () => {
  const blobs = 10;
  const { model, blobOf, N } = blobPool(blobs, 40, 16, 10, [0, 1]);
  const b = 20;
  const clustersOf = (sel: Int32Array): number => new Set(Array.from(sel, blobOf)).size;

  test('KCenter and BADGE cover more clusters than Entropy', async () => {
    const ctx = fakeContext({ model, poolSize: N, budget: b, labeledCount: 0, seed: 2 });
    const probs = await model.probs(ctx.unlabeled);
    const ent = Array.from(topK(entropy(probs, 10), b, 'desc'), (p) => ctx.unlabeled[p]!);
    const entClusters = clustersOf(Int32Array.from(ent));
    assert.ok(entClusters <= 2, `entropy's picks should sit in the unsure blobs (${entClusters})`);
    const kc = clustersOf((await kcenter.query(ctx)).selected);
    const bd = clustersOf((await badge.query(ctx)).selected);
    assert.equal(kc, blobs, `KCenter covered ${kc} of ${blobs}`);
    assert.ok(bd >= 8 && bd > entClusters, `BADGE covered ${bd}, entropy ${entClusters}`);
  });

  test('KMeans returns the sample nearest each centroid (sample ids, not centroid ids)', async () => {
    // Each blob: one sample at its centre and symmetric pairs around it, so the blob mean is
    // exactly the centre sample.
    const K = 5;
    const D = 3;
    const rng = new Rng(4);
    const rows: number[][] = [];
    const centreIds: number[] = [];
    const offset = 7; // labeled samples first, so pool ids differ from positions
    for (let i = 0; i < offset; i++) rows.push([0, 0, 0]);
    for (let k = 0; k < K; k++) {
      const c = [rng.normal() * 50, rng.normal() * 50, rng.normal() * 50];
      centreIds.push(rows.length);
      rows.push(c);
      for (let p = 0; p < 6; p++) {
        const dlt = [rng.normal(), rng.normal(), rng.normal()];
        rows.push(c.map((v, j) => v + dlt[j]!));
        rows.push(c.map((v, j) => v - dlt[j]!));
      }
    }
    const n = rows.length;
    const view = fakeModelView({
      probs: new Float32Array(n * 2).fill(0.5),
      embeddings: Float32Array.from(rows.flat()),
      numClasses: 2,
      embeddingDim: D,
    });
    const ctx = fakeContext({
      model: view,
      poolSize: n,
      budget: K,
      labeledCount: offset,
      params: { pcaDims: 0, maxIter: 20 },
    });
    const sel = Array.from((await kmeans.query(ctx)).selected).sort((a, b) => a - b);
    assert.deepEqual(sel, centreIds);
  });
});

describe('memory on a 60,000 x 512 pool', () => {
  // Each query runs in a fresh process (benchSelection --only), so its peak RSS is its own.
  const bench = fileURLToPath(new URL('./benchSelection.ts', import.meta.url));
  for (const id of ['KCenter', 'BADGE']) {
    test(`${id} (b = 100) stays far below an N x N matrix`, () => {
      const args = ['--n', '60000', '--dim', '512', '--budget', '100', '--labeled', '500'];
      const r = spawnSync(process.execPath, ['--import', 'tsx', bench, ...args, '--only', id], {
        encoding: 'utf8',
        env: { ...process.env, DEEPAL_BACKEND: 'wasm' },
      });
      assert.equal(r.status, 0, r.stderr);
      const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
        seconds: number;
        peakRssMB: number;
        rssBeforeMB: number;
        selected: number;
      };
      const extraMB = row.peakRssMB - row.rssBeforeMB;
      console.log(
        `# ${id}: ${row.seconds.toFixed(2)} s, peak RSS ${row.peakRssMB.toFixed(0)} MB, ` +
          `${extraMB.toFixed(0)} MB above the RSS before the query (pool data already loaded)`,
      );
      assert.equal(row.selected, 100);
      // N^2 float32 would be 14.4 GB; the ceiling is 1.5 GB of extra memory at the peak.
      assert.ok(extraMB < 1536, `${id} peak grew by ${extraMB} MB`);
    });
  }
});
