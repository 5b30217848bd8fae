/**
 * The dataset registry: one entry point, `loadDataset(spec)`, for the built-in demo, the named
 * datasets (fashion-mnist, mnist) found in the data folders, and any path (image folder, CIFAR
 * folder or .bin, CSV, IDX folder). Subsets (pool/test sizes, the survey's imbalanced pool) are
 * drawn here, reproducibly from the seed.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, extname, join, parse, resolve } from 'node:path';
import { Rng, deriveSeed } from '../../../shared/random.ts';
import type { Dataset, DatasetSplit } from '../types.ts';
import { sampleSize } from '../types.ts';
import { detectCifarFolder, loadCifarFolder, readCifarBatch } from './cifar.ts';
import type { CsvOptions } from './csv.ts';
import { loadCsv } from './csv.ts';
import { makeDemoDataset, DEMO_CLASSES } from './demo.ts';
import { DatasetError } from './errors.ts';
import { describeKind } from './files.ts';
import { loadIdxPair, readIdxLabels } from './idx.ts';
import type { ImageFolderOptions, ImageFolderResult, SkippedFile } from './imageFolder.ts';
import { loadImageFolder } from './imageFolder.ts';

export { DatasetError } from './errors.ts';
export type { SkippedFile } from './imageFolder.ts';

/** How the data was stored. */
export type DatasetFormat = 'demo' | 'idx' | 'cifar-10' | 'cifar-100' | 'image-folder' | 'csv';

/** Options of loadDataset. */
export interface LoadDatasetOptions {
  /** Folder holding named datasets (checked before DEEPAL_DATA_DIR and /usr/share/datasets). */
  dataDir?: string;
  /**
   * The system-wide folders searched last for named datasets (default [/usr/share/datasets]).
   * Tests inject their own, so what a machine has installed cannot change their outcome.
   */
  systemDataDirs?: readonly string[];
  /** Size of the train pool (stratified sample); default all. For 'demo', the number generated. */
  poolSize?: number;
  /** Size of the test set (stratified sample); default all (20% split off for single-file sources). */
  testSize?: number;
  /** Seed of every random choice here (default 0). */
  seed?: number;
  /** Keep class k of the train pool with ratio (k+1)/C (the survey's CIFAR10-imb); test stays balanced. */
  imbalanced?: boolean;
  /** Progress of long reads (image folders). */
  onProgress?: (done: number, total: number, phase: string) => void;
  /** Options passed to the image-folder reader. */
  image?: Omit<ImageFolderOptions, 'onProgress'>;
  /** Options passed to the CSV reader. */
  csv?: CsvOptions;
}

/** A loaded split with what a person needs to know about it. */
export interface LoadedDataset extends DatasetSplit {
  /** One or two sentences: what, how many, and any subset or split made here. */
  description: string;
  /** Where it came from: a path, or "built-in". */
  source: string;
  format: DatasetFormat;
  /** Files left out of an image-folder import (empty otherwise). */
  skipped: SkippedFile[];
}

/** The datasets loadDataset knows by name (besides 'demo'). */
export const NAMED_DATASETS: Record<
  string,
  { title: string; classNames: string[]; install: string }
> = {
  'fashion-mnist': {
    title: 'Fashion-MNIST',
    classNames: [
      'T-shirt/top',
      'Trouser',
      'Pullover',
      'Dress',
      'Coat',
      'Sandal',
      'Shirt',
      'Sneaker',
      'Bag',
      'Ankle boot',
    ],
    install: 'apt install dataset-fashion-mnist',
  },
  mnist: {
    title: 'MNIST',
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    install: 'download the four MNIST IDX files (train/t10k images and labels)',
  },
};

/** The demo draws every sample in memory; beyond this it would only take time and memory. */
export const MAX_DEMO_SAMPLES = 200_000;

/** Default system-wide data folder (Debian's dataset-* packages install here). */
export const SYSTEM_DATA_DIR = '/usr/share/datasets';

/** The IDX files of a folder: train part optional, test part required for a named dataset. */
export interface IdxFiles {
  dir: string;
  trainImages?: string;
  trainLabels?: string;
  testImages?: string;
  testLabels?: string;
}

function findIdxFile(
  dir: string,
  names: string[],
  prefix: string,
  kind: 'images' | 'labels',
): string | undefined {
  const re = new RegExp(`^${prefix}-${kind}[-.]idx${kind === 'images' ? 3 : 1}-ubyte(\\.gz)?$`);
  const hits = names.filter((n) => re.test(n)).sort();
  // Prefer the gzip file when both are present: it is the one distributed.
  const pick = hits.find((n) => n.endsWith('.gz')) ?? hits[0];
  return pick === undefined ? undefined : join(dir, pick);
}

/** The MNIST-style IDX files in `dir` (train-*, t10k-*, as *-ubyte or *-ubyte.gz). */
export function findIdxFiles(dir: string): IdxFiles {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    /* no such folder: no files */
  }
  const out: IdxFiles = { dir };
  const set = (k: keyof Omit<IdxFiles, 'dir'>, v: string | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('trainImages', findIdxFile(dir, names, 'train', 'images'));
  set('trainLabels', findIdxFile(dir, names, 'train', 'labels'));
  set('testImages', findIdxFile(dir, names, 't10k', 'images'));
  set('testLabels', findIdxFile(dir, names, 't10k', 'labels'));
  return out;
}

/**
 * Where a named dataset is: for each base folder (dataDir, DEEPAL_DATA_DIR, then the system
 * folders, by default /usr/share/datasets), `<base>/<name>/` then `<base>/` itself. Throws a
 * DatasetError listing every place searched.
 */
export function findNamedDataset(
  name: string,
  dataDir?: string,
  systemDataDirs: readonly string[] = [SYSTEM_DATA_DIR],
): IdxFiles {
  const bases: { dir: string; system: boolean }[] = [];
  if (dataDir) bases.push({ dir: resolve(dataDir), system: false });
  const env = process.env.DEEPAL_DATA_DIR;
  if (env) bases.push({ dir: resolve(env), system: false });
  for (const dir of systemDataDirs) bases.push({ dir: resolve(dir), system: true });
  const searched: string[] = [];
  for (const { dir: base, system } of bases) {
    // `<base>/` itself only for folders the user named, never the shared system folder.
    const dirs = system ? [join(base, name)] : [join(base, name), base];
    for (const dir of dirs) {
      if (searched.includes(dir)) continue;
      searched.push(dir);
      const files = findIdxFiles(dir);
      if (files.testImages && files.testLabels) return files;
    }
  }
  const info = NAMED_DATASETS[name];
  throw new DatasetError(
    searched[0] ?? name,
    `dataset "${name}" not found: expected t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] ` +
      `(plus train-* for a training set) in one of: ${searched.join(', ')}. ` +
      `Fix: pass --data-dir <folder>, set DEEPAL_DATA_DIR=<folder>, or ${info?.install ?? 'install the dataset'}` +
      (name === 'fashion-mnist'
        ? ''
        : ` (Fashion-MNIST: ${NAMED_DATASETS['fashion-mnist']!.install})`) +
      '.',
  );
}

/** A new Dataset holding the samples at `indices` (in that order). */
export function subsetDataset(d: Dataset, indices: ArrayLike<number>, name = d.name): Dataset {
  const size = sampleSize(d.sampleShape);
  const n = indices.length;
  const x = d.x instanceof Float32Array ? new Float32Array(n * size) : new Uint8Array(n * size);
  const y = new Int32Array(n);
  const ids: string[] | undefined = d.ids ? new Array<string>(n) : undefined;
  for (let k = 0; k < n; k++) {
    const i = indices[k]!;
    if (!(i >= 0 && i < d.y.length))
      throw new RangeError(`subsetDataset: index ${i} outside 0..${d.y.length - 1}`);
    x.set(d.x.subarray(i * size, (i + 1) * size), k * size);
    y[k] = d.y[i]!;
    if (ids) ids[k] = d.ids![i]!;
  }
  const out: Dataset = {
    name,
    x,
    y,
    sampleShape: [...d.sampleShape],
    classNames: [...d.classNames],
  };
  if (ids) out.ids = ids;
  return out;
}

/** Indices per label value (-1 = unknown is its own group), groups in ascending label order. */
function groupsOf(y: Int32Array): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < y.length; i++) {
    const g = groups.get(y[i]!);
    if (g) g.push(i);
    else groups.set(y[i]!, [i]);
  }
  return new Map([...groups.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * k indices drawn without replacement, stratified by label: each class gets its proportional
 * share (largest remainders break the rounding), drawn at random from the seed. Sorted ascending.
 */
export function stratifiedSample(y: Int32Array, k: number, rng: Rng): Int32Array {
  const n = y.length;
  if (!Number.isInteger(k) || k < 0 || k > n)
    throw new RangeError(`stratifiedSample: k must be in 0..${n}, got ${k}`);
  const groups = [...groupsOf(y).values()];
  const quotas = groups.map((g) => (k * g.length) / n);
  const counts = quotas.map(Math.floor);
  let left = k - counts.reduce((a, b) => a + b, 0);
  const order = quotas
    .map((q, i) => [q - Math.floor(q), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left === 0) break;
    counts[i]!++;
    left--;
  }
  const picked: number[] = [];
  groups.forEach((g, i) => {
    for (const idx of rng.sample(g, counts[i]!)) picked.push(idx);
  });
  return Int32Array.from(picked).sort();
}

/** The survey's imbalanced pool: class k keeps round(count * (k+1)/C) of its samples (at least 1). */
export function imbalancedIndices(y: Int32Array, numClasses: number, rng: Rng): Int32Array {
  const picked: number[] = [];
  for (const [label, idx] of groupsOf(y)) {
    const keep =
      label < 0 ? idx.length : Math.max(1, Math.round((idx.length * (label + 1)) / numClasses));
    for (const i of rng.sample(idx, keep)) picked.push(i);
  }
  return Int32Array.from(picked).sort();
}

/** Content hash (sha256, hex) over dtype, sample shape, labels and values; the name is not part of it. */
export function datasetFingerprint(d: Dataset): string {
  const h = createHash('sha256');
  const dtype = d.x instanceof Float32Array ? 'float32' : 'uint8';
  h.update(JSON.stringify({ v: 1, dtype, shape: d.sampleShape, n: d.y.length }));
  h.update(new Uint8Array(d.y.buffer, d.y.byteOffset, d.y.byteLength));
  h.update(new Uint8Array(d.x.buffer, d.x.byteOffset, d.x.byteLength));
  return h.digest('hex');
}

/** Counts per class, for display. */
export interface DatasetSummary {
  name: string;
  size: number;
  sampleShape: number[];
  classCounts: { name: string; count: number }[];
  unlabeled: number;
  /** e.g. "fashion-mnist/train: 60000 samples of 28x28x1; T-shirt/top 6000, Trouser 6000, ..." */
  text: string;
}

/** Samples per class (and unlabeled) of a dataset. */
export function describeDataset(d: Dataset): DatasetSummary {
  const counts = new Array<number>(d.classNames.length).fill(0);
  let unlabeled = 0;
  for (const v of d.y) {
    if (v >= 0 && v < counts.length) counts[v]!++;
    else unlabeled++;
  }
  const classCounts = d.classNames.map((name, i) => ({ name, count: counts[i]! }));
  const parts = classCounts.map((c) => `${c.name} ${c.count}`);
  if (unlabeled > 0) parts.push(`unlabeled ${unlabeled}`);
  return {
    name: d.name,
    size: d.y.length,
    sampleShape: [...d.sampleShape],
    classCounts,
    unlabeled,
    text: `${d.name}: ${d.y.length} samples of ${d.sampleShape.join('x')}; ${parts.join(', ')}`,
  };
}

function checkSize(
  what: string,
  value: number | undefined,
  available: number,
  source: string,
): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 1)
    throw new DatasetError(source, `${what} must be a positive integer, found ${value}`);
  if (value > available) {
    throw new DatasetError(
      source,
      `${what} ${value} is larger than the ${available} samples available; choose at most ${available}`,
    );
  }
}

/** The positions of a stratified test set of `testCount` and of the rest, both ascending. */
function splitPositions(
  y: Int32Array,
  testCount: number,
  rng: Rng,
): { train: Int32Array; test: Int32Array } {
  const test = stratifiedSample(y, testCount, rng);
  const inTest = new Uint8Array(y.length);
  for (const i of test) inTest[i] = 1;
  const train: number[] = [];
  for (let i = 0; i < y.length; i++) if (!inTest[i]) train.push(i);
  return { train: Int32Array.from(train), test };
}

/** Splits one dataset into train and test (stratified), for sources without a test set. */
function splitOff(d: Dataset, testCount: number, rng: Rng): DatasetSplit {
  const { train, test } = splitPositions(d.y, testCount, rng);
  return {
    train: subsetDataset(d, train, `${d.name}/train`),
    test: subsetDataset(d, test, `${d.name}/test`),
  };
}

/**
 * The pool loadDataset keeps of a training set with labels `y`, as positions into it: the
 * imbalanced pool (if asked), then the stratified pool of `poolSize`, with the same generators
 * as loadDataset's steps on the dataset itself, so either way picks the same samples.
 */
function poolPositions(
  y: Int32Array,
  numClasses: number,
  opts: LoadDatasetOptions,
  seed: number,
  source: string,
): { positions: Int32Array; notes: string[] } {
  let positions = Int32Array.from(y, (_, i) => i);
  const notes: string[] = [];
  const pick = (sel: Int32Array) => (positions = Int32Array.from(sel, (k) => positions[k]!));
  if (opts.imbalanced) {
    const before = positions.length;
    pick(imbalancedIndices(y, numClasses, new Rng(deriveSeed(seed, 'imbalanced'))));
    notes.push(
      `imbalanced pool: class k kept with ratio (k+1)/${numClasses}, ${before} -> ${positions.length}`,
    );
  }
  if (opts.poolSize !== undefined) {
    checkSize('poolSize', opts.poolSize, positions.length, source);
    if (opts.poolSize < positions.length) {
      const ys = Int32Array.from(positions, (i) => y[i]!);
      pick(stratifiedSample(ys, opts.poolSize, new Rng(deriveSeed(seed, 'pool'))));
      notes.push(`pool: stratified sample of ${opts.poolSize}`);
    }
  }
  return { positions, notes };
}

/**
 * An image folder's rows `positions` (among its usable files) as a dataset, from `r`, which
 * decoded only some of them (`keep`): a file that failed to decode is left out (it is in
 * r.skipped).
 */
function rowsOf(r: ImageFolderResult, positions: Int32Array, name: string): Dataset {
  const rowAt = new Map<number, number>();
  r.rows.forEach((p, row) => rowAt.set(p, row));
  const rows: number[] = [];
  for (const p of positions) {
    const row = rowAt.get(p);
    if (row !== undefined) rows.push(row);
  }
  return subsetDataset(r.dataset, rows, name);
}

interface RawLoaded {
  split: DatasetSplit;
  description: string;
  source: string;
  format: DatasetFormat;
  skipped: SkippedFile[];
  /** True when test came from the source; false when split off here. */
  nativeTest: boolean;
  /**
   * Set when the loader already drew the pool (the imbalanced and `poolSize` steps) and maybe the
   * test sample (an image folder decodes only the files they keep): what loadDataset's own steps
   * would have said, and whether the test step was among them.
   */
  sampled?: { notes: string[]; test: boolean };
}

/** A single set: labeled data gets a stratified test set split off; unlabeled data stays whole. */
function fromSingle(
  d: Dataset,
  opts: LoadDatasetOptions,
  seed: number,
): { split: DatasetSplit; note: string } {
  const labeled = d.y.some((v) => v >= 0);
  if (!labeled || d.y.length < 2) {
    const empty = subsetDataset(d, [], `${d.name}/test`);
    return { split: { train: d, test: empty }, note: 'no labels, so no test set was split off' };
  }
  const testCount = opts.testSize ?? Math.max(1, Math.round(d.y.length * 0.2));
  checkSize('testSize', testCount, d.y.length - 1, d.name);
  const split = splitOff(d, testCount, new Rng(deriveSeed(seed, 'split-test')));
  return { split, note: `a stratified test set of ${testCount} was split off (seed ${seed})` };
}

function loadNamed(name: string, opts: LoadDatasetOptions, seed: number): RawLoaded {
  const info = NAMED_DATASETS[name]!;
  const files = findNamedDataset(name, opts.dataDir, opts.systemDataDirs);
  const test = loadIdxPair(files.testImages!, files.testLabels!, info.classNames, `${name}/test`);
  if (files.trainImages && files.trainLabels) {
    const train = loadIdxPair(
      files.trainImages,
      files.trainLabels,
      info.classNames,
      `${name}/train`,
    );
    return {
      split: { train, test },
      description: `${info.title}: ${train.y.length} training and ${test.y.length} test images, ${test.sampleShape.join('x')}, ${info.classNames.length} classes`,
      source: files.dir,
      format: 'idx',
      skipped: [],
      nativeTest: true,
    };
  }
  // MNIST's training images may be absent (only t10k images in some data folders): make a pool
  // from the test set rather than refuse, and say so.
  const testCount = opts.testSize ?? Math.round(test.y.length * 0.2);
  checkSize('testSize', testCount, test.y.length - 1, files.dir);
  const split = splitOff(test, testCount, new Rng(deriveSeed(seed, name, 'split-test')));
  split.train.name = `${name}/t10k-pool`;
  split.test.name = `${name}/t10k-test`;
  return {
    split,
    description:
      `${info.title}: no training images in ${files.dir}, so its ${test.y.length} test images were split ` +
      `(stratified, seed ${seed}) into a pool of ${split.train.y.length} and a test set of ${split.test.y.length}; ` +
      `${test.sampleShape.join('x')}, ${info.classNames.length} classes`,
    source: files.dir,
    format: 'idx',
    skipped: [],
    nativeTest: false,
  };
}

function idxClassNames(dir: string, labelFiles: string[]): string[] {
  const named = NAMED_DATASETS[basename(dir).toLowerCase()];
  if (named) return named.classNames;
  let max = 0;
  for (const f of labelFiles) for (const v of readIdxLabels(f).labels) max = Math.max(max, v);
  return Array.from({ length: max + 1 }, (_, i) => String(i));
}

function loadIdxFolder(
  dir: string,
  files: IdxFiles,
  opts: LoadDatasetOptions,
  seed: number,
): RawLoaded {
  const pairs = (
    [
      ['train', files.trainImages, files.trainLabels],
      ['test', files.testImages, files.testLabels],
    ] as const
  ).filter(([, i, l]) => i && l) as unknown as Array<[string, string, string]>;
  if (pairs.length === 0) {
    throw new DatasetError(
      dir,
      'expected IDX image and label files with matching names (train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz], or t10k-*), found an incomplete pair',
    );
  }
  const classNames = idxClassNames(
    dir,
    pairs.map((p) => p[2]),
  );
  const sets = pairs.map(([part, i, l]) =>
    loadIdxPair(i, l, classNames, `${basename(dir)}/${part}`),
  );
  if (sets.length === 2) {
    return {
      split: { train: sets[0]!, test: sets[1]! },
      description: `IDX dataset ${basename(dir)}: ${sets[0]!.y.length} train and ${sets[1]!.y.length} test samples`,
      source: dir,
      format: 'idx',
      skipped: [],
      nativeTest: true,
    };
  }
  const { split, note } = fromSingle(sets[0]!, opts, seed);
  return {
    split,
    description: `IDX dataset ${basename(dir)}: ${sets[0]!.y.length} samples; ${note}`,
    source: dir,
    format: 'idx',
    skipped: [],
    nativeTest: false,
  };
}

/** Re-labels `d` (whose classes are `d.classNames`) to `classNames`, by name. */
function alignClasses(d: Dataset, classNames: string[], source: string): Dataset {
  const map = d.classNames.map((c) => classNames.indexOf(c));
  const bad = d.classNames.filter((_, i) => map[i]! < 0);
  if (bad.length > 0)
    throw new DatasetError(
      source,
      `test classes ${bad.join(', ')} are not among the train classes (${classNames.join(', ')})`,
    );
  const y = Int32Array.from(d.y, (v) => (v < 0 ? -1 : map[v]!));
  return { ...d, y, classNames: [...classNames] };
}

/**
 * Folders never read as a dataset: walking the root of a drive or a kernel's virtual folders
 * would read the whole disk (or never end) before finding out they hold no dataset.
 */
const SYSTEM_FOLDERS = new Set(['/proc', '/sys', '/dev', '/run']);

/** Refuses the root of a drive and the system's virtual folders, before anything is read there. */
export function refuseSystemFolder(path: string): void {
  const p = resolve(path);
  if (p === parse(p).root || SYSTEM_FOLDERS.has(p.replace(/[\\/]+$/, ''))) {
    throw new DatasetError(
      p,
      "is the root of the drive or a system folder, not a dataset: choose the dataset's own folder",
    );
  }
}

/** The names in a folder, or a DatasetError that says why they cannot be listed. */
function listFolder(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetError(
      path,
      code === 'EACCES' || code === 'EPERM'
        ? 'cannot list the folder: permission denied; check that you may read it'
        : `cannot list the folder (the system says ${code ?? (err as Error).message})`,
      { cause: err },
    );
  }
}

/** Is `name` inside `dir` a folder? A broken link or an unreadable entry is not (the reader skips it). */
function isFolder(dir: string, name: string): boolean {
  let st: Stats;
  try {
    st = statSync(join(dir, name));
  } catch {
    return false;
  }
  return st.isDirectory();
}

async function loadPath(spec: string, opts: LoadDatasetOptions, seed: number): Promise<RawLoaded> {
  const path = resolve(spec);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new DatasetError(
      path,
      `not a known dataset name (demo, ${Object.keys(NAMED_DATASETS).join(', ')}) and no such file or folder; ` +
        'expected a name, an image folder, a CIFAR folder or .bin file, a .csv file, or a folder of IDX files',
    );
  }
  if (!st.isFile() && !st.isDirectory()) {
    throw new DatasetError(
      path,
      `is ${describeKind(st)}, not a dataset file or folder; expected an image folder, a CIFAR folder or .bin file, a .csv file, or a folder of IDX files`,
    );
  }
  if (st.isDirectory()) refuseSystemFolder(path);
  const progress = opts.onProgress;
  if (st.isFile()) {
    const ext = extname(path).toLowerCase();
    if (ext === '.csv') {
      const d = loadCsv(path, { name: basename(path), ...opts.csv });
      const { split, note } = fromSingle(d, opts, seed);
      return {
        split,
        description: `CSV ${basename(path)}: ${d.y.length} rows of ${d.sampleShape[0]} features, ${d.classNames.length} classes; ${note}`,
        source: path,
        format: 'csv',
        skipped: [],
        nativeTest: false,
      };
    }
    if (ext === '.bin') {
      const d = readCifarBatch(path);
      const format = d.classNames.length === 10 ? 'cifar-10' : 'cifar-100';
      const { split, note } = fromSingle(d, opts, seed);
      return {
        split,
        description: `${format.toUpperCase()} batch ${basename(path)}: ${d.y.length} images; ${note}`,
        source: path,
        format,
        skipped: [],
        nativeTest: false,
      };
    }
    if (/-images[-.]idx3-ubyte(\.gz)?$/.test(basename(path))) {
      const dir = dirname(path);
      const files = findIdxFiles(dir);
      const part = basename(path).startsWith('t10k') ? 'test' : 'train';
      const only: IdxFiles =
        part === 'test'
          ? { dir, testImages: path, testLabels: files.testLabels }
          : { dir, trainImages: path, trainLabels: files.trainLabels };
      return loadIdxFolder(dir, only, opts, seed);
    }
    throw new DatasetError(
      path,
      `unrecognised file type "${ext || basename(path)}": expected a .csv file, a CIFAR .bin batch, an IDX images file, or a folder`,
    );
  }

  const cifar = detectCifarFolder(path);
  if (cifar) {
    const s = loadCifarFolder(path);
    return {
      split: { train: s.train, test: s.test },
      description: `${cifar.toUpperCase()} (${basename(path)}): ${s.train.y.length} training and ${s.test.y.length} test images, 32x32x3, ${s.train.classNames.length} classes`,
      source: path,
      format: s.variant,
      skipped: [],
      nativeTest: true,
    };
  }
  const idx = findIdxFiles(path);
  if (idx.trainImages || idx.testImages) return loadIdxFolder(path, idx, opts, seed);
  const names = listFolder(path);
  const csvs = names.filter((n) => n.toLowerCase().endsWith('.csv')).sort();
  if (csvs.includes('train.csv') && csvs.includes('test.csv')) {
    const train = loadCsv(join(path, 'train.csv'), {
      name: `${basename(path)}/train`,
      ...opts.csv,
    });
    // Aligned by class name, not by index: integer labels name their classes by value.
    const test = alignClasses(
      loadCsv(join(path, 'test.csv'), { name: `${basename(path)}/test`, ...opts.csv }),
      train.classNames,
      join(path, 'test.csv'),
    );
    return {
      split: { train, test },
      description: `CSV ${basename(path)}: ${train.y.length} train and ${test.y.length} test rows of ${train.sampleShape[0]} features`,
      source: path,
      format: 'csv',
      skipped: [],
      nativeTest: true,
    };
  }
  const subdirs = names.filter((n) => !n.startsWith('.') && isFolder(path, n));
  if (csvs.length === 1 && subdirs.length === 0) return loadPath(join(path, csvs[0]!), opts, seed);
  const testDir = ['test', 'val', 'valid', 'validation'].find((n) => subdirs.includes(n));
  if (subdirs.includes('train') && testDir) {
    const imageOpts = {
      ...opts.image,
      onProgress: (d: number, t: number, p: string) => progress?.(d, t, `train ${p}`),
    };
    const trainPool = drawPool(opts, seed, path);
    const trainR = await loadImageFolder(join(path, 'train'), {
      name: `${basename(path)}/train`,
      ...imageOpts,
      ...(trainPool.keep ? { keep: trainPool.keep } : {}),
    });
    const train = trainPool.drawn
      ? { ...trainR, dataset: rowsOf(trainR, trainPool.drawn.positions, trainR.dataset.name) }
      : trainR;
    const size = opts.image?.size ?? (train.dataset.sampleShape.slice(0, 2) as [number, number]);
    const channels = opts.image?.channels ?? (train.dataset.sampleShape[2] as 1 | 3);
    // The test set's sample is drawn from its file list too, on the labels as aligned with the
    // training classes (as loadDataset draws it after alignClasses).
    let testDrawn: Int32Array | null = null;
    const testR = await loadImageFolder(join(path, testDir), {
      name: `${basename(path)}/${testDir}`,
      ...opts.image,
      size,
      channels,
      onProgress: (d, t, p) => progress?.(d, t, `${testDir} ${p}`),
      ...(opts.testSize !== undefined && train.labeled
        ? {
            keep: (y: Int32Array, names: readonly string[]) => {
              const map = names.map((c) => train.dataset.classNames.indexOf(c));
              const all = Int32Array.from(y, (_, i) => i);
              // Unlabeled or unknown classes: decoded whole, and refused or kept as before.
              if (!y.some((v) => v >= 0) || map.some((m) => m < 0)) return all;
              checkSize('testSize', opts.testSize, y.length, path);
              if (opts.testSize! >= y.length) return all;
              const aligned = Int32Array.from(y, (v) => (v < 0 ? -1 : map[v]!));
              testDrawn = stratifiedSample(
                aligned,
                opts.testSize!,
                new Rng(deriveSeed(seed, 'test')),
              );
              return testDrawn;
            },
          }
        : {}),
    });
    const testAll =
      train.labeled && testR.labeled
        ? alignClasses(testR.dataset, train.dataset.classNames, join(path, testDir))
        : testR.dataset;
    const test = testDrawn
      ? rowsOf({ ...testR, dataset: testAll }, testDrawn, testAll.name)
      : testAll;
    const skipped = [
      ...train.skipped.map((s) => ({ ...s, file: `train/${s.file}` })),
      ...testR.skipped.map((s) => ({ ...s, file: `${testDir}/${s.file}` })),
    ];
    return {
      split: { train: train.dataset, test },
      description: `Image folder ${basename(path)}: ${trainPool.drawn?.of ?? train.dataset.y.length} train and ${test.y.length} ${testDir} images at ${train.dataset.sampleShape.join('x')}, ${train.dataset.classNames.length} classes${skipped.length ? `; ${skipped.length} files skipped` : ''}`,
      source: path,
      format: 'image-folder',
      skipped,
      nativeTest: true,
      ...(trainPool.drawn || testDrawn
        ? {
            sampled: {
              notes: [
                ...(trainPool.drawn?.notes ?? []),
                ...(testDrawn ? [`test: stratified sample of ${opts.testSize}`] : []),
              ],
              test: testDrawn !== null,
            },
          }
        : {}),
    };
  }
  // One folder: a labeled one gets its test set split off, then its pool is drawn; when a pool is
  // asked for, only the files of the pool and the test set are decoded.
  const plan: {
    drawn: {
      train: Int32Array;
      test: Int32Array;
      notes: string[];
      note: string;
      of: number;
    } | null;
  } = { drawn: null };
  const sampling = opts.poolSize !== undefined || opts.imbalanced;
  const r = await loadImageFolder(path, {
    name: basename(path),
    ...opts.image,
    onProgress: (d, t, p) => progress?.(d, t, p),
    ...(sampling
      ? {
          keep: (y: Int32Array, classNames: readonly string[]) => {
            if (!y.some((v) => v >= 0) || y.length < 2) return Int32Array.from(y, (_, i) => i);
            const testCount = opts.testSize ?? Math.max(1, Math.round(y.length * 0.2));
            checkSize('testSize', testCount, y.length - 1, path);
            const split = splitPositions(y, testCount, new Rng(deriveSeed(seed, 'split-test')));
            const pool = poolPositions(
              Int32Array.from(split.train, (i) => y[i]!),
              classNames.length,
              opts,
              seed,
              path,
            );
            const train = Int32Array.from(pool.positions, (k) => split.train[k]!);
            plan.drawn = {
              train,
              test: split.test,
              notes: pool.notes,
              note: `a stratified test set of ${testCount} was split off (seed ${seed})`,
              of: y.length,
            };
            return Int32Array.from([...train, ...split.test]).sort();
          },
        }
      : {}),
  });
  const labels = r.labeled ? `${r.dataset.classNames.length} classes` : 'unlabeled';
  const skippedNote = r.skipped.length ? `; ${r.skipped.length} files skipped` : '';
  const sampledBy = plan.drawn;
  if (sampledBy) {
    const name = r.dataset.name;
    return {
      split: {
        train: rowsOf(r, sampledBy.train, `${name}/train`),
        test: rowsOf(r, sampledBy.test, `${name}/test`),
      },
      description: `Image folder ${basename(path)}: ${sampledBy.of} images at ${r.dataset.sampleShape.join('x')} (the ${r.dataset.y.length} of the test set and the pool decoded), ${labels}; ${sampledBy.note}${skippedNote}`,
      source: path,
      format: 'image-folder',
      skipped: r.skipped,
      nativeTest: false,
      sampled: { notes: sampledBy.notes, test: false },
    };
  }
  const { split, note } = fromSingle(r.dataset, opts, seed);
  return {
    split,
    description: `Image folder ${basename(path)}: ${r.dataset.y.length} images at ${r.dataset.sampleShape.join('x')}, ${labels}; ${note}${skippedNote}`,
    source: path,
    format: 'image-folder',
    skipped: r.skipped,
    nativeTest: false,
  };
}

/**
 * For a labeled training folder: the `keep` that decodes only the pool loadDataset would draw
 * (imbalanced, then poolSize), and once it ran, what it drew. No keep when no pool is asked for.
 */
function drawPool(
  opts: LoadDatasetOptions,
  seed: number,
  source: string,
): {
  keep?: (y: Int32Array, classNames: readonly string[]) => Int32Array;
  drawn: { positions: Int32Array; notes: string[]; of: number } | null;
} {
  const out: ReturnType<typeof drawPool> = { drawn: null };
  if (opts.poolSize === undefined && !opts.imbalanced) return out;
  out.keep = (y, classNames) => {
    if (!y.some((v) => v >= 0)) return Int32Array.from(y, (_, i) => i);
    const pool = poolPositions(y, classNames.length, opts, seed, source);
    out.drawn = { ...pool, of: y.length };
    return pool.positions;
  };
  return out;
}

/** Where the images of an image-folder dataset are: one folder, or a train and a test folder. */
export interface ImageFolderLayout {
  /** The dataset's folder (the source stored with an import). */
  root: string;
  /** One part (a single folder: a test set is split off labeled data) or train and test. */
  parts: { split: 'train' | 'test'; dir: string; name: string }[];
}

/**
 * The image folders `spec` would be read from, or null when loadDataset reads it another way (a
 * name, a file, a CIFAR, IDX or CSV folder). The same checks as loadPath's, in the same order,
 * from one listing of the folder (no stat per file), so the preview and the import of a folder of
 * 100,000 images can list its files instead of decoding them.
 */
export function imageFolderLayout(spec: string): ImageFolderLayout | null {
  const key = spec.trim().toLowerCase();
  if (key === 'demo' || NAMED_DATASETS[key]) return null;
  const path = resolve(spec);
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  if (!st.isDirectory()) return null;
  refuseSystemFolder(path);
  if (detectCifarFolder(path)) return null;
  const idx = findIdxFiles(path);
  if (idx.trainImages || idx.testImages) return null;
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return null;
  }
  const names = entries.map((e) => e.name);
  const csvs = names.filter((n) => n.toLowerCase().endsWith('.csv'));
  if (csvs.includes('train.csv') && csvs.includes('test.csv')) return null;
  const subdirs = entries
    .filter(
      (e) =>
        !e.name.startsWith('.') &&
        (e.isDirectory() || (e.isSymbolicLink() && isFolder(path, e.name))),
    )
    .map((e) => e.name);
  if (csvs.length === 1 && subdirs.length === 0) return null;
  const testDir = ['test', 'val', 'valid', 'validation'].find((n) => subdirs.includes(n));
  if (subdirs.includes('train') && testDir) {
    return {
      root: path,
      parts: [
        { split: 'train', dir: join(path, 'train'), name: `${basename(path)}/train` },
        { split: 'test', dir: join(path, testDir), name: `${basename(path)}/${testDir}` },
      ],
    };
  }
  return { root: path, parts: [{ split: 'train', dir: path, name: basename(path) }] };
}

/**
 * Checks, without reading any data, that a dataset spec names something that exists: 'demo', a
 * named dataset found in the data folders, or a file or folder that is not a system folder.
 * Throws the DatasetError loading would throw, so a typo is refused before a study is created.
 */
export function checkDatasetSpec(
  spec: string,
  opts: Pick<LoadDatasetOptions, 'dataDir' | 'systemDataDirs'> = {},
): void {
  const key = spec.trim().toLowerCase();
  if (key === 'demo') return;
  if (NAMED_DATASETS[key]) {
    findNamedDataset(key, opts.dataDir, opts.systemDataDirs);
    return;
  }
  const path = resolve(spec);
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    throw new DatasetError(
      path,
      `not a known dataset name (demo, ${Object.keys(NAMED_DATASETS).join(', ')}) and no such file or folder; ` +
        'expected a name, an image folder, a CIFAR folder or .bin file, a .csv file, or a folder of IDX files',
    );
  }
  if (!st.isFile() && !st.isDirectory())
    throw new DatasetError(
      path,
      `is ${describeKind(st)}, not a dataset file or folder; expected an image folder, a CIFAR folder or .bin file, a .csv file, or a folder of IDX files`,
    );
  if (st.isDirectory()) refuseSystemFolder(path);
}

/**
 * Loads a dataset by spec: 'demo', a named dataset ('fashion-mnist', 'mnist'), or a path. Then,
 * reproducibly from `seed`: the imbalanced pool (if asked), a stratified pool of `poolSize`, and
 * a stratified test set of `testSize`.
 */
export async function loadDataset(
  spec: string,
  opts: LoadDatasetOptions = {},
): Promise<LoadedDataset> {
  const seed = opts.seed ?? 0;
  let raw: RawLoaded;
  const key = spec.trim().toLowerCase();
  if (key === 'demo') {
    for (const [what, n] of [
      ['poolSize', opts.poolSize],
      ['testSize', opts.testSize],
    ] as const) {
      if (n === undefined) continue;
      if (!Number.isInteger(n) || n < 1 || n > MAX_DEMO_SAMPLES)
        throw new DatasetError(
          'demo',
          `the built-in demo generates at most ${MAX_DEMO_SAMPLES} samples per set; asked for ${what} ${n}: choose a ${what} from 1 to ${MAX_DEMO_SAMPLES}`,
        );
    }
    const split = makeDemoDataset({
      trainSize: opts.poolSize ?? 6000,
      testSize: opts.testSize ?? 2000,
      seed,
    });
    raw = {
      split,
      description: `Built-in demo: ${split.train.y.length} training and ${split.test.y.length} test drawings of ${DEMO_CLASSES.length} shapes (${DEMO_CLASSES.join(', ')}), 28x28x1, generated from seed ${seed}`,
      source: 'built-in',
      format: 'demo',
      skipped: [],
      nativeTest: true,
    };
  } else if (NAMED_DATASETS[key]) {
    // Names win over same-named folders in the working directory; write ./mnist for the folder.
    raw = loadNamed(key, opts, seed);
  } else {
    raw = await loadPath(spec, opts, seed);
  }

  let { train, test } = raw.split;
  const notes: string[] = [...(raw.sampled?.notes ?? [])];
  if (!raw.sampled) {
    // The same steps an image folder takes on its file list (poolPositions); the demo generates
    // its pool at the asked size.
    const pool = poolPositions(
      train.y,
      train.classNames.length,
      raw.format === 'demo' ? { ...opts, poolSize: undefined } : opts,
      seed,
      raw.source,
    );
    if (pool.notes.length > 0) train = subsetDataset(train, pool.positions, train.name);
    notes.push(...pool.notes);
  }
  if (
    opts.testSize !== undefined &&
    raw.nativeTest &&
    raw.format !== 'demo' &&
    !raw.sampled?.test
  ) {
    checkSize('testSize', opts.testSize, test.y.length, raw.source);
    if (opts.testSize < test.y.length) {
      test = subsetDataset(
        test,
        stratifiedSample(test.y, opts.testSize, new Rng(deriveSeed(seed, 'test'))),
        test.name,
      );
      notes.push(`test: stratified sample of ${opts.testSize}`);
    }
  }
  const description =
    notes.length > 0
      ? `${raw.description}. Seed ${seed}: ${notes.join('; ')}.`
      : `${raw.description}.`;
  return { train, test, description, source: raw.source, format: raw.format, skipped: raw.skipped };
}
