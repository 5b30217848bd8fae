/**
 * The pixels of a project's pool, for the model (runs in the ML worker). The store keeps sample
 * identities, not pixels, so the dataset is read again from its source: image folders at the
 * model's small size (matched to stored samples by file path, so a file deleted since the import
 * is reported missing rather than shifting every later sample), other formats as imported (their
 * content fingerprint must match the import).
 */
import { datasetFingerprint, loadDataset } from '../ml/datasets/index.ts';
import { resizeImages } from '../ml/features/resize.ts';
import type { Dataset } from '../ml/types.ts';
import { datasetSamples } from '../store/annotation.ts';
import type { DatasetRow, Store } from '../store/store.ts';

export interface PoolData {
  /** Pool rows at model size; y is all -1 (labels come from the store's events). */
  dataset: Dataset;
  /** Row -> sample id. */
  sampleIds: Int32Array;
  rowOf: Map<number, number>;
  /** Stored samples whose pixels could not be read now. */
  missing: number;
}

/** The model's input size: the imported size shrunk so its longer side is at most `side`. */
export function modelSize(h: number, w: number, side: number): [number, number] {
  const s = Math.min(1, side / Math.max(h, w));
  return [Math.max(1, Math.round(h * s)), Math.max(1, Math.round(w * s))];
}

/**
 * Label-free features for the cold start: each image shrunk to 8x8 per channel (area average),
 * then every feature standardised over the pool. [n, 64 * channels] row-major.
 */
export function labelFreeFeatures(d: Dataset, side = 8): { data: Float32Array; dim: number } {
  const [h, w, c] = d.sampleShape as [number, number, number];
  const n = d.y.length;
  const small = resizeImages(d.x as Uint8Array, n, h, w, c, Math.min(side, h), Math.min(side, w));
  const dim = small.length / Math.max(1, n);
  const data = new Float32Array(small.length);
  for (let j = 0; j < dim; j++) {
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const v = small[i * dim + j]!;
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    const std = Math.sqrt(Math.max(0, sq / n - mean * mean)) || 1;
    for (let i = 0; i < n; i++) data[i * dim + j] = (small[i * dim + j]! - mean) / std;
  }
  return { data, dim };
}

async function readSource(
  row: DatasetRow,
  modelSide: number,
  onProgress?: (done: number, total: number) => void,
): Promise<{ parts: { split: 'train' | 'test'; d: Dataset }[]; byPath: boolean }> {
  const [h, w, c] = row.sampleShape as [number, number, number];
  if (row.format === 'image-folder') {
    const size = modelSize(h, w, modelSide);
    const loaded = await loadDataset(row.source, {
      image: { size, channels: c === 1 ? 1 : 3 },
      onProgress: (done, total, phase) => {
        if (/decode/.test(phase)) onProgress?.(done, total);
      },
    });
    return {
      parts: [
        { split: 'train', d: loaded.train },
        { split: 'test', d: loaded.test },
      ],
      byPath: true,
    };
  }
  const loaded = await loadDataset(row.format === 'demo' ? 'demo' : row.source, {});
  const fp = `${datasetFingerprint(loaded.train)}:${datasetFingerprint(loaded.test)}`;
  if (fp !== row.fingerprint) {
    throw new Error(
      `The data at ${row.source} is no longer what was imported as "${row.name}" (its content changed); import it again and start a new project.`,
    );
  }
  return {
    parts: [
      { split: 'train', d: loaded.train },
      { split: 'test', d: loaded.test },
    ],
    byPath: false,
  };
}

/** Read a project's pool pixels from the dataset's source. */
export async function loadPool(
  store: Store,
  datasetId: number,
  modelSide: number,
  onProgress?: (done: number, total: number) => void,
): Promise<PoolData> {
  const row = store.getDataset(datasetId);
  if (!row) throw new Error(`There is no dataset ${datasetId}`);
  if (row.sampleShape.length !== 3) throw new Error(`Dataset "${row.name}" does not hold images`);
  const samples = datasetSamples(store, datasetId);
  const { parts, byPath } = await readSource(row, modelSide, onProgress);
  const first = parts.find((p) => p.d.y.length > 0)?.d ?? parts[0]!.d;
  const [h, w, c] = first.sampleShape as [number, number, number];
  const [th, tw] = byPath ? [h, w] : modelSize(h, w, modelSide);
  const per = th * tw * c;

  // Where each stored sample's pixels are: (part, row in part).
  const bySplitPath = new Map<string, number>();
  const pathCount = new Map<string, number>();
  const byPathOnly = new Map<string, number>();
  const bySplitIdx = new Map<string, number>();
  for (const s of samples) {
    bySplitIdx.set(`${s.split}#${s.idx}`, s.id);
    if (s.sourcePath !== null) {
      bySplitPath.set(`${s.split}\0${s.sourcePath}`, s.id);
      pathCount.set(s.sourcePath, (pathCount.get(s.sourcePath) ?? 0) + 1);
      byPathOnly.set(s.sourcePath, s.id);
    }
  }
  const found = new Map<number, { part: number; i: number }>();
  parts.forEach((p, part) => {
    for (let i = 0; i < p.d.y.length; i++) {
      let id: number | undefined;
      if (byPath) {
        const path = p.d.ids?.[i];
        if (path === undefined) continue;
        id = bySplitPath.get(`${p.split}\0${path}`);
        if (id === undefined && pathCount.get(path) === 1) id = byPathOnly.get(path);
      } else {
        id = bySplitIdx.get(`${p.split}#${i}`);
      }
      if (id !== undefined && !found.has(id)) found.set(id, { part, i });
    }
  });
  const kept = samples.filter((s) => found.has(s.id));
  const x = new Uint8Array(kept.length * per);
  const sampleIds = new Int32Array(kept.length);
  const rowOf = new Map<number, number>();
  kept.forEach((s, r) => {
    const { part, i } = found.get(s.id)!;
    const d = parts[part]!.d;
    const [sh, sw, sc] = d.sampleShape as [number, number, number];
    const src = (d.x as Uint8Array).subarray(i * sh * sw * sc, (i + 1) * sh * sw * sc);
    x.set(resizeImages(src, 1, sh, sw, sc, th, tw), r * per);
    sampleIds[r] = s.id;
    rowOf.set(s.id, r);
  });
  return {
    dataset: {
      name: row.name,
      x,
      y: new Int32Array(kept.length).fill(-1),
      sampleShape: [th, tw, c],
      classNames: [],
    },
    sampleIds,
    rowOf,
    missing: samples.length - kept.length,
  };
}
