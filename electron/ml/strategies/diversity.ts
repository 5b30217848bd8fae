/**
 * Diversity strategies on penultimate-layer embeddings: KMeans and KCenter (greedy CoreSet).
 * VAAL, also a diversity method in the survey's taxonomy, lives in enhanced.ts because it trains
 * its own networks.
 */
import { Rng, deriveSeed } from '../../../shared/random.ts';
import {
  budgetFor,
  kCenterGreedy,
  kmeansSelect,
  numParam,
  pcaProject,
  probsAndEmbeddingsChunked,
  toPool,
} from './geometry.ts';
import type { ParamSpec, QueryContext, QueryResult, Strategy } from './types.ts';

const pcaParam = (def: number, why: string): ParamSpec => ({
  name: 'pcaDims',
  type: 'integer',
  default: def,
  min: 0,
  max: 4096,
  description: `Project embeddings onto this many principal components first (0 = off). ${why}`,
});

/**
 * KMeans: cluster the unlabeled embeddings into b clusters and label the sample nearest each
 * centre. The reference GPU variant returns centre ids instead of sample ids; this returns samples.
 */
export const kmeans: Strategy = {
  id: 'KMeans',
  name: 'K-Means',
  family: 'diversity',
  description:
    'Groups the unlabeled images into as many clusters as you want to label (by what the model ' +
    'sees in them) and asks for the image closest to the centre of each cluster, so the batch ' +
    'covers the pool evenly rather than piling up on one kind of image. It ignores how sure the ' +
    'model is; the survey found it 1-3% behind BADGE.',
  params: [
    pcaParam(32, 'Keeps k-means fast on large pools; the clusters barely change.'),
    {
      name: 'maxIter',
      type: 'integer',
      default: 10,
      min: 0,
      max: 300,
      description: 'Most Lloyd iterations after k-means++ seeding (stops earlier when stable).',
    },
  ],
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = budgetFor(ctx);
    if (all) return { selected: all };
    const U = ctx.unlabeled;
    const { embeddings } = await probsAndEmbeddingsChunked(ctx.model, U, ctx.signal);
    const seed = deriveSeed(ctx.seed, 'KMeans', ctx.round);
    const pca = pcaProject(
      embeddings,
      U.length,
      ctx.model.embeddingDim,
      Math.round(numParam(ctx.params, 'pcaDims', 32)),
      seed,
    );
    const pos = kmeansSelect(
      pca.data,
      U.length,
      pca.dim,
      k,
      Math.max(0, Math.round(numParam(ctx.params, 'maxIter', 10))),
      new Rng(seed ^ 0x5bd1e995),
      undefined,
      ctx.signal,
    );
    return { selected: toPool(U, pos) };
  },
};

/**
 * KCenter (greedy CoreSet, Sener & Savarese 2018) with one O(N) min-distance vector instead of
 * the reference's N x N matrix.
 */
export const kcenter: Strategy = {
  id: 'KCenter',
  name: 'K-Center (CoreSet)',
  family: 'diversity',
  description:
    'Repeatedly picks the unlabeled image that is farthest from everything already labeled or ' +
    'picked, in the space of what the model sees, so the labeled set ends up covering the whole ' +
    'pool. It tends to pick unusual images and outliers, and ignores how sure the model is.',
  params: [pcaParam(32, 'The survey projects to 32 dimensions first.')],
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = budgetFor(ctx);
    if (all) return { selected: all };
    const U = ctx.unlabeled;
    const L = ctx.labeled;
    const D = ctx.model.embeddingDim;
    const both = new Int32Array(U.length + L.length);
    both.set(U, 0);
    both.set(L, U.length);
    const { embeddings } = await probsAndEmbeddingsChunked(ctx.model, both, ctx.signal);
    const seed = deriveSeed(ctx.seed, 'KCenter', ctx.round);
    // One basis for labeled and unlabeled alike, so their distances stay comparable.
    const pca = pcaProject(
      embeddings,
      both.length,
      D,
      Math.round(numParam(ctx.params, 'pcaDims', 32)),
      seed,
    );
    const d = pca.dim;
    const pos = kCenterGreedy(
      pca.data.subarray(0, U.length * d),
      U.length,
      pca.data.subarray(U.length * d),
      L.length,
      d,
      k,
      new Rng(seed),
      ctx.signal,
    );
    return { selected: toPool(U, pos) };
  },
};

export const strategies: Strategy[] = [kmeans, kcenter];
