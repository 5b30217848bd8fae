import type * as tf from '@tensorflow/tfjs';
import type { ForwardOutput } from '../models/network.ts';

/**
 * A strategy that changes training (LPL, WAAL, VAAL, ...) contributes one of these instead of
 * forking the training loop. The loop calls the hooks in order for every labeled batch.
 */
export interface TrainingPlugin {
  readonly name: string;
  /** Extra variables to optimise jointly with the network (e.g. a loss-prediction module). */
  variables?(): tf.Variable[];
  /** Learning rate for `variables()`; default the network's. */
  learningRate?: number;
  /**
   * Labeled samples an epoch goes through, given the labeled and unlabeled counts; default the
   * labeled count. Larger values cycle the labeled set (each sample about as often as the
   * others, reshuffled): WAAL's reference epochs are max(|L|, |U|) long, pairing every unlabeled
   * sample once with a labeled one.
   */
  epochSamples?(labeled: number, unlabeled: number): number;
  /**
   * Runs before the gradient step of each labeled batch of `size` samples, with the same
   * provider of unlabeled batches as `afterBatch` (to pair an unlabeled batch with this step).
   */
  beforeBatch?(args: {
    epoch: number;
    batchIndex: number;
    size: number;
    unlabeledBatch: (size: number) => tf.Tensor | null;
  }): void | Promise<void>;
  /**
   * Extra loss for this labeled batch, added to the mean cross-entropy before the gradient step.
   * `perSampleLoss` is the unreduced cross-entropy [B]. Called inside the loop's gradient scope.
   */
  batchLoss?(args: {
    x: tf.Tensor;
    y: tf.Tensor1D;
    out: ForwardOutput;
    perSampleLoss: tf.Tensor1D;
    epoch: number;
  }): tf.Scalar;
  /**
   * Runs after the network's step for this batch, with its own optimiser if it needs one
   * (adversarial modules). `unlabeledBatch` returns a fresh normalised batch of unlabeled pool
   * samples of the given size (caller disposes it), or null when the pool has none.
   */
  afterBatch?(args: {
    epoch: number;
    batchIndex: number;
    x: tf.Tensor;
    y: tf.Tensor1D;
    unlabeledBatch: (size: number) => tf.Tensor | null;
  }): void | Promise<void>;
  /** Called after each epoch. */
  onEpochEnd?(epoch: number): void;
  dispose(): void;
}
