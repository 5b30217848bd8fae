import * as tf from '@tensorflow/tfjs';
import { sampleSize } from '../types.ts';
import { BaseNetwork } from './base.ts';
import { applyDense, applyDropout, dense, type Dense } from './layers.ts';
import type { ForwardMode, ForwardOutput, ModelSpec } from './network.ts';

/** Input dropout of the linear head unless the spec says otherwise. */
export const LINEAR_DROPOUT = 0.1;

/**
 * Multinomial logistic regression: logits = dropout(x) W + b. Meant for feature vectors (a feature
 * extractor's embedding). The embedding strategies see is the input itself, so k-center, k-means
 * and BADGE work in the feature space, and BADGE's gradient embedding is this head's exact
 * last-layer gradient. Dropout acts on the inputs, so MC-dropout strategies sample a model.
 */
export class LinearHead extends BaseNetwork {
  readonly embeddingDim: number;
  private readonly head: Dense;

  constructor(spec: ModelSpec) {
    super({ ...spec, dropout: spec.dropout ?? LINEAR_DROPOUT });
    this.embeddingDim = sampleSize(spec.inputShape);
    this.head = dense(this.params, 'head', this.embeddingDim, spec.numClasses, true);
  }

  forward(x: tf.Tensor, mode: ForwardMode): ForwardOutput {
    const h = tf.reshape(x, [x.shape[0]!, this.embeddingDim]) as tf.Tensor2D;
    const logits = applyDense(
      this.head,
      applyDropout(h, this.dropoutRate, mode, this.dropoutStream(mode)),
    );
    return { logits, embedding: h, stages: [h] };
  }

  mcLogits(x: tf.Tensor, passes: number): tf.Tensor2D[] {
    const h = tf.reshape(x, [x.shape[0]!, this.embeddingDim]) as tf.Tensor2D;
    return Array.from({ length: passes }, () =>
      applyDense(this.head, applyDropout(h, this.dropoutRate, 'mc', this.dropoutStream('mc'))),
    );
  }
}
