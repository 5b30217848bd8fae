/**
 * Preview and import of image folders without decoding them. An import stores each image's path,
 * class and split and a fingerprint of the files (path, size, modification time), so its time and
 * memory grow with the number of files, never with their pixels; pixels are read later, at the
 * size a model or the labeling screen needs. A preview lists the folder, reads the headers of a
 * spread sample and decodes only its thumbnails.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { DatasetPreview, Thumbnail } from '../../shared/contract.ts';
import { deriveSeed, Rng } from '../../shared/random.ts';
import { stratifiedSample, type ImageFolderLayout } from '../ml/datasets/index.ts';
import {
  decodeSmall,
  indexImageFolder,
  type ImageFolderIndex,
  type SkippedFile,
} from '../ml/datasets/imageFolder.ts';
import { DatasetError } from '../ml/datasets/errors.ts';

/** Headers read by a preview (spread over the folder): enough for the common size. */
const PREVIEW_HEADERS = 240;
/** Longer side of a preview thumbnail. */
const THUMB_SIDE = 96;

interface Row {
  split: 'train' | 'test';
  /** Position within its split. */
  idx: number;
  abs: string;
  rel: string;
  label: number;
}

export interface FolderRead {
  root: string;
  description: string;
  classNames: string[];
  size: [number, number];
  channels: 1 | 3;
  rows: Row[];
  skipped: SkippedFile[];
  /** The train part's index (headers read), for thumbnails and fingerprints. */
  parts: ImageFolderIndex[];
  /** Files counted (a preview reads only some headers; an import all of them). */
  files: number;
}

/** Which of `y` (labels, -1 unknown) a single labeled folder keeps as its test set, as loadDataset splits. */
function splitOff(y: Int32Array): Uint8Array {
  const inTest = new Uint8Array(y.length);
  if (!y.some((v) => v >= 0) || y.length < 2) return inTest;
  const testCount = Math.max(1, Math.round(y.length * 0.2));
  for (const i of stratifiedSample(y, testCount, new Rng(deriveSeed(0, 'split-test'))))
    inTest[i] = 1;
  return inTest;
}

/**
 * Read an image folder's layout: every file (`headers: 'all'`, an import: only files whose header
 * reads are kept) or its listing with a sample of headers (a preview: every listed file counts).
 */
export async function readFolder(
  layout: ImageFolderLayout,
  headers: 'all' | number,
  progress: (done: number, total: number) => void,
  signal: AbortSignal,
): Promise<FolderRead> {
  const parts: ImageFolderIndex[] = [];
  for (const part of layout.parts) {
    parts.push(
      await indexImageFolder(part.dir, {
        headers,
        signal,
        onProgress: progress,
      }),
    );
  }
  const train = parts[0]!;
  const classNames = train.listing.labeled ? train.listing.classNames : [];
  const skipped: SkippedFile[] = [];
  const rows: Row[] = [];
  // Every usable file when every header was read; else (a large folder's preview) every file listed.
  const files = (p: ImageFolderIndex) => (p.complete ? p.images : p.listing.candidates);
  if (parts.length === 1) {
    const list = files(train);
    const inTest = splitOff(Int32Array.from(list, (f) => f.label));
    const at = { train: 0, test: 0 };
    // Train in folder order, then the test set (in folder order), as loadDataset's split.
    for (const split of ['train', 'test'] as const)
      list.forEach((f, i) => {
        if ((inTest[i] === 1) === (split === 'test'))
          rows.push({ split, idx: at[split]++, abs: f.abs, rel: f.rel, label: f.label });
      });
    skipped.push(...train.skipped);
  } else {
    const test = parts[1]!;
    const testNames = test.listing.labeled ? test.listing.classNames : [];
    const map = testNames.map((c) => classNames.indexOf(c));
    const bad = testNames.filter((_, i) => map[i]! < 0);
    if (train.listing.labeled && test.listing.labeled && bad.length > 0) {
      throw new DatasetError(
        layout.parts[1]!.dir,
        `test classes ${bad.join(', ')} are not among the train classes (${classNames.join(', ')})`,
      );
    }
    files(train).forEach((f, i) =>
      rows.push({ split: 'train', idx: i, abs: f.abs, rel: f.rel, label: f.label }),
    );
    files(test).forEach((f, i) =>
      rows.push({
        split: 'test',
        idx: i,
        abs: f.abs,
        rel: f.rel,
        label: f.label < 0 || !train.listing.labeled ? -1 : map[f.label]!,
      }),
    );
    const testDir = basename(layout.parts[1]!.dir);
    skipped.push(
      ...train.skipped.map((s) => ({ ...s, file: `train/${s.file}` })),
      ...test.skipped.map((s) => ({ ...s, file: `${testDir}/${s.file}` })),
    );
  }
  const [h, w] = train.size;
  const channels = parts.some((p) => p.channels === 3) ? 3 : 1;
  const nTrain = rows.filter((r) => r.split === 'train').length;
  const nTest = rows.length - nTrain;
  const shape = `${h}x${w}x${channels}`;
  const skippedNote = skipped.length ? `; ${skipped.length} files skipped` : '';
  const name = basename(layout.root);
  const description =
    parts.length === 1
      ? `Image folder ${name}: ${rows.length} images at ${shape}, ${classNames.length > 0 ? `${classNames.length} classes` : 'unlabeled'}; ${nTest > 0 ? `a stratified test set of ${nTest} was split off (seed 0)` : 'no labels, so no test set was split off'}${skippedNote}.`
      : `Image folder ${name}: ${nTrain} train and ${nTest} ${basename(layout.parts[1]!.dir)} images at ${shape}, ${classNames.length} classes${skippedNote}.`;
  return {
    root: layout.root,
    description,
    classNames,
    size: train.size,
    channels,
    rows,
    skipped,
    parts,
    files: rows.length,
  };
}

/** The preview of an image folder: counts from its listing, size from a sample of headers. */
export async function previewFolder(
  layout: ImageFolderLayout,
  path: string,
  progress: (done: number, total: number) => void,
  signal: AbortSignal,
): Promise<DatasetPreview> {
  const read = await readFolder(layout, PREVIEW_HEADERS, progress, signal);
  const { classNames, rows } = read;
  const count = (split: 'train' | 'test', k: number) =>
    rows.reduce((n, r) => n + (r.split === split && r.label === k ? 1 : 0), 0);
  const classes = classNames.map((name, k) => ({
    name,
    train: count('train', k),
    test: count('test', k),
  }));
  const trainRows = rows.filter((r) => r.split === 'train');
  const testCount = rows.length - trainRows.length;
  const notes: string[] = [];
  if (testCount === 0 && classNames.length > 0)
    notes.push('No test split was found; studies hold out part of the pool instead.');
  const counts = classes.map((c) => c.train).filter((n) => n > 0);
  let largest = 0;
  let smallest = Infinity;
  for (const n of counts) {
    largest = Math.max(largest, n);
    smallest = Math.min(smallest, n);
  }
  if (counts.length > 1 && largest > 5 * smallest)
    notes.push('The classes are strongly imbalanced (largest over 5x the smallest).');
  if (classes.some((c) => c.train === 0)) notes.push('Some classes have no training samples.');
  const unlabeled = trainRows.reduce((n, r) => n + (r.label < 0 ? 1 : 0), 0);
  if (unlabeled > 0)
    notes.push(
      classNames.length === 0
        ? `No class labels: all ${unlabeled} images are unlabeled (a flat folder). Import them to label them; a study needs labeled data.`
        : `${unlabeled} samples have no label.`,
    );
  const sampled = read.parts.reduce((n, p) => n + p.images.length, 0);
  if (sampled < rows.length)
    notes.push(
      `Image sizes were read from ${sampled} of the ${rows.length} files; the import reads every file's header and lists any it cannot use.`,
    );
  // Thumbnails: up to perClass of each class in folder order, decoded small.
  const perClass = Math.max(1, Math.floor(32 / Math.max(1, classNames.length)));
  const taken = new Map<number, number>();
  const picks: { row: Row; index: number }[] = [];
  trainRows.forEach((row, index) => {
    if (picks.length >= 40) return;
    const y = row.label < 0 ? -1 : row.label;
    if ((taken.get(y) ?? 0) >= perClass) return;
    taken.set(y, (taken.get(y) ?? 0) + 1);
    picks.push({ row, index });
  });
  const decoded = await Promise.all(
    picks.map(async ({ row, index }): Promise<Thumbnail | null> => {
      try {
        const { data, width, height } = await decodeSmall(row.abs, THUMB_SIDE, read.channels);
        return {
          index,
          className: row.label < 0 ? 'unlabeled' : (classNames[row.label] ?? String(row.label)),
          width,
          height,
          channels: read.channels,
          pixels: data.toString('base64'),
        };
      } catch {
        return null;
      }
    }),
  );
  return {
    path,
    format: 'image-folder',
    description: read.description,
    sampleShape: [...read.size, read.channels],
    trainCount: trainRows.length,
    testCount,
    classes,
    thumbnails: decoded.filter((t): t is Thumbnail => t !== null),
    skipped: read.skipped.slice(0, 200).map((s) => ({ path: s.path, reason: s.reason })),
    notes,
  };
}

/** Fingerprint of an indexed folder: paths, classes, splits, sizes and modification times. */
export function folderFingerprint(read: FolderRead): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({
      v: 'image-folder-2',
      size: read.size,
      channels: read.channels,
      classes: read.classNames,
    }),
  );
  const facts = new Map<string, { bytes: number; mtimeMs: number }>();
  for (const p of read.parts) for (const f of p.images) facts.set(f.abs, f);
  for (const r of read.rows) {
    const f = facts.get(r.abs);
    h.update(`${r.split}\0${r.rel}\0${r.label}\0${f?.bytes ?? -1}\0${f?.mtimeMs ?? -1}\n`);
  }
  return `folder:${h.digest('hex')}`;
}
