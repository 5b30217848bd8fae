/**
 * The self-supervised encoder, its projection head and the contrastive loss (see ssl.ts for why
 * this method). Built from the models' layer primitives (seeded He init, batch norm with explicit
 * modes), so a seed gives the same initial weights on every backend.
 *
 * Encoder: `widths.length` stages of conv3x3 (same padding, no bias; the first with stride
 * `stemStride`) + batch norm + ReLU, each but the last followed by a 2x2 max-pool; global average
 * pooling of the last stage is the representation (`widths.at(-1)` values). Projection head
 * (SimCLR's g): dense + ReLU + dense to `projDim`, used by the loss only.
 */
import * as tf from '@tensorflow/tfjs';
import {
  ParamStore,
  applyBatchNorm,
  applyDense,
  batchNormParams,
  convFilter,
  dense,
  nextNetworkId,
  type BatchNorm,
  type Dense,
} from '../models/layers.ts';
import type { ForwardMode } from '../models/network.ts';

export interface SslNetConfig {
  /** Channels of each encoder stage (at least one). */
  widths: readonly number[];
  /** Width of the projection head's output. */
  projDim: number;
  /** Stride of the first convolution (2 halves the cost of everything after it). */
  stemStride: number;
}

interface Stage {
  conv: tf.Variable;
  bn: BatchNorm;
}

export class SslNet {
  readonly params: ParamStore;
  readonly embeddingDim: number;
  private readonly stages: Stage[];
  private readonly proj1: Dense;
  private readonly proj2: Dense;

  constructor(
    readonly channels: number,
    readonly config: SslNetConfig,
    seed: number,
  ) {
    if (config.widths.length === 0) throw new Error('The encoder needs at least one stage');
    this.params = new ParamStore(nextNetworkId('ssl'), seed);
    let cin = channels;
    this.stages = config.widths.map((width, i) => {
      const stage = {
        conv: convFilter(this.params, `stage${i}/conv`, 3, cin, width),
        bn: batchNormParams(this.params, `stage${i}/bn`, width),
      };
      cin = width;
      return stage;
    });
    this.embeddingDim = cin;
    this.proj1 = dense(this.params, 'proj1', cin, cin);
    this.proj2 = dense(this.params, 'proj2', cin, config.projDim, true);
  }

  /** Every variable (trainable, then batch-norm statistics), in creation order. */
  variables(): tf.Variable[] {
    return [...this.params.trainable, ...this.params.state];
  }

  /** A variable's name without this instance's unique prefix (stable across processes). */
  localName(v: tf.Variable): string {
    return v.name.slice(this.params.prefix.length + 1);
  }

  /** The representation h = encoder(x), [N, embeddingDim]; x is NHWC float. */
  encode(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor2D {
    let h = x;
    this.stages.forEach((s, i) => {
      h = tf.relu(
        applyBatchNorm(
          s.bn,
          tf.conv2d(h, s.conv as tf.Tensor4D, i === 0 ? this.config.stemStride : 1, 'same'),
          mode,
        ),
      );
      if (i < this.stages.length - 1) h = tf.maxPool(h, 2, 2, 'valid');
    });
    return tf.mean(h, [1, 2]) as tf.Tensor2D;
  }

  /** The projection z = g(h) the loss compares. */
  project(h: tf.Tensor2D): tf.Tensor2D {
    return applyDense(this.proj2, tf.relu(applyDense(this.proj1, h)));
  }

  dispose(): void {
    this.params.dispose();
  }
}

/**
 * NT-Xent (SimCLR's normalised temperature-scaled cross entropy) of 2B projections whose rows i
 * and i + B are two views of one image: for each row, cross entropy of picking its partner among
 * the other 2B - 1 rows by cosine similarity / temperature. Mean over the 2B rows.
 */
export function ntXent(z: tf.Tensor2D, temperature: number): tf.Scalar {
  const n = z.shape[0];
  if (n % 2 !== 0 || n < 4) throw new Error(`NT-Xent needs an even number >= 4 of rows, got ${n}`);
  const b = n / 2;
  // Normalised without tf.norm, whose gradient at a zero row is NaN.
  const u = tf.mul(z, tf.rsqrt(tf.add(tf.sum(tf.square(z), 1, true), 1e-12)));
  const sim = tf.div(tf.matMul(u, u, false, true), temperature);
  // A row must not pick itself: push the diagonal far down (finite, so no NaN in the softmax).
  const logits = tf.sub(sim, tf.mul(tf.eye(n), 1e9));
  const lse = tf.logSumExp(logits, 1);
  const [a, c] = tf.split(u, [b, b], 0) as [tf.Tensor2D, tf.Tensor2D];
  const pos = tf.div(tf.sum(tf.mul(a, c), 1), temperature);
  // Each positive pair appears twice (i -> i + B and back): mean(lse) - mean(pos).
  return tf.sub(tf.mean(lse), tf.mean(pos)) as tf.Scalar;
}
