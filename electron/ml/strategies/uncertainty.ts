/**
 * One-pass uncertainty strategies (Entropy, Margin, LeastConf) and CEAL(Entropy), which adds
 * pseudo-labels for the samples the model is sure about. All score one deterministic (eval-mode)
 * pass of the current model and take the top b; none of them looks at the batch as a whole.
 */
import { checkQuery, numParam, probsInChunks, toPoolIndices } from './baseline.ts';
import { argmax, entropy, leastConfidence, margin, topK } from './scores.ts';
import type { ParamSpec, QueryContext, QueryResult, Strategy, StrategyFamily } from './types.ts';

/** A strategy that ranks the pool by one score of a single eval pass. */
export function onePassStrategy(def: {
  id: string;
  name: string;
  family?: StrategyFamily;
  description: string;
  score: (probs: Float32Array, C: number) => Float32Array;
  order: 'desc' | 'asc';
}): Strategy {
  return {
    id: def.id,
    name: def.name,
    family: def.family ?? 'uncertainty',
    description: def.description,
    params: [],
    async query(ctx: QueryContext): Promise<QueryResult> {
      const { k, all } = checkQuery(ctx);
      if (all) return { selected: all };
      const probs = await probsInChunks(ctx.model, ctx.unlabeled, ctx.signal);
      const s = def.score(probs, ctx.model.numClasses);
      return { selected: toPoolIndices(ctx.unlabeled, topK(s, k, def.order)) };
    },
  };
}

export const entropyStrategy = onePassStrategy({
  id: 'Entropy',
  name: 'Entropy',
  description:
    'Asks for the images whose predicted class probabilities are most spread out (highest ' +
    'entropy), i.e. where the model hesitates between several classes. Cheap (one pass over the ' +
    'pool) and one of the strongest methods in the survey.',
  score: entropy,
  order: 'desc',
});

export const marginStrategy = onePassStrategy({
  id: 'Margin',
  name: 'Margin',
  description:
    'Asks for the images where the two most likely classes are closest (smallest gap between the ' +
    'top two probabilities): the model is torn between two answers. Cheap and consistently strong.',
  score: margin,
  order: 'asc',
});

export const leastConfStrategy = onePassStrategy({
  id: 'LeastConf',
  name: 'Least confidence',
  description:
    'Asks for the images whose most likely class has the lowest probability: the model is least ' +
    'sure of its best guess. Cheap; in the survey it trails its dropout version LeastConfD.',
  score: leastConfidence,
  order: 'asc',
});

const CEAL_PARAMS: ParamSpec[] = [
  {
    name: 'threshold',
    type: 'number',
    default: 1e-5,
    min: 0,
    max: 10,
    description:
      'Entropy (nats) below which an unlabeled image is pseudo-labeled with the model’s guess for ' +
      'the next training. The survey uses 1e-5; the reference code starts at 5e-5.',
  },
  {
    name: 'decay',
    type: 'number',
    default: 0,
    min: 0,
    max: 10,
    description:
      'How much the threshold shrinks each round (threshold - decay x (round - 1), never below ' +
      '0). The survey uses 0; the reference code uses 3.3e-7.',
  },
];

/**
 * CEAL(Entropy) (Wang et al. 2016): query the b highest-entropy samples for the oracle, and
 * pseudo-label the remaining samples whose entropy is below this round's threshold with the
 * model's argmax, for the next round's training only.
 */
export const ceal: Strategy = {
  id: 'CEAL',
  name: 'CEAL (Entropy + pseudo-labels)',
  family: 'enhanced',
  description:
    'Asks for the highest-entropy images like Entropy, and also lets the model label the images ' +
    'it is almost certain about (entropy below a threshold) for the next training only; those ' +
    'guesses are never saved as labels. The survey found it about 0.5% better than Entropy, but ' +
    'a threshold set too high teaches the model its own mistakes.',
  params: CEAL_PARAMS,
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = checkQuery(ctx);
    if (all)
      return { selected: all, pseudo: { indices: new Int32Array(0), labels: new Int32Array(0) } };
    const threshold0 = numParam(ctx, CEAL_PARAMS, 'threshold');
    const decay = numParam(ctx, CEAL_PARAMS, 'decay');
    const threshold = Math.max(0, threshold0 - decay * (Math.max(1, ctx.round) - 1));
    const C = ctx.model.numClasses;
    const U = ctx.unlabeled;
    const probs = await probsInChunks(ctx.model, U, ctx.signal);
    const h = entropy(probs, C);
    const positions = topK(h, k, 'desc');
    const picked = new Uint8Array(U.length);
    for (const p of positions) picked[p] = 1;
    const pred = argmax(probs, C);
    const idx: number[] = [];
    const lab: number[] = [];
    for (let i = 0; i < U.length; i++) {
      if (!picked[i] && h[i]! < threshold) {
        idx.push(U[i]!);
        lab.push(pred[i]!);
      }
    }
    return {
      selected: toPoolIndices(U, positions),
      pseudo: { indices: Int32Array.from(idx), labels: Int32Array.from(lab) },
    };
  },
};

export const strategies: Strategy[] = [entropyStrategy, marginStrategy, leastConfStrategy, ceal];
