/**
 * Annotation jobs of the ML worker: a project's cold start or retrain, and the raw pixels of one
 * sample of a dataset that has no image files (IDX, CIFAR, demo). Pool pixels and pool features
 * are kept between jobs, so only the first retrain of a project pays for reading them.
 */
import { TrainingCancelled } from '../ml/training/train.ts';
import { openStore } from '../store/store.ts';
import { JobCancelled } from '../worker/jobs.ts';
import { sampleById } from '../store/annotation.ts';
import { loadPool, type PoolData } from './data.ts';
import { keepFeaturesOf, workerFeatures } from './featureMemo.ts';
import { runProjectTraining, type TrainJobResult, type TrainPhase } from './train.ts';

const cache = new Map<string, PoolData>();
/** The longest side the display reads raw datasets at (no shrinking below it). */
const DISPLAY_SIDE = 4096;

export async function trainJob(
  dbPath: string,
  projectId: number,
  ctx: {
    signal: AbortSignal;
    progress: (p: { stage: TrainPhase; done: number; total: number }) => void;
  },
): Promise<TrainJobResult> {
  // The worker's own connection: WAL lets the main thread record labels meanwhile.
  // A word at once: what follows may read the label store and list the pool before the first
  // progress of its own.
  ctx.progress({ stage: 'loading', done: 0, total: 0 });
  const store = openStore(dbPath);
  let last = 0;
  try {
    keepFeaturesOf(store, store.getProject(projectId)?.datasetId);
    return await runProjectTraining(store, projectId, {
      signal: ctx.signal,
      cache,
      featureCache: workerFeatures,
      progress: (p) => {
        // Image decoding reports every file; a few updates a second are enough for a progress bar.
        const now = Date.now();
        if (p.phase === 'loading' && p.done < p.total && now - last < 250) return;
        last = now;
        ctx.progress({ stage: p.phase, done: p.done, total: p.total });
      },
    });
  } catch (err) {
    // Reported as cancelled (not failed), so the app never shows a cancelled retrain as an error.
    if (err instanceof TrainingCancelled || ctx.signal.aborted) throw new JobCancelled();
    throw err;
  } finally {
    store.close();
  }
}

export async function pixelsJob(
  dbPath: string,
  sampleId: number,
): Promise<{ width: number; height: number; channels: number; pixels: string }> {
  const store = openStore(dbPath, { readonly: true });
  try {
    const sample = sampleById(store, sampleId);
    if (!sample) throw new Error(`There is no sample ${sampleId}`);
    const key = `${store.file}|${sample.datasetId}|display`;
    let data = cache.get(key);
    if (!data) {
      data = await loadPool(store, sample.datasetId, DISPLAY_SIDE);
      cache.set(key, data);
    }
    const row = data.rowOf.get(sampleId);
    if (row === undefined) throw new Error(`Sample ${sampleId} could not be read from its source`);
    const [h, w, c] = data.dataset.sampleShape as [number, number, number];
    const per = h * w * c;
    const px = (data.dataset.x as Uint8Array).subarray(row * per, (row + 1) * per);
    return { width: w, height: h, channels: c, pixels: Buffer.from(px).toString('base64') };
  } finally {
    store.close();
  }
}
