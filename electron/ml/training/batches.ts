import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../../shared/random.ts';
import type { Normalization } from '../models/network.ts';
import { datasetLength, sampleSize, type Augmentation, type Dataset } from '../types.ts';

export type { Augmentation };

/**
 * The augmentation training uses for `data`: what the dataset declares (its `augmentation`), else
 * a safe default. The default never mirrors, since a flip changes the class of digits and letters
 * (SVHN, EMNIST) and of anything with a handedness; a dataset whose labels survive a flip (CIFAR)
 * says so. Colour images get a random crop after zero-padding (4 pixels at 32x32, the survey's
 * CIFAR setting), a small shift that keeps labels; grayscale images (the MNIST family, trained
 * with normalisation only in the survey) and feature vectors get none.
 */
export function defaultAugmentation(
  data: Pick<Dataset, 'sampleShape' | 'augmentation'>,
): Augmentation | undefined {
  if (data.augmentation === 'none') return undefined;
  if (data.augmentation) return data.augmentation;
  const shape = data.sampleShape;
  if (shape.length !== 3 || shape[2] !== 3) return undefined;
  const side = Math.min(shape[0]!, shape[1]!);
  return { cropPadding: Math.max(1, Math.round(side / 8)) };
}

/** Per-channel lookup table byte -> normalised value, so a uint8 batch costs one read per pixel. */
function lookupTable(norm: Normalization, channels: number): Float32Array {
  const lut = new Float32Array(channels * 256);
  for (let c = 0; c < channels; c++) {
    const m = norm.mean[c]!;
    const s = norm.std[c]!;
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v * norm.scale - m) / s;
  }
  return lut;
}

const lutCache = new WeakMap<Normalization, Float32Array>();

function checkNorm(data: Dataset, norm: Normalization, groups: number): void {
  if (norm.mean.length !== groups || norm.std.length !== groups) {
    throw new Error(
      `${data.name}: normalisation has ${norm.mean.length} means and ${norm.std.length} stds, ` +
        `expected ${groups} (one per ${data.x instanceof Uint8Array ? 'channel' : 'feature'})`,
    );
  }
}

/**
 * The normalised input batch for `indices`: float32 NHWC for images, [n, F] for vectors,
 * (x * scale - mean) / std per channel (uint8) or per feature (float32). Augmentation applies to
 * images only and needs `rng`. The caller disposes the tensor.
 */
export function makeBatch(
  data: Dataset,
  indices: Int32Array,
  norm: Normalization,
  opts: { augment?: Augmentation; rng?: Rng } = {},
): tf.Tensor {
  const n = indices.length;
  const shape = data.sampleShape;
  const per = sampleSize(shape);
  const total = datasetLength(data);
  const out = new Float32Array(n * per);
  const isImage = shape.length === 3;
  for (let r = 0; r < n; r++) {
    const i = indices[r]!;
    if (!(i >= 0 && i < total)) {
      throw new RangeError(`${data.name}: sample index ${i} is out of range [0, ${total})`);
    }
  }
  if (data.x instanceof Uint8Array) {
    const channels = shape[shape.length - 1] ?? 1;
    checkNorm(data, norm, channels);
    let lut = lutCache.get(norm);
    if (!lut || lut.length !== channels * 256) {
      lut = lookupTable(norm, channels);
      lutCache.set(norm, lut);
    }
    const aug = isImage ? opts.augment : undefined;
    const pad = aug?.cropPadding ?? 0;
    const flip = aug?.horizontalFlip ?? false;
    if (aug && (pad > 0 || flip)) {
      if (!opts.rng) throw new Error('makeBatch: augmentation needs an rng');
      fillAugmented(data.x, indices, lut, shape, pad, flip, opts.rng, out);
    } else {
      const x = data.x;
      for (let r = 0; r < n; r++) {
        const src = indices[r]! * per;
        const dst = r * per;
        for (let j = 0, c = 0; j < per; j++) {
          out[dst + j] = lut[c * 256 + x[src + j]!]!;
          if (++c === channels) c = 0;
        }
      }
    }
  } else {
    // Float features are normalised per value position (mean/std of length F) even for image-
    // shaped float data, which computeNormalization also treats per feature.
    checkNorm(data, norm, per);
    const x = data.x;
    const inv = norm.std.map((s) => 1 / s);
    for (let r = 0; r < n; r++) {
      const src = indices[r]! * per;
      const dst = r * per;
      for (let j = 0; j < per; j++) {
        out[dst + j] = (x[src + j]! * norm.scale - norm.mean[j]!) * inv[j]!;
      }
    }
  }
  return tf.tensor(out, [n, ...shape], 'float32');
}

/**
 * Random crop of the zero-padded image (the padding is pixel value 0 before normalisation, as in
 * torchvision's RandomCrop) and an optional mirror, written straight into the batch.
 */
function fillAugmented(
  x: Uint8Array,
  indices: Int32Array,
  lut: Float32Array,
  shape: readonly number[],
  pad: number,
  flip: boolean,
  rng: Rng,
  out: Float32Array,
): void {
  const [H, W, C] = shape as [number, number, number];
  const per = H * W * C;
  for (let r = 0; r < indices.length; r++) {
    const src = indices[r]! * per;
    const dst = r * per;
    // Offset of the crop window in the padded image, minus the padding: source row = y + dy.
    const dy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const dx = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const mirror = flip && rng.next() < 0.5;
    for (let y = 0; y < H; y++) {
      const sy = y + dy;
      for (let xx = 0; xx < W; xx++) {
        const sx = (mirror ? W - 1 - xx : xx) + dx;
        const o = dst + (y * W + xx) * C;
        if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
          for (let c = 0; c < C; c++) out[o + c] = lut[c * 256]!;
        } else {
          const s = src + (sy * W + sx) * C;
          for (let c = 0; c < C; c++) out[o + c] = lut[c * 256 + x[s + c]!]!;
        }
      }
    }
  }
}
