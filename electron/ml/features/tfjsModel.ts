/**
 * A user's own encoder as a TF.js model (a layers model or a graph model, as model.json and its
 * weight files), run on the app's TF.js backend. TF.js in Node has no file:// loader, so the
 * model.json and its weight files are read here, checked (every weight file present, their sizes
 * what the manifest describes) and handed to TF.js from memory.
 *
 * The embedding is a layers model's first output, or the output of the layer `output` names; for
 * a graph model, the graph's first output, or the node `output` names.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import type { ModelFileFeatures } from '../../../shared/features.ts';
import { initBackend } from '../backend.ts';
import {
  hashFiles,
  modelFileExtractor,
  ModelFileError,
  openModelFile,
  reasonOf,
  sniffFile,
  type Dim,
  type LoadedModel,
  type ModelFileExtractor,
  type ModelFileExtractorOptions,
  type TensorInfo,
} from './modelFile.ts';

type Tf = typeof tfjs;
const EXPECTED = 'expected the model.json that tensorflowjs_converter or model.save() writes';

interface ModelJson {
  format?: string;
  modelTopology: Record<string, unknown>;
  weightsManifest: tfjs.io.WeightsManifestConfig;
  [k: string]: unknown;
}

/** The parsed model.json and which kind of model it holds. */
async function readModelJson(file: string): Promise<{ json: ModelJson; kind: 'layers' | 'graph' }> {
  const bytes = await readFile(file);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8').decode(bytes));
  } catch (err) {
    const looksLike = sniffFile(bytes.subarray(0, 64));
    throw new ModelFileError(
      `${file} is not a TF.js model.json: ${looksLike && looksLike !== 'a JSON file' ? `it looks like ${looksLike}` : 'it is not valid JSON'}; ${EXPECTED}.`,
      { cause: err },
    );
  }
  const obj = json as Partial<ModelJson> | null;
  if (
    !obj ||
    typeof obj !== 'object' ||
    !obj.modelTopology ||
    typeof obj.modelTopology !== 'object' ||
    !Array.isArray(obj.weightsManifest)
  ) {
    throw new ModelFileError(
      `${file} is JSON but not a TF.js model.json (it has no "modelTopology" and "weightsManifest"); ${EXPECTED}.`,
    );
  }
  const topo = obj.modelTopology;
  const kind =
    obj.format === 'graph-model' || Array.isArray(topo.node)
      ? 'graph'
      : obj.format === 'layers-model' || 'model_config' in topo || 'class_name' in topo
        ? 'layers'
        : null;
  if (!kind) {
    throw new ModelFileError(
      `${file}: its modelTopology is neither a layers model nor a graph model; ${EXPECTED}.`,
    );
  }
  return { json: obj as ModelJson, kind };
}

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Bytes a weightsManifest entry takes, or null where it cannot be known (strings). */
function entryBytes(e: tfjs.io.WeightsManifestEntry): number | null {
  const bytes = DTYPE_BYTES[e.quantization?.dtype ?? e.dtype];
  if (bytes === undefined) return null;
  return e.shape.reduce((a, b) => a * b, 1) * bytes;
}

/** The weight files a model.json lists, read and checked against its manifest. */
async function readWeights(
  file: string,
  manifest: tfjs.io.WeightsManifestConfig,
): Promise<{ specs: tfjs.io.WeightsManifestEntry[]; data: ArrayBuffer; paths: string[] }> {
  const dir = dirname(file);
  const specs: tfjs.io.WeightsManifestEntry[] = [];
  const paths: string[] = [];
  for (const group of manifest) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group.weights)) {
      throw new ModelFileError(
        `${file}: a weightsManifest entry has no "paths" or "weights" list; ${EXPECTED}.`,
      );
    }
    specs.push(...group.weights);
    for (const p of group.paths) {
      let full = resolve(dir, p);
      let st = await stat(full).catch(() => null);
      if (!st) {
        // Converters write URL-style paths; a name with spaces may be percent-encoded.
        const decoded = resolve(dir, decodeURIComponent(p));
        st = await stat(decoded).catch(() => null);
        if (st) full = decoded;
      }
      if (!st?.isFile()) {
        throw new ModelFileError(
          `${file} lists the weight file ${p}, which is missing (expected at ${full}); copy every file of the model beside its model.json.`,
        );
      }
      paths.push(full);
    }
  }
  const parts = await Promise.all(paths.map((p) => readFile(p)));
  const total = parts.reduce((a, b) => a + b.length, 0);
  const sizes = specs.map(entryBytes);
  if (sizes.every((s) => s !== null)) {
    const expected = (sizes as number[]).reduce((a, b) => a + b, 0);
    if (expected !== total) {
      throw new ModelFileError(
        `The weight files of ${file} (${paths.map((p) => p.slice(dir.length + 1)).join(', ')}) hold ${total} bytes; expected ${expected}, as its weightsManifest describes: a file is truncated or belongs to another model.`,
      );
    }
  }
  const data = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.length;
  }
  return { specs, data: data.buffer, paths };
}

const dims = (shape: readonly (number | null)[] | undefined): Dim[] | null =>
  shape ? shape.map((d) => (typeof d === 'number' && d > 0 ? d : null)) : null;

function loadError(file: string, kind: 'layers' | 'graph', err: unknown): ModelFileError {
  const reason = reasonOf(err);
  const layer = /Unknown (?:layer|activation|initializer|regularizer|constraint): (\w+)/.exec(
    reason,
  );
  if (layer) {
    return new ModelFileError(
      `${file} uses ${layer[1]}, which TF.js does not have; expected a model made of built-in layers (or one converted to a graph model).`,
      { cause: err },
    );
  }
  return new ModelFileError(
    `TF.js could not load ${file} as a ${kind} model; ${EXPECTED} (TF.js said: ${reason.slice(0, 200)}).`,
    { cause: err },
  );
}

function runError(file: string, err: unknown): unknown {
  const op = /Unknown op '([\w.-]+)'|Op is not supported: ([\w.-]+)/.exec(reasonOf(err));
  if (op) {
    return new ModelFileError(
      `${file} uses the TensorFlow op ${op[1] ?? op[2]}, which TF.js cannot run; expected a graph of ops TF.js supports.`,
      { cause: err },
    );
  }
  return err;
}

async function readFloat(
  file: string,
  output: string,
  t: tfjs.Tensor,
): Promise<{ data: Float32Array; shape: number[] }> {
  if (t.dtype !== 'float32') {
    throw new ModelFileError(
      `${file}: output "${output}" holds ${t.dtype} values; expected float32 embedding values (choose another output).`,
    );
  }
  return { data: (await t.data()) as Float32Array, shape: [...t.shape] };
}

function layersModel(
  tf: Tf,
  file: string,
  model: tfjs.LayersModel,
): Pick<LoadedModel, 'inputs' | 'outputs' | 'inner' | 'run' | 'dispose'> {
  const heads = new Map<string, tfjs.LayersModel>();
  const target = (output: string): { m: tfjs.LayersModel; index: number } => {
    const index = model.outputs.findIndex((t) => t.sourceLayer.name === output);
    if (index >= 0) return { m: model, index };
    let m = heads.get(output);
    if (!m) {
      const out = model.getLayer(output).output;
      m = tf.model({ inputs: model.inputs, outputs: Array.isArray(out) ? out[0]! : out });
      heads.set(output, m);
    }
    return { m, index: 0 };
  };
  return {
    inputs: model.inputs.map((t) => ({ name: t.name, shape: dims(t.shape), dtype: t.dtype })),
    outputs: model.outputs.map((t) => ({
      name: t.sourceLayer.name,
      shape: dims(t.shape),
      dtype: t.dtype,
    })),
    inner: { what: 'layers', names: model.layers.map((l) => l.name) },
    async run(input, shape, output) {
      const { m, index } = target(output);
      const x = tf.tensor(input, [...shape], 'float32');
      let y: tfjs.Tensor | tfjs.Tensor[] | undefined;
      try {
        y = m.predict(x, { batchSize: shape[0] });
        return await readFloat(file, output, Array.isArray(y) ? y[index]! : y);
      } finally {
        tf.dispose(y ? [x, ...(Array.isArray(y) ? y : [y])] : [x]);
      }
    },
    // The heads share the model's layers: disposing the model frees their weights.
    dispose: () => model.dispose(),
  };
}

function graphModel(
  tf: Tf,
  file: string,
  model: tfjs.GraphModel,
  json: ModelJson,
): Pick<LoadedModel, 'inputs' | 'outputs' | 'inner' | 'run' | 'dispose'> {
  const nodes = ((json.modelTopology.node ?? []) as { name: string; op: string }[])
    .filter((n) => n.op !== 'Const' && !n.op.startsWith('Placeholder'))
    .map((n) => n.name);
  const info = (t: { name: string; shape?: number[]; dtype: string }): TensorInfo => ({
    name: t.name,
    shape: dims(t.shape),
    dtype: t.dtype,
  });
  let needsAsync = false;
  return {
    inputs: model.inputs.map(info),
    outputs: model.outputs.map(info),
    inner: { what: 'nodes', names: nodes },
    async run(input, shape, output) {
      const x = tf.tensor(input, [...shape], 'float32');
      let y: tfjs.Tensor | tfjs.Tensor[] | undefined;
      try {
        const feeds = { [model.inputs[0]!.name]: x };
        if (!needsAsync) {
          try {
            y = model.execute(feeds, output);
          } catch (err) {
            // Graphs with control flow or dynamic shapes run only asynchronously.
            if (!/executeAsync/.test(reasonOf(err))) throw err;
            needsAsync = true;
          }
        }
        if (needsAsync) y = await model.executeAsync(feeds, output);
        if (!y) throw new Error(`no value for ${output}`);
        return await readFloat(file, output, Array.isArray(y) ? y[0]! : y);
      } catch (err) {
        throw runError(file, err);
      } finally {
        tf.dispose(y ? [x, ...(Array.isArray(y) ? y : [y])] : [x]);
      }
    },
    dispose: () => model.dispose(),
  };
}

/** Open a TF.js model.json (checked by openModelFile first) and describe its inputs and outputs. */
export async function loadTfjsModel(file: string): Promise<LoadedModel> {
  const { json, kind } = await readModelJson(file);
  const weights = await readWeights(file, json.weightsManifest);
  const files = [file, ...weights.paths];
  const hash = await hashFiles(files);
  const tf = await import('@tensorflow/tfjs');
  await initBackend();
  const artifacts = await tf.io.getModelArtifactsForJSON(json as never, async () => [
    weights.specs,
    weights.data,
  ]);
  const format = kind === 'layers' ? 'TF.js layers model' : 'TF.js graph model';
  let part;
  try {
    part =
      kind === 'layers'
        ? layersModel(tf, file, await tf.loadLayersModel(tf.io.fromMemory(artifacts)))
        : graphModel(tf, file, await tf.loadGraphModel(tf.io.fromMemory(artifacts)), json);
  } catch (err) {
    throw loadError(file, kind, err);
  }
  return { format, files, hash, defaultLayout: 'nhwc', ...part };
}

/** The extractor for a TF.js encoder: the files are read, checked and probed here. */
export async function tfjsExtractor(
  spec: ModelFileFeatures,
  opts?: ModelFileExtractorOptions,
): Promise<ModelFileExtractor> {
  return modelFileExtractor(spec, await openModelFile(spec, loadTfjsModel), opts);
}
