import type { Network, Normalization } from '../models/network.ts';
import type { ModelView } from '../strategies/types.ts';
import type { Dataset } from '../types.ts';
import { makeBatch } from './batches.ts';
import { mcPredict, mcSeedOf, predict } from './predict.ts';

/**
 * What strategies may ask of the trained network about pool rows: eval-mode probabilities and
 * embeddings, MC-dropout probabilities, and normalised inputs (never augmented).
 *
 * A view serves one query. Every `mcProbs` call of a view uses the same T dropout masks (pass t
 * is one parameter sample for the whole pool, however the strategy chunks it), seeded by
 * `mcSeed`; by default a seed derived from the network's, which the study engine draws anew for
 * each repeat and round (with warm start, one network serves every round: pass a seed per query).
 */
export function createModelView(
  net: Network,
  data: Dataset,
  norm: Normalization,
  opts: { batchSize?: number; signal?: AbortSignal; mcSeed?: number } = {},
): ModelView {
  const { batchSize, signal } = opts;
  const mcSeed = opts.mcSeed ?? mcSeedOf(net);
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
      return mcPredict(net, data, indices, norm, passes, { batchSize, signal, seed: mcSeed });
    },
    inputs(indices) {
      return makeBatch(data, indices, norm);
    },
  };
}
