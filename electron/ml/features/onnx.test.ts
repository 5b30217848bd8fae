import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeOnnxEncoder } from '../../../build/scripts/makeTestEncoders.ts';
import type { ModelFileFeatures } from '../../../shared/features.ts';
import { computeFeatures, FeaturesCancelled } from './compute.ts';
import {
  maxAbsDiff,
  memorySource,
  referenceEncoder,
  tempDir,
  testImages,
} from './fixtures/modelFiles.ts';
import { createExtractor } from './index.ts';
import { IMAGENET_MEAN, IMAGENET_STD, inspectModelFile, ModelFileError } from './modelFile.ts';
import { onnxExtractor } from './onnx.ts';

const tmp = tempDir();
after(tmp.cleanup);
const at = (name: string) => join(tmp.dir, name);
const spec = (path: string, more: Partial<ModelFileFeatures> = {}): ModelFileFeatures => ({
  kind: 'onnx',
  path,
  ...more,
});
const imagenet = { mean: IMAGENET_MEAN, std: IMAGENET_STD };
const TOL = 1e-4;

before(async () => {
  await writeOnnxEncoder(at('nchw.onnx'));
  await writeOnnxEncoder(at('nhwc.onnx'), { layout: 'nhwc' });
  await writeOnnxEncoder(at('gray.onnx'), { channels: 1 });
  await writeOnnxEncoder(at('any-size.onnx'), { size: null });
  await writeOnnxEncoder(at('batch2.onnx'), { batch: 2 });
  await writeOnnxEncoder(at('nan.onnx'), { nan: true });
  await writeOnnxEncoder(at('big.onnx'), { size: [224, 224] });
});

/** Embed images with a spec through the extractor, as computeFeatures does, without a cache. */
async function embedAll(s: ModelFileFeatures, px: Uint8Array, n: number, c: 1 | 3) {
  const m = await computeFeatures(memorySource(px, n, [16, 16], c), s);
  return m;
}

describe('ONNX extractor: numbers', () => {
  const n = 5;
  const rgb = testImages(n, 16, 16, 3, 7);
  const gray = testImages(n, 16, 16, 1, 9);

  test('the embedding of each image equals the encoder computed by hand', async () => {
    const m = await embedAll(spec(at('nchw.onnx')), rgb, n, 3);
    assert.equal(m.dim, 3);
    assert.equal(m.n, n);
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 3, ...imagenet });
    assert.ok(
      maxAbsDiff(m.data, ref.embedding) < TOL,
      `differs by ${maxAbsDiff(m.data, ref.embedding)}`,
    );
    // Not a constant: the images differ, so do their embeddings.
    assert.notDeepEqual([...m.data.subarray(0, 3)], [...m.data.subarray(3, 6)]);
  });

  test('the user normalisation is applied: (p / 255 - mean) / std per channel', async () => {
    const norm = { mean: [0.5, 0.25, 0], std: [0.5, 1, 2] };
    const m = await embedAll(spec(at('nchw.onnx'), norm), rgb, n, 3);
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 3, ...norm });
    assert.ok(maxAbsDiff(m.data, ref.embedding) < TOL);
    const imagenetRows = (await embedAll(spec(at('nchw.onnx')), rgb, n, 3)).data;
    assert.ok(maxAbsDiff(imagenetRows, ref.embedding) > 1e-2, 'normalisation made no difference');
  });

  test('an NHWC model (read from its input shape) gives the NCHW model embedding', async () => {
    const info = await inspectModelFile(spec(at('nhwc.onnx')));
    assert.equal(info.settings.layout, 'nhwc');
    const a = await embedAll(spec(at('nchw.onnx')), rgb, n, 3);
    const b = await embedAll(spec(at('nhwc.onnx')), rgb, n, 3);
    assert.ok(maxAbsDiff(b.data, chunk(a.data, 3)) < TOL);
  });

  test('gray images are repeated to 3 channels for a 3-channel model', async () => {
    const m = await embedAll(spec(at('nchw.onnx')), gray, n, 1);
    const ref = referenceEncoder(gray, n, 16, 16, 1, { channels: 3, ...imagenet });
    assert.ok(maxAbsDiff(m.data, ref.embedding) < TOL);
    // The same as the colour image whose three channels are the gray one.
    const rgbOfGray = new Uint8Array(gray.length * 3).map((_, i) => gray[Math.floor(i / 3)]!);
    const viaRgb = await embedAll(spec(at('nchw.onnx')), rgbOfGray, n, 3);
    assert.ok(maxAbsDiff(m.data, chunk(viaRgb.data, 3)) < 1e-6);
  });

  test('colour images are turned to luma for a 1-channel model, with gray ImageNet statistics', async () => {
    const info = await inspectModelFile(spec(at('gray.onnx')));
    assert.equal(info.settings.channels, 1);
    assert.deepEqual(info.settings.mean, [0.449]);
    const m = await embedAll(spec(at('gray.onnx')), rgb, n, 3);
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 1, mean: [0.449], std: [0.226] });
    assert.ok(maxAbsDiff(m.data, ref.embedding) < TOL);
  });

  test('a 4-D output is global-average-pooled to [N, C], and the notes say so', async () => {
    const s = spec(at('nchw.onnx'), { output: 'feature_map' });
    const info = await inspectModelFile(s);
    assert.deepEqual(info.embedding, { outputShape: [1, 4, 16, 16], dim: 4, pooled: true });
    assert.ok(info.notes.some((x) => /global average pooling/.test(x) && /feature_map/.test(x)));
    const m = await embedAll(s, rgb, n, 3);
    assert.equal(m.dim, 4);
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 3, ...imagenet });
    assert.ok(maxAbsDiff(m.data, ref.pooledFeatureMap) < TOL);
  });

  test('a model of any input size runs at the size the user gives; 224 x 224 by default', async () => {
    const info = await inspectModelFile(spec(at('any-size.onnx')));
    assert.deepEqual(info.settings.inputSize, [224, 224]);
    assert.ok(info.notes.some((x) => /any size/.test(x)));
    const m = await embedAll(spec(at('any-size.onnx'), { inputSize: [16, 16] }), rgb, n, 3);
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 3, ...imagenet });
    assert.ok(maxAbsDiff(m.data, ref.embedding) < TOL);
  });

  test('a model with a fixed batch of 2 embeds 5 images (the last batch padded)', async () => {
    const info = await inspectModelFile(spec(at('batch2.onnx')));
    assert.equal(info.settings.batch, 2);
    const m = await computeFeatures(memorySource(rgb, n, [16, 16], 3), spec(at('batch2.onnx')), {
      chunk: 5,
    });
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 3, ...imagenet });
    assert.ok(maxAbsDiff(m.data, ref.embedding) < TOL);
  });

  test('createExtractor dispatches onnx specs to the ONNX extractor', async () => {
    const ex = await createExtractor(spec(at('nchw.onnx')));
    try {
      const src = memorySource(rgb, n, [16, 16], 3);
      assert.deepEqual(ex.inputSize(src), [16, 16]);
      assert.equal(ex.dim(src), 3);
      assert.match(ex.cacheKeyExtra?.() ?? '', /[0-9a-f]{64}/);
    } finally {
      ex.dispose();
    }
  });
});

/** Rows [n, dim] as arrays (to compare two runs with maxAbsDiff). */
function chunk(rows: Float32Array, dim: number): number[][] {
  return Array.from({ length: rows.length / dim }, (_, i) => [
    ...rows.subarray(i * dim, (i + 1) * dim),
  ]);
}

describe('ONNX extractor: cache and cancel', () => {
  const n = 6;
  const rgb = testImages(n, 16, 16, 3, 3);

  test('the second run comes from the cache; a changed model file is not served from it', async () => {
    const cacheDir = at('cache-hit');
    const model = at('cached.onnx');
    await writeOnnxEncoder(model);
    const src = memorySource(rgb, n, [16, 16], 3, 'fp-cache');
    const first = await computeFeatures(src, spec(model), { cacheDir });
    assert.equal(first.fromCache, false);
    const second = await computeFeatures(src, spec(model), { cacheDir });
    assert.equal(second.fromCache, true);
    assert.equal(second.key, first.key);
    assert.deepEqual([...second.data], [...first.data]);

    await writeOnnxEncoder(model, { filters: 5 }); // same path and output shape, other weights
    const third = await computeFeatures(src, spec(model), { cacheDir });
    assert.equal(third.fromCache, false);
    assert.notEqual(third.key, first.key);
    assert.ok(maxAbsDiff(third.data, chunk(first.data, 3)) > 1e-3);
  });

  test('embed checks the signal between inference batches', async () => {
    const ex = await onnxExtractor(spec(at('nchw.onnx')), { maxBatch: 2 });
    try {
      let reads = 0;
      const signal = {
        get aborted() {
          reads++;
          return reads >= 2; // aborted once the first batch has run
        },
      } as AbortSignal;
      await assert.rejects(ex.embed(rgb, n, [16, 16, 3], { signal }), FeaturesCancelled);
      assert.equal(reads, 2, 'the signal is read before each batch and the second one stops');
    } finally {
      ex.dispose();
    }
  });

  test('a job cancelled between slices stores nothing', async () => {
    const cacheDir = at('cache-cancel');
    const ac = new AbortController();
    await assert.rejects(
      computeFeatures(memorySource(rgb, n, [16, 16], 3, 'fp-cancel'), spec(at('nchw.onnx')), {
        cacheDir,
        chunk: 2,
        signal: ac.signal,
        progress: (p) => {
          if (p.done > 0) ac.abort();
        },
      }),
      FeaturesCancelled,
    );
    const files = await readdir(cacheDir).catch(() => []);
    assert.deepEqual(files, []);
  });
});

/** The error a promise rejects with, checked to be a ModelFileError that names `path`. */
async function modelError(p: Promise<unknown>, path: string): Promise<ModelFileError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ModelFileError, `expected a ModelFileError, got ${String(err)}`);
    assert.ok(err.message.includes(path), `"${err.message}" does not name ${path}`);
    assert.match(err.message, /expected/);
    if (process.env.DEEPAL_SHOW_ERRORS) console.log(err.message);
    return err;
  }
  assert.fail('expected the promise to reject');
}

describe('ONNX extractor: bad input', () => {
  test('files that are not models: random bytes, a JPEG, a zip, text, empty, missing, a folder', async () => {
    const random = at('random.onnx');
    const bytes = testImages(1, 64, 64, 1, 42);
    await writeFile(random, bytes);
    const jpeg = at('photo.onnx');
    await writeFile(
      jpeg,
      await sharp({ create: { width: 8, height: 8, channels: 3, background: '#c00' } })
        .jpeg()
        .toBuffer(),
    );
    const zip = at('model.pt');
    await writeFile(zip, Buffer.from([0x50, 0x4b, 0x03, 0x04, ...bytes.subarray(0, 60)]));
    const text = at('notes.onnx');
    await writeFile(text, 'an encoder, we promise\n');
    const empty = at('empty.onnx');
    await writeFile(empty, '');
    const folder = at('folder.onnx');
    await mkdir(folder, { recursive: true });

    const r = await modelError(onnxExtractor(spec(random)), random);
    assert.match(r.message, /is not an ONNX model/);
    assert.ok(r.cause, 'the runtime error is kept as the cause');
    assert.notEqual(r.message, (r.cause as Error).message);
    assert.match((await modelError(onnxExtractor(spec(jpeg)), jpeg)).message, /looks like a JPEG/);
    assert.match((await modelError(onnxExtractor(spec(zip)), zip)).message, /PyTorch/);
    assert.match(
      (await modelError(onnxExtractor(spec(text)), text)).message,
      /is not an ONNX model/,
    );
    assert.match((await modelError(onnxExtractor(spec(empty)), empty)).message, /is empty/);
    const missing = at('nowhere/model.onnx');
    assert.match(
      (await modelError(onnxExtractor(spec(missing)), missing)).message,
      /does not exist/,
    );
    assert.match((await modelError(onnxExtractor(spec(folder)), folder)).message, /is a folder/);
    // inspectModelFile refuses the same way, up front.
    await modelError(inspectModelFile(spec(random)), random);
  });

  test('a wrong input shape is refused before anything runs', async () => {
    const big = at('big.onnx');
    const size = await modelError(onnxExtractor(spec(big, { inputSize: [64, 64] })), big);
    assert.match(size.message, /224 x 224/);
    assert.match(size.message, /64 x 64/);
    const gray = await modelError(onnxExtractor(spec(big, { channels: 1 })), big);
    assert.match(gray.message, /3-channel/);
    const layout = await modelError(onnxExtractor(spec(big, { layout: 'nhwc' })), big);
    assert.match(layout.message, /224 channels; expected 1 \(grayscale\) or 3/);
    const rgbOnGray = await modelError(
      onnxExtractor(spec(at('gray.onnx'), { channels: 3 })),
      at('gray.onnx'),
    );
    assert.match(rgbOnGray.message, /1-channel/);
    const mean = await modelError(
      onnxExtractor(spec(at('gray.onnx'), { mean: [0.1, 0.2, 0.3] })),
      at('gray.onnx'),
    );
    assert.match(mean.message, /mean has 3 values; expected 1/);
  });

  test('settings a model without a declared input shape cannot take fail with the settings named', async () => {
    const p = at('undeclared.onnx');
    await writeOnnxEncoder(p, { undeclaredInput: true });
    const ok = await inspectModelFile(spec(p, { inputSize: [16, 16] }));
    assert.equal(ok.settings.channels, 3);
    assert.ok(ok.notes.some((x) => /does not declare its channel count/.test(x)));
    const err = await modelError(onnxExtractor(spec(p, { inputSize: [16, 16], channels: 1 })), p);
    assert.match(err.message, /Check the input size, channels and layout/);
    assert.ok(err.cause, 'the runtime error is kept as the cause');
  });

  test('an output that does not exist is refused with the list of those that do', async () => {
    const p = at('nchw.onnx');
    const err = await modelError(onnxExtractor(spec(p, { output: 'logits' })), p);
    assert.match(err.message, /no output named "logits"/);
    assert.match(err.message, /embedding \[N, 3\], feature_map \[N, 4, 16, 16\]/);
  });

  test('NaN outputs fail the job naming the model file and the image', async () => {
    const p = at('nan.onnx');
    const px = testImages(3, 16, 16, 3, 5);
    await assert.rejects(
      computeFeatures(memorySource(px, 3, [16, 16], 3), spec(p), {
        nameOf: (i) => `/data/img${i}.png`,
      }),
      (err: Error) => {
        assert.match(err.message, /nan\.onnx/);
        assert.match(err.message, /\/data\/img0\.png/);
        assert.match(err.message, /NaN/);
        return true;
      },
    );
  });
});
