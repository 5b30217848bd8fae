import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createNetwork, modelSummary } from './index.ts';
import type { ForwardMode, ModelSpec, Network } from './network.ts';

before(async () => {
  await tf.setBackend('cpu');
});

function shapes(net: Network, x: tf.Tensor, mode: ForwardMode): number[][] {
  return tf.tidy(() => {
    const out = net.forward(x, mode);
    return [out.logits.shape, out.embedding.shape, ...out.stages.map((s) => s.shape)];
  });
}

function values(net: Network, x: tf.Tensor, mode: ForwardMode): Float32Array {
  return tf.tidy(() => net.forward(x, mode).logits).dataSync() as Float32Array;
}

function movingStats(net: Network): Float32Array[] {
  const w = net.getWeights();
  const trainable = net.trainableVariables().length;
  const out = w.slice(trainable).map((t) => t.dataSync() as Float32Array);
  tf.dispose(w);
  return out;
}

function seededInput(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

describe('forward shapes', () => {
  test('mlp on vectors and flattened images', () => {
    const vec = createNetwork({ kind: 'mlp', inputShape: [20], numClasses: 4, seed: 1 });
    const x = seededInput([3, 20], 1);
    assert.deepEqual(shapes(vec, x, 'eval'), [
      [3, 4],
      [3, 128],
      [3, 256],
      [3, 128],
    ]);
    const img = createNetwork({
      kind: 'mlp',
      inputShape: [28, 28, 1],
      numClasses: 10,
      seed: 1,
      hidden: [32],
    });
    const xi = seededInput([2, 28, 28, 1], 2);
    assert.deepEqual(shapes(img, xi, 'train'), [
      [2, 10],
      [2, 32],
      [2, 32],
    ]);
    assert.equal(img.embeddingDim, 32);
    tf.dispose([x, xi]);
    vec.dispose();
    img.dispose();
  });

  test('cnn on 28x28x1 and 32x32x3', () => {
    const a = createNetwork({ kind: 'cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    const xa = seededInput([2, 28, 28, 1], 3);
    assert.deepEqual(shapes(a, xa, 'eval'), [
      [2, 10],
      [2, 128],
      [2, 13, 13, 32],
      [2, 5, 5, 64],
    ]);
    // conv 3*3*1*32+32, conv 3*3*32*64+64, dense 1600*128+128, head 128*10+10.
    assert.equal(modelSummary(a).params, 320 + 18496 + 204928 + 1290);
    const b = createNetwork({ kind: 'cnn', inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
    const xb = seededInput([2, 32, 32, 3], 4);
    assert.deepEqual(shapes(b, xb, 'mc'), [
      [2, 10],
      [2, 128],
      [2, 15, 15, 32],
      [2, 6, 6, 64],
    ]);
    tf.dispose([xa, xb]);
    a.dispose();
    b.dispose();
  });

  test('resnet18, both stems (batch of 2)', () => {
    const gray = createNetwork({
      kind: 'resnet18',
      inputShape: [28, 28, 1],
      numClasses: 10,
      seed: 1,
    });
    const xg = seededInput([2, 28, 28, 1], 5);
    assert.deepEqual(shapes(gray, xg, 'eval'), [
      [2, 10],
      [2, 512],
      [2, 7, 7, 64],
      [2, 4, 4, 128],
      [2, 2, 2, 256],
      [2, 1, 1, 512],
    ]);
    // 11.17M trainable weights, as torchvision's resnet18 trunk with a 10-way head.
    const params = modelSummary(gray).params;
    assert.ok(params > 11_100_000 && params < 11_200_000, `params ${params}`);
    gray.dispose();
    const colour = createNetwork({
      kind: 'resnet18',
      inputShape: [32, 32, 3],
      numClasses: 10,
      seed: 1,
      stem: '3x3',
    });
    const xc = seededInput([2, 32, 32, 3], 6);
    assert.deepEqual(shapes(colour, xc, 'eval').slice(0, 3), [
      [2, 10],
      [2, 512],
      [2, 32, 32, 64],
    ]);
    colour.dispose();
    tf.dispose([xg, xc]);
  });

  test('rejects inputs a model cannot take', () => {
    assert.throws(
      () => createNetwork({ kind: 'cnn', inputShape: [20], numClasses: 3, seed: 1 }),
      /image input/,
    );
    assert.throws(
      () => createNetwork({ kind: 'cnn', inputShape: [8, 8, 1], numClasses: 3, seed: 1 }),
      /10x10/,
    );
  });
});

describe('forward modes', () => {
  // A small ResNet input keeps this fast while exercising batch norm and dropout together.
  const spec: ModelSpec = {
    kind: 'resnet18',
    inputShape: [12, 12, 1],
    numClasses: 3,
    seed: 7,
    dropout: 0.5,
  };

  test('eval is deterministic; mc passes differ; neither touches BN statistics', () => {
    const net = createNetwork(spec);
    const x = seededInput([4, 12, 12, 1], 8);
    // Move the moving averages away from their initial values first (and check that a train
    // pass, which updates them, leaves no tensor behind).
    const count = tf.memory().numTensors;
    tf.tidy(() => {
      net.forward(x, 'train');
    });
    assert.equal(tf.memory().numTensors, count);
    const before = movingStats(net);
    const e1 = values(net, x, 'eval');
    const e2 = values(net, x, 'eval');
    assert.deepEqual(e1, e2);
    const m1 = values(net, x, 'mc');
    const m2 = values(net, x, 'mc');
    assert.notDeepEqual(m1, m2);
    assert.notDeepEqual(m1, e1);
    assert.deepEqual(movingStats(net), before);
    // 'train' does update them.
    tf.tidy(() => {
      net.forward(x, 'train');
    });
    assert.notDeepEqual(movingStats(net), before);
    x.dispose();
    net.dispose();
  });

  test('mcLogits equals successive mc forward passes from the same dropout stream', () => {
    for (const kind of ['mlp', 'cnn', 'resnet18'] as const) {
      const net = createNetwork({ ...spec, kind, width: 2 });
      const x = seededInput([3, 12, 12, 1], 11);
      net.reseedDropout!(42);
      const one = [0, 1, 2].map(() => values(net, x, 'mc'));
      net.reseedDropout!(42);
      const start = tf.memory().numTensors;
      const all = tf.tidy(() => net.mcLogits!(x, 3));
      assert.equal(all.length, 3);
      all.forEach((l, t) => {
        const v = l.dataSync();
        one[t]!.forEach((e, i) => assert.ok(Math.abs(e - v[i]!) < 1e-5, `${kind} pass ${t}`));
      });
      assert.notDeepEqual(one[0], one[1]);
      tf.dispose(all);
      assert.equal(tf.memory().numTensors, start);
      x.dispose();
      net.dispose();
    }
  });

  test("'mc' with dropout 0 equals 'eval'", () => {
    for (const kind of ['mlp', 'cnn', 'resnet18'] as const) {
      const net = createNetwork({ ...spec, kind, dropout: 0 });
      const x = seededInput([3, 12, 12, 1], 9);
      assert.deepEqual(values(net, x, 'mc'), values(net, x, 'eval'), kind);
      x.dispose();
      net.dispose();
    }
  });

  test('same seed gives identical weights; another seed does not', () => {
    const a = createNetwork({ kind: 'cnn', inputShape: [12, 12, 1], numClasses: 3, seed: 5 });
    const b = createNetwork({ kind: 'cnn', inputShape: [12, 12, 1], numClasses: 3, seed: 5 });
    const c = createNetwork({ kind: 'cnn', inputShape: [12, 12, 1], numClasses: 3, seed: 6 });
    const [wa, wb, wc] = [a, b, c].map((n) => n.getWeights());
    wa!.forEach((w, i) => assert.deepEqual(w.dataSync(), wb![i]!.dataSync()));
    assert.notDeepEqual(wa![0]!.dataSync(), wc![0]!.dataSync());
    tf.dispose([...wa!, ...wb!, ...wc!]);
    [a, b, c].forEach((n) => n.dispose());
  });

  test('setWeights restores a snapshot, including BN statistics', () => {
    const net = createNetwork(spec);
    const x = seededInput([4, 12, 12, 1], 10);
    const snap = net.getWeights();
    const before = values(net, x, 'eval');
    tf.tidy(() => {
      net.forward(x, 'train');
    });
    tf.tidy(() => net.trainableVariables()[0]!.assign(tf.zerosLike(net.trainableVariables()[0]!)));
    assert.notDeepEqual(values(net, x, 'eval'), before);
    net.setWeights(snap);
    assert.deepEqual(values(net, x, 'eval'), before);
    assert.throws(() => net.setWeights(snap.slice(1)), /weight tensors/);
    tf.dispose(snap);
    x.dispose();
    net.dispose();
  });

  test('dispose frees every variable', () => {
    const start = tf.memory().numTensors;
    const net = createNetwork(spec);
    net.dispose();
    assert.equal(tf.memory().numTensors, start);
  });
});
