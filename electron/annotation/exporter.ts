/**
 * Export a project's labeled set: CSV, JSON, COCO-style image-level classification, or one
 * sub-folder per class with the images copied in. Human labels only by default; pseudo-labels and
 * the model's predictions only when asked, and then marked (a `source` field, or their own
 * `_pseudo-labels` / `_model-predictions` folders).
 *
 * Safety: an existing export is never overwritten unless asked (files are written under a
 * temporary name and renamed, so a failed export leaves no half file); a folder export needs an
 * empty or new folder. Class and file names are sanitised and every path written is checked to
 * lie inside the chosen folder, so a class named "../../etc" cannot escape it.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import sharp from 'sharp';
import type {
  ExportFormat,
  ExportLabels,
  ExportOptions,
  ExportSummary,
} from '../../shared/annotation.ts';
import {
  classState,
  currentLabels,
  datasetSamples,
  effectiveClass,
  predictions,
  projectEvents,
  type ProjectEvent,
  type ProjectSample,
} from '../store/annotation.ts';
import type { Store } from '../store/store.ts';
import { mapInBatches } from '../ml/datasets/files.ts';
import { loadPool } from './data.ts';
import { DAWID_SKENE_METHOD, projectConsensus, type ProjectConsensus } from './dawidSkene.ts';
import { sampleFile, sampleFiles } from './images.ts';
import { sampleStates } from './queue.ts';

export const EXPORT_FORMAT_ID = 'deepal-annotation-export';
export const MANIFEST = 'deepal-export.json';
export const PREDICTIONS_DIR = '_model-predictions';
export const PSEUDO_DIR = '_pseudo-labels';

/** `consensus`: the Dawid-Skene consensus of the sample's annotators (`--label consensus`). */
export type RowSource = 'human' | 'simulated' | 'pseudo' | 'model-prediction' | 'consensus';

export interface ExportRow {
  sampleId: number;
  split: string;
  index: number;
  /** The file relative to the dataset folder, or null for datasets without files. */
  path: string | null;
  classIdx: number;
  className: string;
  annotator: string;
  source: RowSource;
  labeledAt: string | null;
  durationMs: number | null;
  /** The model's probability (predictions), or the consensus label's posterior (consensus). */
  confidence: number | null;
}

export interface ExportData {
  project: { id: number; name: string };
  dataset: {
    id: number;
    name: string;
    source: string;
    format: string;
    fingerprint: string;
    sampleShape: number[];
  };
  classes: { idx: number; name: string }[];
  rows: ExportRow[];
  /** Which labels the rows are, when not each sample's latest. */
  label?: { mode: 'consensus' | 'all'; method: string };
}

export class ExportError extends Error {
  override name = 'ExportError';
}

/** The rows of an export, from the store: current labels (after merges), then what was asked for. */
export function collectExport(
  store: Store,
  projectId: number,
  opts: { includePseudo: boolean; includePredictions: boolean; label?: ExportLabels },
): ExportData {
  const project = store.getProject(projectId);
  if (!project) throw new ExportError(`There is no project ${projectId}`);
  const dataset = store.getDataset(project.datasetId);
  if (!dataset) throw new ExportError(`Project ${projectId}'s dataset is missing`);
  const { classNames, merges } = classState(store, projectId);
  const mode = opts.label ?? 'latest';
  // The dataset's samples and the event log are read only where needed: at 100,000 labels they
  // took most of a CSV export, and the latest labels are kept by the store (migration 006).
  let samplesCache: Map<number, ProjectSample> | null = null;
  const samples = () =>
    (samplesCache ??= new Map(datasetSamples(store, project.datasetId).map((s) => [s.id, s])));
  let eventsCache: ReturnType<typeof projectEvents> | null = null;
  const projectLog = () => (eventsCache ??= projectEvents(store, projectId));
  const rows: ExportRow[] = [];
  const base = (id: number) => {
    const s = samples().get(id)!;
    return { sampleId: id, split: s.split, index: s.idx, path: s.sourcePath };
  };
  const labeled = new Set<number>();
  let consensusFitted = false;
  if (mode === 'latest') {
    for (const r of currentLabels(store, projectId)) {
      labeled.add(r.sampleId);
      const c = effectiveClass(merges, r.classIdx);
      rows.push({
        sampleId: r.sampleId,
        split: r.split,
        index: r.idx,
        path: r.sourcePath,
        classIdx: c,
        className: classNames[c]!,
        annotator: r.annotator,
        source: r.source === 'simulated' ? 'simulated' : 'human',
        labeledAt: r.createdAt,
        durationMs: r.durationMs,
        confidence: null,
      });
    }
  } else {
    const events = projectLog();
    const consensus =
      mode === 'consensus' ? projectConsensus(events, merges, classNames.length) : null;
    consensusFitted = consensus?.fitted ?? false;
    for (const [id, st] of [...sampleStates(events).entries()].sort((a, b) => a[0] - b[0])) {
      if (!st.current) continue;
      labeled.add(id);
      rows.push(...otherLabels(mode, id, consensus, events, merges, classNames, base(id)));
    }
  }
  if (opts.includePseudo) {
    // The latest pseudo-label of each sample without a real label, retracted ones left out.
    const pseudo = new Map<number, ReturnType<typeof projectEvents>[number]>();
    for (const e of projectLog())
      if (e.source === 'pseudo' && e.kind === 'label' && e.undoneBy === null)
        pseudo.set(e.sampleId, e);
    for (const [id, e] of [...pseudo.entries()].sort((a, b) => a[0] - b[0])) {
      if (labeled.has(id)) continue;
      const c = effectiveClass(merges, e.classIdx!);
      rows.push({
        ...base(id),
        classIdx: c,
        className: classNames[c]!,
        annotator: e.annotator,
        source: 'pseudo',
        labeledAt: e.createdAt,
        durationMs: null,
        confidence: null,
      });
    }
  }
  if (opts.includePredictions) {
    const preds = predictions(store, projectId);
    for (const [id, p] of [...preds.entries()].sort((a, b) => a[0] - b[0])) {
      if (labeled.has(id) || !samples().has(id)) continue;
      const c = effectiveClass(merges, p.classIdx);
      rows.push({
        ...base(id),
        classIdx: c,
        className: classNames[c]!,
        annotator: 'model',
        source: 'model-prediction',
        labeledAt: null,
        durationMs: null,
        confidence: p.top[0]?.[1] ?? null,
      });
    }
  }
  return {
    project: { id: project.id, name: project.name },
    dataset: {
      id: dataset.id,
      name: dataset.name,
      source: dataset.source,
      format: dataset.format,
      fingerprint: dataset.fingerprint,
      sampleShape: dataset.sampleShape,
    },
    classes: classNames.map((name, idx) => ({ idx, name })).filter((c) => !merges.has(c.idx)),
    rows,
    ...(mode === 'consensus'
      ? { label: { mode, method: consensusFitted ? DAWID_SKENE_METHOD : NO_CONSENSUS } }
      : mode === 'all'
        ? { label: { mode, method: ALL_LABELS } }
        : {}),
  };
}

const NO_CONSENSUS =
  'No sample has labels from two people, so there is nothing to weigh: each consensus is the current label, without a posterior.';
const ALL_LABELS =
  'Every label event still in force (not undone), oldest first per sample: the last row of a sample is its current label.';

/** A sample's rows for `--label consensus` (one) or `--label all` (each label in force). */
function otherLabels(
  mode: 'consensus' | 'all',
  sampleId: number,
  consensus: ProjectConsensus | null,
  events: readonly ProjectEvent[],
  merges: Map<number, number>,
  classNames: readonly string[],
  base: Pick<ExportRow, 'sampleId' | 'split' | 'index' | 'path'>,
): ExportRow[] {
  if (mode === 'consensus') {
    const c = consensus!.bySample.get(sampleId)!;
    return [
      {
        ...base,
        classIdx: c.classIdx,
        className: classNames[c.classIdx]!,
        annotator: 'consensus',
        source: 'consensus',
        labeledAt: null,
        durationMs: null,
        confidence: c.posterior === null ? null : Math.round(c.posterior * 1e4) / 1e4,
      },
    ];
  }
  return events
    .filter(
      (e) =>
        e.sampleId === sampleId &&
        e.kind === 'label' &&
        e.undoneBy === null &&
        e.source !== 'pseudo',
    )
    .map((e) => {
      const c = effectiveClass(merges, e.classIdx!);
      return {
        ...base,
        classIdx: c,
        className: classNames[c]!,
        annotator: e.annotator,
        source: e.source === 'simulated' ? ('simulated' as const) : ('human' as const),
        labeledAt: e.createdAt,
        durationMs: e.durationMs,
        confidence: null,
      };
    });
}

// ------------------------------------------------------------------------------------ names

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
const RESERVED_DIRS = new Set([PREDICTIONS_DIR, PSEUDO_DIR, MANIFEST].map((s) => s.toLowerCase()));

/**
 * A file or folder name safe on Linux, macOS and Windows: no separators, no `..`, no control or
 * reserved characters, no leading dot, no trailing dot or space, not a device name, at most 120
 * characters. Never empty.
 */
export function safeName(name: string): string {
  let s = name
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f<>:"/\\|?*]/g, '_')
    // Bidirectional controls (U+202E shows "cat\u202Egpj.exe" as "catexe.jpg") and invisible
    // format characters: a folder name must read as what it is.
    .replace(/[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g, '_')
    .replace(/\.{2,}/g, '_')
    .trim();
  s = s.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  if (s === '') s = '_';
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`;
  if (s.length > 120) s = s.slice(0, 120).replace(/[.\s]+$/, '');
  return s;
}

/** Safe, distinct folder names for classes (case-insensitively distinct, for macOS and Windows). */
export function classFolderNames(names: readonly string[]): string[] {
  const used = new Set<string>(RESERVED_DIRS);
  return names.map((n) => {
    const base = safeName(n);
    let candidate = base;
    for (let k = 2; used.has(candidate.toLowerCase()); k++) candidate = `${base}-${k}`;
    used.add(candidate.toLowerCase());
    return candidate;
  });
}

/** `child` resolved inside `root`, or an error: the last line of defence against traversal. */
export function inside(root: string, ...parts: string[]): string {
  const p = resolve(root, ...parts);
  const rel = relative(root, p);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new ExportError(`Refusing to write ${p}: it is outside the export folder ${root}`);
  }
  return p;
}

// ------------------------------------------------------------------------------------ paths

/**
 * How a typed export path is read: `home` is what `~` names; `base`, when given, is what a
 * relative path is relative to (the CLI's working folder). The app has no meaningful working
 * folder (a desktop launcher starts it in `/` or the home folder), so without `base` a relative
 * path is refused with a sentence instead of landing somewhere unseen.
 */
export interface ExportPathBase {
  home: string;
  base?: string;
}

/**
 * The full path an export is written to. `~` and `~/…` are the home folder: a shell expands them,
 * a text field or a quoted argument does not, and "~/labels.csv" once became a folder named "~"
 * wherever the app happened to run.
 */
export function resolveExportPath(out: string, where: ExportPathBase): string {
  const p = out.trim();
  if (p === '') throw new ExportError('Type where to export to (a full path, or ~/name)');
  if (p === '~') return resolve(where.home);
  if (/^~[\\/]/.test(p)) return resolve(where.home, p.slice(2));
  if (p.startsWith('~')) {
    throw new ExportError(
      `The export path "${p}" starts with "${p.split(/[\\/]/)[0]}", another user's home folder, which is not expanded; give the full path`,
    );
  }
  if (isAbsolute(p)) return resolve(p);
  if (where.base !== undefined) return resolve(where.base, p);
  throw new ExportError(
    `The export path "${p}" is a relative path, and the app cannot tell what it is relative to; give the full path, for example ${join(where.home, p)} (in your home folder) or ~/${p.replace(/\\/g, '/')}`,
  );
}

/** What is at a resolved export path now, so the screen can say so before anything is written. */
export async function exportTarget(
  out: string,
  where: ExportPathBase,
): Promise<{
  path: string | null;
  problem: string | null;
  exists: 'file' | 'folder' | 'other' | null;
}> {
  let path: string;
  try {
    path = resolveExportPath(out, where);
  } catch (err) {
    if (err instanceof ExportError) return { path: null, problem: err.message, exists: null };
    throw err;
  }
  const st = await stat(path).catch(() => null);
  return {
    path,
    problem: null,
    exists: st === null ? null : st.isFile() ? 'file' : st.isDirectory() ? 'folder' : 'other',
  };
}

// ------------------------------------------------------------------------------------ formats

/** Spreadsheet apps run cells that start with these as formulas; a leading ' makes them text. */
function csvCell(v: string | number | null): string {
  if (v === null) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CSV_COLUMNS = [
  'sample_id',
  'split',
  'index',
  'path',
  'class',
  'class_index',
  'annotator',
  'source',
  'labeled_at',
  'duration_ms',
  'confidence',
] as const;

export function toCsv(data: ExportData): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of data.rows) {
    lines.push(
      [
        r.sampleId,
        r.split,
        r.index,
        r.path,
        r.className,
        r.classIdx,
        r.annotator,
        r.source,
        r.labeledAt,
        r.durationMs === null ? null : Math.round(r.durationMs),
        r.confidence,
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function toJson(data: ExportData, exportedAt: string): string {
  return `${JSON.stringify(
    {
      format: EXPORT_FORMAT_ID,
      version: 1,
      exportedAt,
      project: data.project,
      dataset: data.dataset,
      classes: data.classes,
      ...(data.label ? { label: data.label } : {}),
      labels: data.rows,
    },
    null,
    2,
  )}\n`;
}

/** COCO-style image-level classification: images, categories, one annotation per label. */
export function toCoco(
  data: ExportData,
  exportedAt: string,
  sizes: Map<number, { width: number; height: number }>,
): string {
  const [h, w] = data.dataset.sampleShape;
  const images = new Map<number, object>();
  for (const r of data.rows) {
    if (images.has(r.sampleId)) continue;
    const size = sizes.get(r.sampleId) ?? { width: w ?? 0, height: h ?? 0 };
    images.set(r.sampleId, {
      id: r.sampleId,
      file_name: r.path ?? `${r.split}/${r.index}`,
      width: size.width,
      height: size.height,
      deepal_split: r.split,
      deepal_index: r.index,
    });
  }
  return `${JSON.stringify(
    {
      info: {
        description: `DeepAL Studio export of project "${data.project.name}"`,
        version: '1',
        date_created: exportedAt,
        deepal: {
          format: EXPORT_FORMAT_ID,
          project: data.project,
          dataset: data.dataset,
        },
      },
      licenses: [],
      images: [...images.values()],
      categories: data.classes.map((c) => ({ id: c.idx, name: c.name, supercategory: '' })),
      annotations: data.rows.map((r, k) => ({
        id: k + 1,
        image_id: r.sampleId,
        category_id: r.classIdx,
        attributes: {
          annotator: r.annotator,
          source: r.source,
          labeled_at: r.labeledAt,
          duration_ms: r.durationMs,
          confidence: r.confidence,
        },
      })),
    },
    null,
    2,
  )}\n`;
}

// ------------------------------------------------------------------------------------ writing

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Write a file whole or not at all; refuse an existing one unless overwrite. */
async function writeFileSafely(
  file: string,
  text: string,
  overwrite: boolean,
  format: ExportFormat,
): Promise<void> {
  const st = await stat(file).catch(() => null);
  // Checked before anything is written: renaming over a folder fails with raw EISDIR.
  if (st && !st.isFile()) {
    throw new ExportError(
      `${file} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}; a ${format} export is written to a file: give a file name, such as ${join(file, `labels.${format === 'coco' ? 'json' : format}`)}`,
    );
  }
  if (st && !overwrite) {
    throw new ExportError(
      `${file} already exists; choose another name, or ask to overwrite it (--overwrite)`,
    );
  }
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function imageSizes(
  data: ExportData,
): Promise<Map<number, { width: number; height: number }>> {
  const out = new Map<number, { width: number; height: number }>();
  if (data.dataset.format !== 'image-folder') return out;
  for (const r of data.rows) {
    if (r.path === null || out.has(r.sampleId)) continue;
    try {
      const meta = await sharp(await sampleFile(data.dataset.source, r.path)).metadata();
      out.set(r.sampleId, {
        width: meta.autoOrient?.width ?? meta.width ?? 0,
        height: meta.autoOrient?.height ?? meta.height ?? 0,
      });
    } catch {
      // A file gone since the import: COCO gets the imported size instead.
    }
  }
  return out;
}

async function writeFolders(
  store: Store,
  data: ExportData,
  out: string,
  exportedAt: string,
): Promise<number> {
  if (await exists(out)) {
    const st = await stat(out);
    if (!st.isDirectory())
      throw new ExportError(`${out} is a file; a folder export needs a folder`);
    if ((await readdir(out)).length > 0) {
      throw new ExportError(
        `${out} is not empty; a folder export needs a new or empty folder (nothing is overwritten)`,
      );
    }
  }
  await mkdir(out, { recursive: true });
  const root = resolve(out);
  const folders = classFolderNames(data.classes.map((c) => c.name));
  const folderOf = new Map(data.classes.map((c, k) => [c.idx, folders[k]!]));
  const byFile = data.dataset.format === 'image-folder';
  const pool = byFile ? null : await loadPool(store, data.dataset.id, 4096);
  // Names (and the manifest's entries) first, in row order (a clash gets the sample id), so the
  // layout does not depend on which copy finishes first; then each folder is made once and the files are copied
  // COPY_BATCH at a time (one after another, 100,000 copies took 31 s).
  const used = new Set<string>();
  const plan: { r: ExportRow & { file: string }; dir: string; target: string }[] = [];
  for (const r of data.rows) {
    // Naming 100,000 files took 0.7 s of the main thread in one go: let other work in between.
    if (plan.length % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
    const top =
      r.source === 'model-prediction'
        ? [PREDICTIONS_DIR]
        : r.source === 'pseudo'
          ? [PSEUDO_DIR]
          : [];
    const dir = inside(root, ...top, folderOf.get(r.classIdx)!);
    const ext = r.path ? extname(r.path).toLowerCase() || '.png' : '.png';
    let name = safeName(r.path ? basename(r.path) : `${r.split}-${r.index}${ext}`);
    if (!name.toLowerCase().endsWith(ext)) name += ext;
    if (used.has(join(dir, name).toLowerCase())) name = safeName(`${r.sampleId}-${name}`);
    const target = inside(root, ...top, folderOf.get(r.classIdx)!, name);
    used.add(target.toLowerCase());
    plan.push({ r: { ...r, file: relative(root, target).split('\\').join('/') }, dir, target });
  }
  for (const dir of new Set(plan.map((p) => p.dir))) await mkdir(dir, { recursive: true });
  const sources =
    byFile && data.dataset.source
      ? await sampleFiles(
          data.dataset.source,
          plan.map((p) => p.r.path ?? ''),
        )
      : null;
  const writeOne = async ({ r, target }: (typeof plan)[number], k: number): Promise<void> => {
    if (byFile && r.path) {
      const from = sources?.[k];
      if (!from) {
        throw new ExportError(
          `${r.path} could not be read from ${data.dataset.source} (moved, deleted or outside the folder); nothing more was copied`,
        );
      }
      await copyFile(from, target, 1 /* COPYFILE_EXCL */);
      return;
    }
    const row = pool!.rowOf.get(r.sampleId);
    if (row === undefined) throw new ExportError(`Sample ${r.sampleId} could not be read`);
    const [h, w, c] = pool!.dataset.sampleShape as [number, number, number];
    const per = h * w * c;
    const px = (pool!.dataset.x as Uint8Array).subarray(row * per, (row + 1) * per);
    await sharp(Buffer.from(px), { raw: { width: w, height: h, channels: c as 1 | 3 } })
      .png()
      .toFile(target);
  };
  await mapInBatches(plan, COPY_BATCH, writeOne);
  await writeManifest(inside(root, MANIFEST), {
    format: EXPORT_FORMAT_ID,
    version: 1,
    layout: 'folders',
    exportedAt,
    project: data.project,
    dataset: data.dataset,
    classes: data.classes.map((c) => ({ ...c, folder: folderOf.get(c.idx) })),
    ...(data.label ? { label: data.label } : {}),
    labels: plan.map((p) => p.r),
  });
  return plan.length + 1;
}

/** Files a folder export copies at once. */
const COPY_BATCH = 16;
/** Rows a folder export names between turns of the event loop. */
const YIELD_EVERY = 2000;
const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * The manifest as JSON.stringify(value, null, 2) would write it, its labels stringified a slice
 * at a time with a turn of the event loop between slices: at 100,000 labels one stringify held
 * the main thread for about a third of a second.
 */
async function writeManifest(
  path: string,
  value: Record<string, unknown> & { labels: unknown[] },
): Promise<void> {
  const { labels, ...head } = value;
  const headText = JSON.stringify({ ...head, labels: [] }, null, 2);
  const at = headText.lastIndexOf('"labels": []');
  const file = await open(path, 'wx');
  try {
    if (labels.length === 0) {
      await file.write(`${headText}\n`);
      return;
    }
    await file.write(`${headText.slice(0, at)}"labels": [\n`);
    const SLICE = 2000;
    for (let s = 0; s < labels.length; s += SLICE) {
      const text = labels
        .slice(s, s + SLICE)
        .map((l) =>
          JSON.stringify(l, null, 2)
            .split('\n')
            .map((line) => `    ${line}`)
            .join('\n'),
        )
        .join(',\n');
      await file.write(`${text}${s + SLICE < labels.length ? ',' : ''}\n`);
    }
    await file.write(`  ]${headText.slice(at + '"labels": []'.length)}\n`);
  } finally {
    await file.close();
  }
}

/**
 * Write an export; see the module comment for what is refused. `opts.out` is read with
 * {@link resolveExportPath}; the summary's `out` is the full path written.
 */
export async function exportProject(
  store: Store,
  opts: ExportOptions,
  where: ExportPathBase = { home: homedir() },
): Promise<ExportSummary> {
  const out = resolveExportPath(opts.out, where);
  if (opts.format === 'folders' && opts.label === 'all') {
    throw new ExportError(
      'A folders export holds one copy of each image, in the folder of its class; every label of a sample (--label all) needs csv, json or coco',
    );
  }
  const data = collectExport(store, opts.projectId, opts);
  const exportedAt = new Date().toISOString();
  const format: ExportFormat = opts.format;
  let files = 1;
  if (format === 'csv') await writeFileSafely(out, toCsv(data), opts.overwrite, format);
  else if (format === 'json')
    await writeFileSafely(out, toJson(data, exportedAt), opts.overwrite, format);
  else if (format === 'coco')
    await writeFileSafely(
      out,
      toCoco(data, exportedAt, await imageSizes(data)),
      opts.overwrite,
      format,
    );
  else files = await writeFolders(store, data, out, exportedAt);
  return {
    format,
    out,
    files,
    labels: data.rows.filter(
      (r) => r.source === 'human' || r.source === 'simulated' || r.source === 'consensus',
    ).length,
    predictions: data.rows.filter((r) => r.source === 'model-prediction').length,
    pseudo: data.rows.filter((r) => r.source === 'pseudo').length,
  };
}
