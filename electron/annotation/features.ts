/**
 * A project's pool as feature vectors (runs in the ML worker). Image-folder datasets are read
 * file by file at the extractor's size (never all pixels at once), other formats from their
 * loaded pixels; either way the matrix is cached in the workspace beside the database, so only a
 * dataset's first retrain pays for it.
 */
import { dirname, join } from 'node:path';
import { describeFeatures, type FeatureSpec } from '../../shared/features.ts';
import { Rng } from '../../shared/random.ts';
import { computeFeatureSets, FeaturesCancelled } from '../ml/features/compute.ts';
import { datasetSource, fileSource, type ImageFile } from '../ml/features/source.ts';
import { featureData, type FeatureData } from '../ml/heads/featureModel.ts';
import type { Dataset } from '../ml/types.ts';
import { datasetSamples } from '../store/annotation.ts';
import type { Store } from '../store/store.ts';
import { loadPool } from './data.ts';
import { sampleFiles } from './images.ts';

export interface PoolFeatures {
  data: FeatureData;
  /** Row -> sample id, and back. */
  sampleIds: Int32Array;
  rowOf: Map<number, number>;
  /** Stored samples whose images could not be read now. */
  missing: number;
  /** Milliseconds spent computing now (0 when every matrix came from the cache). */
  ms: number;
  /** Set when only a sample was described (`sample`): the dataset's sample count. */
  sampledFrom?: number;
}

/** Longest side other formats are loaded at before the extractor picks its own size. */
const LOAD_SIDE = 256;

export function workspaceFeatureDir(store: Store): string | undefined {
  return store.file && store.file !== ':memory:'
    ? join(dirname(store.file), 'features')
    : undefined;
}

export async function loadPoolFeatures(
  store: Store,
  datasetId: number,
  spec: FeatureSpec,
  opts: {
    signal?: AbortSignal;
    progress?: (done: number, total: number) => void;
    cacheDir?: string;
    /**
     * An image folder of more samples than `size` is described on a random `size` of them, drawn
     * from `seed` (the cold start of a large pool; the result says `sampledFrom`). Cached on disk
     * under its own files' fingerprint, so a second project with the same seed reads it back.
     */
    sample?: { size: number; seed: number };
  } = {},
): Promise<PoolFeatures> {
  const row = store.getDataset(datasetId);
  if (!row) throw new Error(`There is no dataset ${datasetId}`);
  if (row.sampleShape.length !== 3) throw new Error(`Dataset "${row.name}" does not hold images`);
  const cacheDir = opts.cacheDir ?? workspaceFeatureDir(store);
  const [h, w, c] = row.sampleShape as [number, number, number];
  let sampleIds: Int32Array;
  let images: Dataset;
  let source;
  let missing = 0;
  let sampledFrom: number | undefined;
  if (row.format === 'image-folder') {
    const files: ImageFile[] = [];
    const ids: number[] = [];
    const names: string[] = [];
    let listed = datasetSamples(store, datasetId);
    if (opts.sample && listed.length > opts.sample.size) {
      sampledFrom = listed.length;
      const only = new Set(
        new Rng(opts.sample.seed).sample(
          listed.map((s) => s.id),
          opts.sample.size,
        ),
      );
      listed = listed.filter((s) => only.has(s.id));
    }
    const samples = listed.filter((s) => {
      if (s.sourcePath !== null) return true;
      missing++;
      return false;
    });
    // Resolving starts with a word: listing 60,000 samples takes a moment on a busy machine.
    opts.progress?.(0, samples.length);
    const paths = await sampleFiles(
      row.source,
      samples.map((s) => s.sourcePath!),
      { progress: opts.progress },
    );
    samples.forEach((s, i) => {
      const path = paths[i];
      if (!path) {
        missing++;
        return;
      }
      files.push({ path });
      ids.push(s.id);
      names.push(s.sourcePath!);
    });
    if (opts.signal?.aborted) throw new FeaturesCancelled();
    if (files.length === 0) {
      throw new Error(
        `None of the samples of "${row.name}" could be found in ${row.source}; was the folder moved?`,
      );
    }
    sampleIds = Int32Array.from(ids);
    // The files are stat-ed for the cache's fingerprint: a second or more at 60,000, told as the
    // same loading progress as the resolving above.
    source = await fileSource(files, {
      nativeSize: [h, w],
      channels: c === 1 ? 1 : 3,
      ...(opts.progress ? { progress: opts.progress } : {}),
    });
    images = {
      name: row.name,
      x: new Uint8Array(0),
      y: new Int32Array(ids.length).fill(-1),
      sampleShape: [h, w, c],
      classNames: [],
      ids: names,
    };
  } else {
    const pool = await loadPool(store, datasetId, LOAD_SIDE);
    sampleIds = pool.sampleIds;
    missing = pool.missing;
    images = pool.dataset;
    source = datasetSource(pool.dataset);
  }
  const started = performance.now();
  const [m] = await computeFeatureSets(source, [source], spec, {
    cacheDir,
    stateDir: cacheDir ? join(cacheDir, 'state') : undefined,
    signal: opts.signal,
    nameOf: (_s, i) => images.ids?.[i] ?? `sample ${sampleIds[i]}`,
    progress: (p) => opts.progress?.(p.done, p.total),
  });
  const ms = m!.fromCache ? 0 : performance.now() - started;
  const rowOf = new Map<number, number>();
  sampleIds.forEach((id, r) => rowOf.set(id, r));
  // Projects have no test set: the pool stands in for it (nothing is evaluated on it).
  const data = featureData(images, images, m!, m!, describeFeatures(spec));
  return { data, sampleIds, rowOf, missing, ms, ...(sampledFrom ? { sampledFrom } : {}) };
}
