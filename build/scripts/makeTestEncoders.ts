/**
 * Tiny image encoders for the tests of the "bring your own encoder" feature extractors, generated
 * here rather than downloaded or committed as binaries:
 *
 * - ONNX: `Conv 3x3 (pad 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm`, outputs `embedding`
 *   [N, 3] and the Relu's feature map `feature_map` [N, F, H', W'] (to test the pooling of 4-D
 *   outputs). Written with the small protobuf writer below (the subset of onnx.proto it needs,
 *   field numbers from onnx/onnx.proto3).
 * - TF.js: the same network as a layers model (`tf.sequential`, saved through a save handler) and
 *   as a graph model (a GraphDef in JSON, as the converter writes it).
 *
 * The weights are a fixed formula (`encoderWeights`), so a test can compute the expected embedding
 * by hand. Run as a script to write every variant into a folder:
 *
 *   node --import tsx build/scripts/makeTestEncoders.ts OUT_DIR
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Width of the test encoders' embedding. */
export const EMBED_DIM = 3;

export interface EncoderWeights {
  channels: number;
  filters: number;
  /** Conv kernel [filters, channels, 3, 3] (ONNX's OIHW). */
  conv: Float32Array;
  convBias: Float32Array;
  /** Linear layer [filters, EMBED_DIM]: embedding = pooled x dense + denseBias. */
  dense: Float32Array;
  denseBias: Float32Array;
}

/** The fixed weights of every test encoder with this many input channels and filters. */
export function encoderWeights(channels: number, filters = 4): EncoderWeights {
  const conv = new Float32Array(filters * channels * 9);
  for (let o = 0; o < filters; o++)
    for (let c = 0; c < channels; c++)
      for (let ky = 0; ky < 3; ky++)
        for (let kx = 0; kx < 3; kx++)
          conv[((o * channels + c) * 3 + ky) * 3 + kx] =
            (((o * 7 + c * 5 + ky * 3 + kx) % 11) - 5) / 10;
  const convBias = Float32Array.from({ length: filters }, (_, o) => (o - 1.5) / 10);
  const dense = new Float32Array(filters * EMBED_DIM);
  for (let i = 0; i < filters; i++)
    for (let j = 0; j < EMBED_DIM; j++) dense[i * EMBED_DIM + j] = (((i * 3 + j * 2) % 7) - 3) / 5;
  const denseBias = Float32Array.from({ length: EMBED_DIM }, (_, j) => j / 10);
  return { channels, filters, conv, convBias, dense, denseBias };
}

// ---------------------------------------------------------------------------------------------
// A minimal protobuf writer: varints, length-delimited fields, and nothing else ONNX needs.

class Proto {
  private readonly bytes: number[] = [];

  private varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`cannot encode ${v} as a varint`);
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }

  private tag(field: number, wire: 0 | 2 | 5): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  ints(field: number, vs: readonly number[]): this {
    for (const v of vs) this.int(field, v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    this.bytes.push(...b);
    return this;
  }

  raw(field: number, b: Uint8Array): this {
    this.tag(field, 2);
    this.varint(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }

  string(field: number, s: string): this {
    return this.raw(field, new TextEncoder().encode(s));
  }

  message(field: number, m: Proto): this {
    return this.raw(field, m.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

// onnx.proto's enums and field numbers used below.
const FLOAT = 1;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

type Attr = number | readonly number[] | { float: number };

function attribute(name: string, v: Attr): Proto {
  const a = new Proto().string(1, name);
  if (typeof v === 'number') return a.int(3, v).int(20, ATTR_INT);
  if ('float' in v) return a.float(2, v.float).int(20, ATTR_FLOAT);
  return a.ints(8, v).int(20, ATTR_INTS);
}

function node(
  op: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attrs: Record<string, Attr> = {},
): Proto {
  const n = new Proto();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  n.string(3, outputs[0]!).string(4, op);
  for (const [k, v] of Object.entries(attrs)) n.message(5, attribute(k, v));
  return n;
}

function floatTensor(name: string, dims: readonly number[], data: Float32Array): Proto {
  return new Proto()
    .ints(1, dims)
    .int(2, FLOAT)
    .string(8, name)
    .raw(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** A dimension: a fixed size, or a symbolic name (e.g. the batch "N"). */
type Dim = number | string;

/** A float tensor's name and type; `dims` null leaves its shape undeclared. */
function valueInfo(name: string, dims: readonly Dim[] | null): Proto {
  const tensor = new Proto().int(1, FLOAT);
  if (dims) {
    const shape = new Proto();
    for (const d of dims) {
      shape.message(1, typeof d === 'number' ? new Proto().int(1, d) : new Proto().string(2, d));
    }
    tensor.message(2, shape);
  }
  return new Proto().string(1, name).message(2, new Proto().message(1, tensor));
}

export interface OnnxEncoderOptions {
  /** Input channels (default 3). */
  channels?: 1 | 3;
  /** Declared input [height, width]; null: symbolic ("H", "W"), any size runs (default [16, 16]). */
  size?: [number, number] | null;
  /** Input layout; nhwc models transpose to nchw first, as tf2onnx exports do (default nchw). */
  layout?: 'nchw' | 'nhwc';
  /** Declared batch: a fixed number, or null for a symbolic "N" (default null). */
  batch?: number | null;
  /** Conv filters (default 4). */
  filters?: number;
  /** Conv stride (default 1). */
  stride?: number;
  /** Leave the input's shape undeclared (as some exporters do). */
  undeclaredInput?: boolean;
  /** Append 0 / 0 to the embedding: every output is NaN. */
  nan?: boolean;
}

/** The bytes of a tiny ONNX encoder (see the module comment). */
export function onnxEncoderBytes(opts: OnnxEncoderOptions = {}): Uint8Array {
  const channels = opts.channels ?? 3;
  const filters = opts.filters ?? 4;
  const stride = opts.stride ?? 1;
  const layout = opts.layout ?? 'nchw';
  const size: [number, number] | null = opts.size === undefined ? [16, 16] : opts.size;
  const w = encoderWeights(channels, filters);
  const b: Dim = opts.batch ?? 'N';
  const [h, wd]: [Dim, Dim] = size ? [size[0], size[1]] : ['H', 'W'];
  const inputDims: Dim[] = layout === 'nchw' ? [b, channels, h, wd] : [b, h, wd, channels];
  const outSide = (s: Dim): Dim => (typeof s === 'number' ? Math.floor((s - 1) / stride) + 1 : '?');

  const graph = new Proto();
  let x = 'image';
  if (layout === 'nhwc') {
    graph.message(1, node('Transpose', [x], ['image_nchw'], { perm: [0, 3, 1, 2] }));
    x = 'image_nchw';
  }
  graph
    .message(
      1,
      node('Conv', [x, 'conv.weight', 'conv.bias'], ['conv'], {
        kernel_shape: [3, 3],
        pads: [1, 1, 1, 1],
        strides: [stride, stride],
      }),
    )
    .message(1, node('Relu', ['conv'], ['feature_map']))
    .message(1, node('GlobalAveragePool', ['feature_map'], ['pooled']))
    .message(1, node('Flatten', ['pooled'], ['flat'], { axis: 1 }))
    .message(
      1,
      node('Gemm', ['flat', 'fc.weight', 'fc.bias'], [opts.nan ? 'fc' : 'embedding'], {
        alpha: { float: 1 },
        beta: { float: 1 },
      }),
    );
  if (opts.nan) {
    graph
      .message(1, node('Sub', ['fc', 'fc'], ['zeros']))
      .message(1, node('Div', ['zeros', 'zeros'], ['embedding']));
  }
  graph
    .string(2, 'tiny_encoder')
    .message(5, floatTensor('conv.weight', [filters, channels, 3, 3], w.conv))
    .message(5, floatTensor('conv.bias', [filters], w.convBias))
    .message(5, floatTensor('fc.weight', [filters, EMBED_DIM], w.dense))
    .message(5, floatTensor('fc.bias', [EMBED_DIM], w.denseBias))
    .message(11, valueInfo('image', opts.undeclaredInput ? null : inputDims))
    .message(12, valueInfo('embedding', [b, EMBED_DIM]))
    .message(12, valueInfo('feature_map', [b, filters, outSide(h), outSide(wd)]));

  return new Proto()
    .int(1, 8) // ir_version 8 (ONNX 1.10+)
    .string(2, 'deepal-test-encoders')
    .message(7, graph)
    .message(8, new Proto().string(1, '').int(2, 13)) // opset 13
    .finish();
}

export async function writeOnnxEncoder(
  path: string,
  opts: OnnxEncoderOptions = {},
): Promise<string> {
  await writeFile(path, onnxEncoderBytes(opts));
  return path;
}

// ---------------------------------------------------------------------------------------------
// TF.js models.

export interface TfjsEncoderOptions {
  channels?: 1 | 3;
  /** Input [height, width] (default [16, 16]); null: any size (graph models only). */
  size?: [number, number] | null;
  filters?: number;
}

/** The conv kernel in TF's [kh, kw, in, out] order. */
function tfKernel(w: EncoderWeights): Float32Array {
  const k = new Float32Array(w.conv.length);
  for (let o = 0; o < w.filters; o++)
    for (let c = 0; c < w.channels; c++)
      for (let ky = 0; ky < 3; ky++)
        for (let kx = 0; kx < 3; kx++)
          k[((ky * 3 + kx) * w.channels + c) * w.filters + o] =
            w.conv[((o * w.channels + c) * 3 + ky) * 3 + kx]!;
  return k;
}

function concatBytes(parts: readonly ArrayBufferView[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return out;
}

/**
 * A layers model (conv `feature_map` with relu -> global average pooling -> dense `embedding`)
 * saved as `model.json` + `weights.bin` in `dir`. Returns the model.json path.
 */
export async function writeTfjsLayersEncoder(
  dir: string,
  opts: TfjsEncoderOptions = {},
): Promise<string> {
  const tf = await import('@tensorflow/tfjs');
  const channels = opts.channels ?? 3;
  const [h, w] = opts.size ?? [16, 16];
  const weights = encoderWeights(channels, opts.filters ?? 4);
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        name: 'feature_map',
        inputShape: [h, w, channels],
        filters: weights.filters,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
      }),
      tf.layers.globalAveragePooling2d({ name: 'pool' }),
      tf.layers.dense({ name: 'embedding', units: EMBED_DIM }),
    ],
  });
  model.setWeights([
    tf.tensor4d(tfKernel(weights), [3, 3, channels, weights.filters]),
    tf.tensor1d(weights.convBias),
    tf.tensor2d(weights.dense, [weights.filters, EMBED_DIM]),
    tf.tensor1d(weights.denseBias),
  ]);
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const bytes = Array.isArray(data)
        ? concatBytes(data.map((d) => new Uint8Array(d)))
        : new Uint8Array(data ?? new ArrayBuffer(0));
      await writeFile(join(dir, 'weights.bin'), bytes);
      await writeFile(
        join(dir, 'model.json'),
        JSON.stringify({
          format: 'layers-model',
          generatedBy: 'deepal makeTestEncoders',
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return join(dir, 'model.json');
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const ints = (vs: readonly number[]) => ({ list: { i: vs.map(String) } });
const f32 = { type: 'DT_FLOAT' };

/**
 * The same network as a TF.js graph model (`model.json` with a GraphDef, `group1-shard1of1.bin`)
 * in `dir`: input `image` [-1, H, W, C], nodes `feature_map` (relu) and `embedding` (the graph's
 * output). Returns the model.json path.
 */
export async function writeTfjsGraphEncoder(
  dir: string,
  opts: TfjsEncoderOptions = {},
): Promise<string> {
  const channels = opts.channels ?? 3;
  const size = opts.size === undefined ? [16, 16] : opts.size;
  const weights = encoderWeights(channels, opts.filters ?? 4);
  const constNode = (name: string, dtype = f32) => ({
    name,
    op: 'Const',
    attr: { dtype, value: { tensor: { dtype: dtype.type } } },
  });
  const nodes = [
    {
      name: 'image',
      op: 'Placeholder',
      attr: {
        dtype: f32,
        shape: {
          shape: {
            dim: [-1, ...(size ?? [-1, -1]), channels].map((s) => ({ size: String(s) })),
          },
        },
      },
    },
    constNode('conv/kernel'),
    constNode('conv/bias'),
    constNode('pool/axes', { type: 'DT_INT32' }),
    constNode('dense/kernel'),
    constNode('dense/bias'),
    {
      name: 'conv/Conv2D',
      op: 'Conv2D',
      input: ['image', 'conv/kernel'],
      attr: {
        T: f32,
        strides: ints([1, 1, 1, 1]),
        dilations: ints([1, 1, 1, 1]),
        padding: { s: b64('SAME') },
        data_format: { s: b64('NHWC') },
      },
    },
    {
      name: 'conv/BiasAdd',
      op: 'BiasAdd',
      input: ['conv/Conv2D', 'conv/bias'],
      attr: { T: f32, data_format: { s: b64('NHWC') } },
    },
    { name: 'feature_map', op: 'Relu', input: ['conv/BiasAdd'], attr: { T: f32 } },
    {
      name: 'pool',
      op: 'Mean',
      input: ['feature_map', 'pool/axes'],
      attr: { T: f32, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } },
    },
    {
      name: 'dense/MatMul',
      op: 'MatMul',
      input: ['pool', 'dense/kernel'],
      attr: { T: f32, transpose_a: { b: false }, transpose_b: { b: false } },
    },
    {
      name: 'embedding',
      op: 'BiasAdd',
      input: ['dense/MatMul', 'dense/bias'],
      attr: { T: f32, data_format: { s: b64('NHWC') } },
    },
  ];
  const specs = [
    { name: 'conv/kernel', shape: [3, 3, channels, weights.filters], dtype: 'float32' },
    { name: 'conv/bias', shape: [weights.filters], dtype: 'float32' },
    { name: 'pool/axes', shape: [2], dtype: 'int32' },
    { name: 'dense/kernel', shape: [weights.filters, EMBED_DIM], dtype: 'float32' },
    { name: 'dense/bias', shape: [EMBED_DIM], dtype: 'float32' },
  ];
  const data = concatBytes([
    tfKernel(weights),
    weights.convBias,
    new Int32Array([1, 2]),
    weights.dense,
    weights.denseBias,
  ]);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'group1-shard1of1.bin'), data);
  await writeFile(
    join(dir, 'model.json'),
    JSON.stringify({
      format: 'graph-model',
      generatedBy: 'deepal makeTestEncoders',
      convertedBy: null,
      modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
    }),
  );
  return join(dir, 'model.json');
}

/** Write every variant into `out` (for trying the extractors by hand). */
export async function writeAllTestEncoders(out: string): Promise<string[]> {
  await mkdir(out, { recursive: true });
  return [
    await writeOnnxEncoder(join(out, 'tiny-nchw.onnx')),
    await writeOnnxEncoder(join(out, 'tiny-nhwc.onnx'), { layout: 'nhwc' }),
    await writeOnnxEncoder(join(out, 'tiny-gray.onnx'), { channels: 1 }),
    await writeOnnxEncoder(join(out, 'tiny-any-size.onnx'), { size: null }),
    await writeOnnxEncoder(join(out, 'tiny-nan.onnx'), { nan: true }),
    await writeOnnxEncoder(join(out, 'small-224.onnx'), {
      size: [224, 224],
      filters: 16,
      stride: 2,
    }),
    await writeTfjsLayersEncoder(join(out, 'tfjs-layers')),
    await writeTfjsGraphEncoder(join(out, 'tfjs-graph')),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node --import tsx build/scripts/makeTestEncoders.ts OUT_DIR');
    process.exit(2);
  }
  for (const p of await writeAllTestEncoders(out)) console.log(p);
}
