import type { Network, Normalization } from '../models/network.ts';
import type { ModelView } from '../strategies/types.ts';
import type { Dataset } from '../types.ts';
import { makeBatch } from './batches.ts';
import { mcPredict, predict } from './predict.ts';

/**
 * What strategies may ask of the trained network about pool rows: eval-mode probabilities and
 * embeddings, MC-dropout probabilities, and normalised inputs (never augmented).
 */
export function createModelView(
  net: Network,
  data: Dataset,
  norm: Normalization,
  opts: { batchSize?: number; signal?: AbortSignal } = {},
): ModelView {
  const { batchSize, signal } = opts;
  return {
    numClasses: net.numClasses,
    embeddingDim: net.embeddingDim,
    net,
    async probs(indices) {
      return (await predict(net, data, indices, norm, { batchSize, signal })).probs;
    },
    async probsAndEmbeddings(indices) {
      const r = await predict(net, data, indices, norm, { batchSize, signal, embeddings: true });
      return { probs: r.probs, embeddings: r.embeddings! };
    },
    mcProbs(indices, passes) {
      return mcPredict(net, data, indices, norm, passes, { batchSize, signal });
    },
    inputs(indices) {
      return makeBatch(data, indices, norm);
    },
  };
}
