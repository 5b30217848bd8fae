import type {
  DatasetPreview,
  StudyEstimate,
  StudyProgress,
  Thumbnail,
} from '../../shared/contract.ts';
import { studyLimitMessage } from '../../shared/limits.ts';
import { roundBatch, roundCount, type StudyConfig } from '../../shared/study.ts';
import type { ImageFolderLayout } from '../ml/datasets/index.ts';
import type { Dataset } from '../ml/types.ts';
import type { JobProgress, WorkerJob, WorkerJobResult } from './protocol.ts';

/** Thrown by a job that stopped because it was cancelled. */
export class JobCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'JobCancelled';
  }
}

/** A job failed for a reason the user can fix (bad path, bad settings). */
export class JobInputError extends Error {
  override name = 'JobInputError';
}

/** A job could not start because something else holds what it needs (a study another process runs). */
export class JobBusyError extends Error {
  override name = 'JobBusyError';
}

export interface JobContext {
  signal: AbortSignal;
  progress(p: JobProgress): void;
}

/**
 * Run one ML job. The heavy modules (TensorFlow.js, SQLite, dataset readers) load on first use, so
 * the worker starts fast and a failing import only fails the job that needed it.
 */
export async function runJob<K extends WorkerJob['kind']>(
  job: Extract<WorkerJob, { kind: K }>,
  ctx: JobContext,
): Promise<WorkerJobResult[K]> {
  const j = job as WorkerJob;
  switch (j.kind) {
    case 'study':
      return (await runStudyJob(j.dbPath, j.studyId, ctx)) as WorkerJobResult[K];
    case 'import':
      return (await importJob(j.dbPath, j.path, j.name, ctx)) as WorkerJobResult[K];
    case 'preview':
      return (await previewJob(j.path, ctx)) as WorkerJobResult[K];
    case 'estimate': {
      const tooMuch = studyLimitMessage(j.config);
      if (tooMuch) throw new JobInputError(tooMuch);
      return (await estimateJob(j.config, ctx)) as WorkerJobResult[K];
    }
    case 'annotation-train': {
      const { trainJob } = await import('../annotation/workerJobs.ts');
      return (await trainJob(j.dbPath, j.projectId, ctx)) as WorkerJobResult[K];
    }
    case 'annotation-pixels': {
      const { pixelsJob } = await import('../annotation/workerJobs.ts');
      return (await pixelsJob(j.dbPath, j.sampleId)) as WorkerJobResult[K];
    }
    case 'annotation-suspects': {
      const { suspectsJob } = await import('../annotation/suspects.ts');
      return (await suspectsJob(j.dbPath, j.projectId, j.force, ctx)) as WorkerJobResult[K];
    }
    case 'backend': {
      const { initBackend } = await import('../ml/backend.ts');
      const info = await initBackend();
      return { backend: info.backend, threads: info.threads } as WorkerJobResult[K];
    }
    case 'strategies': {
      const { listStrategies } = await import('../ml/strategies/catalog.ts');
      return listStrategies().map((s) => ({
        id: s.id,
        name: s.name,
        family: s.family,
        description: s.description,
        params: s.params.map((p) => ({ ...p })),
      })) as WorkerJobResult[K];
    }
    case 'create': {
      // Validation needs the strategy catalog (and so TensorFlow.js), which stays in this thread.
      const [{ openStore }, { createStudy }, { checkDatasetSpec }] = await Promise.all([
        import('../store/store.ts'),
        import('../study/engine.ts'),
        import('../ml/datasets/index.ts'),
      ]);
      // Refused before a row exists: a typo in the dataset or an impossible size must not leave
      // a study behind that can never run.
      const tooMuch = studyLimitMessage(j.config);
      if (tooMuch) throw new JobInputError(tooMuch);
      checkDatasetSpec(j.config.dataset, { dataDir: j.config.dataDir });
      const store = openStore(j.dbPath);
      try {
        return { studyId: createStudy(store, j.config, j.name) } as WorkerJobResult[K];
      } catch (err) {
        throw new JobInputError(err instanceof Error ? err.message : String(err));
      } finally {
        store.close();
      }
    }
  }
}

/**
 * Epoch events can come many times a second on small models; the monitor needs a few per second.
 * Round and run events always pass: they carry the numbers the charts plot.
 */
function throttled(progress: JobContext['progress'], minGapMs = 250): (e: StudyProgress) => void {
  let last = 0;
  return (e) => {
    if (e.type === 'epoch') {
      const now = Date.now();
      if (now - last < minGapMs && e.epoch !== e.epochs) return;
      last = now;
    }
    progress(e);
  };
}

async function runStudyJob(
  dbPath: string,
  studyId: number,
  ctx: JobContext,
): Promise<{ studyId: number }> {
  const [{ openStore }, { runStudy, StudyCancelled }, { lockStudyRun }] = await Promise.all([
    import('../store/store.ts'),
    import('../study/engine.ts'),
    import('../study/studyLock.ts'),
  ]);
  // One writer per study: `deepal study --resume` on the same database takes the same lock.
  let unlock: () => void;
  try {
    unlock = lockStudyRun(dbPath, studyId);
  } catch (err) {
    throw new JobBusyError(err instanceof Error ? err.message : String(err));
  }
  // The worker's own connection: WAL lets the main thread read while rounds are written here.
  const store = openStore(dbPath);
  try {
    // A study stored before the limits existed (repeats: 1e15) is refused, not run forever.
    const tooMuch = studyLimitMessage((store.getStudy(studyId)?.config ?? {}) as object);
    if (tooMuch) throw new JobInputError(tooMuch);
    await runStudy(store, studyId, { signal: ctx.signal, onEvent: throttled(ctx.progress) });
    return { studyId };
  } catch (err) {
    if (err instanceof StudyCancelled || ctx.signal.aborted) throw new JobCancelled();
    throw err;
  } finally {
    store.close();
    unlock();
  }
}

/**
 * Reading progress for a preview or an import: image folders report every file scanned and
 * decoded, which can take minutes for a large folder; a few updates a second reach the UI.
 */
function readingProgress(ctx: JobContext): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < 250) return;
    last = now;
    ctx.progress({ phase: 'reading', done, total });
  };
}

async function loadForPreview(
  path: string,
  onProgress?: (done: number, total: number) => void,
): Promise<{
  train: Dataset;
  test: Dataset;
  description: string;
  source: string;
  format: string;
  skipped: { path: string; reason: string }[];
}> {
  const { loadDataset } = await import('../ml/datasets/index.ts');
  // Reader errors keep their kind: a DatasetError is the person's to fix, anything else is
  // described by the worker (describeError), never passed on as raw text.
  const loaded = await loadDataset(
    path,
    onProgress ? { onProgress: (d, t) => onProgress(d, t) } : {},
  );
  const extra = loaded as unknown as { skipped?: { path: string; reason: string }[] };
  return {
    train: loaded.train,
    test: loaded.test,
    description: loaded.description,
    source: loaded.source,
    format: loaded.format,
    skipped: Array.isArray(extra.skipped) ? extra.skipped.slice(0, 200) : [],
  };
}

function countClasses(d: Dataset): number[] {
  const counts = new Array<number>(d.classNames.length).fill(0);
  for (const y of d.y) if (y >= 0 && y < counts.length) counts[y]!++;
  return counts;
}

/** Up to `perClass` samples of each class, in pool order, as raw thumbnails. */
function thumbnails(d: Dataset, perClass: number, max: number): Thumbnail[] {
  if (d.sampleShape.length !== 3 || !(d.x instanceof Uint8Array)) return [];
  const [h, w, c] = d.sampleShape as [number, number, number];
  const size = h * w * c;
  // Unlabeled samples (y = -1, a flat image folder) get a bucket of their own.
  const taken = new Map<number, number>();
  const out: Thumbnail[] = [];
  for (let i = 0; i < d.y.length && out.length < max; i++) {
    const y = d.y[i]! < 0 ? -1 : d.y[i]!;
    if ((taken.get(y) ?? 0) >= perClass) continue;
    taken.set(y, (taken.get(y) ?? 0) + 1);
    out.push({
      index: i,
      className: y < 0 ? 'unlabeled' : (d.classNames[y] ?? String(y)),
      width: w,
      height: h,
      channels: c,
      pixels: Buffer.from(d.x.subarray(i * size, (i + 1) * size)).toString('base64'),
    });
  }
  return out;
}

async function previewJob(path: string, ctx: JobContext): Promise<DatasetPreview> {
  const folder = await imageFolderOf(path);
  if (folder) {
    const { previewFolder } = await import('./imageFolderJobs.ts');
    const preview = await previewFolder(folder, path, readingProgress(ctx), ctx.signal);
    if (ctx.signal.aborted) throw new JobCancelled();
    return preview;
  }
  const loaded = await loadForPreview(path, readingProgress(ctx));
  if (ctx.signal.aborted) throw new JobCancelled();
  const { train, test } = loaded;
  const trainCounts = countClasses(train);
  const testCounts = countClasses(test);
  const notes: string[] = [];
  // Unlabeled data has no test split to find; the note below says what it is for instead.
  if (test.y.length === 0 && train.classNames.length > 0)
    notes.push('No test split was found; studies hold out part of the pool instead.');
  // Loops, not Math.max(...counts): spreading a long array overflows the call stack.
  let largest = 0;
  let smallest = Infinity;
  let nonZero = 0;
  for (const n of trainCounts) {
    if (n === 0) continue;
    nonZero++;
    largest = Math.max(largest, n);
    smallest = Math.min(smallest, n);
  }
  if (nonZero > 1 && largest > 5 * smallest) {
    notes.push('The classes are strongly imbalanced (largest over 5x the smallest).');
  }
  if (trainCounts.some((n) => n === 0)) notes.push('Some classes have no training samples.');
  const unlabeled = train.y.reduce((n, y) => n + (y < 0 ? 1 : 0), 0);
  if (unlabeled > 0) {
    notes.push(
      train.classNames.length === 0
        ? `No class labels: all ${unlabeled} images are unlabeled (a flat folder). Import them to label them; a study needs labeled data.`
        : `${unlabeled} samples have no label.`,
    );
  }
  const perClass = Math.max(1, Math.floor(32 / Math.max(1, train.classNames.length)));
  return {
    path,
    format: loaded.format,
    description: loaded.description,
    sampleShape: [...train.sampleShape],
    trainCount: train.y.length,
    testCount: test.y.length,
    classes: train.classNames.map((name, k) => ({
      name,
      train: trainCounts[k] ?? 0,
      test: testCounts[k] ?? 0,
    })),
    thumbnails: thumbnails(train, perClass, 40),
    skipped: loaded.skipped,
    notes,
  };
}

async function importJob(
  dbPath: string,
  path: string,
  name: string | undefined,
  ctx: JobContext,
): Promise<{ datasetId: number }> {
  ctx.progress({ phase: 'reading', done: 0, total: 1 });
  const folder = await imageFolderOf(path);
  if (folder) return importFolderJob(dbPath, folder, name, ctx);
  const loaded = await loadForPreview(path, readingProgress(ctx));
  if (ctx.signal.aborted) throw new JobCancelled();
  const [{ openStore }, { datasetFingerprint }] = await Promise.all([
    import('../store/store.ts'),
    import('../ml/datasets/index.ts'),
  ]);
  const { train, test } = loaded;
  const total = train.y.length + test.y.length;
  ctx.progress({ phase: 'saving', done: 0, total });
  const store = openStore(dbPath);
  try {
    let lastReport = 0;
    const samples = function* () {
      for (const [split, d] of [
        ['train', train],
        ['test', test],
      ] as const) {
        for (let i = 0; i < d.y.length; i++) {
          // Throwing here ends the import: the store removes what it had written.
          if (ctx.signal.aborted) throw new JobCancelled();
          yield { split, idx: i, groundTruth: d.y[i]!, sourcePath: d.ids?.[i] ?? null };
        }
      }
    };
    const datasetId = store.importDataset(
      {
        name: name ?? loaded.description,
        source: loaded.source,
        format: loaded.format,
        classNames: train.classNames,
        sampleShape: train.sampleShape,
        fingerprint: `${datasetFingerprint(train)}:${datasetFingerprint(test)}`,
      },
      samples(),
      {
        onProgress: (written) => {
          const now = Date.now();
          if (now - lastReport < 250) return;
          lastReport = now;
          ctx.progress({ phase: 'saving', done: written, total });
        },
      },
    );
    ctx.progress({ phase: 'saving', done: total, total });
    return { datasetId };
  } finally {
    store.close();
  }
}

/** The image folders a path would be read from, or null for every other kind of dataset. */
async function imageFolderOf(path: string): Promise<ImageFolderLayout | null> {
  const { imageFolderLayout } = await import('../ml/datasets/index.ts');
  return imageFolderLayout(path);
}

/**
 * Import an image folder from its files' headers: paths, classes, splits and a fingerprint of the
 * files are stored, no pixels (see imageFolderJobs.ts), so memory does not grow with image size.
 */
async function importFolderJob(
  dbPath: string,
  folder: ImageFolderLayout,
  name: string | undefined,
  ctx: JobContext,
): Promise<{ datasetId: number }> {
  const [{ openStore }, { readFolder, folderFingerprint }] = await Promise.all([
    import('../store/store.ts'),
    import('./imageFolderJobs.ts'),
  ]);
  const read = await readFolder(folder, 'all', readingProgress(ctx), ctx.signal);
  if (ctx.signal.aborted) throw new JobCancelled();
  const total = read.rows.length;
  ctx.progress({ phase: 'saving', done: 0, total });
  const store = openStore(dbPath);
  try {
    let lastReport = 0;
    const rows = read.rows;
    const samples = function* () {
      for (const r of rows) {
        // Throwing here ends the import: the store removes what it had written.
        if (ctx.signal.aborted) throw new JobCancelled();
        yield { split: r.split, idx: r.idx, groundTruth: r.label, sourcePath: r.rel };
      }
    };
    const datasetId = store.importDataset(
      {
        name: name ?? read.description,
        source: read.root,
        format: 'image-folder',
        classNames: read.classNames,
        sampleShape: [...read.size, read.channels],
        fingerprint: folderFingerprint(read),
      },
      samples(),
      {
        onProgress: (written) => {
          const now = Date.now();
          if (now - lastReport < 250) return;
          lastReport = now;
          ctx.progress({ phase: 'saving', done: written, total });
        },
      },
    );
    ctx.progress({ phase: 'saving', done: total, total });
    return { datasetId };
  } finally {
    store.close();
  }
}

/** Relative query cost per pool sample, in forward passes, by strategy family and id. */
function queryPasses(id: string): number {
  if (/^(Random)$/.test(id)) return 0;
  if (/D$|BALD|MeanSTD/.test(id)) return 10;
  if (/Adversarial/.test(id)) return 40;
  if (/VAAL|WAAL/.test(id)) return 8;
  if (/KMeans|KCenter|BADGE|Cluster|DBAL/.test(id)) return 3;
  return 1;
}

const throughputCache = new Map<string, { samplesPerSecond: number; backend: string }>();

/** Train one epoch on a small labeled set of the study's data and time it. */
async function measureThroughput(
  cfg: StudyConfig,
): Promise<{ samplesPerSecond: number; backend: string }> {
  const key = `${cfg.dataset}|${cfg.model}|${cfg.trainBatchSize}`;
  const cached = throughputCache.get(key);
  if (cached) return cached;
  const [
    { initBackend },
    { loadDataset },
    { createNetwork },
    { trainNetwork },
    { computeNormalization },
  ] = await Promise.all([
    import('../ml/backend.ts'),
    import('../ml/datasets/index.ts'),
    import('../ml/models/index.ts'),
    import('../ml/training/train.ts'),
    import('../ml/training/normalization.ts'),
  ]);
  const backend = await initBackend();
  const n = 256;
  const loaded = await loadDataset(cfg.dataset, {
    dataDir: cfg.dataDir,
    poolSize: n,
    testSize: 16,
    seed: cfg.seed,
  });
  const train = loaded.train;
  const count = Math.min(n, train.y.length);
  const net = createNetwork({
    kind: cfg.model as 'mlp' | 'cnn' | 'resnet18',
    inputShape: train.sampleShape,
    numClasses: train.classNames.length,
    seed: 1,
  });
  try {
    const indices = Int32Array.from({ length: count }, (_, i) => i);
    const opts = {
      indices,
      labels: Int32Array.from(indices, (i) => Math.max(0, train.y[i]!)),
      epochs: 1,
      batchSize: cfg.trainBatchSize,
      learningRate: cfg.learningRate,
      seed: 1,
      norm: computeNormalization(train),
      augment: 'default' as const,
      plugins: [],
      unlabeled: new Int32Array(0),
    };
    // The first epoch pays for kernel compilation and warm-up; time the second.
    await trainNetwork(net, train, opts);
    const started = performance.now();
    await trainNetwork(net, train, opts);
    const ms = Math.max(1, performance.now() - started);
    const result = { samplesPerSecond: (count / ms) * 1000, backend: backend.backend };
    throughputCache.set(key, result);
    return result;
  } finally {
    net.dispose();
  }
}

/** Heuristic throughput (samples/s) on a 2-core CPU when nothing could be measured. */
const HEURISTIC_SPS: Record<'mlp' | 'cnn' | 'resnet18', number> = {
  mlp: 4000,
  cnn: 600,
  resnet18: 20,
};

/**
 * Feature models: extraction once per dataset (built-in descriptors take about 10 ms per image
 * on one core; cached afterwards), then heads fitted in well under a second per round; `auto`
 * cross-validates four candidates on 3 folds.
 */
function estimateFeatureStudy(cfg: StudyConfig): StudyEstimate {
  const pool = cfg.poolSize ?? 10000;
  const test = cfg.testSize ?? 2000;
  const rounds = roundCount(cfg);
  const runs = cfg.strategies.length * cfg.repeats;
  const extractMs =
    cfg.features?.kind === 'ssl' ? cfg.features.budgetSec * 1000 : (pool + test) * 10;
  const fitMs = cfg.model === 'auto' ? 13 * 300 : 300;
  const trainMs = extractMs + (rounds + 1) * runs * fitMs;
  const queryMs =
    cfg.strategies.reduce((acc, id) => acc + rounds * pool * queryPasses(id) * 0.02, 0) *
    cfg.repeats;
  return {
    totalMs: trainMs + queryMs,
    trainMs,
    queryMs,
    runs,
    roundsPerRun: rounds + 1,
    sampleEpochs: 0,
    backend: 'unknown',
    basis: 'heuristic',
    samplesPerSecond: 0,
    note: 'Feature model: features are computed once per dataset (cached in the workspace), then a head is fitted per round; a rough estimate.',
  };
}

async function estimateJob(cfg: StudyConfig, ctx: JobContext): Promise<StudyEstimate> {
  const { usesFeatures } = await import('../study/engine.ts');
  if (usesFeatures(cfg)) return estimateFeatureStudy(cfg);
  const model = cfg.model as 'mlp' | 'cnn' | 'resnet18';
  let measured: { samplesPerSecond: number; backend: string } | null = null;
  let why = '';
  try {
    measured = await measureThroughput(cfg);
  } catch (err) {
    why = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  }
  if (ctx.signal.aborted) throw new JobCancelled();
  const sps = measured?.samplesPerSecond ?? HEURISTIC_SPS[model];
  const rounds = roundCount(cfg);
  const pool = cfg.poolSize ?? 10000;
  const test = cfg.testSize ?? 2000;
  let sampleEpochs = 0;
  let labeled = cfg.initial;
  let queried = 0;
  for (let t = 0; t <= rounds; t++) {
    if (t > 0) {
      const b = roundBatch(cfg, t);
      labeled += b;
      queried += pool - labeled + b;
    }
    sampleEpochs += labeled * cfg.epochs;
  }
  // A forward pass costs roughly a third of a training step per sample.
  const forwardMs = 1000 / sps / 3;
  const runsPerStrategy = cfg.repeats;
  const trainMs = (sampleEpochs / sps) * 1000 * cfg.strategies.length * runsPerStrategy;
  const evalMs = (rounds + 1) * test * forwardMs * cfg.strategies.length * runsPerStrategy;
  const queryMs =
    cfg.strategies.reduce((acc, id) => acc + queried * queryPasses(id) * forwardMs, 0) *
    runsPerStrategy;
  return {
    totalMs: trainMs + evalMs + queryMs,
    trainMs: trainMs + evalMs,
    queryMs,
    runs: cfg.strategies.length * cfg.repeats,
    roundsPerRun: rounds + 1,
    sampleEpochs: sampleEpochs * cfg.strategies.length * cfg.repeats,
    backend: measured?.backend ?? 'unknown',
    basis: measured ? 'measured' : 'heuristic',
    samplesPerSecond: sps,
    note: measured
      ? `Training measured at ${Math.round(sps)} samples/s on this machine; query time is a rough model per strategy.`
      : `Could not measure training speed (${why}); using a typical 2-core CPU figure.`,
  };
}
