import * as tf from '@tensorflow/tfjs';
import { BaseNetwork } from './base.ts';
import { applyDense, applyDropout, convFilter, dense, type Dense } from './layers.ts';
import type { ForwardMode, ForwardOutput, ModelSpec } from './network.ts';

/**
 * The reference small CNN: conv3x3(32, valid)-ReLU-maxpool2, conv3x3(64, valid)-ReLU-maxpool2,
 * flatten, dropout, dense 128 ReLU (the embedding), dense numClasses. Any [H, W, C] input with
 * H, W >= 10 (28x28x1: 1600 flattened features, 32x32x3: 2304).
 */
export class SmallCnn extends BaseNetwork {
  readonly embeddingDim = 128;
  private readonly w1: tf.Variable;
  private readonly b1: tf.Variable;
  private readonly w2: tf.Variable;
  private readonly b2: tf.Variable;
  private readonly fc: Dense;
  private readonly head: Dense;

  constructor(spec: ModelSpec) {
    super(spec);
    const [h, w, c] = spec.inputShape;
    if (spec.inputShape.length !== 3 || h === undefined || w === undefined || c === undefined) {
      throw new Error(`The cnn model needs image input [H, W, C], got [${spec.inputShape}]`);
    }
    const out = (n: number): number => Math.floor((Math.floor((n - 2) / 2) - 2) / 2);
    if (out(h) < 1 || out(w) < 1) {
      throw new Error(`The cnn model needs images of at least 10x10 pixels, got ${h}x${w}`);
    }
    this.w1 = convFilter(this.params, 'conv1/w', 3, c, 32);
    this.b1 = this.params.constant([32], 0, 'conv1/b');
    this.w2 = convFilter(this.params, 'conv2/w', 3, 32, 64);
    this.b2 = this.params.constant([64], 0, 'conv2/b');
    this.fc = dense(this.params, 'fc', out(h) * out(w) * 64, 128);
    this.head = dense(this.params, 'head', 128, spec.numClasses, true);
  }

  private convs(x: tf.Tensor): [tf.Tensor4D, tf.Tensor4D] {
    // Convolution, bias and ReLU as one fused kernel (one pass over the output, not three; on
    // wasm, XNNPACK adds the bias and clamps inside the convolution).
    const convRelu = (input: tf.Tensor4D, filter: tf.Variable, bias: tf.Variable): tf.Tensor4D =>
      tf.fused.conv2d({
        x: input,
        filter: filter as tf.Tensor4D,
        strides: 1,
        pad: 'valid',
        bias,
        activation: 'relu',
      });
    const s1 = tf.maxPool(convRelu(x as tf.Tensor4D, this.w1, this.b1), 2, 2, 'valid');
    const s2 = tf.maxPool(convRelu(s1, this.w2, this.b2), 2, 2, 'valid');
    return [s1, s2];
  }

  private classify(
    f: tf.Tensor2D,
    mode: ForwardMode,
  ): { embedding: tf.Tensor2D; logits: tf.Tensor2D } {
    const embedding = tf.relu(
      applyDense(this.fc, applyDropout(f, this.dropoutRate, mode, this.dropoutStream(mode))),
    );
    return { embedding, logits: applyDense(this.head, embedding) };
  }

  forward(x: tf.Tensor, mode: ForwardMode): ForwardOutput {
    const [s1, s2] = this.convs(x);
    const { embedding, logits } = this.classify(tf.reshape(s2, [x.shape[0]!, -1]), mode);
    return { logits, embedding, stages: [s1, s2] };
  }

  mcLogits(x: tf.Tensor, passes: number): tf.Tensor2D[] {
    const f = tf.reshape(this.convs(x)[1], [x.shape[0]!, -1]) as tf.Tensor2D;
    return Array.from({ length: passes }, () => this.classify(f, 'mc').logits);
  }
}
