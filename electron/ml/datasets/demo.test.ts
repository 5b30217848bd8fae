import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_CLASSES, makeDemoDataset } from './demo.ts';

describe('demo dataset', () => {
  test('shape, sizes, balanced classes, readable names, ids', () => {
    const { train, test: t } = makeDemoDataset({ trainSize: 1000, testSize: 300, seed: 3 });
    assert.deepEqual(train.sampleShape, [28, 28, 1]);
    assert.equal(train.x.length, 1000 * 784);
    assert.equal(t.y.length, 300);
    assert.ok(train.x instanceof Uint8Array);
    assert.equal(train.classNames.length, 10);
    assert.deepEqual(train.classNames, DEMO_CLASSES);
    assert.ok(train.classNames.every((c) => /^[a-z ]+$/.test(c)));
    const counts = new Array(10).fill(0);
    for (const v of train.y) counts[v]++;
    assert.deepEqual(counts, new Array(10).fill(100));
    assert.equal(new Set(train.ids).size, 1000);
  });

  test('deterministic per seed; seeds differ; test split independent of train size', () => {
    const a = makeDemoDataset({ trainSize: 200, testSize: 50, seed: 7 });
    const b = makeDemoDataset({ trainSize: 200, testSize: 50, seed: 7 });
    const c = makeDemoDataset({ trainSize: 200, testSize: 50, seed: 8 });
    const d = makeDemoDataset({ trainSize: 20, testSize: 50, seed: 7 });
    assert.deepEqual(a.train.x, b.train.x);
    assert.deepEqual(a.train.y, b.train.y);
    assert.notDeepEqual(a.train.x, c.train.x);
    assert.deepEqual(a.test.x, d.test.x);
  });

  test('fast: 6,000 + 2,000 images in seconds at most (about 0.4 s measured)', () => {
    const t0 = performance.now();
    makeDemoDataset({ trainSize: 6000, testSize: 2000 });
    const ms = performance.now() - t0;
    assert.ok(ms < 4000, `took ${ms.toFixed(0)} ms`);
  });

  test('learnable but not trivial: nearest-centroid accuracy well above chance, far from perfect', () => {
    const { train, test: t } = makeDemoDataset({ trainSize: 3000, testSize: 1000, seed: 1 });
    const P = 784;
    const means = Array.from({ length: 10 }, () => new Float64Array(P));
    const n = new Array(10).fill(0);
    for (let i = 0; i < train.y.length; i++) {
      const c = train.y[i]!;
      n[c]++;
      for (let p = 0; p < P; p++) means[c]![p]! += train.x[i * P + p]!;
    }
    means.forEach((m, c) => m.forEach((v, p) => (m[p] = v / n[c])));
    let correct = 0;
    for (let i = 0; i < t.y.length; i++) {
      let best = Infinity;
      let arg = -1;
      for (let c = 0; c < 10; c++) {
        let s = 0;
        for (let p = 0; p < P; p++) {
          const d = t.x[i * P + p]! - means[c]![p]!;
          s += d * d;
        }
        if (s < best) {
          best = s;
          arg = c;
        }
      }
      if (arg === t.y[i]) correct++;
    }
    const acc = correct / t.y.length;
    // Chance is 0.10. A pixel template cannot handle the random position, scale and rotation.
    assert.ok(acc > 0.15 && acc < 0.7, `nearest-centroid accuracy ${acc}`);
  });

  test('rejects bad sizes', () => {
    assert.throws(() => makeDemoDataset({ trainSize: -1 }), /non-negative integer/);
    assert.throws(() => makeDemoDataset({ testSize: 1.5 }), /non-negative integer/);
  });
});
