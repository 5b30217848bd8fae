import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createNetwork } from '../models/index.ts';
import type { Network } from '../models/network.ts';
import { computeNormalization } from './normalization.ts';
import type { TrainingPlugin } from './plugin.ts';
import { evaluate, mcPredict, predict } from './predict.ts';
import { createModelView } from './modelView.ts';
import { batchBounds, trainNetwork, TrainingCancelled, type TrainOptions } from './train.ts';
import { blobs, quadrantImages, range } from './testData.ts';

before(async () => {
  await tf.setBackend('cpu');
});

const images = quadrantImages(160, 1);
const imageNorm = computeNormalization(images);
const vectors = blobs(300, 2);
const vectorNorm = computeNormalization(vectors);
const AUG = { cropPadding: 2, horizontalFlip: true };

function smallCnn(seed: number): Network {
  return createNetwork({ kind: 'cnn', inputShape: [12, 12, 1], numClasses: 4, seed });
}

/**
 * Most loop tests use an MLP on the images: the loop is model-agnostic, and the cpu backend's
 * Conv2DBackpropFilter is very slow (about 1 s per small conv batch).
 */
function imageMlp(seed: number): Network {
  return createNetwork({
    kind: 'mlp',
    inputShape: [12, 12, 1],
    numClasses: 4,
    seed,
    hidden: [32, 16],
  });
}

function imageOpts(extra: Partial<TrainOptions> = {}): TrainOptions {
  const indices = range(64);
  return {
    indices,
    labels: Int32Array.from(indices, (i) => images.y[i]!),
    epochs: 1,
    batchSize: 16,
    seed: 11,
    norm: imageNorm,
    ...extra,
  };
}

describe('trainNetwork', () => {
  test('batchBounds keeps the last partial batch and never leaves a batch of one', () => {
    assert.deepEqual(batchBounds(10, 4), [
      [0, 4],
      [4, 8],
      [8, 10],
    ]);
    assert.deepEqual(batchBounds(9, 4), [
      [0, 4],
      [4, 9],
    ]);
    assert.deepEqual(batchBounds(1, 4), [[0, 1]]);
  });

  test('same seed: identical weights and identical loss after a few steps', async () => {
    const results = [];
    for (let r = 0; r < 2; r++) {
      const net = imageMlp(3);
      const res = await trainNetwork(net, images, imageOpts({ epochs: 2, augment: AUG }));
      const w = net.getWeights();
      results.push({ loss: res.loss, w0: w[0]!.dataSync().slice() });
      tf.dispose(w);
      net.dispose();
    }
    assert.ok(Number.isFinite(results[0]!.loss));
    assert.equal(results[0]!.loss, results[1]!.loss);
    assert.deepEqual(results[0]!.w0, results[1]!.w0);
    // A different training seed (shuffle, dropout) gives a different loss.
    const net = imageMlp(3);
    const other = await trainNetwork(net, images, imageOpts({ epochs: 2, seed: 12, augment: AUG }));
    net.dispose();
    assert.notEqual(other.loss, results[0]!.loss);
  });

  test('learns a synthetic task well above chance (mlp on vectors, cnn on images)', async () => {
    const mlp = createNetwork({ kind: 'mlp', inputShape: [8], numClasses: 3, seed: 1 });
    const train = range(200);
    const epochs: number[] = [];
    const res = await trainNetwork(mlp, vectors, {
      indices: train,
      labels: Int32Array.from(train, (i) => vectors.y[i]!),
      epochs: 5,
      batchSize: 32,
      seed: 4,
      norm: vectorNorm,
      onEpoch: (p) => epochs.push(p.epoch),
    });
    assert.deepEqual(epochs, [1, 2, 3, 4, 5]);
    assert.ok(res.samplesPerSec > 0);
    const test = await evaluate(mlp, vectors, range(100, 200), vectorNorm);
    // Chance is 1/3.
    assert.ok(test.accuracy >= 0.9, `mlp test accuracy ${test.accuracy}`);
    mlp.dispose();

    // One short epoch of the real CNN (slow on cpu, see imageMlp).
    const cnn = smallCnn(2);
    const trained = await trainNetwork(cnn, images, imageOpts({ batchSize: 8 }));
    const held = await evaluate(cnn, images, range(96, 64), imageNorm);
    // Chance is 1/4.
    assert.ok(held.accuracy >= 0.7, `cnn held-out accuracy ${held.accuracy}`);
    assert.ok(trained.trainAccuracy > 0.3, `train accuracy ${trained.trainAccuracy}`);
    cnn.dispose();
  });

  test('a (narrow) resnet18 trains through batch norm: every weight and BN statistic moves', async () => {
    const net = createNetwork({
      kind: 'resnet18',
      inputShape: [12, 12, 1],
      numClasses: 4,
      seed: 1,
      width: 2,
    });
    const before = net.getWeights().map((w) => w.dataSync().slice());
    const start = tf.memory().numTensors;
    const res = await trainNetwork(
      net,
      images,
      imageOpts({ indices: range(32), labels: Int32Array.from(range(32), (i) => images.y[i]!) }),
    );
    assert.equal(tf.memory().numTensors, start);
    assert.ok(Number.isFinite(res.loss));
    const after = net.getWeights();
    after.forEach((w, i) =>
      assert.notDeepEqual(w.dataSync(), before[i], `weight ${i} did not change`),
    );
    tf.dispose(after);
    net.dispose();
  });

  test('an AbortSignal stops training with TrainingCancelled', async () => {
    const net = imageMlp(1);
    const ctrl = new AbortController();
    let batches = 0;
    await assert.rejects(
      trainNetwork(
        net,
        images,
        imageOpts({
          epochs: 5,
          signal: ctrl.signal,
          onBatch: () => {
            if (++batches === 2) ctrl.abort();
          },
        }),
      ),
      TrainingCancelled,
    );
    assert.equal(batches, 2);
    net.dispose();
  });

  test('rejects labels outside the classes, naming the sample', async () => {
    const net = imageMlp(1);
    await assert.rejects(
      trainNetwork(net, images, imageOpts({ indices: Int32Array.of(5), labels: Int32Array.of(7) })),
      /sample 5 .* label 7/,
    );
    net.dispose();
  });
});

/** Records every hook call; its loss is `weight` times the sum of its one variable. */
class RecordingPlugin implements TrainingPlugin {
  readonly name = 'recording';
  readonly learningRate = 0.05;
  readonly v = tf.variable(tf.scalar(1), true);
  readonly calls: string[] = [];
  readonly lossEpochs: number[] = [];
  readonly unlabeledShapes: (number[] | null)[] = [];
  constructor(readonly weight: number) {}
  variables(): tf.Variable[] {
    return [this.v];
  }
  batchLoss(args: Parameters<NonNullable<TrainingPlugin['batchLoss']>>[0]): tf.Scalar {
    this.calls.push('batchLoss');
    this.lossEpochs.push(args.epoch);
    assert.equal(args.perSampleLoss.shape[0], args.x.shape[0]);
    assert.equal(args.y.shape[0], args.x.shape[0]);
    assert.equal(args.out.logits.shape[1], 4);
    // Depends on the network (through the embedding) and on the plugin's variable.
    return tf.mul(tf.add(tf.mean(tf.square(args.out.embedding)), this.v), this.weight) as tf.Scalar;
  }
  afterBatch(args: Parameters<NonNullable<TrainingPlugin['afterBatch']>>[0]): void {
    this.calls.push(`afterBatch:${args.epoch}:${args.batchIndex}`);
    const u = args.unlabeledBatch(5);
    this.unlabeledShapes.push(u ? u.shape : null);
    u?.dispose();
  }
  onEpochEnd(epoch: number): void {
    this.calls.push(`epochEnd:${epoch}`);
  }
  dispose(): void {
    this.v.dispose();
  }
}

describe('training plugins', () => {
  test('hooks are called in order with the documented arguments', async () => {
    const net = imageMlp(5);
    const plugin = new RecordingPlugin(1);
    await trainNetwork(
      net,
      images,
      imageOpts({ epochs: 2, batchSize: 32, plugins: [plugin], unlabeled: range(40, 100) }),
    );
    assert.deepEqual(plugin.calls, [
      'batchLoss',
      'afterBatch:0:0',
      'batchLoss',
      'afterBatch:0:1',
      'epochEnd:0',
      'batchLoss',
      'afterBatch:1:0',
      'batchLoss',
      'afterBatch:1:1',
      'epochEnd:1',
    ]);
    assert.deepEqual(plugin.lossEpochs, [0, 0, 1, 1]);
    assert.deepEqual(plugin.unlabeledShapes, Array(4).fill([5, 12, 12, 1]));
    // d(loss)/dv = 1 every step, so Adam moves v down by about its learning rate per step.
    const v = plugin.v.dataSync()[0]!;
    assert.ok(Math.abs(v - (1 - 4 * 0.05)) < 0.01, `plugin variable ${v}`);
    plugin.dispose();
    net.dispose();
  });

  test("the plugin's loss changes the network's gradient", async () => {
    const weightsAfter = async (plugins: TrainingPlugin[]): Promise<Float32Array> => {
      const net = imageMlp(6);
      await trainNetwork(net, images, imageOpts({ batchSize: 64, plugins }));
      const w = net.getWeights();
      // The hidden layer that produces the embedding.
      const out = w[2]!.dataSync().slice() as Float32Array;
      tf.dispose(w);
      for (const p of plugins) p.dispose();
      net.dispose();
      return out;
    };
    const plain = await weightsAfter([]);
    const zero = await weightsAfter([new RecordingPlugin(0)]);
    const heavy = await weightsAfter([new RecordingPlugin(10)]);
    assert.deepEqual(zero, plain);
    assert.notDeepEqual(heavy, plain);
  });

  test('unlabeledBatch is null without an unlabeled pool', async () => {
    const net = imageMlp(5);
    const plugin = new RecordingPlugin(0);
    await trainNetwork(net, images, imageOpts({ batchSize: 64, plugins: [plugin] }));
    assert.deepEqual(plugin.unlabeledShapes, [null]);
    plugin.dispose();
    net.dispose();
  });
});

describe('prediction', () => {
  test('predict, mcPredict and evaluate agree with each other', async () => {
    // Untrained is enough here: this checks bookkeeping, through the real conv net.
    const net = smallCnn(8);
    const rows = range(30, 50);
    const { probs, embeddings } = await predict(net, images, rows, imageNorm, {
      embeddings: true,
      batchSize: 7,
    });
    assert.equal(probs.length, 30 * 4);
    assert.equal(embeddings!.length, 30 * 128);
    for (let i = 0; i < 30; i++) {
      const s = probs.subarray(i * 4, i * 4 + 4).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(s - 1) < 1e-5);
    }
    // Chunking does not change the result.
    const whole = await predict(net, images, rows, imageNorm, { batchSize: 1000 });
    for (let i = 0; i < probs.length; i++) assert.ok(Math.abs(probs[i]! - whole.probs[i]!) < 1e-6);
    // evaluate's accuracy and loss from the same probabilities.
    let hits = 0;
    let loss = 0;
    for (let i = 0; i < 30; i++) {
      const p = Array.from(probs.subarray(i * 4, i * 4 + 4));
      const y = images.y[rows[i]!]!;
      if (p.indexOf(Math.max(...p)) === y) hits++;
      loss -= Math.log(p[y]!);
    }
    const ev = await evaluate(net, images, rows, imageNorm, 8);
    assert.equal(ev.accuracy, hits / 30);
    assert.ok(Math.abs(ev.loss - loss / 30) < 1e-4, `${ev.loss} vs ${loss / 30}`);
    // MC passes: T x n x C, each a distribution, not all equal.
    const mc = await mcPredict(net, images, rows, imageNorm, 3, { batchSize: 16 });
    assert.equal(mc.length, 3 * 30 * 4);
    assert.notDeepEqual(mc.subarray(0, 120), mc.subarray(120, 240));
    const view = createModelView(net, images, imageNorm, { batchSize: 9 });
    assert.deepEqual(await view.probs(rows), whole.probs);
    const both = await view.probsAndEmbeddings(rows);
    assert.deepEqual(both.embeddings, embeddings);
    assert.equal((await view.mcProbs(rows, 2)).length, 2 * 30 * 4);
    const x = view.inputs(rows.subarray(0, 3));
    assert.deepEqual(x.shape, [3, 12, 12, 1]);
    x.dispose();
    net.dispose();
  });

  test('no tensor leaks across train + predict + mcPredict rounds', async () => {
    const net = imageMlp(9);
    const plugin = new RecordingPlugin(0.1);
    const counts: number[] = [];
    for (let round = 0; round < 3; round++) {
      await trainNetwork(
        net,
        images,
        imageOpts({ plugins: [plugin], unlabeled: range(20, 90), augment: 'default' }),
      );
      await predict(net, images, range(20), imageNorm, { embeddings: true, batchSize: 6 });
      await mcPredict(net, images, range(20), imageNorm, 2, { batchSize: 6 });
      await evaluate(net, images, range(20), imageNorm);
      counts.push(tf.memory().numTensors);
    }
    assert.equal(counts[1], counts[0]);
    assert.equal(counts[2], counts[0]);
    plugin.dispose();
    net.dispose();
  });
});
