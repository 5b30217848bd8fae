import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import { initBothBackends, onBoth, randomArray, relError } from './testUtil.ts';
import { WASM_KERNELS } from './index.ts';
import { simdKernels } from './simd.ts';
import { asWasm, heapMemory } from './wasmHeap.ts';
import { Adam } from '../training/adam.ts';
import { setInputGradPath } from './conv2dBackpropInput.ts';
import type { InputGradPath } from './conv2dBackpropInput.ts';
import { setFilterGradPath, setScratchFloats } from './conv2dBackpropFilter.ts';
import type { FilterGradPath } from './conv2dBackpropFilter.ts';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
const TOL = 1e-4;

function randomPad(rng: Rng): Pad {
  switch (rng.int(4)) {
    case 0:
      return 'valid';
    case 1:
      return 'same';
    case 2:
      return rng.int(3);
    default:
      return [
        [0, 0],
        [rng.int(3), rng.int(3)],
        [rng.int(3), rng.int(3)],
        [0, 0],
      ];
  }
}

interface ConvCase {
  xShape: [number, number, number, number];
  filterShape: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
  outShape: number[];
}

/** A random conv with a non-empty output. */
function randomConv(rng: Rng, forceStride?: number): ConvCase {
  for (;;) {
    const fh = 1 + rng.int(4);
    const fw = 1 + rng.int(4);
    // Half the cases with channels a multiple of 4 (the SIMD paths need that).
    const cin = rng.int(2) === 1 ? 4 * (1 + rng.int(3)) : 1 + rng.int(9);
    const xShape: ConvCase['xShape'] = [1 + rng.int(4), 3 + rng.int(9), 3 + rng.int(9), cin];
    // A third with output channels a multiple of 16 (the SIMD filter-gradient product).
    const cout = rng.int(3) === 0 ? 16 * (1 + rng.int(2)) : 1 + rng.int(9);
    const filterShape: ConvCase['filterShape'] = [fh, fw, xShape[3], cout];
    const strides: [number, number] = forceStride
      ? [forceStride, forceStride]
      : [1 + rng.int(2), 1 + rng.int(2)];
    const pad = randomPad(rng);
    const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, 'floor');
    if (info.outHeight > 0 && info.outWidth > 0) {
      return { xShape, filterShape, strides, pad, outShape: info.outShape };
    }
  }
}

const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);
const describeCase = (c: object): string => JSON.stringify(c);

before(async () => {
  await initBothBackends();
});

after(() => {
  setFilterGradPath('auto');
  setInputGradPath('auto');
  setScratchFloats();
});

describe('registered wasm kernels', () => {
  test('every kernel we register is one this file checks', () => {
    const checked = [
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'MaxPoolGrad',
      'BatchMatMul',
      'Sum',
      'Identity',
      'Tile',
      'DeepalAdamStep',
      'DeepalReluGrad',
    ];
    assert.deepEqual(WASM_KERNELS.map((k) => k.kernelName).sort(), [...checked].sort());
    for (const name of checked) assert.ok(tf.getKernel(name, 'wasm'), `${name} registered`);
  });
});

describe('Conv2DBackpropFilter (wasm vs cpu)', () => {
  for (const p of ['auto', 'conv', 'colT', 'colT in chunks'] as const)
    test(`random shapes, strides, paddings (${p})`, async () => {
      setFilterGradPath(p === 'colT in chunks' ? 'colT' : (p as FilterGradPath));
      // A tiny scratch budget: one image per chunk, partial products added up.
      setScratchFloats(p === 'colT in chunks' ? 64 : undefined);
      const rng = new Rng(11);
      for (let i = 0; i < 40; i++) {
        const c = randomConv(rng, i < 4 ? 2 : undefined);
        const x = randomArray(() => rng.next(), size(c.xShape));
        const dy = randomArray(() => rng.next(), size(c.outShape));
        const r = await onBoth(
          () =>
            tf.engine().runKernel(
              'Conv2DBackpropFilter',
              { x: tf.tensor(x, c.xShape), dy: tf.tensor(dy, c.outShape) },
              {
                strides: c.strides,
                pad: c.pad,
                dataFormat: 'NHWC',
                dimRoundingMode: 'floor',
                filterShape: c.filterShape,
              },
            ) as tf.Tensor,
        );
        assert.deepEqual(r.shapes[0], c.filterShape);
        const err = relError(r.cpu[0]!, r.wasm[0]!);
        assert.ok(err < TOL, `case ${describeCase(c)}: rel error ${err}`);
      }
    });

  test('reference CNN layer shapes', async () => {
    const rng = new Rng(12);
    for (const [xs, fs] of [
      [
        [8, 28, 28, 1],
        [3, 3, 1, 32],
      ],
      [
        [8, 13, 13, 32],
        [3, 3, 32, 64],
      ],
    ] as const) {
      const info = tf.backend_util.computeConv2DInfo([...xs], [...fs], 1, 1, 'valid');
      const x = randomArray(() => rng.next(), size([...xs]));
      const dy = randomArray(() => rng.next(), size(info.outShape));
      const r = await onBoth(
        () =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x: tf.tensor(x, [...xs]), dy: tf.tensor(dy, info.outShape) },
              { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [...fs] },
            ) as tf.Tensor,
      );
      const err = relError(r.cpu[0]!, r.wasm[0]!);
      assert.ok(err < TOL, `${xs} * ${fs}: rel error ${err}`);
    }
  });
});

describe('Conv2DBackpropInput (wasm vs cpu)', () => {
  for (const p of ['auto', 'conv', 'col2im', 'col2im in chunks'] as const)
    test(`random shapes, strides, paddings (${p})`, async () => {
      setInputGradPath(p === 'col2im in chunks' ? 'col2im' : (p as InputGradPath));
      setScratchFloats(p === 'col2im in chunks' ? 64 : undefined);
      const rng = new Rng(21);
      for (let i = 0; i < 40; i++) {
        const c = randomConv(rng, i < 4 ? 2 : undefined);
        const w = randomArray(() => rng.next(), size(c.filterShape));
        const dy = randomArray(() => rng.next(), size(c.outShape));
        const r = await onBoth(
          () =>
            tf.engine().runKernel(
              'Conv2DBackpropInput',
              { dy: tf.tensor(dy, c.outShape), filter: tf.tensor(w, c.filterShape) },
              {
                strides: c.strides,
                pad: c.pad,
                dataFormat: 'NHWC',
                dimRoundingMode: 'floor',
                inputShape: c.xShape,
              },
            ) as tf.Tensor,
        );
        assert.deepEqual(r.shapes[0], c.xShape);
        const err = relError(r.cpu[0]!, r.wasm[0]!);
        assert.ok(err < TOL, `case ${describeCase(c)}: rel error ${err}`);
      }
    });
});

describe('MaxPoolGrad (wasm vs cpu)', () => {
  test('random shapes, windows, strides, paddings', async () => {
    const rng = new Rng(31);
    for (let i = 0; i < 40; i++) {
      const xShape: [number, number, number, number] = [
        1 + rng.int(4),
        2 + rng.int(10),
        2 + rng.int(10),
        1 + rng.int(9),
      ];
      // The first cases take the 2x2 / stride 2 / valid fast path, odd and even sizes.
      const fast = i < 8;
      let filterSize: [number, number] = fast ? [2, 2] : [1 + rng.int(3), 1 + rng.int(3)];
      let strides: [number, number] = fast ? [2, 2] : [1 + rng.int(3), 1 + rng.int(3)];
      const pad: 'valid' | 'same' | number = fast
        ? 'valid'
        : (['valid', 'same', 0, 1] as const)[rng.int(4)]!;
      if (typeof pad === 'number') {
        // tfjs sizes a numerically padded pool from the filter height alone, and the stock wasm
        // MaxPool then writes past its output for non-square windows; keep those square.
        filterSize = [filterSize[0], filterSize[0]];
        strides = [strides[0], strides[0]];
      }
      const x = randomArray(() => rng.next(), size(xShape));
      const r = await onBoth(() => {
        const xt = tf.tensor4d(x, xShape);
        const rounding = typeof pad === 'number' ? 'floor' : undefined;
        const y = tf.maxPool(xt, filterSize, strides, pad, rounding);
        const dy = tf.tensor(randomArray(new Rng(i).next.bind(new Rng(i)), y.size), y.shape);
        return tf
          .engine()
          .runKernel(
            'MaxPoolGrad',
            { dy, input: xt, output: y },
            rounding
              ? { filterSize, strides, pad, dimRoundingMode: rounding }
              : { filterSize, strides, pad },
          ) as tf.Tensor;
      });
      const err = relError(r.cpu[0]!, r.wasm[0]!);
      assert.ok(err < TOL, `case ${describeCase({ xShape, filterSize, strides, pad })}: ${err}`);
    }
  });
});

describe('MaxPoolGrad 2x2 SIMD path (wasm vs cpu)', () => {
  test('channels a multiple of 4, odd and even sizes, ties', async () => {
    await tf.setBackend('wasm');
    const memory = heapMemory(asWasm(tf.backend()));
    assert.ok(simdKernels(memory), 'the SIMD module compiles on this engine');
    const rng = new Rng(32);
    const cases: [number, number, number, number][] = [
      [1, 2, 2, 4],
      [2, 5, 4, 8],
      [3, 6, 7, 4],
      [2, 11, 11, 64],
      [4, 26, 26, 32],
    ];
    for (const [i, xShape] of cases.entries()) {
      // Values on a coarse grid (and half of them 0, as after a relu) so windows have ties.
      const x = Float32Array.from({ length: size(xShape) }, () =>
        rng.next() < 0.5 ? 0 : Math.floor(rng.next() * 4),
      );
      const r = await onBoth(() => {
        const xt = tf.tensor4d(x, xShape);
        const y = tf.maxPool(xt, 2, 2, 'valid');
        const dy = tf.tensor(randomArray(new Rng(i).next.bind(new Rng(i)), y.size), y.shape);
        return tf
          .engine()
          .runKernel(
            'MaxPoolGrad',
            { dy, input: xt, output: y },
            { filterSize: 2, strides: 2, pad: 'valid' },
          ) as tf.Tensor;
      });
      const err = relError(r.cpu[0]!, r.wasm[0]!);
      assert.ok(err < TOL, `x ${xShape}: rel error ${err}`);
    }
  });
});

describe('BatchMatMul (wasm vs cpu)', () => {
  test('all transpose combinations, rank 2 and 3, batched fallback', async () => {
    const rng = new Rng(41);
    for (let i = 0; i < 32; i++) {
      const m = 1 + rng.int(70);
      const k = 1 + rng.int(70);
      const n = 1 + rng.int(70);
      const transposeA = (i & 1) === 1;
      const transposeB = (i & 2) === 2;
      const batch = i % 8 < 4 ? 0 : 1 + rng.int(3); // 0: rank 2
      const aCore = transposeA ? [k, m] : [m, k];
      const bCore = transposeB ? [n, k] : [k, n];
      const aShape = batch ? [batch, ...aCore] : aCore;
      const bShape = batch ? [batch, ...bCore] : bCore;
      const a = randomArray(() => rng.next(), size(aShape));
      const b = randomArray(() => rng.next(), size(bShape));
      const r = await onBoth(() =>
        tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transposeA, transposeB),
      );
      const err = relError(r.cpu[0]!, r.wasm[0]!);
      assert.ok(err < TOL, `${aShape} x ${bShape} tA=${transposeA} tB=${transposeB}: ${err}`);
    }
  });

  test('a tensor used as b with two different splits gives both right answers', async () => {
    // The backend caches XNNPACK operators per b id; our kernels must not reuse a wrong one.
    const rng = new Rng(42);
    const a1 = randomArray(() => rng.next(), 6 * 4);
    const a2 = randomArray(() => rng.next(), 3 * 8);
    const b = randomArray(() => rng.next(), 24);
    const r = await onBoth(() => {
      const bt = tf.tensor(b, [24]);
      const p = tf.matMul(tf.tensor(a1, [4, 6]), bt.reshape([4, 6]), true, false);
      const q = tf.matMul(tf.tensor(a2, [8, 3]), bt.reshape([8, 3]), true, false);
      return [p, q];
    });
    for (let j = 0; j < 2; j++) {
      const err = relError(r.cpu[j]!, r.wasm[j]!);
      assert.ok(err < TOL, `product ${j}: ${err}`);
    }
  });
});

describe('Identity (wasm)', () => {
  test('shares the data, keeps values, and frees it only with the last reference', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numBytes;
    const x = tf.tensor([1.5, -2, 3], [3]);
    const y = tf.engine().runKernel('Identity', { x }) as tf.Tensor;
    assert.deepEqual(Array.from(y.dataSync()), [1.5, -2, 3]);
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1.5, -2, 3], 'alive after the input is disposed');
    y.dispose();
    assert.equal(tf.memory().numBytes, before);
    const s = tf.tensor(['a', 'b']);
    const t = tf.engine().runKernel('Identity', { x: s }) as tf.Tensor;
    assert.deepEqual(t.arraySync(), ['a', 'b']);
    tf.dispose([s, t]);
  });
});

describe('Tile (wasm vs cpu)', () => {
  test('random shapes and reps, float32 and int32, bool via the stock kernel', async () => {
    const rng = new Rng(61);
    for (let i = 0; i < 30; i++) {
      const rank = 1 + rng.int(4);
      const shape = Array.from({ length: rank }, () => 1 + rng.int(5));
      const reps = Array.from({ length: rank }, () => rng.int(4) + (i % 7 === 0 ? 0 : 1));
      const dtype = (['float32', 'int32', 'bool'] as const)[i % 3]!;
      const x = randomArray(() => rng.next(), size(shape));
      const r = await onBoth(() => {
        const t = tf.tensor(x, shape);
        const typed =
          dtype === 'float32' ? t : dtype === 'int32' ? t.mul(100).cast('int32') : t.greater(0);
        return tf.tile(typed, reps).cast('float32');
      });
      const err = relError(r.cpu[0]!, r.wasm[0]!);
      assert.ok(err === 0, `tile ${shape} x ${reps} (${dtype}): error ${err}`);
    }
  });

  test('batch-norm broadcast shape', async () => {
    const rng = new Rng(62);
    const x = randomArray(() => rng.next(), 64);
    const r = await onBoth(() => tf.tile(tf.tensor(x, [1, 1, 1, 64]), [8, 32, 32, 1]));
    assert.equal(relError(r.cpu[0]!, r.wasm[0]!), 0);
  });
});

describe('Sum (wasm vs cpu)', () => {
  test('leading axes (fast path) and other axes (stock), keepDims', async () => {
    const rng = new Rng(51);
    for (let i = 0; i < 24; i++) {
      const rank = 2 + rng.int(3);
      const shape = Array.from({ length: rank }, () => 1 + rng.int(9));
      const lead = 1 + rng.int(rank - 1);
      const axes = i % 3 === 2 ? [rank - 1] : Array.from({ length: lead }, (_, j) => j).reverse();
      const keepDims = rng.int(2) === 1;
      const x = randomArray(() => rng.next(), size(shape));
      const r = await onBoth(() => tf.sum(tf.tensor(x, shape), axes, keepDims));
      const err = relError(r.cpu[0]!, r.wasm[0]!);
      assert.ok(err < TOL, `sum ${shape} over ${axes} keepDims=${keepDims}: ${err}`);
    }
  });

  test('many rows (bias gradient of a conv layer)', async () => {
    const rng = new Rng(52);
    const shape = [64, 26, 26, 32];
    const x = randomArray(() => rng.next(), size(shape));
    const r = await onBoth(() => tf.sum(tf.tensor(x, shape), [0, 1, 2]));
    const err = relError(r.cpu[0]!, r.wasm[0]!);
    assert.ok(err < TOL, `rel error ${err}`);
  });
});

describe('DeepalAdamStep: one-pass Adam on wasm', () => {
  test('matches the element-wise update exactly, SIMD body and scalar tail, over many steps', async () => {
    await tf.setBackend('wasm');
    assert.ok(tf.getKernel('DeepalAdamStep', 'wasm'), 'our Adam kernel is registered on wasm');
    const rng = new Rng(41);
    for (const n of [3, 4, 50, 1027]) {
      const init = randomArray(() => rng.next(), n);
      const grads = Array.from({ length: 6 }, () => randomArray(() => rng.next(), n));
      const run = (fused: boolean): Float32Array => {
        const initial = tf.tensor1d(init);
        const p = tf.variable(initial, true, `adam-check-${n}-${fused}`);
        initial.dispose();
        const opt = new Adam(1e-2, 0.9, 0.999, 1e-8, fused);
        for (const g of grads) tf.tidy(() => opt.step([p], { [p.name]: tf.tensor1d(g) }));
        const out = p.dataSync() as Float32Array;
        opt.dispose();
        p.dispose();
        return Float32Array.from(out);
      };
      const start = tf.memory().numTensors;
      const fused = run(true);
      const plain = run(false);
      assert.equal(tf.memory().numTensors, start, 'no tensor leaks');
      for (let i = 0; i < n; i++) {
        assert.ok(
          Math.abs(fused[i]! - plain[i]!) <= 1e-7 * Math.max(1, Math.abs(plain[i]!)),
          `n=${n} element ${i}: fused ${fused[i]} vs element-wise ${plain[i]}`,
        );
      }
      assert.notDeepEqual(fused, Float32Array.from(init), 'the parameters moved');
    }
  });
});

describe('ReLU gradient (wasm, one pass, vs cpu)', () => {
  test('random shapes, with zeros, NaN and infinities in x and dy', async () => {
    const rng = new Rng(51);
    const special = [0, -0, NaN, Infinity, -Infinity];
    for (let i = 0; i < 12; i++) {
      const shape = [1 + rng.int(3), 1 + rng.int(7), 1 + rng.int(9), 1 + rng.int(6)];
      const n = size(shape);
      const x = randomArray(() => rng.next(), n);
      const dy = randomArray(() => rng.next(), n);
      for (let k = 0; k < Math.min(n, 6); k++) {
        x[rng.int(n)] = special[rng.int(special.length)]!;
        dy[rng.int(n)] = special[rng.int(special.length)]!;
      }
      const r = await onBoth(() =>
        tf.grad((t: tf.Tensor) => tf.mul(tf.relu(t), tf.tensor(dy, shape)))(tf.tensor(x, shape)),
      );
      const cpu = r.cpu[0]!;
      const wasm = r.wasm[0]!;
      for (let j = 0; j < n; j++) {
        assert.ok(
          Object.is(cpu[j], wasm[j]) || (cpu[j] === 0 && wasm[j] === 0),
          `shape ${shape} element ${j}: x ${x[j]} dy ${dy[j]}: cpu ${cpu[j]} wasm ${wasm[j]}`,
        );
      }
    }
  });

  test('goes through our kernel on wasm (Step and Cast are not called)', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor([-1, 2, 0, 3]);
    const { kernels } = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.relu(t))(x));
    const names = kernels.map((k) => k.name);
    assert.ok(names.includes('DeepalReluGrad'), names.join(','));
    assert.ok(!names.includes('Step'), names.join(','));
    x.dispose();
  });
});

describe('at 200x200, the size of a real image folder (wasm vs cpu)', () => {
  // The reference CNN's layers on 200x200 grayscale images: conv1 on the image, conv2 on the
  // pooled 99x99 maps, the 2x2 pooling gradient; batch 2, in chunks of one image.
  const rng = new Rng(61);
  const conv = (name: string, xs: [number, number, number, number], fs: number[]): void => {
    test(`${name}: filter and input gradients`, async () => {
      setFilterGradPath('auto');
      setInputGradPath('auto');
      setScratchFloats(2 ** 20);
      const info = tf.backend_util.computeConv2DInfo(
        xs,
        fs as [number, number, number, number],
        1,
        1,
        'valid',
      );
      const x = randomArray(() => rng.next(), size(xs));
      const w = randomArray(() => rng.next(), size(fs));
      const dy = randomArray(() => rng.next(), size(info.outShape));
      const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC' };
      const r = await onBoth(() => [
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x: tf.tensor(x, xs), dy: tf.tensor(dy, info.outShape) },
            { ...attrs, filterShape: fs },
          ) as tf.Tensor,
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy: tf.tensor(dy, info.outShape), filter: tf.tensor(w, fs) },
            { ...attrs, inputShape: xs },
          ) as tf.Tensor,
      ]);
      r.cpu.forEach((ref, i) => {
        const err = relError(ref, r.wasm[i]!);
        assert.ok(err < TOL, `${name} output ${i}: rel error ${err}`);
      });
      setScratchFloats();
    });
  };
  conv('conv1 (200x200x1, 32 filters)', [2, 200, 200, 1], [3, 3, 1, 32]);
  // conv2's spatial size with fewer channels (the cpu backend's loops would take minutes).
  conv('conv2 (99x99x8, 16 filters)', [2, 99, 99, 8], [3, 3, 8, 16]);

  test('2x2 max-pooling gradient of 198x198x32 maps', async () => {
    const xs = [2, 198, 198, 32];
    const x = randomArray(() => rng.next(), size(xs));
    const dy = randomArray(() => rng.next(), size([2, 99, 99, 32]));
    const r = await onBoth(() =>
      tf.grad((t: tf.Tensor) =>
        tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), tf.tensor(dy, [2, 99, 99, 32])),
      )(tf.tensor(x, xs)),
    );
    assert.ok(relError(r.cpu[0]!, r.wasm[0]!) < TOL);
  });
});
