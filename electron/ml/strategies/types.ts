import type * as tf from '@tensorflow/tfjs';
import type { Network } from '../models/network.ts';
import type { Dataset } from '../types.ts';
import type { TrainingPlugin } from '../training/plugin.ts';

export type StrategyFamily = 'baseline' | 'uncertainty' | 'diversity' | 'hybrid' | 'enhanced';

export type ParamValue = number | boolean | string;

export interface ParamSpec {
  name: string;
  type: 'number' | 'integer' | 'boolean' | 'string';
  default: ParamValue;
  min?: number;
  max?: number;
  /** One line a lab user understands. */
  description: string;
}

/**
 * What a strategy may ask of the current model about pool samples. Every call takes pool indices
 * and returns row-major typed arrays in that order.
 */
export interface ModelView {
  readonly numClasses: number;
  readonly embeddingDim: number;
  /** Softmax probabilities, one deterministic (eval-mode) pass: [n, C]. */
  probs(indices: Int32Array): Promise<Float32Array>;
  /** Probabilities and penultimate embeddings from one eval-mode pass: [n, C] and [n, D]. */
  probsAndEmbeddings(
    indices: Int32Array,
  ): Promise<{ probs: Float32Array; embeddings: Float32Array }>;
  /**
   * T Monte-Carlo dropout passes (dropout on, batch-norm in inference mode): [T, n, C]. Pass t is
   * one dropout mask (one parameter sample) for every row and every call on this view.
   */
  mcProbs(indices: Int32Array, passes: number): Promise<Float32Array>;
  /** The network itself, for strategies that need gradients with respect to inputs. */
  readonly net: Network;
  /** The normalised input batch for these indices (caller disposes). */
  inputs(indices: Int32Array): tf.Tensor;
}

export interface QueryContext {
  /** The training pool; indices below refer to it. */
  pool: Dataset;
  /** Pool indices whose labels are known, and their labels (parallel arrays). */
  labeled: Int32Array;
  labels: Int32Array;
  /** Pool indices not yet labeled (the candidates). */
  unlabeled: Int32Array;
  /** How many to select this round (b). */
  budget: number;
  /** Seeds every random choice of this query. */
  seed: number;
  /** Round number, 1 for the first query after the initial seed. */
  round: number;
  model: ModelView;
  /** Resolved hyperparameters (defaults filled in). */
  params: Record<string, ParamValue>;
  /** The plugin this strategy contributed to the training that produced `model`, if any. */
  plugin?: TrainingPlugin;
  signal?: AbortSignal;
}

export interface QueryResult {
  /** Exactly min(budget, unlabeled.length) distinct pool indices, all from `unlabeled`. */
  selected: Int32Array;
  /**
   * Samples the strategy pseudo-labels for the next round's training only (CEAL). They are never
   * stored as labels.
   */
  pseudo?: { indices: Int32Array; labels: Int32Array };
}

export interface TrainingContext {
  pool: Dataset;
  labeled: Int32Array;
  unlabeled: Int32Array;
  net: Network;
  params: Record<string, ParamValue>;
  seed: number;
  epochs: number;
}

export interface Strategy {
  /** Stable id, e.g. "Entropy"; never renamed (stored in studies). */
  readonly id: string;
  readonly name: string;
  readonly family: StrategyFamily;
  readonly description: string;
  readonly params: ParamSpec[];
  query(ctx: QueryContext): Promise<QueryResult>;
  /**
   * Strategies that change training (LPL, WAAL) return a plugin for each round's training. The
   * engine hands the same plugin object back to `query` as `ctx.plugin` (its loss module or
   * discriminator scores the pool), then disposes it.
   */
  trainingPlugin?(ctx: TrainingContext): TrainingPlugin;
}
