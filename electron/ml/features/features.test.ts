import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseFeatureArg } from '../../../shared/features.ts';
import type { Dataset } from '../types.ts';
import { featureKey, readCached } from './cache.ts';
import { computeFeatures, FeaturesCancelled } from './compute.ts';
import {
  DEFAULT_DESCRIPTOR_SIDE,
  descriptorBlocks,
  descriptorDim,
  descriptorExtractor,
  describeImage,
  hog,
  lbpHistogram,
  lbpKernel,
  luma,
} from './descriptors.ts';
import { fitSide, resizeImage } from './resize.ts';
import { datasetSource } from './source.ts';
import type { FeatureExtractor } from './types.ts';

function imageDataset(n: number, h: number, w: number, c = 1, seed = 1): Dataset {
  const x = new Uint8Array(n * h * w * c);
  let s = seed;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = s >>> 24;
  }
  return {
    name: 'synthetic',
    x,
    y: Int32Array.from({ length: n }, (_, i) => i % 2),
    sampleShape: [h, w, c],
    classNames: ['a', 'b'],
  };
}

describe('resizing', () => {
  test('area average when shrinking, exact copy at the same size', () => {
    const src = Uint8Array.from([
      0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150,
    ]);
    assert.deepEqual(Array.from(resizeImage(src, 4, 4, 1, 2, 2)), [25, 45, 105, 125]);
    assert.deepEqual(Array.from(resizeImage(src, 4, 4, 1, 4, 4)), Array.from(src));
  });
  test('enlarging interpolates between neighbours', () => {
    const up = resizeImage(Uint8Array.from([0, 100]), 1, 2, 1, 1, 4);
    assert.deepEqual(Array.from(up), [0, 25, 75, 100]);
  });
  test('fitSide keeps the aspect ratio', () => {
    assert.deepEqual(fitSide([400, 200], 256), [256, 128]);
    assert.deepEqual(fitSide([100, 50], 256), [100, 50]);
  });
});

describe('descriptors', () => {
  test('riu2 LBP of a flat image: every pattern is "all neighbours >= centre" (code P)', () => {
    const row = new Float32Array(descriptorDim(1));
    describeImage(new Uint8Array(20 * 20).fill(77), 20, 20, 1, row);
    const lbp = row.subarray(descriptorBlocks(1)[1]!.start, descriptorBlocks(1)[1]!.end);
    // Histograms of (8,1), (16,2), (24,3) at full size, then at half size.
    assert.equal(lbp[8], 1, 'P=8: all mass in bin 8');
    assert.equal(lbp[10 + 16], 1, 'P=16: all mass in bin 16');
    assert.equal(lbp[28 + 24], 1, 'P=24: all mass in bin 24');
    assert.equal(lbp[54 + 8], 1, 'half size, P=8: all mass in bin 8');
  });

  test('riu2 LBP of vertical stripes: four transitions are non-uniform (code P + 1)', () => {
    // Columns alternate 0, 255. Centre on a dark column: left/right brighter, up/down equal,
    // diagonals (interpolated) brighter: all ones, code 8. Centre on a bright column: left/right
    // and the diagonals darker (0), up/down equal (1): 0,0,1,0,0,0,1,0 around the circle has four
    // transitions, code 9.
    const w = 12;
    const h = 12;
    const px = new Uint8Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = x % 2 ? 255 : 0;
    const out = new Float32Array(10);
    lbpHistogram(luma(px, h, w, 1), h, w, lbpKernel(8, 1), out, 0);
    assert.ok(Math.abs(out[8]! - 0.5) < 1e-6, `bin 8 = ${out[8]}`);
    assert.ok(Math.abs(out[9]! - 0.5) < 1e-6, `bin 9 = ${out[9]}`);
    assert.ok(Math.abs(out.reduce((a, v) => a + v, 0) - 1) < 1e-6, 'a normalised histogram');
  });

  test('HOG of a horizontal ramp puts every vote in the 0-degree bin', () => {
    const h = 32;
    const w = 32;
    const gray = new Float32Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) gray[y * w + x] = x * 3;
    const out = new Float32Array(324);
    hog(gray, h, w, out);
    for (let k = 0; k < 324; k++) {
      if (k % 9 !== 0) assert.equal(out[k], 0, `bin ${k % 9} of value ${k} is empty`);
    }
    assert.ok(out[0]! > 0.4, 'the 0-degree bin carries the energy');
  });

  test('LBP histograms are rotation invariant (a 90-degree turn of a square image)', () => {
    const n = 48;
    const d = imageDataset(1, n, n, 1, 9);
    const px = d.x as Uint8Array;
    const turned = new Uint8Array(n * n);
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) turned[x * n + (n - 1 - y)] = px[y * n + x]!;
    const a = new Float32Array(descriptorDim(1));
    const b = new Float32Array(descriptorDim(1));
    describeImage(px, n, n, 1, a);
    describeImage(turned, n, n, 1, b);
    const { start, end } = descriptorBlocks(1)[1]!;
    for (let k = start; k < end; k++) {
      assert.ok(Math.abs(a[k]! - b[k]!) < 0.02, `LBP value ${k - start}: ${a[k]} vs ${b[k]}`);
    }
  });

  test('read size: the images own up to 256 a side, small images enlarged to fit LBP', () => {
    const ex = descriptorExtractor({ kind: 'descriptors' });
    const src = (h: number, w: number) => datasetSource(imageDataset(1, h, w));
    assert.deepEqual(ex.inputSize(src(200, 200)), [200, 200]);
    assert.deepEqual(ex.inputSize(src(512, 1024)), [128, DEFAULT_DESCRIPTOR_SIDE]);
    assert.deepEqual(ex.inputSize(src(8, 8)), [16, 16]);
    assert.throws(
      () => describeImage(new Uint8Array(64), 8, 8, 1, new Float32Array(descriptorDim(1))),
      /at least 16 x 16/,
    );
  });

  test('colour images: luma for HOG and LBP, a histogram per channel', () => {
    assert.equal(descriptorDim(3) - descriptorDim(1), 2 * 18);
    const d = imageDataset(2, 32, 32, 3);
    const row = new Float32Array(descriptorDim(3));
    describeImage((d.x as Uint8Array).subarray(0, 32 * 32 * 3), 32, 32, 3, row);
    assert.ok(row.every((v) => Number.isFinite(v)));
  });
});

describe('computeFeatures', () => {
  test('computes once, then finds the matrix in the cache; other settings miss it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deepal-features-'));
    const src = datasetSource(imageDataset(5, 24, 24));
    const first = await computeFeatures(src, { kind: 'descriptors' }, { cacheDir: dir });
    assert.equal(first.fromCache, false);
    assert.equal(first.n, 5);
    assert.equal(first.dim, descriptorDim(1));
    const second = await computeFeatures(src, { kind: 'descriptors' }, { cacheDir: dir });
    assert.equal(second.fromCache, true);
    assert.deepEqual(second.data, first.data);
    const other = await computeFeatures(src, { kind: 'descriptors', side: 20 }, { cacheDir: dir });
    assert.equal(other.fromCache, false, 'another read size is another cache entry');
    const changed = datasetSource(imageDataset(5, 24, 24, 1, 2));
    const third = await computeFeatures(changed, { kind: 'descriptors' }, { cacheDir: dir });
    assert.equal(third.fromCache, false, 'other pixels are another cache entry');
  });

  test('a damaged cache entry is recomputed, not read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deepal-features-'));
    const src = datasetSource(imageDataset(3, 24, 24));
    const m = await computeFeatures(src, { kind: 'descriptors' }, { cacheDir: dir });
    writeFileSync(join(dir, `${m.key}.f32`), Buffer.alloc(10));
    assert.equal(await readCached(dir, m.key), null);
    const again = await computeFeatures(src, { kind: 'descriptors' }, { cacheDir: dir });
    assert.equal(again.fromCache, false);
    assert.deepEqual(again.data, m.data);
  });

  test('cancel between slices: nothing is cached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deepal-features-'));
    const src = datasetSource(imageDataset(40, 24, 24));
    const ctl = new AbortController();
    await assert.rejects(
      computeFeatures(
        src,
        { kind: 'descriptors' },
        {
          cacheDir: dir,
          chunk: 4,
          signal: ctl.signal,
          progress: (p) => {
            if (p.done >= 8) ctl.abort();
          },
        },
      ),
      FeaturesCancelled,
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  test('an extractor that gives NaN fails naming the image', async () => {
    const nan: FeatureExtractor = {
      spec: { kind: 'descriptors' },
      version: 1,
      inputSize: () => [16, 16],
      dim: () => 2,
      async embed(_px, n) {
        const out = new Float32Array(n * 2);
        out[3] = NaN;
        return out;
      },
      dispose() {},
    };
    await assert.rejects(
      computeFeatures(
        datasetSource(imageDataset(3, 16, 16)),
        { kind: 'descriptors' },
        {
          extractor: nan,
          nameOf: (i) => `photo-${i}.jpg`,
        },
      ),
      /NaN value for photo-1\.jpg; expected finite numbers/,
    );
  });

  test('cache keys do not depend on the order settings are written in', () => {
    const a = featureKey({
      fingerprint: 'f',
      spec: { kind: 'onnx', path: '/m.onnx', mean: [0.5], std: [0.2] },
      version: 1,
      inputSize: [8, 8],
    });
    const b = featureKey({
      fingerprint: 'f',
      spec: { std: [0.2], mean: [0.5], path: '/m.onnx', kind: 'onnx' },
      version: 1,
      inputSize: [8, 8],
    });
    assert.equal(a, b);
  });
});

describe('--features', () => {
  test('accepted forms and the refusals', () => {
    assert.deepEqual(parseFeatureArg('hog'), { kind: 'descriptors' });
    assert.deepEqual(parseFeatureArg('descriptors'), { kind: 'descriptors' });
    assert.deepEqual(parseFeatureArg('ssl:120'), { kind: 'ssl', budgetSec: 120 });
    assert.deepEqual(parseFeatureArg('onnx:/a/b.onnx'), { kind: 'onnx', path: '/a/b.onnx' });
    assert.deepEqual(parseFeatureArg('tfjs:C:\\m\\model.json'), {
      kind: 'tfjs',
      path: 'C:\\m\\model.json',
    });
    assert.throws(() => parseFeatureArg('ssl:ten'), /whole number of seconds/);
    assert.throws(() => parseFeatureArg('onnx'), /give the model file/);
    assert.throws(() => parseFeatureArg('sift'), /expected descriptors \(or hog\), ssl/);
  });
});
