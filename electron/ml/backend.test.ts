/**
 * initBackend is called by every job of the ML worker, and jobs start side by side (the window's
 * first calls, then a study). Callers arriving while the backend starts must wait for that start,
 * not start it again: a second start of the wasm backend re-entered tf.setBackend while the first
 * was pending, and one of them fell through to the cpu backend. The engine then ran cpu kernels
 * with the wasm backend, and a study failed mid-run with "Cannot read properties of undefined
 * (reading 'get')" (about half of the studies started through the services on 2 cores).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.ts';

test('callers arriving while the backend starts share one start, and the engine runs on it', async () => {
  const infos = await Promise.all(Array.from({ length: 4 }, () => initBackend()));
  for (const info of infos) assert.equal(info, infos[0], 'every caller gets the one start');
  assert.equal(tf.getBackend(), infos[0]!.tfBackend);
  // The engine's kernels and backend agree: a reshape (a kernel that reads the backend's own
  // storage) and a reduction run.
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
  const y = tf.reshape(x, [3, 2]);
  assert.deepEqual(await tf.sum(y, 0).data(), new Float32Array([9, 12]));
  tf.dispose([x, y]);
  assert.equal(await initBackend(), infos[0], 'a later call gets the same start');
});
