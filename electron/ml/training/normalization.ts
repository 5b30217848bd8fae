import type { Normalization } from '../models/network.ts';
import { datasetLength, sampleSize, type Dataset } from '../types.ts';

/**
 * Input normalisation statistics. uint8 images: per-channel mean and population std of x / 255
 * (scale 1/255). float32 feature vectors: per-feature mean and std (scale 1). A constant channel
 * or feature gets std 1, so it maps to 0 instead of dividing by zero.
 *
 * @param indices samples to measure (default: all). Labels are not used, so the unlabeled pool
 *   may take part.
 */
export function computeNormalization(data: Dataset, indices?: Int32Array): Normalization {
  const n = datasetLength(data);
  const per = sampleSize(data.sampleShape);
  const isUint8 = data.x instanceof Uint8Array;
  // uint8 data is normalised per channel (last axis); float32 data per feature.
  const groups = isUint8 ? (data.sampleShape[data.sampleShape.length - 1] ?? 1) : per;
  const scale = isUint8 ? 1 / 255 : 1;
  if (data.x.length !== n * per) {
    throw new Error(
      `${data.name}: x has ${data.x.length} values, expected ${n} samples x ${per} = ${n * per}`,
    );
  }
  const rows = indices ?? null;
  const count = rows ? rows.length : n;
  if (count === 0) throw new Error(`${data.name}: no samples to compute normalisation from`);
  const sum = new Float64Array(groups);
  const sumSq = new Float64Array(groups);
  const x = data.x;
  for (let r = 0; r < count; r++) {
    const i = rows ? rows[r]! : r;
    if (i < 0 || i >= n) throw new RangeError(`${data.name}: sample index ${i} is out of range`);
    const base = i * per;
    for (let j = 0, g = 0; j < per; j++, g = g + 1 === groups ? 0 : g + 1) {
      const v = x[base + j]!;
      sum[g] = sum[g]! + v;
      sumSq[g] = sumSq[g]! + v * v;
    }
  }
  const valuesPerGroup = count * (per / groups);
  const mean: number[] = [];
  const std: number[] = [];
  for (let g = 0; g < groups; g++) {
    const m = sum[g]! / valuesPerGroup;
    const variance = Math.max(0, sumSq[g]! / valuesPerGroup - m * m);
    const s = Math.sqrt(variance) * scale;
    mean.push(m * scale);
    std.push(s > 1e-12 ? s : 1);
  }
  return { scale, mean, std };
}
