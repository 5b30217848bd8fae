import type * as tf from '@tensorflow/tfjs';

export type ModelKind = 'mlp' | 'cnn' | 'resnet18';

/**
 * How a forward pass treats the stochastic layers:
 * - `train`: dropout on, batch-norm uses batch statistics and updates its moving averages;
 * - `eval`: dropout off, batch-norm uses its moving averages;
 * - `mc`: dropout ON, batch-norm in inference mode (moving averages). This is what Monte-Carlo
 *   dropout strategies need; the reference toolkit gets it wrong (see ../shared/docs/SURVEY.md).
 */
export type ForwardMode = 'train' | 'eval' | 'mc';

export interface ForwardOutput {
  /** Pre-softmax scores, [N, numClasses]. */
  logits: tf.Tensor2D;
  /** Penultimate-layer embedding h(x), [N, embeddingDim]. */
  embedding: tf.Tensor2D;
  /** Intermediate stage features (at least one tensor), for loss prediction (LPL). */
  stages: tf.Tensor[];
}

export interface ModelSpec {
  kind: ModelKind;
  /** One sample's shape: [H, W, C] for images, [F] for feature vectors. */
  inputShape: number[];
  numClasses: number;
  /** Seeds the weight initialisation. */
  seed: number;
  /** Dropout rate of the dropout layer(s); default per model. */
  dropout?: number;
}

/**
 * A classifier network with explicit forward modes. Forward passes are pure tensor functions
 * (usable inside tf.tidy and tf.variableGrads); the caller owns the returned tensors.
 */
export interface Network {
  readonly spec: ModelSpec;
  readonly numClasses: number;
  readonly embeddingDim: number;
  forward(x: tf.Tensor, mode: ForwardMode): ForwardOutput;
  /** Variables the optimiser updates. */
  trainableVariables(): tf.Variable[];
  /** Snapshot of every weight (trainable and batch-norm statistics), as new tensors. */
  getWeights(): tf.Tensor[];
  /** Restore a snapshot taken from a network built from the same spec. */
  setWeights(weights: tf.Tensor[]): void;
  dispose(): void;
}

/** Per-channel input normalisation applied when a batch is built: (x * scale - mean) / std. */
export interface Normalization {
  scale: number;
  mean: number[];
  std: number[];
}
