import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import {
  writeOnnxEncoder,
  writeTfjsGraphEncoder,
  writeTfjsLayersEncoder,
} from '../../../build/scripts/makeTestEncoders.ts';
import type { ModelFileFeatures } from '../../../shared/features.ts';
import { computeFeatures } from './compute.ts';
import {
  maxAbsDiff,
  memorySource,
  referenceEncoder,
  tempDir,
  testImages,
} from './fixtures/modelFiles.ts';
import { IMAGENET_MEAN, IMAGENET_STD, inspectModelFile, ModelFileError } from './modelFile.ts';
import { tfjsExtractor } from './tfjsModel.ts';

const tmp = tempDir();
after(tmp.cleanup);
const at = (...p: string[]) => join(tmp.dir, ...p);
const spec = (path: string, more: Partial<ModelFileFeatures> = {}): ModelFileFeatures => ({
  kind: 'tfjs',
  path,
  ...more,
});
const imagenet = { mean: IMAGENET_MEAN, std: IMAGENET_STD };
const TOL = 1e-4;

let layers = '';
let graph = '';
before(async () => {
  layers = await writeTfjsLayersEncoder(at('layers'));
  graph = await writeTfjsGraphEncoder(at('graph'));
});

const n = 4;
const rgb = testImages(n, 16, 16, 3, 11);
const embed = (s: ModelFileFeatures, px = rgb, c: 1 | 3 = 3) =>
  computeFeatures(memorySource(px, n, [16, 16], c), s);

describe('TF.js extractor: layers model', () => {
  test('the embedding equals the encoder computed by hand, and the ONNX export of it', async () => {
    const info = await inspectModelFile(spec(layers));
    assert.equal(info.format, 'TF.js layers model');
    assert.equal(info.settings.layout, 'nhwc');
    assert.deepEqual(info.settings.inputSize, [16, 16]);
    assert.equal(info.settings.output, 'embedding');
    assert.deepEqual(info.inner.names, ['feature_map', 'pool', 'embedding']);
    const m = await embed(spec(layers));
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 3, ...imagenet });
    assert.ok(maxAbsDiff(m.data, ref.embedding) < TOL, `${maxAbsDiff(m.data, ref.embedding)}`);

    const onnx = await writeOnnxEncoder(at('same.onnx'));
    const viaOnnx = await embed({ kind: 'onnx', path: onnx });
    const rows = Array.from({ length: n }, (_, i) => [...viaOnnx.data.subarray(i * 3, i * 3 + 3)]);
    assert.ok(maxAbsDiff(m.data, rows) < TOL);
  });

  test("a named layer's 4-D output is pooled over height and width", async () => {
    const s = spec(layers, { output: 'feature_map' });
    const info = await inspectModelFile(s);
    assert.deepEqual(info.embedding, { outputShape: [1, 16, 16, 4], dim: 4, pooled: true });
    const m = await embed(s);
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 3, ...imagenet });
    assert.ok(maxAbsDiff(m.data, ref.pooledFeatureMap) < TOL);
  });

  test('gray images are repeated to 3 channels', async () => {
    const gray = testImages(n, 16, 16, 1, 13);
    const m = await embed(spec(layers), gray, 1);
    const ref = referenceEncoder(gray, n, 16, 16, 1, { channels: 3, ...imagenet });
    assert.ok(maxAbsDiff(m.data, ref.embedding) < TOL);
  });

  test('a folder holding a model.json is accepted', async () => {
    const info = await inspectModelFile(spec(at('layers')));
    assert.equal(info.path, layers);
  });

  test('the cache key follows the weight files: new weights are not served from the cache', async () => {
    const dir = at('layers-cached');
    await cp(at('layers'), dir, { recursive: true });
    const s = spec(join(dir, 'model.json'));
    const cacheDir = at('cache');
    const src = memorySource(rgb, n, [16, 16], 3, 'fp-tfjs');
    const first = await computeFeatures(src, s, { cacheDir });
    const second = await computeFeatures(src, s, { cacheDir });
    assert.equal(second.fromCache, true);
    const w = await readFile(join(dir, 'weights.bin'));
    new Float32Array(w.buffer, w.byteOffset, w.length / 4).forEach((v, i, a) => (a[i] = v * 0.5));
    await writeFile(join(dir, 'weights.bin'), w);
    const third = await computeFeatures(src, s, { cacheDir });
    assert.equal(third.fromCache, false);
    assert.notEqual(third.key, first.key);
  });
});

describe('TF.js extractor: graph model', () => {
  test('the embedding equals the encoder computed by hand', async () => {
    const info = await inspectModelFile(spec(graph));
    assert.equal(info.format, 'TF.js graph model');
    assert.equal(info.settings.input, 'image');
    assert.equal(info.settings.output, 'embedding');
    const m = await embed(spec(graph));
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 3, ...imagenet });
    assert.ok(maxAbsDiff(m.data, ref.embedding) < TOL);
  });

  test('a named node is the embedding (a 4-D feature map, pooled)', async () => {
    const m = await embed(spec(graph, { output: 'feature_map' }));
    assert.equal(m.dim, 4);
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 3, ...imagenet });
    assert.ok(maxAbsDiff(m.data, ref.pooledFeatureMap) < TOL);
  });

  test('a graph of any input size runs at the size given', async () => {
    const p = await writeTfjsGraphEncoder(at('graph-any'), { size: null });
    const info = await inspectModelFile(spec(p));
    assert.deepEqual(info.settings.inputSize, [224, 224]);
    const m = await embed(spec(p, { inputSize: [16, 16] }));
    const ref = referenceEncoder(rgb, n, 16, 16, 3, { channels: 3, ...imagenet });
    assert.ok(maxAbsDiff(m.data, ref.embedding) < TOL);
  });
});

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

describe('TF.js extractor: memory', () => {
  test('a run leaves no tensor behind (inputs, outputs, heads and weights are freed)', async () => {
    await embed(spec(layers)); // the backend is started and its kernels warm
    for (const s of [spec(layers), spec(layers, { output: 'feature_map' }), spec(graph)]) {
      const before = tf.memory().numTensors;
      await embed(s);
      assert.equal(tf.memory().numTensors, before, `${s.path} ${s.output ?? ''}`);
    }
  });
});

describe('TF.js extractor: bad input', () => {
  test('files that are not a model.json: random bytes, a JPEG, empty, missing, a folder, other JSON', async () => {
    const dir = at('bad');
    await mkdir(dir, { recursive: true });
    const random = join(dir, 'random.json');
    await writeFile(random, testImages(1, 32, 32, 1, 5));
    const jpeg = join(dir, 'photo.json');
    await writeFile(
      jpeg,
      await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0c0' } })
        .jpeg()
        .toBuffer(),
    );
    const empty = join(dir, 'empty.json');
    await writeFile(empty, '');
    const other = join(dir, 'package.json');
    await writeFile(other, JSON.stringify({ name: 'not-a-model' }));

    const r = await modelError(tfjsExtractor(spec(random)), random);
    assert.match(r.message, /not a TF.js model.json: it is not valid JSON/);
    assert.ok(r.cause);
    assert.match((await modelError(tfjsExtractor(spec(jpeg)), jpeg)).message, /looks like a JPEG/);
    assert.match((await modelError(tfjsExtractor(spec(empty)), empty)).message, /is empty/);
    const missing = join(dir, 'none', 'model.json');
    assert.match(
      (await modelError(tfjsExtractor(spec(missing)), missing)).message,
      /does not exist/,
    );
    assert.match(
      (await modelError(tfjsExtractor(spec(dir)), dir)).message,
      /is a folder without a model.json/,
    );
    assert.match(
      (await modelError(tfjsExtractor(spec(other)), other)).message,
      /is JSON but not a TF.js model.json/,
    );
  });

  test('a missing or truncated weight file is named', async () => {
    const dir = at('no-weights');
    await cp(at('layers'), dir, { recursive: true });
    await rm(join(dir, 'weights.bin'));
    const p = join(dir, 'model.json');
    const err = await modelError(tfjsExtractor(spec(p)), p);
    assert.match(err.message, /lists the weight file weights.bin, which is missing/);

    const cut = at('cut-weights');
    await cp(at('graph'), cut, { recursive: true });
    const shard = join(cut, 'group1-shard1of1.bin');
    await writeFile(shard, (await readFile(shard)).subarray(0, 100));
    const q = join(cut, 'model.json');
    const e2 = await modelError(tfjsExtractor(spec(q)), q);
    assert.match(e2.message, /hold 100 bytes; expected 516/);
  });

  test('a wrong input shape is refused before anything runs', async () => {
    const size = await modelError(tfjsExtractor(spec(layers, { inputSize: [64, 64] })), layers);
    assert.match(size.message, /64 x 64; expected 16 x 16/);
    const ch = await modelError(tfjsExtractor(spec(graph, { channels: 1 })), graph);
    assert.match(ch.message, /1-channel images; expected 3-channel/);
  });

  test('an output that does not exist is refused with the outputs and layers that do', async () => {
    const e1 = await modelError(tfjsExtractor(spec(layers, { output: 'logits' })), layers);
    assert.match(e1.message, /no output named "logits"/);
    assert.match(e1.message, /embedding \[\?, 3\]; or one of its layers: feature_map, pool/);
    const e2 = await modelError(tfjsExtractor(spec(graph, { output: 'logits' })), graph);
    assert.match(e2.message, /or one of its nodes: .*feature_map/);
  });

  test('an op TF.js cannot run is named', async () => {
    const dir = at('odd-op');
    await cp(at('graph'), dir, { recursive: true });
    const p = join(dir, 'model.json');
    const json = JSON.parse(await readFile(p, 'utf8')) as {
      modelTopology: { node: { name: string; op: string }[] };
    };
    json.modelTopology.node.find((x) => x.name === 'feature_map')!.op = 'FancyRelu';
    await writeFile(p, JSON.stringify(json));
    const err = await modelError(tfjsExtractor(spec(p)), p);
    assert.match(err.message, /uses the TensorFlow op FancyRelu, which TF.js cannot run/);
  });
});
