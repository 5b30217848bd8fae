import * as tf from '@tensorflow/tfjs';
import { sampleSize } from '../types.ts';
import { BaseNetwork } from './base.ts';
import { applyDense, applyDropout, dense, type Dense } from './layers.ts';
import type { ForwardMode, ForwardOutput, ModelSpec } from './network.ts';

/**
 * Multi-layer perceptron: dense-ReLU hidden layers (default 256-128), dropout, linear head. Images
 * are flattened. The embedding is the last hidden layer; stages are the hidden activations.
 */
export class Mlp extends BaseNetwork {
  readonly embeddingDim: number;
  private readonly inDim: number;
  private readonly hidden: Dense[];
  private readonly head: Dense;

  constructor(spec: ModelSpec) {
    super(spec);
    const widths = spec.hidden ?? [256, 128];
    if (widths.length === 0 || widths.some((w) => !(Number.isInteger(w) && w > 0))) {
      throw new Error(`MLP hidden widths must be positive integers, got [${widths}]`);
    }
    this.inDim = sampleSize(spec.inputShape);
    let prev = this.inDim;
    this.hidden = widths.map((w, i) => {
      const layer = dense(this.params, `fc${i + 1}`, prev, w);
      prev = w;
      return layer;
    });
    this.embeddingDim = prev;
    this.head = dense(this.params, 'head', prev, spec.numClasses, true);
  }

  private trunk(x: tf.Tensor): tf.Tensor2D[] {
    let h = tf.reshape(x, [x.shape[0]!, this.inDim]) as tf.Tensor2D;
    const stages: tf.Tensor2D[] = [];
    for (const layer of this.hidden) {
      h = tf.relu(applyDense(layer, h));
      stages.push(h);
    }
    return stages;
  }

  private classify(h: tf.Tensor2D, mode: ForwardMode): tf.Tensor2D {
    return applyDense(this.head, applyDropout(h, this.dropoutRate, mode, this.dropoutStream(mode)));
  }

  forward(x: tf.Tensor, mode: ForwardMode): ForwardOutput {
    const stages = this.trunk(x);
    const embedding = stages[stages.length - 1]!;
    return { logits: this.classify(embedding, mode), embedding, stages };
  }

  mcLogits(x: tf.Tensor, passes: number): tf.Tensor2D[] {
    const stages = this.trunk(x);
    const h = stages[stages.length - 1]!;
    return Array.from({ length: passes }, () => this.classify(h, 'mc'));
  }
}
