import { BaseNetwork } from './base.ts';
import { SmallCnn } from './cnn.ts';
import { Mlp } from './mlp.ts';
import type { ModelKind, ModelSpec, Network } from './network.ts';
import { LinearHead } from './linear.ts';
import { ResNet18 } from './resnet.ts';

export { DEFAULT_DROPOUT } from './base.ts';
export { defaultStem } from './resnet.ts';

export const MODEL_KINDS: readonly ModelKind[] = ['mlp', 'cnn', 'resnet18', 'linear'];

/**
 * Build a freshly initialised network. Weights come from `spec.seed` through our own Rng, so the
 * same spec gives identical weights on every backend.
 */
export function createNetwork(spec: ModelSpec): Network {
  switch (spec.kind) {
    case 'mlp':
      return new Mlp(spec);
    case 'cnn':
      return new SmallCnn(spec);
    case 'resnet18':
      return new ResNet18(spec);
    case 'linear':
      return new LinearHead(spec);
    default:
      throw new Error(
        `Unknown model kind "${String(spec.kind)}"; use one of ${MODEL_KINDS.join(', ')}`,
      );
  }
}

export interface ModelSummary {
  kind: ModelKind;
  inputShape: number[];
  numClasses: number;
  embeddingDim: number;
  /** Trainable parameters. */
  params: number;
  /** Batch-norm statistics and other saved, non-trained values. */
  stateValues: number;
}

/** Sizes of a network, for the CLI and the UI. */
export function modelSummary(net: Network): ModelSummary {
  const params = net.trainableVariables().reduce((a, v) => a + v.size, 0);
  const weights = net.getWeights();
  const total = weights.reduce((a, w) => a + w.size, 0);
  for (const w of weights) w.dispose();
  return {
    kind: net.spec.kind,
    inputShape: [...net.spec.inputShape],
    numClasses: net.numClasses,
    embeddingDim: net.embeddingDim,
    params,
    stateValues: total - params,
  };
}

export { BaseNetwork };
