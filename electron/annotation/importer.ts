/**
 * Import a labeled export back into a new project: a JSON or COCO export (they name their
 * dataset by content fingerprint), a CSV export (give the dataset), or a folder of class
 * sub-folders (a `folders` export, with its manifest keeping annotators, or any class folder).
 * Labels keep their annotators and are recorded as imported (`via: 'import'`); model predictions
 * and pseudo-labels in an export are never imported as labels.
 */
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { LabelEventInput, Store } from '../store/store.ts';
import { datasetSamples } from '../store/annotation.ts';
import type { CSV_COLUMNS } from './exporter.ts';
import { EXPORT_FORMAT_ID, MANIFEST, PREDICTIONS_DIR, PSEUDO_DIR } from './exporter.ts';
import { createAnnotationProject, ProjectInputError } from './projects.ts';

export interface ImportInput {
  path: string;
  name?: string | undefined;
  datasetId?: number | undefined;
  createdBy: string;
  /** Refuse export files larger than this (default EXPORT_FILE_LIMIT). */
  maxBytes?: number | undefined;
}

/**
 * The largest export file read: a JSON export of a million labels is about 300 MiB, and one
 * JavaScript string holds little more than 512 MiB.
 */
export const EXPORT_FILE_LIMIT = 512 * 1024 * 1024;

/**
 * The text of a regular file of at most `maxBytes`. Opened without blocking and checked on the
 * open handle: a named pipe would otherwise hold one of Node's few file threads forever (and with
 * it every file read of the app), and /dev/zero never ends.
 */
async function readExportFile(path: string, maxBytes: number): Promise<string> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ProjectInputError(
      code === 'EACCES' || code === 'EPERM'
        ? `${path} cannot be read: permission denied; check that you may read it.`
        : `${path} cannot be read (the system says ${code ?? (err as Error).message}).`,
    );
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      const kind = st.isFIFO()
        ? 'a named pipe (FIFO)'
        : st.isCharacterDevice() || st.isBlockDevice()
          ? 'a device'
          : st.isSocket()
            ? 'a socket'
            : 'not a file';
      throw new ProjectInputError(
        `${path} is ${kind}, not a regular file; expected a DeepAL Studio export (.json or .csv) saved on disk.`,
      );
    }
    if (st.size > maxBytes)
      throw new ProjectInputError(
        `${path} is ${st.size} bytes, over the ${maxBytes}-byte limit for an export file; is it really a DeepAL Studio export?`,
      );
    return await fh.readFile({ encoding: 'utf8' });
  } finally {
    await fh.close();
  }
}

interface Row {
  split: string;
  index: number;
  path: string | null;
  className: string;
  annotator: string;
  source: string;
  durationMs: number | null;
}

const rowSchema = z.object({
  split: z.string(),
  index: z.number().int().min(0),
  path: z.string().nullable(),
  className: z.string().min(1),
  annotator: z.string().min(1),
  source: z.string(),
  durationMs: z.number().min(0).nullable(),
});

const jsonSchema = z.object({
  format: z.literal(EXPORT_FORMAT_ID),
  version: z.literal(1),
  project: z.object({ name: z.string() }),
  dataset: z.object({ fingerprint: z.string(), name: z.string() }),
  classes: z.array(z.object({ idx: z.number().int(), name: z.string().min(1) })),
  labels: z.array(rowSchema.extend({ file: z.string().optional() })),
});

const cocoSchema = z.object({
  info: z.object({
    deepal: z.object({
      format: z.literal(EXPORT_FORMAT_ID),
      project: z.object({ name: z.string() }),
      dataset: z.object({ fingerprint: z.string(), name: z.string() }),
    }),
  }),
  images: z.array(
    z.object({
      id: z.number().int(),
      file_name: z.string(),
      deepal_split: z.string(),
      deepal_index: z.number().int().min(0),
    }),
  ),
  categories: z.array(z.object({ id: z.number().int(), name: z.string().min(1) })),
  annotations: z.array(
    z.object({
      image_id: z.number().int(),
      category_id: z.number().int(),
      attributes: z.object({
        annotator: z.string().min(1),
        source: z.string(),
        duration_ms: z.number().min(0).nullable(),
      }),
    }),
  ),
});

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (quoted) throw new Error('the CSV ends inside a quoted field');
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** Undo the export's spreadsheet-formula guard (a ' before = + - @). */
const unguard = (s: string): string => (/^'[=+\-@\t\r]/.test(s) ? s.slice(1) : s);

function describe(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.')}: ${i.message}`)
    .join('; ');
}

function datasetByFingerprint(store: Store, fingerprint: string, name: string): number {
  const d = store.listDatasets().find((x) => x.fingerprint === fingerprint);
  if (!d) {
    throw new ProjectInputError(
      `This export is of dataset "${name}", which is not in this workspace: import that dataset first, then import the export again.`,
    );
  }
  return d.id;
}

function createFromRows(
  store: Store,
  input: ImportInput,
  datasetId: number,
  classNames: string[],
  rows: Row[],
  defaultName: string,
): number {
  const samples = new Map(datasetSamples(store, datasetId).map((s) => [`${s.split}#${s.idx}`, s]));
  const events: LabelEventInput[] = [];
  rows.forEach((r, k) => {
    if (r.source !== 'human' && r.source !== 'simulated') return;
    const s = samples.get(`${r.split}#${r.index}`);
    if (!s) {
      throw new ProjectInputError(
        `Label ${k + 1} names sample ${r.split} #${r.index}, which the dataset does not have.`,
      );
    }
    if (r.path !== null && s.sourcePath !== null && r.path !== s.sourcePath) {
      throw new ProjectInputError(
        `Label ${k + 1} names ${r.path}, but sample ${r.split} #${r.index} of the dataset is ${s.sourcePath}: the export does not belong to this dataset.`,
      );
    }
    const c = classNames.indexOf(r.className);
    if (c < 0)
      throw new ProjectInputError(
        `Label ${k + 1} has class "${r.className}", which the export does not list.`,
      );
    events.push({
      sampleId: s.id,
      classIdx: c,
      annotator: r.annotator,
      source: r.source === 'simulated' ? 'simulated' : 'human',
      durationMs: r.durationMs,
      via: 'import',
    });
  });
  return store.inTransaction(() => {
    const projectId = createAnnotationProject(store, {
      name: input.name ?? defaultName,
      datasetId,
      classNames,
      createdBy: input.createdBy,
    });
    store.appendLabelEvents(events.map((e) => ({ ...e, projectId })));
    return projectId;
  });
}

/**
 * Import an export. `importFolder` registers a folder of images as a dataset (the ML worker's
 * import) and returns its id; it is only called for folder exports.
 */
export async function importExport(
  store: Store,
  input: ImportInput,
  importFolder: (path: string) => Promise<number>,
): Promise<number> {
  let st;
  try {
    st = await stat(input.path);
  } catch {
    throw new ProjectInputError(`Nothing to import at ${input.path}: no such file or folder.`);
  }
  if (st.isDirectory()) return importFolderExport(store, input, importFolder);
  const text = await readExportFile(input.path, input.maxBytes ?? EXPORT_FILE_LIMIT);
  if (/\.csv$/i.test(input.path)) {
    if (input.datasetId === undefined) {
      throw new ProjectInputError(
        'A CSV export does not say which dataset it labels: choose the dataset to import it into.',
      );
    }
    if (!store.getDataset(input.datasetId)) {
      throw new ProjectInputError(`There is no dataset ${input.datasetId} in this workspace.`);
    }
    const table = parseCsv(text);
    const header = table[0] ?? [];
    const col = (name: (typeof CSV_COLUMNS)[number]) => {
      const i = header.indexOf(name);
      if (i < 0)
        throw new ProjectInputError(`The CSV has no "${name}" column; is it a DeepAL export?`);
      return i;
    };
    const [split, index, path, cls, annotator, source, duration] = (
      ['split', 'index', 'path', 'class', 'annotator', 'source', 'duration_ms'] as const
    ).map(col) as [number, number, number, number, number, number, number];
    const rows: Row[] = table
      .slice(1)
      .filter((r) => r.length > 1)
      .map((r, k) => {
        const idx = Number(r[index]);
        if (!Number.isInteger(idx) || idx < 0)
          throw new ProjectInputError(
            `CSV line ${k + 2}: index "${r[index]}" is not a whole number.`,
          );
        const d = r[duration] ?? '';
        return {
          split: r[split] ?? '',
          index: idx,
          path: r[path] ? unguard(r[path]) : null,
          className: unguard(r[cls] ?? ''),
          annotator: unguard(r[annotator] ?? ''),
          source: r[source] ?? '',
          durationMs: d === '' ? null : Number(d),
        };
      });
    const classNames = [
      ...new Set(
        rows
          .filter((r) => r.source === 'human' || r.source === 'simulated')
          .map((r) => r.className),
      ),
    ];
    if (classNames.length === 0)
      throw new ProjectInputError('The CSV has no human labels to import.');
    return createFromRows(store, input, input.datasetId, classNames, rows, 'Imported labels');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ProjectInputError(`${input.path} is neither a CSV nor a JSON file.`);
  }
  const asJson = jsonSchema.safeParse(raw);
  if (asJson.success) {
    const j = asJson.data;
    const datasetId = datasetByFingerprint(store, j.dataset.fingerprint, j.dataset.name);
    return createFromRows(
      store,
      input,
      datasetId,
      j.classes.map((c) => c.name),
      j.labels,
      `${j.project.name} (imported)`,
    );
  }
  const asCoco = cocoSchema.safeParse(raw);
  if (asCoco.success) {
    const c = asCoco.data;
    const datasetId = datasetByFingerprint(
      store,
      c.info.deepal.dataset.fingerprint,
      c.info.deepal.dataset.name,
    );
    const images = new Map(c.images.map((i) => [i.id, i]));
    const names = new Map(c.categories.map((k) => [k.id, k.name]));
    const rows: Row[] = c.annotations.map((a, k) => {
      const img = images.get(a.image_id);
      const cls = names.get(a.category_id);
      if (!img || cls === undefined)
        throw new ProjectInputError(`COCO annotation ${k + 1} names a missing image or category.`);
      return {
        split: img.deepal_split,
        index: img.deepal_index,
        path: img.file_name,
        className: cls,
        annotator: a.attributes.annotator,
        source: a.attributes.source,
        durationMs: a.attributes.duration_ms,
      };
    });
    // COCO file names of datasets without files are "split/index", not paths.
    for (const r of rows) if (r.path === `${r.split}/${r.index}`) r.path = null;
    return createFromRows(
      store,
      input,
      datasetId,
      c.categories.map((k) => k.name),
      rows,
      `${c.info.deepal.project.name} (imported)`,
    );
  }
  throw new ProjectInputError(
    `${input.path} is not a DeepAL Studio export (JSON: ${describe(asJson.error)}; COCO: ${describe(asCoco.error)}).`,
  );
}

async function importFolderExport(
  store: Store,
  input: ImportInput,
  importFolder: (path: string) => Promise<number>,
): Promise<number> {
  for (const marked of [PREDICTIONS_DIR, PSEUDO_DIR]) {
    if (
      await stat(join(input.path, marked)).then(
        () => true,
        () => false,
      )
    ) {
      throw new ProjectInputError(
        `${input.path} holds ${marked}/ (model guesses, not labels); move that folder out before importing the labels.`,
      );
    }
  }
  let manifest: z.infer<typeof jsonSchema> | null = null;
  try {
    const parsed = jsonSchema.safeParse(
      JSON.parse(
        await readExportFile(join(input.path, MANIFEST), input.maxBytes ?? EXPORT_FILE_LIMIT),
      ),
    );
    if (parsed.success) manifest = parsed.data;
  } catch {
    // A plain class folder: its folder names are the labels.
  }
  const datasetId = await importFolder(input.path);
  const dataset = store.getDataset(datasetId)!;
  if (dataset.classNames.length === 0) {
    throw new ProjectInputError(`${input.path} has no class sub-folders, so it carries no labels.`);
  }
  if (!manifest) {
    return createAnnotationProject(store, {
      name: input.name ?? `${dataset.name} (imported)`,
      datasetId,
      classNames: dataset.classNames,
      seedFromDataset: true,
      createdBy: input.createdBy,
    });
  }
  // Folder names may be sanitised class names: the manifest maps each file back to its class
  // and annotator.
  const byPath = new Map(
    datasetSamples(store, datasetId)
      .filter((s) => s.sourcePath !== null)
      .map((s) => [s.sourcePath!, s]),
  );
  const classNames = manifest.classes.map((c) => c.name);
  const events: LabelEventInput[] = [];
  manifest.labels.forEach((r, k) => {
    if (r.source !== 'human' && r.source !== 'simulated') return;
    const s = r.file ? byPath.get(r.file) : undefined;
    if (!s)
      throw new ProjectInputError(
        `The manifest's label ${k + 1} (${r.file ?? '?'}) has no image in the folder.`,
      );
    events.push({
      sampleId: s.id,
      classIdx: classNames.indexOf(r.className),
      annotator: r.annotator,
      source: r.source === 'simulated' ? 'simulated' : 'human',
      durationMs: r.durationMs,
      via: 'import',
    });
  });
  return store.inTransaction(() => {
    const projectId = createAnnotationProject(store, {
      name: input.name ?? `${manifest.project.name} (imported)`,
      datasetId,
      classNames,
      createdBy: input.createdBy,
    });
    store.appendLabelEvents(events.map((e) => ({ ...e, projectId })));
    return projectId;
  });
}
