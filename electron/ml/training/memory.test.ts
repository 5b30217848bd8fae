import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { startWasmBackend } from '../wasmThreads.ts';
import { registerWasmKernels } from '../kernels/index.ts';
import { currentHeapTracker, type HeapTracker } from '../kernels/wasmHeap.ts';
import { createNetwork } from '../models/index.ts';
import type { Network } from '../models/network.ts';
import { evalBytesPerSample, INFER_BYTES, STEP_BYTES } from './memory.ts';
import { defaultPredictBatchSize, predict } from './predict.ts';
import { createTrainStep, trainNetwork, TrainingCancelled } from './train.ts';
import { quadrantImages, range } from './testData.ts';

/**
 * Issue 17, item 7: a study on 200x200 images trained 30 labels, then hung for minutes at 60 with
 * the wasm heap at its 4 GiB end. One step of the reference CNN holds about 54 MiB per 200x200
 * sample, so a batch of 60 (and an inference batch of 500) cannot fit. These run the real sizes.
 */

const SIDE = 200;
const norm = { scale: 1 / 255, mean: [0.5], std: [0.25] };
const GiB = 2 ** 30;
let tracker: HeapTracker;

before(async () => {
  await startWasmBackend(Number(process.env.DEEPAL_WASM_THREADS ?? 1));
  registerWasmKernels();
  tracker = currentHeapTracker()!;
  assert.ok(tracker, 'the wasm heap is tracked');
});

function cnn(): Network {
  return createNetwork({ kind: 'cnn', inputShape: [SIDE, SIDE, 1], numClasses: 6, seed: 1 });
}

test('a batch of 60 images of 200x200 trains in chunks that keep the heap well under 4 GiB', async () => {
  const data = quadrantImages(60, 3, SIDE, 6);
  const net = cnn();
  const before = tracker.live;
  tracker.resetPeak();
  const tensors = tf.memory().numTensors;
  const r = await trainNetwork(net, data, {
    indices: range(60),
    labels: data.y,
    epochs: 1,
    batchSize: 60,
    seed: 1,
    norm,
    augment: 'none',
  });
  assert.ok(Number.isFinite(r.loss), `loss ${r.loss}`);
  assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
  const stepPeak = tracker.peak - before;
  // The whole batch at once needed about 3.2 GiB here; chunks need STEP_BYTES plus the weights'
  // gradients and Adam's moments (the dense layer alone is 72 MiB).
  assert.ok(stepPeak < STEP_BYTES + 0.5 * GiB, `step peak ${stepPeak / GiB} GiB`);
  assert.ok(tracker.heapBytes() < 2.5 * GiB, `wasm heap ${tracker.heapBytes() / GiB} GiB`);
  net.dispose();
});

test('inference on 200x200 images takes batches that fit, with the same results', async () => {
  const net = cnn();
  const perSample = evalBytesPerSample(net)!;
  const bs = defaultPredictBatchSize(net);
  assert.ok(bs * perSample <= INFER_BYTES, `batch ${bs} x ${perSample} bytes`);
  const data = quadrantImages(bs + 3, 4, SIDE, 6);
  const rows = range(bs + 3);
  const before = tracker.live;
  tracker.resetPeak();
  const chunked = await predict(net, data, rows, norm);
  assert.ok(tracker.peak - before < INFER_BYTES + 0.25 * GiB, `peak ${tracker.peak - before}`);
  // The last rows alone give what they gave inside the larger batches.
  const tail = await predict(net, data, rows.subarray(bs), norm, { batchSize: 3 });
  for (let i = 0; i < tail.probs.length; i++) {
    const j = bs * 6 + i;
    assert.ok(Math.abs(chunked.probs[j]! - tail.probs[i]!) < 1e-5, `prob ${j}`);
  }
  net.dispose();
});

test('cancelling stops a chunked step between chunks, before the weights move', async () => {
  const net = cnn();
  const step = createTrainStep(net);
  const data = quadrantImages(16, 5, SIDE, 6);
  const x = tf.tidy(() =>
    tf.sub(tf.div(tf.tensor4d(data.x, [16, SIDE, SIDE, 1], 'float32'), 255), 0.5),
  );
  const y = tf.tensor1d(data.y, 'int32');
  const w0 = net.trainableVariables().map((v) => v.dataSync().slice());
  const abort = new AbortController();
  abort.abort();
  await assert.rejects(step.runAsync(x, y, 0, abort.signal), TrainingCancelled);
  assert.ok(step.chunks.length > 1, `chunks ${JSON.stringify(step.chunks)}`);
  net.trainableVariables().forEach((v, i) => {
    assert.deepEqual(v.dataSync(), w0[i], `variable ${v.name} unchanged`);
  });
  // The same step, not cancelled, does move them.
  await step.runAsync(x, y, 0);
  assert.notDeepEqual(net.trainableVariables()[0]!.dataSync(), w0[0]);
  tf.dispose([x, y]);
  step.dispose();
  net.dispose();
});
