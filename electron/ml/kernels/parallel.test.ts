import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBothBackends } from './testUtil.ts';
import { asWasm, heapMemory, offsetOf } from './wasmHeap.ts';
import { helperJobs, kernelThreads, runJobs, splitRange } from './parallel.ts';

/**
 * The job runner our C kernels share out with (threaded.test.ts runs this file on the threaded
 * build, where helper threads take jobs; on the single-threaded build the jobs run in order).
 */

const threaded = Number(process.env.DEEPAL_WASM_THREADS ?? 1) > 1;

before(async () => {
  await initBothBackends();
  await tf.setBackend('wasm');
});

test('splitRange covers the range once, in aligned pieces', () => {
  assert.deepEqual(splitRange(10, 3), [
    [0, 3],
    [3, 6],
    [6, 10],
  ]);
  assert.deepEqual(splitRange(10, 4, 4), [
    [0, 4],
    [4, 8],
    [8, 10],
  ]);
  assert.deepEqual(splitRange(3, 8), [
    [0, 1],
    [1, 2],
    [2, 3],
  ]);
  assert.deepEqual(splitRange(0, 4), []);
  for (const [total, parts, align] of [
    [1000, 7, 4],
    [17, 2, 1],
    [64, 16, 4],
  ] as const) {
    const r = splitRange(total, parts, align);
    assert.equal(r[0]![0], 0);
    assert.equal(r[r.length - 1]![1], total);
    r.forEach(([b, e], i) => {
      assert.ok(e > b);
      if (i > 0) assert.equal(b, r[i - 1]![1]);
      if (i < r.length - 1) assert.equal(b % align, 0);
    });
  }
});

test('every job runs exactly once, batch after batch', () => {
  const backend = asWasm(tf.backend());
  const memory = heapMemory(backend)!;
  assert.equal(kernelThreads(memory), threaded ? Number(process.env.DEEPAL_WASM_THREADS) : 1);
  const n = 1 << 16;
  const ones = tf.ones([n]);
  const acc = tf.zeros([n]);
  const [po, pa] = [ones, acc].map((t) => offsetOf(backend, t)) as [number, number];
  // Each batch adds 1 everywhere, in jobs over disjoint ranges: a job run twice or skipped, in
  // any batch, shows as an element that is not the batch count.
  const batches = 400;
  for (let k = 0; k < batches; k++) {
    const parts = 2 + (k % 7);
    const jobs = splitRange(n, parts, 4).map(([b, e]) => [pa + 4 * b, po + 4 * b, e - b]);
    runJobs(memory, 'addInto', jobs);
  }
  const v = acc.dataSync();
  for (let i = 0; i < n; i++) {
    if (v[i] !== batches) assert.fail(`element ${i} is ${v[i]}, expected ${batches}`);
  }
  tf.dispose([ones, acc]);
});

test('a job that traps fails the call, and the next call runs normally', () => {
  const backend = asWasm(tf.backend());
  const memory = heapMemory(backend)!;
  // Addresses past the end of the heap: every job traps, wherever it runs.
  const bad = Array.from({ length: 8 }, () => [0xffffff00, 0xffffff00, 0xffffff00, 1 << 12]);
  assert.throws(() => runJobs(memory, 'reluGrad', bad));
  const n = 1 << 16;
  const ones = tf.ones([n]);
  const acc = tf.zeros([n]);
  const [po, pa] = [ones, acc].map((t) => offsetOf(backend, t)) as [number, number];
  runJobs(
    memory,
    'addInto',
    splitRange(n, 8, 4).map(([b, e]) => [pa + 4 * b, po + 4 * b, e - b]),
  );
  assert.ok(acc.dataSync().every((v) => v === 1));
  tf.dispose([ones, acc]);
});

test(
  'helper threads take jobs on the threaded build',
  { skip: threaded ? false : 'single-threaded build: no helpers' },
  () => {
    const backend = asWasm(tf.backend());
    const memory = heapMemory(backend)!;
    const n = 1 << 20;
    const x = tf.randomNormal([n]);
    const dy = tf.randomNormal([n]);
    const out = tf.zerosLike(x);
    const [px, pdy, pout] = [x, dy, out].map((t) => offsetOf(backend, t)) as number[];
    const jobs = splitRange(n, 8, 4).map(([b, e]) => [
      px! + 4 * b,
      pdy! + 4 * b,
      pout! + 4 * b,
      e - b,
    ]);
    const start = helperJobs(memory);
    // A helper the OS has not scheduled yet takes nothing; give it a few seconds of batches.
    const until = Date.now() + 5000;
    while (helperJobs(memory) === start && Date.now() < until) runJobs(memory, 'reluGrad', jobs);
    assert.ok(helperJobs(memory) > start, 'no helper took a job in 5 s');
    tf.dispose([x, dy, out]);
  },
);
