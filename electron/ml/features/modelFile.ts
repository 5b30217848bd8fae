/**
 * A user's own pretrained encoder from a file on disk (ONNX, or a TF.js layers or graph model):
 * what both runtimes share. The runtime-specific loaders (onnx.ts, tfjsModel.ts) open the file
 * and describe its inputs and outputs; this module checks the file before either runtime sees it,
 * resolves the settings (input size, channels, layout, normalisation, output) from the spec and
 * the model's declared input shape, turns uint8 pixels into the model's input, pools feature maps
 * into embedding rows, and wraps every failure in a sentence that names the file.
 *
 * `inspectModelFile` opens a model and says what a run would use, so forms and `deepal study` can
 * show it (and refuse bad settings) before a long extraction starts.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelFileFeatures } from '../../../shared/features.ts';
import { FeaturesCancelled } from './compute.ts';
import type { FeatureExtractor } from './types.ts';

/** A bad model file or settings that do not fit it; the message names the file. */
export class ModelFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelFileError';
  }
}

export type Layout = 'nchw' | 'nhwc';
/** A declared dimension: a size, a symbolic name (any size), or null (unknown). */
export type Dim = number | string | null;

export interface TensorInfo {
  name: string;
  /** Declared shape; null where the model does not declare one. */
  shape: Dim[] | null;
  dtype: string;
}

/** A model file opened by its runtime (onnx.ts or tfjsModel.ts). */
export interface LoadedModel {
  /** What the file is, for messages: "ONNX model", "TF.js layers model", ... */
  format: string;
  /** Every file read (a model.json and its weight files). */
  files: string[];
  /** Hash of the files' content: part of the cache key. */
  hash: string;
  /** Layout assumed where the input shape does not tell (PyTorch exports: nchw; TF: nhwc). */
  defaultLayout: Layout;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Names besides the outputs that `output` may take (a layers model's layers, a graph's nodes). */
  inner: { what: string; names: string[] };
  /** Run the model on one batch; the named output's values and shape. */
  run(
    input: Float32Array,
    shape: readonly number[],
    output: string,
  ): Promise<{ data: Float32Array; shape: number[] }>;
  dispose(): void;
}

/** The settings a run uses: the spec's, else what the model declares, else the defaults. */
export interface ModelFileSettings {
  /** Name of the model's image input. */
  input: string;
  inputSize: [number, number];
  channels: 1 | 3;
  layout: Layout;
  mean: number[];
  std: number[];
  /** Name of the output (or layer, or node) whose values are the embedding. */
  output: string;
  /** The model's fixed batch size, or null where it takes any. */
  batch: number | null;
}

/** What `inspectModelFile` reports. */
export interface ModelFileInfo {
  kind: 'onnx' | 'tfjs';
  path: string;
  format: string;
  files: string[];
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Other names `output` may take (e.g. the layers of a layers model). */
  inner: { what: string; names: string[] };
  settings: ModelFileSettings;
  embedding: {
    /** Shape of the chosen output for one batch of the probe. */
    outputShape: number[];
    /** Width of an embedding row. */
    dim: number;
    /** True when the output had more than 2 dims and is averaged into [N, C]. */
    pooled: boolean;
  };
  /** Sentences about choices made for the user (defaults, pooling), for screens and notes. */
  notes: string[];
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
/** ImageNet's statistics averaged over the channels, for encoders that take grayscale. */
export const IMAGENET_GRAY_MEAN = [0.449];
export const IMAGENET_GRAY_STD = [0.226];
/** Input size where the model declares none (ImageNet encoders' usual size). */
export const DEFAULT_INPUT_SIDE = 224;
/** Input values per inference batch (16 MB of float32): 26 images of 3 x 224 x 224. */
const MAX_BATCH_VALUES = 1 << 22;
const MAX_BATCH_IMAGES = 32;

export function kindName(kind: 'onnx' | 'tfjs'): string {
  return kind === 'onnx' ? 'an ONNX model (.onnx)' : 'a TF.js model.json';
}

/** The first line of an error's message, for matching a runtime's reason. */
export function reasonOf(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

export function formatShape(shape: readonly Dim[] | null): string {
  if (shape === null) return '[unknown]';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** What a file's first bytes say it is, when it is a common non-model file. */
export function sniffFile(head: Uint8Array): string | null {
  const starts = (...b: number[]) => b.every((x, i) => head[i] === x);
  if (starts(0xff, 0xd8, 0xff)) return 'a JPEG image';
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'a PNG image';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'a GIF image';
  if (starts(0x42, 0x4d)) return 'a BMP image';
  if (starts(0x25, 0x50, 0x44, 0x46)) return 'a PDF document';
  if (starts(0x50, 0x4b, 0x03, 0x04)) {
    return 'a zip archive (a PyTorch .pt/.pth checkpoint is one: export it with torch.onnx.export)';
  }
  if (starts(0x89, 0x48, 0x44, 0x46))
    return 'an HDF5 file (a Keras .h5 model: convert it with tensorflowjs_converter)';
  if (starts(0x80) && head[1] !== undefined && head[1] <= 5) return 'a Python pickle';
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head.subarray(0, 64));
  if (/^\s*[{[]/.test(text)) return 'a JSON file';
  return null;
}

/** The first bytes of a file. */
export async function readHead(path: string, n = 64): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** SHA-256 of the files' content, streamed (models can be hundreds of MB). */
export async function hashFiles(paths: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const p of paths) {
    await new Promise<void>((resolve, reject) => {
      createReadStream(p)
        .on('data', (chunk) => h.update(chunk))
        .on('end', resolve)
        .on('error', reject);
    });
    h.update('\0');
  }
  return h.digest('hex');
}

/**
 * The file a spec points at, checked before any runtime opens it: it exists, is readable, is not
 * empty; a folder is accepted for TF.js when it holds a model.json. Returns the file to open.
 */
export async function checkModelPath(spec: ModelFileFeatures): Promise<string> {
  const expected = kindName(spec.kind);
  let st;
  try {
    st = await stat(spec.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' || code === 'ENOTDIR'
        ? 'does not exist'
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot be read (permission denied)'
          : `cannot be read (${code ?? 'unknown error'})`;
    throw new ModelFileError(`Model file ${spec.path} ${why}; expected ${expected}.`, {
      cause: err,
    });
  }
  let file = spec.path;
  if (st.isDirectory()) {
    if (spec.kind === 'tfjs') {
      const inner = join(spec.path, 'model.json');
      const ist = await stat(inner).catch(() => null);
      if (ist?.isFile()) {
        file = inner;
        st = ist;
      } else {
        throw new ModelFileError(
          `${spec.path} is a folder without a model.json; expected ${expected} (or the folder holding it).`,
        );
      }
    } else {
      throw new ModelFileError(`${spec.path} is a folder; expected ${expected}.`);
    }
  }
  if (!st.isFile())
    throw new ModelFileError(`${spec.path} is not a regular file; expected ${expected}.`);
  if (st.size === 0) throw new ModelFileError(`${file} is empty; expected ${expected}.`);
  try {
    await readHead(file, 1);
  } catch (err) {
    throw new ModelFileError(`Model file ${file} cannot be read; expected ${expected}.`, {
      cause: err,
    });
  }
  return file;
}

const isSize = (d: Dim | undefined): d is number => typeof d === 'number' && d > 0;

function pickLayout(dims: readonly Dim[], fallback: Layout): Layout {
  const first = isSize(dims[1]) && (dims[1] === 1 || dims[1] === 3);
  const last = isSize(dims[3]) && (dims[3] === 1 || dims[3] === 3);
  if (first && !last) return 'nchw';
  if (last && !first) return 'nhwc';
  return fallback;
}

/**
 * The settings a run uses, checked against the model's declared input: a spec that forces a size,
 * channel count or layout the model cannot take is refused here, before anything runs.
 */
export function resolveSettings(
  spec: ModelFileFeatures,
  model: LoadedModel,
  path: string,
): { settings: ModelFileSettings; notes: string[] } {
  const notes: string[] = [];
  if (model.inputs.length !== 1) {
    throw new ModelFileError(
      `${path} takes ${model.inputs.length} inputs (${model.inputs.map((i) => i.name).join(', ') || 'none'}); expected an image encoder with exactly one image input.`,
    );
  }
  const input = model.inputs[0]!;
  if (input.dtype !== 'float32') {
    throw new ModelFileError(
      `${path}: input "${input.name}" takes ${input.dtype} values; expected an encoder that takes float32 pixels.`,
    );
  }
  const declared = input.shape;
  if (declared && declared.length > 0 && declared.length !== 4) {
    throw new ModelFileError(
      `${path}: input "${input.name}" has shape ${formatShape(declared)}; expected a batch of images, [N, C, H, W] or [N, H, W, C].`,
    );
  }
  const dims: Dim[] = declared && declared.length === 4 ? declared : [null, null, null, null];
  const shapeText = `input "${input.name}" has shape ${formatShape(dims)}`;

  let layout: Layout;
  if (spec.layout) layout = spec.layout;
  else {
    layout = pickLayout(dims, model.defaultLayout);
    const fromShape = pickLayout(dims, 'nchw') === pickLayout(dims, 'nhwc');
    notes.push(
      fromShape
        ? `Layout ${layout.toUpperCase()}, read from the model's input shape ${formatShape(dims)}.`
        : `Layout ${layout.toUpperCase()} assumed, as usual for a ${model.format}: its input shape ${formatShape(dims)} does not tell (set the layout to change it).`,
    );
  }
  const [cAxis, hAxis, wAxis] = layout === 'nchw' ? [1, 2, 3] : [3, 1, 2];
  const cDim = dims[cAxis];
  let channels: 1 | 3;
  if (isSize(cDim)) {
    if (cDim !== 1 && cDim !== 3) {
      throw new ModelFileError(
        `${path}: ${shapeText}, which with layout ${layout.toUpperCase()} means ${cDim} channels; expected 1 (grayscale) or 3 (colour)${spec.layout ? ' (is the layout setting right?)' : ''}.`,
      );
    }
    if (spec.channels !== undefined && spec.channels !== cDim) {
      throw new ModelFileError(
        `${path}: the settings ask for ${spec.channels}-channel images; expected ${cDim}-channel images, as its ${shapeText}. Leave channels unset or set it to ${cDim}.`,
      );
    }
    channels = cDim;
  } else {
    channels = spec.channels ?? 3;
    if (spec.channels === undefined) {
      notes.push(`The model does not declare its channel count: using ${channels}.`);
    }
  }

  const hDim = dims[hAxis];
  const wDim = dims[wAxis];
  let inputSize: [number, number];
  if (spec.inputSize) {
    const [h, w] = spec.inputSize;
    if ((isSize(hDim) && hDim !== h) || (isSize(wDim) && wDim !== w)) {
      throw new ModelFileError(
        `${path}: the settings ask for images of ${h} x ${w}; expected ${isSize(hDim) ? hDim : 'any height'} x ${isSize(wDim) ? wDim : 'any width'}, as its ${shapeText}. Leave the input size unset or match the model.`,
      );
    }
    inputSize = [h, w];
  } else {
    const h = isSize(hDim) ? hDim : isSize(wDim) ? wDim : DEFAULT_INPUT_SIDE;
    const w = isSize(wDim) ? wDim : h;
    inputSize = [h, w];
    if (!isSize(hDim) || !isSize(wDim)) {
      notes.push(
        `The model takes images of any size: reading them at ${h} x ${w} (set the input size to change it).`,
      );
    }
  }

  const mean = spec.mean ?? (channels === 3 ? IMAGENET_MEAN : IMAGENET_GRAY_MEAN);
  const std = spec.std ?? (channels === 3 ? IMAGENET_STD : IMAGENET_GRAY_STD);
  for (const [what, v] of [
    ['mean', mean],
    ['std', std],
  ] as const) {
    if (v.length !== 1 && v.length !== channels) {
      throw new ModelFileError(
        `${path}: the model takes ${channels}-channel images and ${what} has ${v.length} values; expected 1${channels === 3 ? ' or 3' : ''}.`,
      );
    }
  }
  if (!spec.mean && !spec.std) {
    notes.push(
      channels === 3
        ? "Normalisation: ImageNet's mean and std (pixels / 255, then (x - mean) / std per channel)."
        : "Normalisation: ImageNet's mean and std averaged over the channels (0.449, 0.226).",
    );
  }

  const names = model.outputs.map((o) => o.name);
  let output: string;
  if (spec.output) {
    if (!names.includes(spec.output) && !model.inner.names.includes(spec.output)) {
      const list = model.outputs.map((o) => `${o.name} ${formatShape(o.shape)}`).join(', ');
      const more = model.inner.names.filter((n) => !names.includes(n));
      const inner =
        more.length === 0
          ? ''
          : `; or one of its ${model.inner.what}: ${more.slice(0, 30).join(', ')}${more.length > 30 ? `, ... (${more.length} in all)` : ''}`;
      throw new ModelFileError(
        `${path} has no output named "${spec.output}"; expected one of its outputs: ${list || 'none'}${inner}.`,
      );
    }
    output = spec.output;
  } else {
    if (names.length === 0)
      throw new ModelFileError(`${path} declares no outputs; expected at least one.`);
    output = names[0]!;
    if (names.length > 1) {
      notes.push(`Embedding: the first output, "${output}" (of ${names.join(', ')}).`);
    }
  }
  const bDim = dims[0];
  return {
    settings: {
      input: input.name,
      inputSize,
      channels,
      layout,
      mean: [...mean],
      std: [...std],
      output,
      batch: isSize(bDim) ? bDim : null,
    },
    notes,
  };
}

/**
 * n images of uint8 HWC pixels with `c` channels as the model's float input: gray repeated to 3
 * channels, colour to gray by Rec. 601 luma, each value (p / 255 - mean) / std, in the model's
 * layout. `rows` >= n pads the batch with zero images (for models with a fixed batch size).
 */
export function toModelInput(
  pixels: Uint8Array,
  n: number,
  [h, w, c]: readonly [number, number, number],
  s: Pick<ModelFileSettings, 'channels' | 'layout' | 'mean' | 'std'>,
  rows = n,
): Float32Array {
  const C = s.channels;
  const hw = h * w;
  const out = new Float32Array(rows * C * hw);
  const scale = Array.from({ length: C }, (_, k) => 1 / (255 * (s.std[k] ?? s.std[0]!)));
  const shift = Array.from(
    { length: C },
    (_, k) => -(s.mean[k] ?? s.mean[0]!) / (s.std[k] ?? s.std[0]!),
  );
  // One pass per (image, channel) with the source stride and destination stride fixed: the
  // per-value branches of a generic loop cost as much as the inference of a small encoder.
  const nchw = s.layout === 'nchw';
  const luma = c === 3 && C === 1 ? new Float32Array(hw) : null;
  for (let i = 0; i < n; i++) {
    const src = i * hw * c;
    if (luma) {
      for (let p = 0, q = src; p < hw; p++, q += 3) {
        luma[p] = 0.299 * pixels[q]! + 0.587 * pixels[q + 1]! + 0.114 * pixels[q + 2]!;
      }
    }
    for (let k = 0; k < C; k++) {
      const a = scale[k]!;
      const b = shift[k]!;
      const from = c === C ? src + k : src;
      const dst = nchw ? (i * C + k) * hw : i * hw * C + k;
      const step = nchw ? 1 : C;
      if (luma) {
        for (let p = 0, o = dst; p < hw; p++, o += step) out[o] = luma[p]! * a + b;
      } else {
        for (let p = 0, q = from, o = dst; p < hw; p++, q += c, o += step) {
          out[o] = pixels[q]! * a + b;
        }
      }
    }
  }
  return out;
}

/**
 * Embedding rows [n, C] from an output of shape [n, ...]: a 2-D output as it is, a 1-D one as one
 * column, more dims averaged over every axis but the channel axis (axis 1 for NCHW models, the
 * last for NHWC ones): global average pooling of a feature map.
 */
export function poolOutput(
  data: Float32Array,
  shape: readonly number[],
  layout: Layout,
): { rows: Float32Array; dim: number } {
  const n = shape[0]!;
  if (shape.length === 1) return { rows: data, dim: 1 };
  if (shape.length === 2) return { rows: data, dim: shape[1]! };
  const nchw = layout === 'nchw';
  const C = nchw ? shape[1]! : shape[shape.length - 1]!;
  const S = data.length / (n * C);
  const rows = new Float32Array(n * C);
  const acc = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    acc.fill(0);
    if (nchw) {
      for (let k = 0; k < C; k++) {
        const base = (i * C + k) * S;
        let a = 0;
        for (let s = 0; s < S; s++) a += data[base + s]!;
        acc[k] = a;
      }
    } else {
      for (let s = 0; s < S; s++) {
        const base = (i * S + s) * C;
        for (let k = 0; k < C; k++) acc[k] = acc[k]! + data[base + k]!;
      }
    }
    for (let k = 0; k < C; k++) rows[i * C + k] = acc[k]! / S;
  }
  return { rows, dim: C };
}

/** A model opened for a spec, its settings checked and its output probed. */
export interface OpenedModel {
  model: LoadedModel;
  info: ModelFileInfo;
}

export type ModelLoader = (file: string, spec: ModelFileFeatures) => Promise<LoadedModel>;

function describeBatch(shape: readonly number[], s: ModelFileSettings): string {
  return `a batch of ${shape[0]} image(s) shaped ${formatShape(shape)} (${s.layout.toUpperCase()})`;
}

/** One batch through the model, its failure explained in terms of the file and the settings. */
async function runBatch(
  path: string,
  model: LoadedModel,
  s: ModelFileSettings,
  input: Float32Array,
  shape: number[],
): Promise<{ data: Float32Array; shape: number[] }> {
  let out;
  try {
    out = await model.run(input, shape, s.output);
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    const declared = model.inputs[0]?.shape ?? null;
    throw new ModelFileError(
      `${path} could not run on ${describeBatch(shape, s)}; expected a shape its input "${s.input}" takes (${declared ? `declared as ${formatShape(declared)}` : 'the model declares none'}). Check the input size, channels and layout settings.`,
      { cause: err },
    );
  }
  if (out.shape.length === 0 || out.shape[0] !== shape[0]) {
    throw new ModelFileError(
      `${path}: output "${s.output}" has shape ${formatShape(out.shape)} for ${describeBatch(shape, s)}; expected one row per image (first dimension ${shape[0]}).`,
    );
  }
  return out;
}

function batchShape(s: ModelFileSettings, rows: number): number[] {
  const [h, w] = s.inputSize;
  return s.layout === 'nchw' ? [rows, s.channels, h, w] : [rows, h, w, s.channels];
}

/**
 * Open the model a spec points at with `load`, check the settings against it, and run one batch
 * of blank images to learn the embedding's width (and find a wrong input shape now rather than an
 * hour into a run). The caller disposes `model`.
 */
export async function openModelFile(
  spec: ModelFileFeatures,
  load: ModelLoader,
): Promise<OpenedModel> {
  const file = await checkModelPath(spec);
  const model = await load(file, spec);
  try {
    const { settings, notes } = resolveSettings(spec, model, file);
    const rows = settings.batch ?? 1;
    const shape = batchShape(settings, rows);
    const probe = await runBatch(
      file,
      model,
      settings,
      toModelInput(
        new Uint8Array(0),
        0,
        [...settings.inputSize, settings.channels],
        settings,
        rows,
      ),
      shape,
    );
    const pooled = probe.shape.length > 2;
    const { dim } = poolOutput(probe.data, probe.shape, settings.layout);
    if (dim < 1) {
      throw new ModelFileError(
        `${file}: output "${settings.output}" has shape ${formatShape(probe.shape)}; expected at least one value per image.`,
      );
    }
    if (pooled) {
      notes.push(
        `Output "${settings.output}" has shape ${formatShape(['N', ...probe.shape.slice(1)])}: averaged over ${
          settings.layout === 'nchw'
            ? 'every axis after the channels (axis 1)'
            : 'every axis between the batch and the channels (last axis)'
        } into ${dim} values per image (global average pooling).`,
      );
    }
    return {
      model,
      info: {
        kind: spec.kind,
        path: file,
        format: model.format,
        files: model.files,
        inputs: model.inputs,
        outputs: model.outputs,
        inner: model.inner,
        settings,
        embedding: { outputShape: probe.shape, dim, pooled },
        notes,
      },
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

async function loaderFor(kind: 'onnx' | 'tfjs'): Promise<ModelLoader> {
  if (kind === 'onnx') return (await import('./onnx.ts')).loadOnnxModel;
  return (await import('./tfjsModel.ts')).loadTfjsModel;
}

/**
 * Open a model file and say what a run would use: its inputs and outputs, the settings resolved
 * from the spec and the model, the embedding's width, and notes on the defaults chosen. Throws a
 * ModelFileError naming the file when the file or the settings cannot work.
 */
export async function inspectModelFile(spec: ModelFileFeatures): Promise<ModelFileInfo> {
  const { model, info } = await openModelFile(spec, await loaderFor(spec.kind));
  model.dispose();
  return info;
}

export interface ModelFileExtractor extends FeatureExtractor {
  /** What the model is and the settings it runs with (as `inspectModelFile` reports). */
  readonly info: ModelFileInfo;
}

export interface ModelFileExtractorOptions {
  /** Most images per inference batch (default: as many as fit 16 MB of input, at most 32). */
  maxBatch?: number;
}

/** A feature extractor over an opened model (shared by the ONNX and TF.js extractors). */
export function modelFileExtractor(
  spec: ModelFileFeatures,
  { model, info }: OpenedModel,
  opts: ModelFileExtractorOptions = {},
): ModelFileExtractor {
  const s = info.settings;
  const [h, w] = s.inputSize;
  const perImage = s.channels * h * w;
  const batch =
    s.batch ??
    Math.max(
      1,
      Math.min(opts.maxBatch ?? MAX_BATCH_IMAGES, Math.floor(MAX_BATCH_VALUES / perImage)),
    );
  const dim = info.embedding.dim;
  let disposed = false;
  return {
    spec,
    version: 1,
    info,
    inputSize: () => [h, w],
    // The input's name is left out: TF.js numbers a layers model's input anew at each load, and
    // the file's hash already covers it.
    cacheKeyExtra: () =>
      JSON.stringify({ model: model.hash, settings: { ...s, input: undefined } }),
    dim: () => dim,
    async embed(pixels, n, shape, ctx) {
      if (disposed) throw new Error(`${info.path}: the extractor was disposed`);
      const [ih, iw, c] = shape;
      if (ih !== h || iw !== w) {
        throw new Error(`${info.path}: images arrive at ${ih} x ${iw}; expected ${h} x ${w}`);
      }
      const per = ih * iw * c;
      const out = new Float32Array(n * dim);
      for (let start = 0; start < n; start += batch) {
        if (ctx.signal?.aborted) throw new FeaturesCancelled();
        const end = Math.min(n, start + batch);
        const rows = s.batch ?? end - start;
        const input = toModelInput(
          pixels.subarray(start * per, end * per),
          end - start,
          shape,
          s,
          rows,
        );
        const result = await runBatch(info.path, model, s, input, batchShape(s, rows));
        const pooled = poolOutput(result.data, result.shape, s.layout);
        if (pooled.dim !== dim) {
          throw new ModelFileError(
            `${info.path}: output "${s.output}" gave ${pooled.dim} values per image for ${describeBatch(batchShape(s, rows), s)}; expected ${dim}, as on the first batch.`,
          );
        }
        out.set(pooled.rows.subarray(0, (end - start) * dim), start * dim);
      }
      return out;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      model.dispose();
    },
  };
}
