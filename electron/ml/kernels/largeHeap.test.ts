import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import { Adam } from '../training/adam.ts';
import { initBothBackends, onBoth, randomArray, relError } from './testUtil.ts';
import { asWasm, offsetOf, WasmHeapExhausted } from './wasmHeap.ts';

/**
 * Our kernels with every tensor above 2 GiB in the wasm heap, where a byte offset no longer fits
 * a signed 32-bit integer: Tile took `offset >> 2` as an index and copied from and to the wrong
 * places. A large study's heap gets there (issue 17, item 7). The 2 GiB below the tensors are
 * reserved with the allocator's own malloc, bypassing our accounting, and never touched, so the
 * test costs little real memory.
 */

const TWO_GIB = 2 ** 31;
const TOL = 1e-4;

before(async () => {
  await initBothBackends();
  const wasm = asWasm(tf.findBackend('wasm')).wasm as unknown as {
    asm: { malloc(bytes: number): number };
  };
  const hole = wasm.asm.malloc(TWO_GIB + 2 ** 24) >>> 0;
  assert.notEqual(hole, 0, 'the 2 GiB reservation failed');
});

/** Runs `fn` on cpu and on wasm, checks the wasm inputs sat above 2 GiB, compares. */
async function check(name: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  let lowest = Infinity;
  const r = await onBoth(() => {
    const out = fn();
    if (tf.getBackend() === 'wasm') {
      const backend = asWasm(tf.backend());
      for (const t of Array.isArray(out) ? out : [out]) {
        lowest = Math.min(lowest, offsetOf(backend, t));
      }
    }
    return out;
  });
  assert.ok(lowest >= TWO_GIB, `${name}: output at ${lowest}, not above 2 GiB`);
  r.cpu.forEach((ref, i) => {
    const err = relError(ref, r.wasm[i]!);
    assert.ok(err < TOL, `${name} output ${i}: rel error ${err}`);
  });
}

test('our wasm kernels give the cpu backend results with their tensors above 2 GiB', async () => {
  const rng = new Rng(5);
  const conv = { strides: 1, pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: 'floor' };
  const runKernel = (name: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor =>
    tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;

  const tileIn = randomArray(() => rng.next(), 16);
  await check('Tile', () => tf.tile(tf.tensor(tileIn, [2, 8]), [3, 2]));

  // A first layer's filter gradient: the patch matrix and our SIMD product (few taps, 16 outputs).
  const x1 = randomArray(() => rng.next(), 2 * 9 * 9);
  const dy1 = randomArray(() => rng.next(), 2 * 7 * 7 * 16);
  await check('Conv2DBackpropFilter (patch matrix)', () =>
    runKernel(
      'Conv2DBackpropFilter',
      { x: tf.tensor(x1, [2, 9, 9, 1]), dy: tf.tensor(dy1, [2, 7, 7, 16]) },
      { ...conv, filterShape: [3, 3, 1, 16] },
    ),
  );
  // A deeper layer's: a forward convolution over transposed tensors.
  const x2 = randomArray(() => rng.next(), 2 * 9 * 9 * 8);
  const dy2 = randomArray(() => rng.next(), 2 * 7 * 7 * 8);
  await check('Conv2DBackpropFilter (convolution)', () =>
    runKernel(
      'Conv2DBackpropFilter',
      { x: tf.tensor(x2, [2, 9, 9, 8]), dy: tf.tensor(dy2, [2, 7, 7, 8]) },
      { ...conv, filterShape: [3, 3, 8, 8] },
    ),
  );
  // Input gradient: XNNPACK product then our SIMD scatter-add (input channels a multiple of 4).
  const w3 = randomArray(() => rng.next(), 3 * 3 * 8 * 4);
  await check('Conv2DBackpropInput', () =>
    runKernel(
      'Conv2DBackpropInput',
      {
        dy: tf.tensor(dy2.subarray(0, 2 * 7 * 7 * 4), [2, 7, 7, 4]),
        filter: tf.tensor(w3, [3, 3, 8, 4]),
      },
      { ...conv, inputShape: [2, 9, 9, 8] },
    ),
  );
  await check('MaxPoolGrad (2x2 SIMD)', () =>
    tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'))(
      tf.tensor(x2, [2, 9, 9, 8]),
    ),
  );
  const a = randomArray(() => rng.next(), 6 * 5);
  const b = randomArray(() => rng.next(), 6 * 7);
  await check('BatchMatMul (transposed)', () =>
    tf.matMul(tf.tensor(a, [6, 5]), tf.tensor(b, [6, 7]), true, false),
  );
  await check('Sum (leading axes)', () => tf.sum(tf.tensor(x2, [2, 9, 9, 8]), [0, 1, 2]));
  await check('DeepalAdamStep', () => {
    const p = tf.variable(tf.tensor(a.subarray(0, 22), [22]), true, `adam-high-${tf.getBackend()}`);
    const opt = new Adam(1e-2);
    tf.tidy(() => opt.step([p], { [p.name]: tf.tensor(b.subarray(0, 22), [22]) }));
    const out = p.clone();
    opt.dispose();
    p.dispose();
    return out;
  });
});

test('a tensor that would take the heap past the limit is refused with a clear error', async () => {
  await tf.setBackend('wasm');
  const start = tf.memory().numTensors;
  assert.throws(
    () => tf.fill([2 ** 29 + 2 ** 20], 0),
    (err: unknown) =>
      err instanceof WasmHeapExhausted &&
      /Out of memory for the wasm backend: a tensor of 2052 MiB/.test(err.message) &&
      /smaller training batch/.test(err.message),
  );
  assert.equal(tf.memory().numTensors, start, 'nothing left behind');
  // The heap still works.
  assert.deepEqual(Array.from(tf.tidy(() => tf.add(tf.ones([3]), 1)).dataSync()), [2, 2, 2]);
});
