/**
 * A user's own encoder as an ONNX file, run with onnxruntime-node's CPU runtime (which its
 * registry package carries for Linux, macOS and Windows: nothing is downloaded). The runtime is a
 * 30 MB native library, so it loads only when an ONNX spec is used.
 */
import type * as ortTypes from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import type { ModelFileFeatures } from '../../../shared/features.ts';
import {
  hashFiles,
  modelFileExtractor,
  ModelFileError,
  openModelFile,
  readHead,
  reasonOf,
  sniffFile,
  type Dim,
  type LoadedModel,
  type ModelFileExtractor,
  type ModelFileExtractorOptions,
  type TensorInfo,
} from './modelFile.ts';

type Ort = typeof ortTypes;

let runtime: Promise<Ort> | undefined;

/** onnxruntime-node, loaded on first use. */
export function loadOnnxRuntime(): Promise<Ort> {
  runtime ??= import('onnxruntime-node').catch((err: unknown) => {
    runtime = undefined;
    if (/did not self-register/.test(reasonOf(err))) {
      // See onnxPreload.ts: the thread that loaded the binding first has ended.
      throw new ModelFileError(
        'The ONNX runtime was loaded by another thread of this process that has since ended, and cannot be loaded again; expected it loaded by the main thread first (preloadOnnxRuntime). Restart the app to use ONNX features.',
        { cause: err },
      );
    }
    throw new ModelFileError(
      'The ONNX runtime (onnxruntime-node) could not be loaded on this machine; expected it installed with the app. Reinstall it, or convert the encoder to TF.js.',
      { cause: err },
    );
  });
  return runtime;
}

function tensorInfo(m: InferenceSession.ValueMetadata): TensorInfo {
  if (!m.isTensor) return { name: m.name, shape: null, dtype: 'non-tensor' };
  const shape: Dim[] | null =
    m.shape.length === 0
      ? null
      : m.shape.map((d) => (typeof d === 'number' ? (d > 0 ? d : null) : d || null));
  return { name: m.name, shape, dtype: m.type };
}

/** Why the runtime refused a file, as a sentence that names it. */
async function loadError(file: string, err: unknown, version: string): Promise<ModelFileError> {
  const reason = reasonOf(err);
  const looksLike = sniffFile(await readHead(file).catch(() => new Uint8Array(0)));
  if (looksLike || /protobuf parsing failed|failed to load model|invalid_protobuf/i.test(reason)) {
    return new ModelFileError(
      `${file} is not an ONNX model${looksLike ? `: it looks like ${looksLike}` : ' (it could not be parsed)'}; expected an .onnx file, e.g. from torch.onnx.export or tf2onnx.`,
      { cause: err },
    );
  }
  if (/ir version|opset/i.test(reason)) {
    return new ModelFileError(
      `${file} was exported for a newer ONNX version than the bundled runtime (onnxruntime ${version}) reads; expected a model at opset 23 or below: export it again with an older opset.`,
      { cause: err },
    );
  }
  const op =
    /(?:implementation for|registered function\/op|Unrecognized op(?:erator)?)\D*?'?(\w+)'?/i.exec(
      reason,
    );
  if (op) {
    return new ModelFileError(
      `${file} uses the operator ${op[1]}, which onnxruntime ${version} cannot run on the CPU; expected an encoder made of standard ONNX operators.`,
      { cause: err },
    );
  }
  return new ModelFileError(
    `onnxruntime ${version} could not load ${file}; expected a valid ONNX model (the runtime said: ${reason.slice(0, 200)}).`,
    { cause: err },
  );
}

/** Open an ONNX file (checked by openModelFile first) and describe its inputs and outputs. */
export async function loadOnnxModel(file: string): Promise<LoadedModel> {
  const ort = await loadOnnxRuntime();
  const version = ort.env.versions.node ?? 'unknown';
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      // The runtime's own log lines are for the model's author, not our user's console: its
      // errors reach us as exceptions, which say what failed in terms of the file.
      logSeverityLevel: 4,
    });
  } catch (err) {
    throw await loadError(file, err, version);
  }
  let hash: string;
  try {
    hash = await hashFiles([file]);
  } catch (err) {
    void session.release();
    throw new ModelFileError(`Model file ${file} cannot be read; expected an ONNX model (.onnx).`, {
      cause: err,
    });
  }
  return {
    format: 'ONNX model',
    files: [file],
    hash,
    defaultLayout: 'nchw',
    inputs: session.inputMetadata.map(tensorInfo),
    outputs: session.outputMetadata.map(tensorInfo),
    inner: { what: 'outputs', names: [] },
    async run(input, shape, output) {
      const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, shape) };
      const result = await session.run(feeds, [output]);
      // onnxruntime-node before 1.24 files a single fetched output under another output's name
      // (microsoft/onnxruntime#26865): one output was asked for, so the one value is it.
      const values = Object.values(result);
      const t = result[output] ?? (values.length === 1 ? values[0] : undefined);
      if (!t) {
        throw new ModelFileError(
          `${file}: the run gave no output "${output}"; expected it among ${Object.keys(result).join(', ')}.`,
        );
      }
      if (t.type !== 'float32') {
        throw new ModelFileError(
          `${file}: output "${output}" holds ${t.type} values; expected float32 embedding values (choose another output).`,
        );
      }
      return { data: t.data as Float32Array, shape: [...t.dims] };
    },
    dispose() {
      void session.release().catch(() => {});
    },
  };
}

/** The extractor for an ONNX encoder: the file is opened, checked and probed here. */
export async function onnxExtractor(
  spec: ModelFileFeatures,
  opts?: ModelFileExtractorOptions,
): Promise<ModelFileExtractor> {
  return modelFileExtractor(spec, await openModelFile(spec, loadOnnxModel), opts);
}
