/**
 * Test utilities for strategies: a ModelView over fixed arrays, a tiny real Network (dense layers +
 * dropout, so gradients and MC passes are genuine), a hand-set linear Network for boundary tests,
 * a ModelView over any Network, and small pools/contexts. Used by tests only; no node:* imports,
 * so it also loads in a worker.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import type { ForwardMode, ForwardOutput, ModelSpec, Network } from '../models/network.ts';
import type { Dataset } from '../types.ts';
import type { ModelView, ParamValue, QueryContext, QueryResult } from './types.ts';

/** Counts of ModelView calls, so tests can check what a strategy asked for. */
export interface ViewCalls {
  probs: number;
  probsAndEmbeddings: number;
  mcProbs: number;
  inputs: number;
  /** Rows requested through inputs(). */
  inputRows: number;
  /** Total rows requested across all calls. */
  rows: number;
  /** The `passes` argument of each mcProbs call. */
  passes: number[];
}

export interface FakeModelViewOptions {
  /** One eval pass over the whole pool, [N, C], indexed by pool index. */
  probs: Float32Array;
  /** Penultimate embeddings over the whole pool, [N, D]. */
  embeddings: Float32Array;
  /**
   * Monte-Carlo passes over the whole pool, [T, N, C]. mcProbs(indices, passes) returns the first
   * `passes` of them and throws if more are asked for. Absent: every pass returns `probs`.
   */
  mcProbs?: Float32Array;
  numClasses: number;
  embeddingDim: number;
  /** Optional network and raw inputs [N, ...inputShape] for gradient-based strategies. */
  net?: Network;
  x?: Float32Array;
  inputShape?: number[];
}

/** A ModelView reading fixed arrays; `calls` records what was requested. */
export type FakeModelView = ModelView & { readonly calls: ViewCalls };

function gather(src: Float32Array, width: number, indices: Int32Array, what: string): Float32Array {
  const rowsAvail = src.length / width;
  const out = new Float32Array(indices.length * width);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    if (!(r >= 0 && r < rowsAvail)) {
      throw new RangeError(`fakeModelView.${what}: index ${r} is outside the pool of ${rowsAvail}`);
    }
    out.set(src.subarray(r * width, (r + 1) * width), i * width);
  }
  return out;
}

/** A ModelView over fixed arrays: strategies' selection logic without any model. */
export function fakeModelView(opts: FakeModelViewOptions): FakeModelView {
  const C = opts.numClasses;
  const D = opts.embeddingDim;
  if (opts.probs.length % C !== 0) throw new RangeError('fakeModelView: probs is not [N, C]');
  const N = opts.probs.length / C;
  if (opts.embeddings.length !== N * D) {
    throw new RangeError(
      `fakeModelView: embeddings has ${opts.embeddings.length} values, expected ${N} x ${D}`,
    );
  }
  const T = opts.mcProbs ? opts.mcProbs.length / (N * C) : Infinity;
  if (opts.mcProbs && !Number.isInteger(T))
    throw new RangeError('fakeModelView: mcProbs is not [T, N, C]');
  const calls: ViewCalls = {
    probs: 0,
    probsAndEmbeddings: 0,
    mcProbs: 0,
    inputs: 0,
    inputRows: 0,
    rows: 0,
    passes: [],
  };
  return {
    numClasses: C,
    embeddingDim: D,
    calls,
    async probs(indices) {
      calls.probs++;
      calls.rows += indices.length;
      return gather(opts.probs, C, indices, 'probs');
    },
    async probsAndEmbeddings(indices) {
      calls.probsAndEmbeddings++;
      calls.rows += indices.length;
      return {
        probs: gather(opts.probs, C, indices, 'probsAndEmbeddings'),
        embeddings: gather(opts.embeddings, D, indices, 'probsAndEmbeddings'),
      };
    },
    async mcProbs(indices, passes) {
      calls.mcProbs++;
      calls.rows += indices.length * passes;
      calls.passes.push(passes);
      if (passes > T) {
        throw new RangeError(`fakeModelView.mcProbs: ${passes} passes asked, only ${T} stored`);
      }
      const n = indices.length;
      const out = new Float32Array(passes * n * C);
      for (let t = 0; t < passes; t++) {
        const src = opts.mcProbs ? opts.mcProbs.subarray(t * N * C, (t + 1) * N * C) : opts.probs;
        out.set(gather(src, C, indices, 'mcProbs'), t * n * C);
      }
      return out;
    },
    get net(): Network {
      if (!opts.net) throw new Error('fakeModelView: this fake has no network (pass opts.net)');
      return opts.net;
    },
    inputs(indices) {
      calls.inputs++;
      calls.inputRows += indices.length;
      if (!opts.x || !opts.inputShape) {
        throw new Error('fakeModelView: this fake has no inputs (pass opts.x and opts.inputShape)');
      }
      const F = opts.inputShape.reduce((a, b) => a * b, 1);
      return tf.tensor(gather(opts.x, F, indices, 'inputs'), [indices.length, ...opts.inputShape]);
    },
  };
}

/**
 * A ModelView over a real Network and a pool of float32 features (or uint8 pixels scaled by 1/255).
 * Batches of `batchSize` keep memory bounded. Tests and benchmarks only; the product's view is
 * createModelView in electron/ml/training/modelView.ts.
 */
export function networkModelView(net: Network, pool: Dataset, batchSize = 256): FakeModelView {
  const F = pool.sampleShape.reduce((a, b) => a * b, 1);
  const C = net.numClasses;
  const calls: ViewCalls = {
    probs: 0,
    probsAndEmbeddings: 0,
    mcProbs: 0,
    inputs: 0,
    inputRows: 0,
    rows: 0,
    passes: [],
  };
  const inputs = (indices: Int32Array): tf.Tensor => {
    const buf = new Float32Array(indices.length * F);
    const scale = pool.x instanceof Uint8Array ? 1 / 255 : 1;
    for (let i = 0; i < indices.length; i++) {
      const o = indices[i]! * F;
      for (let j = 0; j < F; j++) buf[i * F + j] = pool.x[o + j]! * scale;
    }
    return tf.tensor(buf, [indices.length, ...pool.sampleShape]);
  };
  const run = (
    indices: Int32Array,
    mode: ForwardMode,
    withEmb: boolean,
  ): { probs: Float32Array; embeddings: Float32Array } => {
    const n = indices.length;
    const probs = new Float32Array(n * C);
    const embeddings = new Float32Array(withEmb ? n * net.embeddingDim : 0);
    for (let s = 0; s < n; s += batchSize) {
      const idx = indices.subarray(s, Math.min(n, s + batchSize));
      const [p, e] = tf.tidy(() => {
        const x = inputs(idx);
        const out = net.forward(x, mode);
        return [tf.softmax(out.logits), out.embedding];
      });
      probs.set(p!.dataSync() as Float32Array, s * C);
      if (withEmb) embeddings.set(e!.dataSync() as Float32Array, s * net.embeddingDim);
      p!.dispose();
      e!.dispose();
    }
    return { probs, embeddings };
  };
  return {
    numClasses: C,
    embeddingDim: net.embeddingDim,
    net,
    calls,
    async probs(indices) {
      calls.probs++;
      calls.rows += indices.length;
      return run(indices, 'eval', false).probs;
    },
    async probsAndEmbeddings(indices) {
      calls.probsAndEmbeddings++;
      calls.rows += indices.length;
      return run(indices, 'eval', true);
    },
    async mcProbs(indices, passes) {
      calls.mcProbs++;
      calls.rows += indices.length * passes;
      calls.passes.push(passes);
      const n = indices.length;
      const out = new Float32Array(passes * n * C);
      for (let t = 0; t < passes; t++) out.set(run(indices, 'mc', false).probs, t * n * C);
      return out;
    },
    inputs(indices) {
      calls.inputs++;
      calls.inputRows += indices.length;
      return inputs(indices);
    },
  };
}

/** Options of tinyNetwork. */
export interface TinyNetworkOptions {
  /** Hidden width (= embedding size). Default 16. */
  hidden?: number;
  /** Dropout rate used in 'train' and 'mc' modes. Default 0.3. */
  dropout?: number;
}

function glorot(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const w = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < w.length; i++) w[i] = (rng.next() * 2 - 1) * limit;
  return w;
}

/**
 * A real, seeded Network: flatten -> dense(hidden) -> relu -> dropout -> dense(C). The hidden
 * activation is the embedding. Dropout masks come from a per-network counter seeded by `seed`, so
 * successive MC passes differ yet a fresh network with the same seed replays the same masks.
 */
export function tinyNetwork(
  inputShape: number[],
  numClasses: number,
  seed: number,
  opts: TinyNetworkOptions = {},
): Network {
  const hidden = opts.hidden ?? 16;
  const rate = opts.dropout ?? 0.3;
  const F = inputShape.reduce((a, b) => a * b, 1);
  const rng = new Rng(seed);
  const vars = [
    tf.variable(tf.tensor2d(glorot(rng, F, hidden), [F, hidden]), true, undefined, 'float32'),
    tf.variable(tf.zeros([hidden]), true),
    tf.variable(tf.tensor2d(glorot(rng, hidden, numClasses), [hidden, numClasses]), true),
    tf.variable(tf.zeros([numClasses]), true),
  ];
  let dropoutCalls = 0;
  const spec: ModelSpec = { kind: 'mlp', inputShape, numClasses, seed, dropout: rate };
  return {
    spec,
    numClasses,
    embeddingDim: hidden,
    forward(x: tf.Tensor, mode: ForwardMode): ForwardOutput {
      const flat = x.reshape([x.shape[0]!, F]) as tf.Tensor2D;
      const h = tf.relu(tf.add(tf.matMul(flat, vars[0]!), vars[1]!)) as tf.Tensor2D;
      const hd =
        mode === 'eval' || rate === 0
          ? h
          : (tf.dropout(h, rate, undefined, (seed + 7919 * ++dropoutCalls) >>> 0) as tf.Tensor2D);
      const logits = tf.add(tf.matMul(hd, vars[2]!), vars[3]!) as tf.Tensor2D;
      return { logits, embedding: h, stages: [h] };
    },
    trainableVariables: () => vars,
    getWeights: () => vars.map((v) => v.clone()),
    setWeights(weights: tf.Tensor[]) {
      if (weights.length !== vars.length) {
        throw new Error(
          `tinyNetwork.setWeights: expected ${vars.length} tensors, got ${weights.length}`,
        );
      }
      weights.forEach((w, i) => vars[i]!.assign(w));
    },
    dispose() {
      for (const v of vars) v.dispose();
    },
  };
}

/**
 * A deterministic linear classifier logits = x W + b (no hidden layer, no dropout): decision
 * boundaries are known in closed form, which boundary-distance tests need. `W` is [F, C] row-major.
 * The embedding is the input itself.
 */
export function linearNetwork(W: number[][], b: number[]): Network {
  const F = W.length;
  const C = b.length;
  const w = tf.variable(tf.tensor2d(W.flat(), [F, C]));
  const bias = tf.variable(tf.tensor1d(b));
  return {
    spec: { kind: 'mlp', inputShape: [F], numClasses: C, seed: 0, dropout: 0 },
    numClasses: C,
    embeddingDim: F,
    forward(x: tf.Tensor): ForwardOutput {
      const flat = x.reshape([x.shape[0]!, F]) as tf.Tensor2D;
      const logits = tf.add(tf.matMul(flat, w), bias) as tf.Tensor2D;
      return { logits, embedding: flat, stages: [flat] };
    },
    trainableVariables: () => [w, bias],
    getWeights: () => [w.clone(), bias.clone()],
    setWeights(ws: tf.Tensor[]) {
      w.assign(ws[0]! as tf.Tensor2D);
      bias.assign(ws[1]! as tf.Tensor1D);
    },
    dispose() {
      w.dispose();
      bias.dispose();
    },
  };
}

/** A float32 feature Dataset of n samples (labels unknown unless given). */
export function fakePool(n: number, features = 2, x?: Float32Array, y?: Int32Array): Dataset {
  return {
    name: 'test-pool',
    x: x ?? new Float32Array(n * features),
    y: y ?? new Int32Array(n).fill(-1),
    sampleShape: [features],
    classNames: [],
  };
}

/** Random row-stochastic probabilities [n, C] with varied sharpness (seeded). */
export function randomProbs(n: number, C: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    const temp = 0.2 + 3 * rng.next();
    let s = 0;
    for (let c = 0; c < C; c++) {
      const v = Math.exp(rng.normal() * temp);
      out[i * C + c] = v;
      s += v;
    }
    for (let c = 0; c < C; c++) out[i * C + c]! /= s;
  }
  return out;
}

/** Random MC passes [T, n, C]: `base` perturbed per pass in logit space (seeded). */
export function randomMcProbs(
  base: Float32Array,
  T: number,
  C: number,
  seed: number,
  noise = 0.5,
): Float32Array {
  const n = base.length / C;
  const rng = new Rng(seed);
  const out = new Float32Array(T * n * C);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      const o = t * n * C + i * C;
      for (let c = 0; c < C; c++) {
        const v = Math.exp(Math.log(Math.max(base[i * C + c]!, 1e-12)) + noise * rng.normal());
        out[o + c] = v;
        s += v;
      }
      for (let c = 0; c < C; c++) out[o + c]! /= s;
    }
  }
  return out;
}

/**
 * A QueryContext over `view` with the first `labeledCount` pool samples labeled (label = i % C) and
 * the rest unlabeled, unless `unlabeled` is given.
 */
export function fakeContext(args: {
  model: ModelView;
  poolSize: number;
  budget: number;
  seed?: number;
  round?: number;
  labeledCount?: number;
  unlabeled?: Int32Array;
  params?: Record<string, ParamValue>;
  pool?: Dataset;
  signal?: AbortSignal;
}): QueryContext {
  const N = args.poolSize;
  const labeledCount = args.labeledCount ?? 0;
  let unlabeled = args.unlabeled;
  let labeled: Int32Array;
  if (unlabeled) {
    const isU = new Uint8Array(N);
    for (const i of unlabeled) isU[i] = 1;
    labeled = Int32Array.from({ length: N }, (_, i) => i).filter((i) => !isU[i]);
  } else {
    labeled = Int32Array.from({ length: labeledCount }, (_, i) => i);
    unlabeled = Int32Array.from({ length: N - labeledCount }, (_, i) => i + labeledCount);
  }
  const C = args.model.numClasses;
  const ctx: QueryContext = {
    pool: args.pool ?? fakePool(N),
    labeled,
    labels: labeled.map((i) => i % C),
    unlabeled,
    budget: args.budget,
    seed: args.seed ?? 1,
    round: args.round ?? 1,
    model: args.model,
    params: args.params ?? {},
  };
  if (args.signal) ctx.signal = args.signal;
  return ctx;
}

/**
 * Every way `result` breaks the QueryResult contract for `ctx` (empty = none): exactly
 * min(budget, |unlabeled|) distinct indices, all from ctx.unlabeled; pseudo-labels (if any) on
 * unlabeled, unselected samples with valid class ids.
 */
export function contractViolations(ctx: QueryContext, result: QueryResult): string[] {
  const problems: string[] = [];
  const want = Math.min(ctx.budget, ctx.unlabeled.length);
  const sel = result.selected;
  if (!(sel instanceof Int32Array)) problems.push('selected is not an Int32Array');
  if (sel.length !== want) problems.push(`selected ${sel.length} indices, expected ${want}`);
  const unl = new Set(ctx.unlabeled);
  const seen = new Set<number>();
  for (const i of sel) {
    if (seen.has(i)) problems.push(`index ${i} selected twice`);
    seen.add(i);
    if (!unl.has(i)) problems.push(`index ${i} is not in the unlabeled pool`);
  }
  if (result.pseudo) {
    const { indices, labels } = result.pseudo;
    if (indices.length !== labels.length)
      problems.push('pseudo indices and labels differ in length');
    const C = ctx.model.numClasses;
    indices.forEach((i, j) => {
      if (!unl.has(i)) problems.push(`pseudo-labeled index ${i} is not unlabeled`);
      if (seen.has(i)) problems.push(`pseudo-labeled index ${i} is also selected`);
      const l = labels[j]!;
      if (!(l >= 0 && l < C)) problems.push(`pseudo label ${l} is not a class id`);
    });
  }
  return problems;
}

/** What contractCases needs to build a fresh query context. */
export interface ContractFixture {
  model: ModelView;
  poolSize: number;
  pool?: Dataset;
}

/**
 * The QueryResult contract as runnable cases (name + async check that throws on failure), for a
 * test file to register with node:test: exactly b distinct unlabeled indices, determinism for a
 * seed, b >= pool, empty pool, non-positive budget, cancellation. `fixture` must build a FRESH
 * model each call (MC passes of a real network advance its dropout stream).
 */
export function contractCases(
  strategy: { id: string; query(ctx: QueryContext): Promise<QueryResult> },
  fixture: () => ContractFixture,
  opts: { budget?: number; params?: Record<string, ParamValue> } = {},
): { name: string; run: () => Promise<void> }[] {
  const b = opts.budget ?? 7;
  const ctxFor = (
    budget: number,
    unlabeledOf: (n: number) => Int32Array,
    seed = 11,
    signal?: AbortSignal,
  ) => {
    const f = fixture();
    return fakeContext({
      model: f.model,
      poolSize: f.poolSize,
      budget,
      seed,
      unlabeled: unlabeledOf(f.poolSize),
      ...(f.pool ? { pool: f.pool } : {}),
      ...(opts.params ? { params: opts.params } : {}),
      ...(signal ? { signal } : {}),
    });
  };
  // Every index not divisible by 3: labeled and unlabeled samples interleave.
  const scattered = (n: number) =>
    Int32Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 !== 0);
  const fail = (msg: string): never => {
    throw new Error(`${strategy.id}: ${msg}`);
  };
  const rejects = async (p: () => Promise<unknown>, re: RegExp, what: string) => {
    let err: unknown = null;
    try {
      await p();
    } catch (e) {
      err = e;
    }
    if (!err) fail(`${what}: expected an error matching ${re}, got none`);
    const msg = err instanceof Error ? err.message : String(err);
    if (!re.test(msg)) fail(`${what}: error "${msg}" does not match ${re}`);
  };
  return [
    {
      name: `${strategy.id}: exactly b distinct indices, all unlabeled`,
      run: async () => {
        const ctx = ctxFor(b, scattered);
        const problems = contractViolations(ctx, await strategy.query(ctx));
        if (problems.length) fail(problems.join('; '));
      },
    },
    {
      name: `${strategy.id}: deterministic for a seed`,
      run: async () => {
        const a = await strategy.query(ctxFor(b, scattered, 5));
        const c = await strategy.query(ctxFor(b, scattered, 5));
        if (a.selected.join() !== c.selected.join()) {
          fail(`two runs with seed 5 differ: [${a.selected.join()}] vs [${c.selected.join()}]`);
        }
      },
    },
    {
      name: `${strategy.id}: a budget >= the pool left returns the whole pool`,
      run: async () => {
        const tail = (n: number) => Int32Array.from({ length: 4 }, (_, i) => n - 1 - 2 * i);
        for (const budget of [4, 50]) {
          const ctx = ctxFor(budget, tail);
          const r = await strategy.query(ctx);
          const problems = contractViolations(ctx, r);
          if (problems.length) fail(problems.join('; '));
          const got = Array.from(r.selected)
            .sort((x, y) => x - y)
            .join();
          const want = Array.from(ctx.unlabeled)
            .sort((x, y) => x - y)
            .join();
          if (got !== want) fail(`budget ${budget}: got [${got}], expected the pool [${want}]`);
        }
      },
    },
    {
      name: `${strategy.id}: an empty unlabeled pool and a non-positive budget are refused`,
      run: async () => {
        await rejects(
          () => strategy.query(ctxFor(b, () => new Int32Array(0))),
          /no unlabeled samples left to query/,
          'empty pool',
        );
        await rejects(() => strategy.query(ctxFor(0, scattered)), /budget/, 'budget 0');
        await rejects(() => strategy.query(ctxFor(-3, scattered)), /budget/, 'budget -3');
      },
    },
    {
      name: `${strategy.id}: honours an aborted signal`,
      run: async () => {
        const ac = new AbortController();
        ac.abort(new Error('stop requested by test'));
        await rejects(
          () => strategy.query(ctxFor(b, scattered, 11, ac.signal)),
          /stop requested by test/,
          'aborted',
        );
      },
    },
  ];
}
