/**
 * Random sampling, and the query plumbing every strategy in uncertainty.ts, bayesian.ts and
 * adversarial.ts shares: budget checks, cancellation, parameter reads, chunked model calls.
 */
import { Rng, deriveSeed } from '../../../shared/random.ts';
import type {
  ModelView,
  ParamSpec,
  ParamValue,
  QueryContext,
  QueryResult,
  Strategy,
} from './types.ts';

/** Rows per ModelView call: bounds memory (50,000 x 10 passes x 100 classes would be 200 MB). */
export const SCORE_CHUNK = 2048;

/** Throws the signal's reason (or a plain "query cancelled") when the query was cancelled. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (!signal?.aborted) return;
  throw signal.reason instanceof Error ? signal.reason : new Error('query cancelled');
}

/**
 * Validates the query's budget and pool. Returns k = min(budget, |unlabeled|) and, when the budget
 * covers the whole remaining pool, that pool (so strategies skip scoring it).
 */
export function checkQuery(ctx: QueryContext): { k: number; all: Int32Array | null } {
  const b = ctx.budget;
  if (!Number.isInteger(b) || b <= 0) {
    throw new RangeError(`query budget must be a positive integer, got ${b}`);
  }
  if (ctx.unlabeled.length === 0) throw new Error('no unlabeled samples left to query');
  throwIfAborted(ctx.signal);
  const k = Math.min(b, ctx.unlabeled.length);
  return { k, all: k === ctx.unlabeled.length ? Int32Array.from(ctx.unlabeled) : null };
}

/**
 * A parameter's value from ctx.params, falling back to the strategy's default (so a strategy also
 * works when called without catalog.resolveParams, e.g. from tests).
 */
export function param(ctx: QueryContext, specs: readonly ParamSpec[], name: string): ParamValue {
  const spec = specs.find((s) => s.name === name);
  if (!spec) throw new Error(`internal: no parameter "${name}" declared`);
  return ctx.params[name] ?? spec.default;
}

/** A numeric parameter (see `param`); throws if it is not a finite number. */
export function numParam(ctx: QueryContext, specs: readonly ParamSpec[], name: string): number {
  const v = param(ctx, specs, name);
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new TypeError(`parameter "${name}" must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Pool indices for positions into `subset`. */
export function toPoolIndices(subset: Int32Array, positions: Int32Array): Int32Array {
  const out = new Int32Array(positions.length);
  for (let i = 0; i < positions.length; i++) out[i] = subset[positions[i]!]!;
  return out;
}

/**
 * Scores `indices` chunk by chunk: `score(chunk)` returns one value per row of the chunk. The signal
 * is checked between chunks, so a cancelled query stops within one chunk.
 */
export async function scoreInChunks(
  indices: Int32Array,
  score: (chunk: Int32Array) => Promise<Float32Array>,
  signal?: AbortSignal,
  chunk = SCORE_CHUNK,
): Promise<Float32Array> {
  const out = new Float32Array(indices.length);
  for (let s = 0; s < indices.length; s += chunk) {
    throwIfAborted(signal);
    const part = indices.subarray(s, Math.min(indices.length, s + chunk));
    const v = await score(part);
    if (v.length !== part.length) {
      throw new Error(`internal: scorer returned ${v.length} values for ${part.length} samples`);
    }
    out.set(v, s);
  }
  throwIfAborted(signal);
  return out;
}

/** One eval pass over `indices`, chunked: [n, C]. */
export async function probsInChunks(
  model: ModelView,
  indices: Int32Array,
  signal?: AbortSignal,
  chunk = SCORE_CHUNK,
): Promise<Float32Array> {
  const C = model.numClasses;
  const out = new Float32Array(indices.length * C);
  for (let s = 0; s < indices.length; s += chunk) {
    throwIfAborted(signal);
    const part = indices.subarray(s, Math.min(indices.length, s + chunk));
    out.set(await model.probs(part), s * C);
  }
  throwIfAborted(signal);
  return out;
}

/**
 * T Monte-Carlo passes over `indices`, chunked and reassembled pass-major: [T, n, C]. Use
 * scoreInChunks instead when a per-sample score is all that is needed (it never holds [T, N, C]).
 */
export async function mcProbsInChunks(
  model: ModelView,
  indices: Int32Array,
  passes: number,
  signal?: AbortSignal,
  chunk = SCORE_CHUNK,
): Promise<Float32Array> {
  const C = model.numClasses;
  const n = indices.length;
  const out = new Float32Array(passes * n * C);
  for (let s = 0; s < n; s += chunk) {
    throwIfAborted(signal);
    const part = indices.subarray(s, Math.min(n, s + chunk));
    const m = part.length;
    const mc = await model.mcProbs(part, passes);
    for (let t = 0; t < passes; t++) {
      out.set(mc.subarray(t * m * C, (t + 1) * m * C), t * n * C + s * C);
    }
  }
  throwIfAborted(signal);
  return out;
}

/** The `passes` parameter shared by every Monte-Carlo strategy. */
export const PASSES_PARAM: ParamSpec = {
  name: 'passes',
  type: 'integer',
  default: 10,
  min: 1,
  max: 1000,
  description:
    'Monte-Carlo dropout passes per sample (the survey uses 10; more is steadier but slower).',
};

/** Random: b samples drawn uniformly without replacement; the baseline every method must beat. */
export const random: Strategy = {
  id: 'Random',
  name: 'Random sampling',
  family: 'baseline',
  description:
    'Picks the images to label uniformly at random from the unlabeled pool, ignoring the model. ' +
    'It is the baseline every other strategy must beat; the survey found KMeans and VAAL below it.',
  params: [],
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = checkQuery(ctx);
    if (all) return { selected: all };
    const rng = new Rng(deriveSeed(ctx.seed, 'Random', ctx.round));
    return { selected: rng.sample(ctx.unlabeled, k) };
  },
};

export const strategies: Strategy[] = [random];
