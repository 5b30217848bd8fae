/**
 * Monte-Carlo dropout strategies: VarRatio, EntropyD, MarginD, LeastConfD, BALD, MeanSTD (score
 * T stochastic passes per sample and take the top b) and BatchBALD (chooses the batch jointly).
 * They rely on real dropout in ModelView.mcProbs; see SURVEY.md for why the reference toolkit's
 * passes were nearly identical.
 */
import { Rng, deriveSeed } from '../../../shared/random.ts';
import {
  PASSES_PARAM,
  checkQuery,
  numParam,
  throwIfAborted,
  scoreInChunks,
  toPoolIndices,
  SCORE_CHUNK,
} from './baseline.ts';
import {
  bald,
  entropy,
  leastConfidence,
  margin,
  meanOverPasses,
  meanStd,
  topK,
  varRatio,
} from './scores.ts';
import type { ParamSpec, QueryContext, QueryResult, Strategy } from './types.ts';

/**
 * A strategy ranking the pool by a score of T MC-dropout passes. `score` maps [T, n, C] to [n];
 * `tieBreak`, when given, orders samples with equal scores (scaled below the score's resolution).
 */
function mcStrategy(def: {
  id: string;
  name: string;
  description: string;
  score: (mc: Float32Array, T: number, n: number, C: number) => Float32Array;
  order: 'desc' | 'asc';
  tieBreak?: (mc: Float32Array, T: number, n: number, C: number) => Float32Array;
}): Strategy {
  const params: ParamSpec[] = [PASSES_PARAM];
  return {
    id: def.id,
    name: def.name,
    family: 'uncertainty',
    description: def.description,
    params,
    async query(ctx: QueryContext): Promise<QueryResult> {
      const { k, all } = checkQuery(ctx);
      if (all) return { selected: all };
      const T = numParam(ctx, params, 'passes');
      const C = ctx.model.numClasses;
      const U = ctx.unlabeled;
      let tie: Float32Array | null = def.tieBreak ? new Float32Array(U.length) : null;
      let offset = 0;
      const s = await scoreInChunks(
        U,
        async (chunk) => {
          const mc = await ctx.model.mcProbs(chunk, T);
          if (tie && def.tieBreak) tie.set(def.tieBreak(mc, T, chunk.length, C), offset);
          offset += chunk.length;
          return def.score(mc, T, chunk.length, C);
        },
        ctx.signal,
      );
      if (!tie) return { selected: toPoolIndices(U, topK(s, k, def.order)) };
      // The primary score takes only T + 1 values; the secondary key (in [0, 1)) is scaled below
      // the 1/T step between them so it only reorders ties.
      const combined = new Float64Array(U.length);
      const scale = 0.5 / T;
      for (let i = 0; i < U.length; i++) combined[i] = s[i]! + scale * tie[i]!;
      tie = null;
      return { selected: toPoolIndices(U, topK(combined, k, def.order)) };
    },
  };
}

/** Least confidence (1 - max p) of the mean of the passes. */
function meanLeastConf(mc: Float32Array, T: number, n: number, C: number): Float32Array {
  const lc = leastConfidence(meanOverPasses(mc, T, n, C), C);
  for (let i = 0; i < n; i++) lc[i] = 1 - lc[i]!;
  return lc;
}

export const varRatioStrategy = mcStrategy({
  id: 'VarRatio',
  name: 'Variation ratio',
  description:
    'Runs the model several times with dropout on and asks for the images whose runs vote for ' +
    'different classes most often (1 - share of the most common vote). Ties, which are common, ' +
    'go to the image whose averaged prediction is least confident. Unlike the reference code ' +
    '(a copy of LeastConf), this is the survey’s Monte-Carlo definition.',
  score: varRatio,
  order: 'desc',
  tieBreak: meanLeastConf,
});

export const entropyDStrategy = mcStrategy({
  id: 'EntropyD',
  name: 'Entropy (MC dropout)',
  description:
    'Entropy of the prediction averaged over several runs with dropout on. Averaging makes ' +
    'the uncertainty estimate less overconfident; the survey found dropout versions 1-3% better ' +
    'on hard data sets, at several times the scoring cost.',
  score: (mc, T, n, C) => entropy(meanOverPasses(mc, T, n, C), C),
  order: 'desc',
});

export const marginDStrategy = mcStrategy({
  id: 'MarginD',
  name: 'Margin (MC dropout)',
  description:
    'Margin between the two most likely classes of the prediction averaged over several runs ' +
    'with dropout on; asks for the smallest gaps.',
  score: (mc, T, n, C) => margin(meanOverPasses(mc, T, n, C), C),
  order: 'asc',
});

export const leastConfDStrategy = mcStrategy({
  id: 'LeastConfD',
  name: 'Least confidence (MC dropout)',
  description:
    'Confidence of the best class of the prediction averaged over several runs with dropout on; ' +
    'asks for the least confident. Ranked third overall in the survey.',
  score: (mc, T, n, C) => leastConfidence(meanOverPasses(mc, T, n, C), C),
  order: 'asc',
});

export const baldStrategy = mcStrategy({
  id: 'BALD',
  name: 'BALD',
  description:
    'Bayesian Active Learning by Disagreement: asks for the images on which runs with dropout ' +
    'on disagree with each other, each being confident (entropy of the average minus the ' +
    'average entropy). It prefers what the model could learn over images that are simply ambiguous.',
  score: bald,
  order: 'desc',
});

export const meanStdStrategy = mcStrategy({
  id: 'MeanSTD',
  name: 'Mean standard deviation',
  description:
    'Asks for the images whose class probabilities vary most between runs with dropout on ' +
    '(standard deviation over runs, averaged over classes).',
  score: meanStd,
  order: 'desc',
});

/**
 * BatchBALD's MC passes: Kirsch et al. ran MNIST with 100 (their configs `mnist_*_k100_*`), and a
 * joint entropy over a batch needs far more parameter samples than one sample's BALD. 100 passes
 * cost about 10x the MC scoring of the other MC strategies (docs/results/PROTOCOL.md).
 */
export const BATCHBALD_PASSES = 100;

const BATCHBALD_PARAMS: ParamSpec[] = [
  {
    ...PASSES_PARAM,
    default: BATCHBALD_PASSES,
    description:
      'Monte-Carlo dropout passes per sample, each one dropout mask shared by the whole pool ' +
      '(Kirsch et al. used 100 on MNIST; the joint entropy of a batch needs many; cost grows ' +
      'with the passes).',
  },
  {
    name: 'samples',
    type: 'integer',
    default: 1000,
    min: 10,
    max: 100000,
    description:
      'Label configurations sampled to estimate the batch’s joint entropy once exact enumeration ' +
      '(classes ^ batch so far) exceeds this; more is steadier and slower.',
  },
  {
    name: 'candidatesPerPick',
    type: 'integer',
    default: 10,
    min: 1,
    max: 1000,
    description:
      'Only the top (this x batch size) samples by BALD are considered, to keep the greedy search ' +
      'tractable.',
  },
  {
    name: 'maxCandidates',
    type: 'integer',
    default: 1000,
    min: 1,
    max: 100000,
    description:
      'Upper bound on that candidate set; it never goes below twice the batch size, so the ' +
      'greedy search always has a choice.',
  },
];

/**
 * How many of the pool's top samples by BALD BatchBALD considers: candidatesPerPick x k, capped
 * at maxCandidates, but at least 2k (or the whole pool). With only k candidates (say a batch of
 * 1,000 and the cap at 1,000) every candidate would be picked, and BatchBALD would be top-k BALD.
 */
export function batchBaldCandidates(
  poolLeft: number,
  k: number,
  perPick: number,
  maxCand: number,
): number {
  return Math.min(poolLeft, Math.max(2 * k, Math.min(perPick * k, maxCand)));
}

/** Entropy of a probability vector of length C starting at `o`. */
function entropyAt(p: Float64Array, C: number): number {
  let h = 0;
  for (let c = 0; c < C; c++) {
    const v = p[c]!;
    if (v > 0) h -= v * Math.log(v);
  }
  return h;
}

/**
 * Greedy BatchBALD on candidate MC probabilities `P` laid out [m, T, C] (candidate-major). Returns
 * k positions into the candidates, in pick order.
 *
 * The joint mutual information of a batch A plus candidate i splits as
 *   I(y_A, y_i; w) = H(y_A) + E_{y_A}[H(y_i | y_A)] - sum_{j in A+i} E_w H(y_j | w),
 * and only E_{y_A}[H(y_i | y_A)] - E_w H(y_i | w) depends on i. Each configuration y_A carries the
 * posterior over passes given y_A (weights W, one row of T per configuration), so
 * p(y_i | y_A) = sum_t W[t] p_t(y_i). Configurations are enumerated exactly while classes^|A| <=
 * `samples`, then `samples` of them are drawn from the joint (each extended by sampling the new
 * point's label from its conditional), as in Kirsch et al. 2019. With A empty this is BALD.
 */
export function batchBaldGreedy(
  P: Float32Array,
  m: number,
  T: number,
  C: number,
  k: number,
  samples: number,
  rng: Rng,
  signal?: AbortSignal,
): Int32Array {
  const TC = T * C;
  // E_w H(y_i | w): mean entropy over passes, per candidate.
  const condH = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let t = 0; t < T; t++) {
      const o = i * TC + t * C;
      for (let c = 0; c < C; c++) {
        const v = P[o + c]!;
        if (v > 0) s -= v * Math.log(v);
      }
    }
    condH[i] = s / T;
  }
  let M = 1;
  let W = new Float64Array(T).fill(1 / T);
  let pi = new Float64Array([1]);
  let exact = true;
  const taken = new Uint8Array(m);
  const picks = new Int32Array(k);
  const r = new Float64Array(C);
  // Marginal gain of candidate i given the configurations: E_{y_A}[H(y_i | y_A)] - E_w H(y_i | w).
  const gainOf = (i: number): number => {
    let acc = 0;
    const o = i * TC;
    for (let cfg = 0; cfg < M; cfg++) {
      r.fill(0);
      const wo = cfg * T;
      for (let t = 0; t < T; t++) {
        const wt = W[wo + t]!;
        if (wt === 0) continue;
        const ot = o + t * C;
        for (let c = 0; c < C; c++) r[c]! += wt * P[ot + c]!;
      }
      acc += pi[cfg]! * entropyAt(r, C);
    }
    return acc - condH[i]!;
  };
  // Lazy greedy: the batch's mutual information is submodular (Kirsch et al. 2019), so a
  // candidate's gain only shrinks as the batch grows and its last computed gain is an upper bound.
  // Each step re-evaluates the candidate with the best bound until one is fresh for this step;
  // that is the greedy choice without re-scoring every candidate (up to Monte-Carlo noise in the
  // sampled regime). Ties go to the lower candidate position.
  const bound = new Float64Array(m).fill(Infinity);
  const freshAt = new Int32Array(m).fill(-1);
  for (let step = 0; step < k; step++) {
    throwIfAborted(signal);
    let best = -1;
    for (;;) {
      let top = -1;
      for (let i = 0; i < m; i++) {
        if (!taken[i] && (top < 0 || bound[i]! > bound[top]!)) top = i;
      }
      if (top < 0 || freshAt[top] === step) {
        best = top;
        break;
      }
      bound[top] = gainOf(top);
      freshAt[top] = step;
    }
    if (best < 0) throw new Error('internal: BatchBALD ran out of candidates');
    taken[best] = 1;
    picks[step] = best;
    if (step === k - 1) break;

    // Extend every configuration with the picked point's label.
    const o = best * TC;
    const condOf = (cfg: number, out: Float64Array): void => {
      out.fill(0);
      for (let t = 0; t < T; t++) {
        const wt = W[cfg * T + t]!;
        for (let c = 0; c < C; c++) out[c]! += wt * P[o + t * C + c]!;
      }
    };
    const extend = (cfg: number, c: number, dst: Float64Array, at: number): void => {
      let s = 0;
      for (let t = 0; t < T; t++) {
        const v = W[cfg * T + t]! * P[o + t * C + c]!;
        dst[at * T + t] = v;
        s += v;
      }
      // A label no pass predicts has zero probability; exact mode skips it and sampling never draws it.
      for (let t = 0; t < T; t++) dst[at * T + t] = s > 0 ? dst[at * T + t]! / s : 1 / T;
    };
    if (exact && M * C <= samples) {
      const W2 = new Float64Array(M * C * T);
      const pi2 = new Float64Array(M * C);
      let n2 = 0;
      for (let cfg = 0; cfg < M; cfg++) {
        condOf(cfg, r);
        for (let c = 0; c < C; c++) {
          const pc = pi[cfg]! * r[c]!;
          if (pc <= 0) continue;
          extend(cfg, c, W2, n2);
          pi2[n2++] = pc;
        }
      }
      M = n2;
      W = W2.subarray(0, n2 * T);
      pi = pi2.subarray(0, n2);
    } else {
      // Draw `samples` configurations from the joint: a parent from pi (in exact mode) or each
      // existing sample in turn, then the new label from its conditional.
      const cum = new Float64Array(M);
      let acc = 0;
      for (let cfg = 0; cfg < M; cfg++) cum[cfg] = acc += pi[cfg]!;
      // Draws that repeat a (parent, label) pair are the same configuration: merge them into one
      // with weight count / samples (same estimate, less work per step when predictions agree).
      const counts = new Map<number, number>();
      // In sampled mode each configuration stands for pi x samples draws: extend each draw in
      // turn (stratified); in exact mode draw the parents from pi.
      const parents = new Int32Array(samples);
      if (!exact) {
        let q = 0;
        for (let cfg = 0; cfg < M && q < samples; cfg++) {
          const reps = Math.round(pi[cfg]! * samples);
          for (let j = 0; j < reps && q < samples; j++) parents[q++] = cfg;
        }
        // Rounding can leave a slot or two: fill from the last configuration.
        while (q < samples) parents[q++] = M - 1;
      }
      for (let s = 0; s < samples; s++) {
        let parent = parents[s]!;
        if (exact) {
          const u = rng.next() * acc;
          let lo = 0;
          let hi = M - 1;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (cum[mid]! > u) hi = mid;
            else lo = mid + 1;
          }
          parent = lo;
        }
        condOf(parent, r);
        let total = 0;
        for (let c = 0; c < C; c++) total += r[c]!;
        let u = rng.next() * total;
        let label = C - 1;
        for (let c = 0; c < C; c++) {
          u -= r[c]!;
          if (u < 0) {
            label = c;
            break;
          }
        }
        const key = parent * C + label;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const n2 = counts.size;
      const W2 = new Float64Array(n2 * T);
      const pi2 = new Float64Array(n2);
      let q = 0;
      // Map iteration follows insertion order, which the seeded draws fix: deterministic.
      for (const [key, count] of counts) {
        extend(Math.floor(key / C), key % C, W2, q);
        pi2[q++] = count / samples;
      }
      M = n2;
      W = W2;
      pi = pi2;
      exact = false;
    }
  }
  return picks;
}

/**
 * BatchBALD (Kirsch et al. 2019): chooses the batch greedily to maximise the mutual information
 * between the batch's joint labels and the model parameters, so near-duplicates of an already
 * chosen sample add little and are skipped. Candidates are the top samples by BALD.
 */
export const batchBald: Strategy = {
  id: 'BatchBALD',
  name: 'BatchBALD',
  family: 'hybrid',
  description:
    'Like BALD, but picks the batch as a whole: each next image is the one that adds the most ' +
    'information given the images already chosen, so it does not fill the batch with ' +
    'near-copies of one confusing image. Slower than BALD (it compares the top candidates with ' +
    'each other); more dropout runs make it more reliable.',
  params: BATCHBALD_PARAMS,
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = checkQuery(ctx);
    if (all) return { selected: all };
    const T = numParam(ctx, BATCHBALD_PARAMS, 'passes');
    const samples = numParam(ctx, BATCHBALD_PARAMS, 'samples');
    const perPick = numParam(ctx, BATCHBALD_PARAMS, 'candidatesPerPick');
    const maxCand = numParam(ctx, BATCHBALD_PARAMS, 'maxCandidates');
    const C = ctx.model.numClasses;
    const U = ctx.unlabeled;
    const m = batchBaldCandidates(U.length, k, perPick, maxCand);
    const TC = T * C;

    // Keep the top-m by BALD with their MC rows while streaming the pool in chunks, so memory is
    // O(m T C) rather than O(N T C).
    let keptPos = new Int32Array(0);
    let keptScore = new Float32Array(0);
    let keptP = new Float32Array(0);
    for (let s = 0; s < U.length; s += SCORE_CHUNK) {
      throwIfAborted(ctx.signal);
      const chunk = U.subarray(s, Math.min(U.length, s + SCORE_CHUNK));
      const n = chunk.length;
      const mc = await ctx.model.mcProbs(chunk, T);
      const sc = bald(mc, T, n, C);
      const total = keptPos.length + n;
      const allScore = new Float32Array(total);
      allScore.set(keptScore);
      allScore.set(sc, keptPos.length);
      // Kept rows come from earlier chunks (lower pool positions), so position order is kept and
      // topK's lower-position tie rule stays meaningful.
      const top = Array.from(topK(allScore, m, 'desc')).sort((a, b) => a - b);
      const pos2 = new Int32Array(top.length);
      const score2 = new Float32Array(top.length);
      const P2 = new Float32Array(top.length * TC);
      top.forEach((j, q) => {
        score2[q] = allScore[j]!;
        if (j < keptPos.length) {
          pos2[q] = keptPos[j]!;
          P2.set(keptP.subarray(j * TC, (j + 1) * TC), q * TC);
        } else {
          const i = j - keptPos.length;
          pos2[q] = s + i;
          for (let t = 0; t < T; t++) {
            P2.set(mc.subarray(t * n * C + i * C, t * n * C + (i + 1) * C), q * TC + t * C);
          }
        }
      });
      keptPos = pos2;
      keptScore = score2;
      keptP = P2;
    }
    const rng = new Rng(deriveSeed(ctx.seed, 'BatchBALD', ctx.round));
    const picks = batchBaldGreedy(keptP, keptPos.length, T, C, k, samples, rng, ctx.signal);
    const positions = new Int32Array(k);
    for (let q = 0; q < k; q++) positions[q] = keptPos[picks[q]!]!;
    return { selected: toPoolIndices(U, positions) };
  },
};

export const strategies: Strategy[] = [
  varRatioStrategy,
  entropyDStrategy,
  marginDStrategy,
  leastConfDStrategy,
  baldStrategy,
  meanStdStrategy,
  batchBald,
];
