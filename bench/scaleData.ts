/**
 * The image folders of the scale benchmark (bench/scale.ts), written from the offline datasets
 * (../shared/datasets) into a folder kept between runs: writing 100,000 JPEGs takes a while, and
 * each folder is written once (a `.complete` file marks a finished one).
 *
 * - fm-20k-classes: 20,000 Fashion-MNIST training images, 28x28 grayscale PNG, one folder per class.
 * - fm-60k-flat: the 60,000 training images, 28x28 grayscale PNG, one flat folder.
 * - jpeg-100k-512: 100,000 RGB JPEGs of 512x512 (quality 85), each a Fashion-MNIST image (train,
 *   test, then mirrored training images) upscaled and tinted by its class, in a flat folder.
 * - jpeg-100k-512-classes: the same JPEGs as hard links in one folder per class (a study needs
 *   labels): no second copy on disk.
 * - photos: NEU surface-defect photographs (200x200) upscaled to 512, 1,024, 2,000 and 4,000 px
 *   JPEGs (quality 90), five of each, in class folders: what labels:sample has to show.
 */
import { existsSync, linkSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { readIdxImages, readIdxLabels } from '../electron/ml/datasets/idx.ts';
import { NAMED_DATASETS } from '../electron/ml/datasets/index.ts';

/** Fashion-MNIST's class names as folder names ("T-shirt/top" holds a slash). */
export const FASHION_CLASSES = NAMED_DATASETS['fashion-mnist']!.classNames.map((c) =>
  c.replace(/\//g, '_'),
);

const TINTS: [number, number, number][] = [
  [255, 120, 120],
  [120, 255, 120],
  [120, 120, 255],
  [255, 255, 120],
  [255, 120, 255],
  [120, 255, 255],
  [255, 180, 90],
  [180, 90, 255],
  [90, 255, 180],
  [200, 200, 200],
];

export interface ScaleFolders {
  byClass20k: string;
  flat60k: string;
  jpeg100k: string;
  jpeg100kByClass: string;
  photos: string;
}

export interface GenerateOptions {
  /** Where the offline datasets are (fashion-mnist/, neu-surface-defects/). */
  datasets: string;
  /** The folder the image folders are written into (kept between runs). */
  root: string;
  /** Number of 512-px JPEGs (default 100,000). */
  jpegCount?: number;
  log?: (line: string) => void;
}

async function inParallel(n: number, concurrency: number, fn: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** Write a folder once: `write` into `dir`, then mark it complete; a half-written one is redone. */
async function once(
  dir: string,
  what: string,
  write: (dir: string) => Promise<void>,
  log: (l: string) => void,
): Promise<string> {
  const mark = join(dir, '.complete');
  if (existsSync(mark)) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  log(`writing ${what} into ${dir} ...`);
  await write(dir);
  writeFileSync(mark, new Date().toISOString());
  log(`  done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return dir;
}

export async function generateScaleFolders(o: GenerateOptions): Promise<ScaleFolders> {
  const log = o.log ?? (() => {});
  const fm = join(o.datasets, 'fashion-mnist');
  const train = readIdxImages(join(fm, 'train-images-idx3-ubyte.gz'));
  const trainY = readIdxLabels(join(fm, 'train-labels-idx1-ubyte.gz')).labels;
  const test = readIdxImages(join(fm, 't10k-images-idx3-ubyte.gz'));
  const testY = readIdxLabels(join(fm, 't10k-labels-idx1-ubyte.gz')).labels;
  const px = (images: typeof train, i: number) => images.pixels.subarray(i * 784, (i + 1) * 784);
  const raw = { raw: { width: 28, height: 28, channels: 1 as const } };
  const pad = (i: number, n: number) => String(i).padStart(String(n - 1).length, '0');

  const byClass20k = await once(
    join(o.root, 'fm-20k-classes'),
    '20,000 PNGs in class folders',
    async (dir) => {
      for (const c of FASHION_CLASSES) mkdirSync(join(dir, c));
      await inParallel(20_000, 8, async (i) => {
        const file = join(dir, FASHION_CLASSES[trainY[i]!]!, `fm-${pad(i, 20_000)}.png`);
        await sharp(px(train, i), raw).png().toFile(file);
      });
    },
    log,
  );
  const flat60k = await once(
    join(o.root, 'fm-60k-flat'),
    '60,000 PNGs in one folder',
    async (dir) => {
      await inParallel(60_000, 8, async (i) => {
        await sharp(px(train, i), raw)
          .png()
          .toFile(join(dir, `fm-${pad(i, 60_000)}.png`));
      });
    },
    log,
  );
  const jpegCount = o.jpegCount ?? 100_000;
  const jpeg100k = await once(
    join(o.root, `jpeg-${jpegCount}-512`),
    `${jpegCount} JPEGs of 512 px`,
    async (dir) => {
      let last = performance.now();
      let done = 0;
      await inParallel(jpegCount, 4, async (i) => {
        // Training images, then the test images, then mirrored training images: all distinct.
        const fromTest = i >= 60_000 && i < 70_000;
        const k = i < 60_000 ? i : fromTest ? i - 60_000 : (i - 70_000) % 60_000;
        const y = fromTest ? testY[k]! : trainY[k]!;
        const [r, g, b] = TINTS[y]!;
        let img = sharp(px(fromTest ? test : train, k), raw).resize(512, 512, {
          kernel: 'cubic',
        });
        if (i >= 70_000) img = img.flop();
        await img
          .toColourspace('srgb')
          .tint({ r, g, b })
          .jpeg({ quality: 85 })
          .toFile(join(dir, `img-${pad(i, jpegCount)}.jpg`));
        done++;
        if (performance.now() - last > 30_000) {
          last = performance.now();
          log(`  ${done} / ${jpegCount}`);
        }
      });
    },
    log,
  );
  const jpeg100kByClass = await once(
    join(o.root, `jpeg-${jpegCount}-512-classes`),
    `${jpegCount} JPEGs of 512 px by class (hard links)`,
    async (dir) => {
      for (const c of FASHION_CLASSES) mkdirSync(join(dir, c));
      for (let i = 0; i < jpegCount; i++) {
        const fromTest = i >= 60_000 && i < 70_000;
        const k = i < 60_000 ? i : fromTest ? i - 60_000 : (i - 70_000) % 60_000;
        const y = fromTest ? testY[k]! : trainY[k]!;
        const name = `img-${pad(i, jpegCount)}.jpg`;
        linkSync(join(jpeg100k, name), join(dir, FASHION_CLASSES[y]!, name));
      }
    },
    log,
  );
  const photos = await once(
    join(o.root, 'photos'),
    'photographs of 512-4,000 px',
    async (dir) => {
      const neu = join(o.datasets, 'neu-surface-defects', 'images');
      const classes = readdirSync(neu).sort();
      const sides = [512, 1024, 2000, 4000];
      for (const c of classes) mkdirSync(join(dir, c));
      let k = 0;
      for (const side of sides) {
        for (let j = 0; j < 5; j++, k++) {
          const c = classes[k % classes.length]!;
          const files = readdirSync(join(neu, c)).sort();
          const src = join(neu, c, files[j % files.length]!);
          await sharp(src)
            .resize(side, side, { kernel: 'cubic' })
            .jpeg({ quality: 90 })
            .toFile(join(dir, c, `${side}px-${j}.jpg`));
        }
      }
    },
    log,
  );
  return { byClass20k, flat60k, jpeg100k, jpeg100kByClass, photos };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const root = args[0] ?? '/tmp/deepal-scale-data';
  const datasets = args[1] ?? new URL('../../shared/datasets', import.meta.url).pathname;
  const folders = await generateScaleFolders({
    datasets,
    root,
    log: (l) => console.log(l),
  });
  console.log(JSON.stringify(folders));
}

/** Fashion-MNIST's training labels (file fm-<i>.png of the flat folder is image i). */
export function trainLabelOf(datasets: string): Int32Array {
  return readIdxLabels(join(datasets, 'fashion-mnist', 'train-labels-idx1-ubyte.gz')).labels;
}

/**
 * A project over the imported 100,000-JPEG dataset with about 100,000 label events, as months of
 * labeling leave them: 90,000 labels by one annotator (about 5% of them changed later by an undo
 * and a new label), 5,000 second opinions by another (a tenth disagreeing), 2,000 skips, 1,000
 * unsure marks, 2,000 undos; 9,300 proposed batches of 10, 400 retrains, the latest model's
 * guesses on every image, and a fresh batch of 100 unlabeled images at the head of the queue.
 * Written through the store (as the app would, minus the waiting). Returns the project id.
 */
export async function seedLabelEvents(dbPath: string, datasetId: number): Promise<number> {
  const { openStore } = await import('../electron/store/store.ts');
  const { createAnnotationProject } = await import('../electron/annotation/projects.ts');
  const { datasetSamples, recordBatch, recordTraining } =
    await import('../electron/store/annotation.ts');
  const store = openStore(dbPath);
  try {
    const projectId = createAnnotationProject(store, {
      name: 'scale',
      datasetId,
      classNames: FASHION_CLASSES,
      // Retrains only when asked: the calls are timed without a retrain competing for the CPU.
      settings: { retrainEvery: 100_000, batchSize: 10 },
      createdBy: 'ann1',
    });
    const ids = datasetSamples(store, datasetId).map((s) => s.id);
    const cls = (i: number) => (i * 7) % 10;
    const chunk = <T>(xs: T[], n: number, fn: (part: T[]) => void) => {
      for (let i = 0; i < xs.length; i += n) fn(xs.slice(i, i + n));
    };
    const ev = (
      sampleIdx: number,
      annotator: string,
      kind: 'label' | 'skip' | 'unsure',
      c?: number,
    ) => ({
      sampleId: ids[sampleIdx]!,
      kind,
      ...(kind === 'label' ? { classIdx: c! } : {}),
      annotator,
      projectId,
      via: 'queue' as const,
      durationMs: 1200 + (sampleIdx % 900),
    });
    const events = [];
    const n = ids.length;
    const at = (f: number) => Math.floor(f * n);
    for (let i = 0; i < at(0.9); i++) events.push(ev(i, 'ann1', 'label', cls(i)));
    for (let i = 0; i < at(0.05); i++) {
      const k = i * 17;
      events.push(ev(k, 'ann2', 'label', i % 10 === 0 ? (cls(k) + 1) % 10 : cls(k)));
    }
    for (let i = 0; i < at(0.02); i++) events.push(ev(at(0.9) + i, 'ann1', 'skip'));
    for (let i = 0; i < at(0.01); i++) events.push(ev(at(0.92) + i, 'ann1', 'unsure'));
    chunk(events, 5000, (part) => store.appendLabelEvents(part));
    // Undo 2,000 of ann1's labels (every 45th): those samples go back to unlabeled.
    const undone = store
      .prepared(
        `SELECT id FROM label_events WHERE project_id = ? AND annotator = 'ann1' AND kind = 'label' ORDER BY id`,
      )
      .raw()
      .all(projectId) as [number][];
    for (let k = 0; k < at(0.02); k++) store.undoLabelEvent(undone[k * 45]![0], 'ann1');
    for (let b = 0; b < at(0.093); b++)
      recordBatch(store, {
        projectId,
        trainingId: null,
        strategy: 'Entropy',
        note: 'bench',
        sampleIds: ids.slice(b * 10, b * 10 + 10),
      });
    const training = {
      projectId,
      labels: 90_000,
      trainCount: 72_000,
      holdoutCount: 18_000,
      accuracy: 0.9,
      accuracyLow: 0.89,
      accuracyHigh: 0.91,
      stopKappa: 0.95,
      stopSet: 500,
      details: { strategy: 'Entropy', model: 'auto', head: 'logreg' },
      trainMs: 900,
      queryMs: 300,
    };
    const ins = store.prepared(
      `INSERT INTO project_trainings (project_id, labels, train_count, holdout_count, accuracy,
         accuracy_low, accuracy_high, stop_kappa, stop_set, details, train_ms, query_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    store.inTransaction(() => {
      for (let t = 0; t < 400; t++)
        ins.run(
          projectId,
          t * 200,
          t * 160,
          t * 40,
          0.8,
          0.7,
          0.9,
          0.9,
          500,
          '{"strategy":"Entropy"}',
          900,
          300,
        );
    });
    recordTraining(
      store,
      training,
      ids.map((sampleId, i) => ({
        sampleId,
        classIdx: cls(i),
        top: [
          [cls(i), 0.8],
          [(cls(i) + 1) % 10, 0.15],
          [(cls(i) + 2) % 10, 0.05],
        ] as [number, number][],
      })),
      { strategy: 'Entropy', note: 'bench', sampleIds: ids.slice(at(0.93), at(0.93) + 100) },
    );
    return projectId;
  } finally {
    store.close();
  }
}
