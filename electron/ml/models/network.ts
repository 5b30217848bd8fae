import type * as tf from '@tensorflow/tfjs';

/**
 * 'linear' (logistic regression) and 'mlp' are the heads that train on feature vectors (a feature
 * extractor's embedding, or a CSV's columns); 'cnn' and 'resnet18' train on pixels.
 */
export type ModelKind = 'mlp' | 'cnn' | 'resnet18' | 'linear';

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
  /** Dropout rate of the dropout layer(s); default per model (0.25). */
  dropout?: number;
  /** MLP only: hidden layer widths; default [256, 128]. The last is the embedding. */
  hidden?: number[];
  /**
   * ResNet18 only: '7x7' (stride-2 stem + max-pool, the survey's MNIST-family variant) or '3x3'
   * (stride-1 stem, the CIFAR variant). Default: '7x7' for grayscale or inputs larger than 32
   * pixels, else '3x3'.
   */
  stem?: '7x7' | '3x3';
  /**
   * ResNet18 only: channels of the first stage (default 64, the real ResNet18; stages use 1x, 2x,
   * 4x, 8x). Narrow widths are for tests and quick CPU experiments.
   */
  width?: number;
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
  /**
   * Restart the stream dropout masks are drawn from. Networks start it from `spec.seed`; training
   * restarts it from its own seed so a run is reproducible whatever happened to the net before.
   */
  reseedDropout?(seed: number): void;
  /**
   * Logits of `passes` MC-dropout passes over one batch, equal to `passes` successive
   * `forward(x, 'mc')` calls, but running the deterministic layers before the first dropout once.
   */
  mcLogits?(x: tf.Tensor, passes: number): tf.Tensor2D[];
  dispose(): void;
}

/** Per-channel input normalisation applied when a batch is built: (x * scale - mean) / std. */
export interface Normalization {
  scale: number;
  mean: number[];
  std: number[];
}
