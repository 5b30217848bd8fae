import type * as tf from '@tensorflow/tfjs';
import { Rng, deriveSeed } from '../../../shared/random.ts';
import type { ForwardMode, ForwardOutput, ModelSpec, Network } from './network.ts';
import { ParamStore, nextNetworkId } from './layers.ts';

/** Default dropout rate of every model's dropout layer. */
export const DEFAULT_DROPOUT = 0.25;

/** Weight snapshots, dropout stream and disposal shared by every network kind. */
export abstract class BaseNetwork implements Network {
  abstract readonly embeddingDim: number;
  readonly numClasses: number;
  readonly dropoutRate: number;
  protected readonly params: ParamStore;
  /** The training stream; forward passes should take theirs from dropoutStream(mode). */
  protected dropRng: Rng;
  /** MC pass t draws its masks from a stream of its own, seeded by (mcSeed, t). */
  private mcSeed: number;
  private mcPass = 0;
  private disposed = false;

  constructor(readonly spec: ModelSpec) {
    if (!Number.isInteger(spec.numClasses) || spec.numClasses < 2) {
      throw new Error(`A ${spec.kind} needs at least 2 classes, got ${spec.numClasses}`);
    }
    const rate = spec.dropout ?? DEFAULT_DROPOUT;
    if (!(rate >= 0 && rate < 1)) throw new Error(`dropout must be in [0, 1), got ${rate}`);
    this.numClasses = spec.numClasses;
    this.dropoutRate = rate;
    this.params = new ParamStore(nextNetworkId(spec.kind), spec.seed);
    this.dropRng = new Rng(deriveSeed(spec.seed, 'dropout'));
    this.mcSeed = deriveSeed(spec.seed, 'dropout');
  }

  abstract forward(x: tf.Tensor, mode: ForwardMode): ForwardOutput;

  trainableVariables(): tf.Variable[] {
    return [...this.params.trainable];
  }

  /** Trainable weights first, then batch-norm statistics, each in creation order. */
  private allVariables(): tf.Variable[] {
    return [...this.params.trainable, ...this.params.state];
  }

  getWeights(): tf.Tensor[] {
    // clone() shares the buffer copy-on-write: assign() later swaps the variable's buffer, so the
    // snapshot keeps the old values without a copy.
    return this.allVariables().map((v) => v.clone());
  }

  setWeights(weights: tf.Tensor[]): void {
    const vars = this.allVariables();
    if (weights.length !== vars.length) {
      throw new Error(
        `setWeights: this ${this.spec.kind} has ${vars.length} weight tensors, got ${weights.length}`,
      );
    }
    vars.forEach((v, i) => {
      const w = weights[i]!;
      if (w.shape.join(',') !== v.shape.join(',')) {
        throw new Error(
          `setWeights: weight ${i} (${v.name}) has shape [${v.shape}], got [${w.shape}]`,
        );
      }
    });
    vars.forEach((v, i) => v.assign(weights[i]!));
  }

  /**
   * Restarts the training stream at `seed`, and the MC passes at pass 0 of `seed`: after
   * reseedDropout(s), the t-th MC pass (a forward in 'mc' mode or a pass of mcLogits) draws its
   * masks from Rng(deriveSeed(s, 'mc-pass', t)) alone, so it is the same parameter sample for
   * every batch scored after the same reseed, whatever the batch's size or rows.
   */
  reseedDropout(seed: number): void {
    this.dropRng = new Rng(seed);
    this.mcSeed = seed;
    this.mcPass = 0;
  }

  /** The stream one forward pass in `mode` draws its dropout masks from (call once per pass). */
  protected dropoutStream(mode: ForwardMode): Rng {
    if (mode !== 'mc') return this.dropRng;
    return new Rng(deriveSeed(this.mcSeed, 'mc-pass', this.mcPass++));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.params.dispose();
  }

  /** Number of values in all trainable weights. */
  parameterCount(): number {
    return this.params.trainable.reduce((a, v) => a + v.size, 0);
  }
}
