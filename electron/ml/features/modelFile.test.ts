import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelFileFeatures } from '../../../shared/features.ts';
import {
  ModelFileError,
  poolOutput,
  resolveSettings,
  sniffFile,
  toModelInput,
  type Dim,
  type LoadedModel,
} from './modelFile.ts';

const close = (a: ArrayLike<number>, b: readonly number[], tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++)
    assert.ok(Math.abs(a[i]! - b[i]!) < tol, `[${i}] ${a[i]} vs ${b[i]}`);
};

describe('toModelInput', () => {
  // One 1 x 2 image, RGB: pixels (0, 51, 255) and (255, 102, 0).
  const px = Uint8Array.from([0, 51, 255, 255, 102, 0]);
  const norm = { mean: [0, 0.2, 0.5], std: [1, 0.5, 0.25] };

  test('NHWC keeps the pixel order; NCHW puts each channel in a plane; (p/255 - mean) / std', () => {
    const nhwc = toModelInput(px, 1, [1, 2, 3], { channels: 3, layout: 'nhwc', ...norm });
    close(nhwc, [0, 0, 2, 1, 0.4, -2]);
    const nchw = toModelInput(px, 1, [1, 2, 3], { channels: 3, layout: 'nchw', ...norm });
    close(nchw, [0, 1, 0, 0.4, 2, -2]);
  });

  test('gray is repeated into 3 channels, each normalised with its own statistics', () => {
    const gray = Uint8Array.from([51, 255]);
    const out = toModelInput(gray, 1, [1, 2, 1], { channels: 3, layout: 'nchw', ...norm });
    close(out, [0.2, 1, 0, 1.6, -1.2, 2]);
  });

  test('colour becomes Rec. 601 luma for a 1-channel model', () => {
    const out = toModelInput(px, 1, [1, 2, 3], {
      channels: 1,
      layout: 'nchw',
      mean: [0],
      std: [1],
    });
    close(out, [(0.587 * 51 + 0.114 * 255) / 255, (0.299 * 255 + 0.587 * 102) / 255]);
  });

  test('a single mean and std apply to every channel; padding rows are left at zero', () => {
    const out = toModelInput(
      px,
      1,
      [1, 2, 3],
      { channels: 3, layout: 'nhwc', mean: [0.5], std: [0.5] },
      2,
    );
    assert.equal(out.length, 12);
    close(out.subarray(0, 6), [-1, -0.6, 1, 1, -0.2, -1]);
    close(out.subarray(6), [0, 0, 0, 0, 0, 0]);
  });
});

describe('poolOutput', () => {
  test('[N, C] is used as it is; [N] is one column', () => {
    const d = Float32Array.from([1, 2, 3, 4]);
    assert.deepEqual(poolOutput(d, [2, 2], 'nchw'), { rows: d, dim: 2 });
    assert.deepEqual(poolOutput(d, [4], 'nchw'), { rows: d, dim: 1 });
  });

  test('NCHW [N, C, H, W]: the mean of each channel plane', () => {
    // 1 image, 2 channels, 2 x 2.
    const d = Float32Array.from([1, 2, 3, 4, 10, 10, 20, 20]);
    const { rows, dim } = poolOutput(d, [1, 2, 2, 2], 'nchw');
    assert.equal(dim, 2);
    close(rows, [2.5, 15]);
  });

  test('NHWC [N, H, W, C]: the mean over positions of each channel', () => {
    // 2 images, 1 x 2 positions, 2 channels.
    const d = Float32Array.from([1, 10, 3, 20, 0, 0, 4, -4]);
    const { rows, dim } = poolOutput(d, [2, 1, 2, 2], 'nhwc');
    assert.equal(dim, 2);
    close(rows, [2, 15, 2, -2]);
  });
});

function fakeModel(
  inputs: { shape: Dim[] | null; dtype?: string }[],
  outputs = ['out'],
): LoadedModel {
  return {
    format: 'ONNX model',
    files: ['/m.onnx'],
    hash: 'h',
    defaultLayout: 'nchw',
    inputs: inputs.map((x, i) => ({ name: `in${i}`, shape: x.shape, dtype: x.dtype ?? 'float32' })),
    outputs: outputs.map((name) => ({ name, shape: ['N', 8], dtype: 'float32' })),
    inner: { what: 'outputs', names: [] },
    run: () => Promise.reject(new Error('not run')),
    dispose: () => {},
  };
}
const spec = (more: Partial<ModelFileFeatures> = {}): ModelFileFeatures => ({
  kind: 'onnx',
  path: '/m.onnx',
  ...more,
});
const refuses = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof ModelFileError);
    assert.match(err.message, /\/m\.onnx/);
    assert.match(err.message, /expected/);
    assert.match(err.message, re);
    return true;
  });

describe('resolveSettings', () => {
  test("defaults come from the model's declared input", () => {
    const { settings } = resolveSettings(
      spec(),
      fakeModel([{ shape: [1, 3, 96, 128] }]),
      '/m.onnx',
    );
    assert.deepEqual(
      { ...settings, mean: undefined, std: undefined },
      {
        input: 'in0',
        inputSize: [96, 128],
        channels: 3,
        layout: 'nchw',
        mean: undefined,
        std: undefined,
        output: 'out',
        batch: 1,
      },
    );
  });

  test("an input shape that does not tell the layout gets the runtime's usual one, and a note", () => {
    const { settings, notes } = resolveSettings(
      spec(),
      fakeModel([{ shape: ['N', 3, 3, 3] }]),
      '/m.onnx',
    );
    assert.equal(settings.layout, 'nchw');
    assert.ok(notes.some((n) => /assumed/.test(n)));
    const nhwc = resolveSettings(spec(), fakeModel([{ shape: ['N', 64, 64, 1] }]), '/m.onnx');
    assert.equal(nhwc.settings.layout, 'nhwc');
    assert.equal(nhwc.settings.channels, 1);
  });

  test('models an image encoder cannot be are refused', () => {
    refuses(
      () => resolveSettings(spec(), fakeModel([{ shape: ['N', 3] }, { shape: ['N'] }]), '/m.onnx'),
      /takes 2 inputs/,
    );
    refuses(
      () => resolveSettings(spec(), fakeModel([{ shape: ['N', 512] }]), '/m.onnx'),
      /\[N, 512\]/,
    );
    refuses(
      () =>
        resolveSettings(spec(), fakeModel([{ shape: ['N', 3, 8, 8], dtype: 'int64' }]), '/m.onnx'),
      /takes int64 values/,
    );
    refuses(
      () => resolveSettings(spec(), fakeModel([{ shape: ['N', 4, 8, 8] }]), '/m.onnx'),
      /4 channels/,
    );
    refuses(
      () => resolveSettings(spec(), fakeModel([{ shape: ['N', 3, 8, 8] }], []), '/m.onnx'),
      /declares no outputs/,
    );
  });

  test('mean and std must have one value or one per channel', () => {
    refuses(
      () =>
        resolveSettings(
          spec({ std: [0.5, 0.5] }),
          fakeModel([{ shape: ['N', 3, 8, 8] }]),
          '/m.onnx',
        ),
      /std has 2 values; expected 1 or 3/,
    );
  });
});

describe('sniffFile', () => {
  test('names common files that are not models', () => {
    assert.equal(sniffFile(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0])), 'a JPEG image');
    assert.equal(sniffFile(Uint8Array.from([0x89, 0x50, 0x4e, 0x47])), 'a PNG image');
    assert.match(sniffFile(Uint8Array.from([0x50, 0x4b, 0x03, 0x04])) ?? '', /PyTorch/);
    assert.match(sniffFile(Uint8Array.from([0x89, 0x48, 0x44, 0x46])) ?? '', /Keras/);
    assert.equal(sniffFile(Uint8Array.from([0x08, 0x07, 0x12])), null); // how an ONNX file starts
  });
});
