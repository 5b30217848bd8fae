import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import type { ForwardMode } from './network.ts';

/**
 * Building blocks for the networks: parameters initialised in JavaScript from our own Rng (so a
 * seed gives bit-identical weights on every backend), batch norm with explicit modes, and dropout
 * whose masks come from a seeded stream.
 */

/** Unique variable-name prefixes, so several networks can live in one tf.js engine. */
let networkCounter = 0;
export function nextNetworkId(kind: string): string {
  return `${kind}${networkCounter++}`;
}

/** Owns a network's variables in creation order and draws their initial values from one Rng. */
export class ParamStore {
  /** Optimised by training, in creation order. */
  readonly trainable: tf.Variable[] = [];
  /** Batch-norm moving statistics: saved and restored, never optimised. */
  readonly state: tf.Variable[] = [];
  private readonly rng: Rng;

  constructor(
    readonly prefix: string,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  private add(
    values: Float32Array,
    shape: number[],
    name: string,
    trainable: boolean,
  ): tf.Variable {
    const init = tf.tensor(values, shape, 'float32');
    const v = tf.variable(init, trainable, `${this.prefix}/${name}`);
    init.dispose();
    (trainable ? this.trainable : this.state).push(v);
    return v;
  }

  /** He (Kaiming) normal, std sqrt(2 / fanIn): for layers followed by a ReLU. */
  he(shape: number[], fanIn: number, name: string): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    const std = Math.sqrt(2 / fanIn);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = this.rng.normal() * std;
    return this.add(v, shape, name, true);
  }

  /** Glorot (Xavier) uniform: for the linear classifier head. */
  glorot(shape: number[], fanIn: number, fanOut: number, name: string): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = (this.rng.next() * 2 - 1) * limit;
    return this.add(v, shape, name, true);
  }

  constant(shape: number[], value: number, name: string, trainable = true): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    return this.add(new Float32Array(n).fill(value), shape, name, trainable);
  }

  dispose(): void {
    for (const v of [...this.trainable, ...this.state]) v.dispose();
  }
}

export interface Dense {
  w: tf.Variable;
  b: tf.Variable;
}

/** A dense layer; `head` selects Glorot (linear output) over He (ReLU follows). */
export function dense(
  p: ParamStore,
  name: string,
  inDim: number,
  outDim: number,
  head = false,
): Dense {
  const w = head
    ? p.glorot([inDim, outDim], inDim, outDim, `${name}/w`)
    : p.he([inDim, outDim], inDim, `${name}/w`);
  return { w, b: p.constant([outDim], 0, `${name}/b`) };
}

export function applyDense(layer: Dense, x: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(x, layer.w as tf.Tensor2D), layer.b);
}

/** A conv filter [k, k, cin, cout], He-initialised over its fan-in k*k*cin. */
export function convFilter(
  p: ParamStore,
  name: string,
  k: number,
  cin: number,
  cout: number,
): tf.Variable {
  return p.he([k, k, cin, cout], k * k * cin, name);
}

/** PyTorch's BatchNorm2d defaults: momentum 0.1 (new = 0.9 old + 0.1 batch), eps 1e-5. */
const BN_MOMENTUM = 0.1;
const BN_EPS = 1e-5;

export interface BatchNorm {
  gamma: tf.Variable;
  beta: tf.Variable;
  movingMean: tf.Variable;
  movingVar: tf.Variable;
}

export function batchNormParams(p: ParamStore, name: string, channels: number): BatchNorm {
  return {
    gamma: p.constant([channels], 1, `${name}/gamma`),
    beta: p.constant([channels], 0, `${name}/beta`),
    movingMean: p.constant([channels], 0, `${name}/movingMean`, false),
    movingVar: p.constant([channels], 1, `${name}/movingVar`, false),
  };
}

/**
 * Batch norm over NHWC (or [N, C]) input. Only 'train' uses batch statistics and updates the
 * moving averages (with the unbiased batch variance, as PyTorch does); 'eval' and 'mc' both read
 * the moving averages, which is what keeps MC-dropout passes from disturbing the statistics.
 */
export function applyBatchNorm<T extends tf.Tensor>(bn: BatchNorm, x: T, mode: ForwardMode): T {
  if (mode !== 'train') {
    return tf.batchNorm(x, bn.movingMean, bn.movingVar, bn.beta, bn.gamma, BN_EPS) as T;
  }
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const count = x.size / x.shape[x.shape.length - 1]!;
  // Not part of the loss, so no gradient flows through these updates.
  tf.tidy(() => {
    const m = mean;
    const unbiased = tf.mul(variance, count > 1 ? count / (count - 1) : 1);
    bn.movingMean.assign(
      tf.add(tf.mul(bn.movingMean, 1 - BN_MOMENTUM), tf.mul(m, BN_MOMENTUM)) as tf.Tensor1D,
    );
    bn.movingVar.assign(
      tf.add(tf.mul(bn.movingVar, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)) as tf.Tensor1D,
    );
  });
  return tf.batchNorm(x, mean, variance, bn.beta, bn.gamma, BN_EPS) as T;
}

/**
 * Inverted dropout with masks drawn from `rng`, so a seeded network gives the same masks on every
 * backend. Off in 'eval'. In 'train' every element gets its own mask value. In 'mc' one mask over
 * the features is drawn and broadcast over the batch: an MC pass is then one parameter sample
 * w_t applied to every sample ("consistent" MC dropout, Kirsch et al. 2019), which BatchBALD's
 * joint entropy over a batch assumes; a mask per element would give every sample its own w.
 */
export function applyDropout<T extends tf.Tensor>(
  x: T,
  rate: number,
  mode: ForwardMode,
  rng: Rng,
): T {
  if (mode === 'eval' || rate <= 0) return x;
  if (rate >= 1) return tf.zerosLike(x);
  const shape = mode === 'mc' ? [1, ...x.shape.slice(1)] : x.shape;
  const n = shape.reduce((a, b) => a * b, 1);
  const mask = new Float32Array(n);
  const keep = 1 / (1 - rate);
  // Compare raw 32-bit draws against a threshold: cheaper than floats for large activations.
  const threshold = Math.floor(rate * 4294967296);
  for (let i = 0; i < n; i++) mask[i] = rng.nextUint32() >= threshold ? keep : 0;
  return tf.mul(x, tf.tensor(mask, shape, 'float32')) as T;
}
