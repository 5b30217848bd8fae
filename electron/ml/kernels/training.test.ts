import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBothBackends, relError } from './testUtil.ts';
import { currentHeapTracker } from './wasmHeap.ts';
import {
  crossEntropy,
  randomBatch,
  referenceCnn,
  referenceMlp,
  referenceResNet,
  trainStep,
} from './referenceModels.ts';
import type { RefModel } from './referenceModels.ts';

const TOL = 1e-4;

before(async () => {
  await initBothBackends();
});

/** Loss and gradients of every variable for a fresh model on the current backend. */
function lossAndGrads(
  make: () => RefModel,
  batch: () => { x: tf.Tensor; y: tf.Tensor1D },
): { loss: number; grads: Float32Array[] } {
  const model = make();
  const { x, y } = batch();
  const { value, grads } = tf.variableGrads(
    () => crossEntropy(model.logits(x as tf.Tensor4D, true), y),
    model.vars,
  );
  const out = {
    loss: value.dataSync()[0]!,
    grads: model.vars.map((v) => Float32Array.from(grads[v.name]!.dataSync())),
  };
  tf.dispose([value, x, y, ...Object.values(grads)]);
  model.dispose();
  return out;
}

async function compareGrads(
  name: string,
  make: () => RefModel,
  batch: () => { x: tf.Tensor; y: tf.Tensor1D },
): Promise<void> {
  await tf.setBackend('cpu');
  const cpu = lossAndGrads(make, batch);
  await tf.setBackend('wasm');
  const wasm = lossAndGrads(make, batch);
  assert.ok(Math.abs(cpu.loss - wasm.loss) < TOL * Math.max(1, cpu.loss), `${name} loss`);
  assert.equal(wasm.grads.length, cpu.grads.length);
  cpu.grads.forEach((g, i) => {
    const err = relError(g, wasm.grads[i]!);
    assert.ok(err < TOL, `${name} gradient of variable ${i}: rel error ${err}`);
  });
}

describe('gradients on wasm match cpu', () => {
  test('reference CNN (conv valid, max pool, dropout, dense)', async () => {
    await compareGrads(
      'cnn',
      () => referenceCnn(3),
      () => randomBatch(4, [6, 28, 28, 1], 10),
    );
  });

  test('MLP', async () => {
    await compareGrads(
      'mlp',
      () => referenceMlp(5, 30),
      () => randomBatch(6, [16, 30], 10),
    );
  });

  test('ResNet-style blocks (same padding, stride 2, batch norm, residual, global mean)', async () => {
    await compareGrads(
      'resnet',
      () => referenceResNet(7, 3, 8),
      () => randomBatch(8, [4, 12, 12, 3], 10),
    );
  });
});

describe('training on wasm', () => {
  test('the loss of the reference CNN falls on a fixed batch', async () => {
    await tf.setBackend('wasm');
    const model = referenceCnn(9, 0);
    const opt = tf.train.adam(1e-3);
    const { x, y } = randomBatch(10, [16, 28, 28, 1], 10);
    const first = trainStep(model, opt, x, y);
    let last = first;
    for (let i = 0; i < 15; i++) last = trainStep(model, opt, x, y);
    assert.ok(last < 0.8 * first, `loss went from ${first} to ${last}`);
    tf.dispose([x, y]);
    opt.dispose();
    model.dispose();
  });

  test('repeated steps leak no tensors and no wasm memory', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as {
      numDataIds(): number;
      wasm: { HEAPU8: Uint8Array };
    };
    for (const [make, shape] of [
      [() => referenceCnn(11), [8, 28, 28, 1]],
      [() => referenceResNet(12, 3, 4), [4, 8, 8, 3]],
      [() => referenceMlp(13, 20), [8, 20]],
    ] as const) {
      const model = make();
      const opt = tf.train.adam(1e-3);
      const { x, y } = randomBatch(14, [...shape], 10);
      // Warm-up creates the optimiser's slots and lets the wasm heap reach its working size (it
      // grows, never shrinks, so a leak shows as growth over identical steps). The allocator's
      // layout settles within a few dozen steps: the CNN's heap grew once, at step 12, then
      // stayed flat over 150 more.
      for (let i = 0; i < 25; i++) trainStep(model, opt, x, y);
      const tracker = currentHeapTracker()!;
      const snap = (): object => ({
        ...tf.memory(),
        ids: backend.numDataIds(),
        heap: backend.wasm.HEAPU8.length,
        live: tracker.live,
      });
      const before = snap() as Record<string, number>;
      for (let i = 0; i < 10; i++) trainStep(model, opt, x, y);
      const after = snap() as Record<string, number>;
      assert.equal(after.heap, before.heap, 'wasm heap size');
      assert.equal(after.live, before.live, 'bytes allocated from JavaScript');
      assert.equal(after.numTensors, before.numTensors, 'numTensors');
      assert.equal(after.numBytes, before.numBytes, 'numBytes');
      assert.equal(after.ids, before.ids, 'wasm data ids');
      tf.dispose([x, y]);
      opt.dispose();
      model.dispose();
    }
  });
});
