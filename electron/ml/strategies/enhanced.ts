/**
 * Strategies that train networks of their own: LPL (learning loss, Yoo & Kweon 2019) and WAAL
 * (Wasserstein adversarial active learning, Shui et al. 2020) change the classifier's training
 * through a TrainingPlugin; VAAL (Sinha et al. 2019) trains a VAE and a discriminator inside its
 * query.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, deriveSeed } from '../../../shared/random.ts';
import type { Network } from '../models/network.ts';
import type { TrainingPlugin } from '../training/plugin.ts';
import {
  budgetFor,
  checkAborted,
  numParam,
  probsAndEmbeddingsChunked,
  readAndDispose,
  toPool,
} from './geometry.ts';
import { topK } from './scores.ts';
import type { QueryContext, QueryResult, Strategy, TrainingContext } from './types.ts';

/** Samples pushed through a network at once when scoring the pool. */
const SCORE_CHUNK = 512;

type BatchLossArgs = Parameters<NonNullable<TrainingPlugin['batchLoss']>>[0];

/** A dense layer's variables, seeded (Glorot-uniform weights, zero bias). */
interface Dense {
  w: tf.Variable;
  b: tf.Variable;
}

function dense(inDim: number, outDim: number, seed: number, trainable = true): Dense {
  const lim = Math.sqrt(6 / (inDim + outDim));
  // tidy disposes the initial values; variables survive it.
  return tf.tidy(() => ({
    w: tf.variable(tf.randomUniform([inDim, outDim], -lim, lim, 'float32', seed), trainable),
    b: tf.variable(tf.zeros([outDim]), trainable),
  }));
}

function applyDense(l: Dense, x: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(x, l.w as tf.Tensor2D), l.b);
}

function denseVars(layers: Dense[]): tf.Variable[] {
  return layers.flatMap((l) => [l.w, l.b]);
}

/** Global average pool of a stage output to [B, channels] (rank 2 passes through). */
function globalAvgPool(t: tf.Tensor): tf.Tensor2D {
  if (t.rank === 2) return t as tf.Tensor2D;
  const axes = Array.from({ length: t.rank - 2 }, (_, i) => i + 1);
  return tf.mean(t, axes) as tf.Tensor2D;
}

/** Identity forward, zero gradient: tf.js has no stopGradient op. */
const detach = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/**
 * Yoo & Kweon's pairwise ranking loss: sample i is paired with sample B-1-i; for each pair the
 * predicted loss difference must have the sign of the true loss difference by a margin:
 * mean(max(0, margin - sign(l_i - l_j) (lhat_i - lhat_j))). The target is never differentiated.
 */
export function lossRankingLoss(pred: tf.Tensor1D, target: tf.Tensor1D, margin: number): tf.Scalar {
  return tf.tidy(() => {
    const B = pred.shape[0];
    const half = Math.floor(B / 2);
    // Keep the graph connected even without a pair, so the module's gradients exist (zero).
    if (half === 0) return tf.mul(tf.sum(pred), 0) as tf.Scalar;
    const dp = tf.sub(pred, tf.reverse(pred)).slice(0, half);
    const dt = detach(tf.sub(target, tf.reverse(target))).slice(0, half);
    const one = tf.sub(tf.mul(tf.sign(tf.relu(dt)), 2), 1);
    return tf.mean(tf.relu(tf.sub(margin, tf.mul(one, dp)))) as tf.Scalar;
  });
}

/** The LPL training plugin: a loss-prediction module on the backbone's stage features. */
export class LossPredictionPlugin implements TrainingPlugin {
  readonly name = 'LPL';
  readonly learningRate: number;
  /** 0-based epoch from which stage features are detached from the backbone. */
  readonly detachFrom: number;
  private readonly stageFc: Dense[];
  private readonly head: Dense;
  private readonly margin: number;
  private readonly weight: number;
  private disposed = false;

  constructor(
    stageChannels: number[],
    opts: {
      seed: number;
      hidden: number;
      margin: number;
      weight: number;
      lr: number;
      detachFrom: number;
    },
  ) {
    const rng = new Rng(opts.seed);
    this.stageFc = stageChannels.map((c) => dense(c, opts.hidden, rng.fork()));
    this.head = dense(opts.hidden * stageChannels.length, 1, rng.fork());
    this.learningRate = opts.lr;
    this.margin = opts.margin;
    this.weight = opts.weight;
    this.detachFrom = opts.detachFrom;
  }

  variables(): tf.Variable[] {
    return denseVars([...this.stageFc, this.head]);
  }

  /** Predicted loss per sample, [B], from the stage outputs of one forward pass. */
  predict(stages: tf.Tensor[]): tf.Tensor1D {
    return tf.tidy(() => {
      const feats = stages.map((s, i) => tf.relu(applyDense(this.stageFc[i]!, globalAvgPool(s))));
      const cat = feats.length === 1 ? feats[0]! : tf.concat(feats, 1);
      return tf.reshape(applyDense(this.head, cat), [-1]) as tf.Tensor1D;
    });
  }

  batchLoss(args: BatchLossArgs): tf.Scalar {
    return tf.tidy(() => {
      const stages =
        args.epoch >= this.detachFrom ? args.out.stages.map((s) => detach(s)) : args.out.stages;
      const pred = this.predict(stages);
      return tf.mul(
        lossRankingLoss(pred, args.perSampleLoss, this.margin),
        this.weight,
      ) as tf.Scalar;
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables()) v.dispose();
  }
}

/** Shapes of a network's stage outputs, from one eval pass on a zero sample. */
function stageChannels(net: Network): number[] {
  return tf.tidy(() => {
    const out = net.forward(tf.zeros([1, ...net.spec.inputShape]), 'eval');
    return out.stages.map((s) => s.shape[s.shape.length - 1]!);
  });
}

/**
 * The epoch (0-based) from which LPL detaches stage features: after `fraction` of the epochs.
 * Yoo & Kweon train 200 epochs and detach after 120 (0.6), so the module fits a fixed backbone
 * for the last 40% of training; DeepAL+ instead trains LPL 20 epochs longer than the other
 * strategies and detaches after epoch 20. Equal to `epochs` when no epoch is detached.
 */
export function lplDetachEpoch(fraction: number, epochs: number): number {
  return Math.min(epochs, Math.max(0, Math.round(fraction * epochs)));
}

/** Scores unlabeled samples in chunks with a function of one eval forward pass. */
async function scoreWithForward(
  ctx: QueryContext,
  score: (out: ReturnType<Network['forward']>) => tf.Tensor1D,
): Promise<Float32Array> {
  const U = ctx.unlabeled;
  const out = new Float32Array(U.length);
  for (let s = 0; s < U.length; s += SCORE_CHUNK) {
    checkAborted(ctx.signal);
    const e = Math.min(U.length, s + SCORE_CHUNK);
    const vals = readAndDispose(
      tf.tidy(() => {
        const x = ctx.model.inputs(U.subarray(s, e));
        return score(ctx.model.net.forward(x, 'eval'));
      }),
    );
    out.set(vals, s);
    await Promise.resolve();
  }
  return out;
}

export const lpl: Strategy = {
  id: 'LPL',
  name: 'Learning loss (LPL)',
  // Enhanced rather than uncertainty: the score is not read off the classifier's probabilities,
  // it needs a second module trained jointly with the classifier (a change to training).
  family: 'enhanced',
  description:
    'Trains a small extra module alongside the classifier that learns to predict how wrong the ' +
    'classifier will be on an image, then asks for the images with the highest predicted loss. ' +
    'Excellent on some datasets; the survey found it fails on sets with many classes.',
  params: [
    {
      name: 'margin',
      type: 'number',
      default: 1,
      min: 0,
      description: 'Margin of the pairwise ranking loss of the loss-prediction module.',
    },
    {
      name: 'lossWeight',
      type: 'number',
      default: 1,
      min: 0,
      description: 'Weight of the loss-prediction loss added to the classification loss.',
    },
    {
      name: 'moduleLr',
      type: 'number',
      default: 0.01,
      min: 0,
      description: 'Learning rate of the loss-prediction module.',
    },
    {
      name: 'detachAfter',
      type: 'number',
      default: 0.6,
      min: 0,
      max: 1,
      description:
        'Share of the training epochs after which the module stops shaping the classifier’s ' +
        'features (Yoo & Kweon: 120 of 200 epochs).',
    },
    {
      name: 'hidden',
      type: 'integer',
      default: 128,
      min: 1,
      description: 'Width of the module’s layer per network stage.',
    },
  ],
  trainingPlugin(ctx: TrainingContext): TrainingPlugin {
    return new LossPredictionPlugin(stageChannels(ctx.net), {
      seed: deriveSeed(ctx.seed, 'LPL', 'module'),
      hidden: Math.round(numParam(ctx.params, 'hidden', 128)),
      margin: numParam(ctx.params, 'margin', 1),
      weight: numParam(ctx.params, 'lossWeight', 1),
      lr: numParam(ctx.params, 'moduleLr', 0.01),
      detachFrom: lplDetachEpoch(numParam(ctx.params, 'detachAfter', 0.6), ctx.epochs),
    });
  },
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = budgetFor(ctx);
    if (all) return { selected: all };
    const plugin = ctx.plugin;
    if (!(plugin instanceof LossPredictionPlugin)) {
      throw new Error(
        'LPL needs the loss-prediction module trained with this model (ctx.plugin from ' +
          'LPL.trainingPlugin); none was passed to the query',
      );
    }
    const predicted = await scoreWithForward(ctx, (out) => plugin.predict(out.stages));
    return { selected: toPool(ctx.unlabeled, topK(predicted, k, 'desc')) };
  },
};

/**
 * WAAL (Shui et al. 2020) as DeepAL+ trains it. Each labeled batch is paired with an unlabeled
 * batch of the same size (beforeBatch); the classifier's loss gains alpha x (E_u[D] - gamma
 * E_l[D]) on the two batches' train-mode embeddings; then the critic takes one step on those same
 * embeddings (detached), maximising the Wasserstein estimate under a WGAN-GP penalty. The critic:
 * embedding -> hidden -> hidden -> 1, sigmoid, as in the reference. With `poolEpochs` an epoch
 * goes through max(|L|, |U|) labeled samples (the labeled set cycled), as the reference's joint
 * loader does, so every unlabeled sample meets the critic once per epoch.
 */
export class WaalPlugin implements TrainingPlugin {
  readonly name = 'WAAL';
  private readonly layers: Dense[];
  private readonly opt: tf.Optimizer;
  private readonly rng: Rng;
  /** This step's unlabeled batch, and the embeddings the critic trains on after the step. */
  private xu: tf.Tensor | null = null;
  private zl: tf.Tensor2D | null = null;
  private zu: tf.Tensor2D | null = null;
  private disposed = false;

  constructor(
    private readonly net: Network,
    embeddingDim: number,
    private readonly opts: {
      seed: number;
      hidden: number;
      alpha: number;
      gpWeight: number;
      gamma: number;
      discLr: number;
      /** Epochs of max(|L|, |U|) samples (the reference); else of |L|. Default true. */
      poolEpochs?: boolean;
    },
  ) {
    this.rng = new Rng(opts.seed);
    // Not trainable by default, so the classifier's optimiser (which may take every trainable
    // variable) never updates the critic; afterBatch switches them on for its own step.
    this.layers = [
      dense(embeddingDim, opts.hidden, this.rng.fork(), false),
      dense(opts.hidden, opts.hidden, this.rng.fork(), false),
      dense(opts.hidden, 1, this.rng.fork(), false),
    ];
    this.opt = tf.train.adam(opts.discLr);
  }

  epochSamples(labeled: number, unlabeled: number): number {
    return this.opts.poolEpochs === false ? labeled : Math.max(labeled, unlabeled);
  }

  /** Critic score in (0, 1) per embedding row: high = looks unlabeled. */
  critic(z: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      let h = tf.relu(applyDense(this.layers[0]!, z));
      h = tf.relu(applyDense(this.layers[1]!, h));
      return tf.reshape(tf.sigmoid(applyDense(this.layers[2]!, h)), [-1]) as tf.Tensor1D;
    });
  }

  /** Empirical Wasserstein term: E_u[D] - gamma E_l[D]. */
  private wasserstein(zl: tf.Tensor2D, zu: tf.Tensor2D): tf.Scalar {
    return tf.sub(
      tf.mean(this.critic(zu)),
      tf.mul(tf.mean(this.critic(zl)), this.opts.gamma),
    ) as tf.Scalar;
  }

  /** The critic's weights (not trainable outside its own step). */
  criticVariables(): tf.Variable[] {
    return denseVars(this.layers);
  }

  /** WGAN-GP penalty (Gulrajani 2017): (||grad_z D(z)|| - 1)^2 at random interpolates. */
  gradientPenalty(zl: tf.Tensor2D, zu: tf.Tensor2D): tf.Scalar {
    const m = Math.min(zl.shape[0], zu.shape[0]);
    const eps = tf.randomUniform([m, 1], 0, 1, 'float32', this.rng.fork());
    const zi = tf.add(
      tf.mul(eps, zu.slice(0, m)),
      tf.mul(tf.sub(1, eps), zl.slice(0, m)),
    ) as tf.Tensor2D;
    return this.penaltyAt(zi);
  }

  /** mean over the rows of z of (||grad_z D(z)|| - 1)^2. */
  penaltyAt(z: tf.Tensor2D): tf.Scalar {
    const g = this.criticInputGradient(z);
    const norm = tf.sqrt(tf.add(tf.sum(tf.square(g), 1), 1e-12));
    return tf.mean(tf.square(tf.sub(norm, 1))) as tf.Scalar;
  }

  /**
   * grad_z D(z) per row, written out by the chain rule rather than taken with tf.grad: tf.js does
   * not differentiate through the outputs a kernel saves for its gradient (sigmoid's), so a
   * gradient of tf.grad's result with respect to the weights comes back wrong (and null for the
   * biases). Written out, the penalty is an ordinary expression of the weights: sigmoid'(a3) w3,
   * back through each ReLU's 0/1 mask (tf.step, whose own gradient is 0, as ReLU's second
   * derivative is almost everywhere) and each layer's weights.
   */
  criticInputGradient(z: tf.Tensor2D): tf.Tensor2D {
    const [l1, l2, l3] = this.layers as [Dense, Dense, Dense];
    const a1 = applyDense(l1, z);
    const a2 = applyDense(l2, tf.relu(a1));
    const s = tf.sigmoid(applyDense(l3, tf.relu(a2)));
    // dD/da3 [n, 1] times w3 as a row: dD/dh2 [n, H].
    const dh2 = tf.mul(tf.mul(s, tf.sub(1, s)), tf.reshape(l3.w, [1, -1]));
    const dh1 = tf.matMul(tf.mul(dh2, tf.step(a2)), l2.w as tf.Tensor2D, false, true);
    return tf.matMul(tf.mul(dh1, tf.step(a1)), l1.w as tf.Tensor2D, false, true);
  }

  /** Draws the unlabeled batch this labeled batch is paired with. */
  beforeBatch(args: { size: number; unlabeledBatch: (size: number) => tf.Tensor | null }): void {
    this.releaseBatch();
    this.xu = args.unlabeledBatch(args.size);
  }

  /**
   * Adversarial term for the feature extractor on this step's pair of batches; keeps their
   * train-mode embeddings (detached) for the critic's step.
   */
  batchLoss(args: BatchLossArgs): tf.Scalar {
    const xu = this.xu;
    if (!xu) return tf.scalar(0);
    return tf.tidy(() => {
      const zl = args.out.embedding;
      const zu = this.net.forward(xu, 'train').embedding;
      this.zl = tf.keep(tf.clone(zl));
      this.zu = tf.keep(tf.clone(zu));
      return tf.mul(this.wasserstein(zl, zu), this.opts.alpha) as tf.Scalar;
    });
  }

  /** One critic step on the embeddings of the step just taken. */
  afterBatch(): void {
    const zl = this.zl;
    const zu = this.zu;
    if (!zl || !zu) return;
    const vars = denseVars(this.layers);
    try {
      for (const v of vars) v.trainable = true;
      const cost = this.opt.minimize(
        () =>
          tf.add(
            tf.neg(this.wasserstein(zl, zu)),
            tf.mul(this.gradientPenalty(zl, zu), this.opts.gpWeight),
          ) as tf.Scalar,
        false,
        vars,
      );
      cost?.dispose();
    } finally {
      for (const v of vars) v.trainable = false;
      this.releaseBatch();
    }
  }

  private releaseBatch(): void {
    tf.dispose([this.xu, this.zl, this.zu].filter((t): t is tf.Tensor => t !== null));
    this.xu = null;
    this.zl = null;
    this.zu = null;
  }

  variables(): tf.Variable[] {
    return [];
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseBatch();
    for (const v of denseVars(this.layers)) v.dispose();
    this.opt.dispose();
  }
}

/**
 * WAAL's selection score, lower = pick first (the reference's formula):
 * 0.5 ||log p||_2 + 0.5 sum_c(-log p_c) - selection * D(h). Both uncertainty terms are smallest
 * for flat predictions (confident ones have tiny p_c with huge -log p_c), and D is high for
 * samples that look unlabeled, so the lowest scores are uncertain and unlike the labeled set.
 */
export function waalScores(
  probs: Float32Array,
  C: number,
  critic: Float32Array,
  selection: number,
): Float32Array {
  const n = critic.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let l1 = 0;
    let l2 = 0;
    for (let c = 0; c < C; c++) {
      const lp = Math.log(Math.max(probs[i * C + c]!, 1e-12));
      l1 -= lp;
      l2 += lp * lp;
    }
    out[i] = 0.5 * Math.sqrt(l2) + 0.5 * l1 - selection * critic[i]!;
  }
  return out;
}

export const waal: Strategy = {
  id: 'WAAL',
  name: 'WAAL',
  family: 'hybrid',
  description:
    'Trains the classifier together with a critic that tells labeled from unlabeled images, ' +
    'which also pushes the model to use the unlabeled images; then asks for images the model is ' +
    'unsure about and that look least like what is already labeled. The survey ranks it first ' +
    'overall, though it fails on sets with many classes.',
  params: [
    {
      name: 'alpha',
      type: 'number',
      default: 1e-3,
      min: 0,
      description: 'Weight of the adversarial term in the classifier’s loss.',
    },
    {
      name: 'gpWeight',
      type: 'number',
      default: 2,
      min: 0,
      description: 'Weight of the critic’s gradient penalty.',
    },
    {
      name: 'selection',
      type: 'number',
      default: 10,
      min: 0,
      description: 'Weight of the critic’s score against uncertainty when querying.',
    },
    {
      name: 'discLr',
      type: 'number',
      default: 1e-3,
      min: 0,
      description: 'Learning rate of the critic (Adam).',
    },
    {
      name: 'hidden',
      type: 'integer',
      default: 128,
      min: 1,
      description: 'Width of the critic’s hidden layers.',
    },
    {
      name: 'gamma',
      type: 'number',
      default: 1,
      min: 0,
      description:
        'Weight of the labeled term in the critic’s Wasserstein estimate (DeepAL+ uses 1; the ' +
        'original WAAL code the labeled-to-unlabeled ratio).',
    },
    {
      name: 'poolEpochs',
      type: 'boolean',
      default: true,
      description:
        'Each training epoch pairs every unlabeled image once with a labeled one (max of the two ' +
        'counts, as the reference); off: epochs over the labeled images only, like the other ' +
        'strategies, several times faster.',
    },
  ],
  trainingPlugin(ctx: TrainingContext): TrainingPlugin {
    return new WaalPlugin(ctx.net, ctx.net.embeddingDim, {
      seed: deriveSeed(ctx.seed, 'WAAL', 'critic'),
      hidden: Math.round(numParam(ctx.params, 'hidden', 128)),
      alpha: numParam(ctx.params, 'alpha', 1e-3),
      gpWeight: numParam(ctx.params, 'gpWeight', 2),
      gamma: numParam(ctx.params, 'gamma', 1),
      discLr: numParam(ctx.params, 'discLr', 1e-3),
      poolEpochs: ctx.params.poolEpochs !== false && ctx.params.poolEpochs !== 'false',
    });
  },
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = budgetFor(ctx);
    if (all) return { selected: all };
    const plugin = ctx.plugin;
    if (!(plugin instanceof WaalPlugin)) {
      throw new Error(
        'WAAL needs the critic trained with this model (ctx.plugin from WAAL.trainingPlugin); ' +
          'none was passed to the query',
      );
    }
    const D = ctx.model.embeddingDim;
    const n = ctx.unlabeled.length;
    const { probs, embeddings } = await probsAndEmbeddingsChunked(
      ctx.model,
      ctx.unlabeled,
      ctx.signal,
    );
    const critic = new Float32Array(n);
    for (let s = 0; s < n; s += SCORE_CHUNK) {
      checkAborted(ctx.signal);
      const e = Math.min(n, s + SCORE_CHUNK);
      const v = readAndDispose(
        tf.tidy(() => plugin.critic(tf.tensor2d(embeddings.subarray(s * D, e * D), [e - s, D]))),
      );
      critic.set(v, s);
    }
    const scores = waalScores(
      probs,
      ctx.model.numClasses,
      critic,
      numParam(ctx.params, 'selection', 10),
    );
    return { selected: toPool(ctx.unlabeled, topK(scores, k, 'asc')) };
  },
};

/**
 * VAAL's discriminator loss: labeled = 1, unlabeled = 0 (binary cross-entropy). The reference
 * trains both with target 1, so its discriminator learns nothing about the split.
 */
export function vaalDiscriminatorLoss(
  predLabeled: tf.Tensor1D,
  predUnlabeled: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy(
    () =>
      tf.add(
        tf.losses.sigmoidCrossEntropy(tf.onesLike(predLabeled), predLabeled),
        tf.losses.sigmoidCrossEntropy(tf.zerosLike(predUnlabeled), predUnlabeled),
      ) as tf.Scalar,
  );
}

/**
 * The VAE's loss on one batch, as the reference (and the VAAL authors' code) computes it: the
 * squared reconstruction error averaged over values and samples, plus beta x the KL divergence
 * from the prior summed over latent dimensions and samples. The sum makes the KL term weigh
 * (batch x latent) times more than a mean would; that balance is part of the method.
 */
export function vaalVaeLoss(
  x: tf.Tensor2D,
  recon: tf.Tensor2D,
  mu: tf.Tensor2D,
  logvar: tf.Tensor2D,
  beta: number,
): tf.Scalar {
  return tf.tidy(() => {
    const mse = tf.mean(tf.square(tf.sub(recon, x)));
    const kl = tf.mul(
      -0.5,
      tf.sum(tf.sub(tf.sub(tf.add(1, logvar), tf.square(mu)), tf.exp(logvar))),
    );
    return tf.add(mse, tf.mul(kl, beta)) as tf.Scalar;
  });
}

/** The VAE's adversarial term: it wants both sets to look labeled (target 1 for both). */
export function vaalAdversarialLoss(
  logitsLabeled: tf.Tensor1D,
  logitsUnlabeled: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy(
    () =>
      tf.add(
        tf.losses.sigmoidCrossEntropy(tf.onesLike(logitsLabeled), logitsLabeled),
        tf.losses.sigmoidCrossEntropy(tf.onesLike(logitsUnlabeled), logitsUnlabeled),
      ) as tf.Scalar,
  );
}

/** A small MLP VAE (flattened input -> hidden -> mu, logvar) and its latent discriminator. */
class VaalNets {
  readonly enc: Dense;
  readonly mu: Dense;
  readonly logvar: Dense;
  readonly dec1: Dense;
  readonly dec2: Dense;
  readonly disc: Dense[];

  constructor(inDim: number, hidden: number, latent: number, rng: Rng) {
    this.enc = dense(inDim, hidden, rng.fork());
    this.mu = dense(hidden, latent, rng.fork());
    this.logvar = dense(hidden, latent, rng.fork());
    this.dec1 = dense(latent, hidden, rng.fork());
    this.dec2 = dense(hidden, inDim, rng.fork());
    this.disc = [
      dense(latent, 64, rng.fork()),
      dense(64, 64, rng.fork()),
      dense(64, 1, rng.fork()),
    ];
  }

  vaeVars(): tf.Variable[] {
    return denseVars([this.enc, this.mu, this.logvar, this.dec1, this.dec2]);
  }

  discVars(): tf.Variable[] {
    return denseVars(this.disc);
  }

  encode(x: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    const h = tf.relu(applyDense(this.enc, x));
    return { mu: applyDense(this.mu, h), logvar: applyDense(this.logvar, h) };
  }

  decode(z: tf.Tensor2D): tf.Tensor2D {
    return applyDense(this.dec2, tf.relu(applyDense(this.dec1, z)));
  }

  /** Discriminator logits (sigmoid gives P(labeled)). */
  discLogits(z: tf.Tensor2D): tf.Tensor1D {
    let h = tf.relu(applyDense(this.disc[0]!, z));
    h = tf.relu(applyDense(this.disc[1]!, h));
    return tf.reshape(applyDense(this.disc[2]!, h), [-1]) as tf.Tensor1D;
  }

  dispose(): void {
    for (const v of [...this.vaeVars(), ...this.discVars()]) v.dispose();
  }
}

export const vaal: Strategy = {
  id: 'VAAL',
  name: 'VAAL',
  family: 'diversity',
  description:
    'Trains a small image compressor (a variational autoencoder) on all images and a judge that ' +
    'tries to tell labeled from unlabeled images by their compressed codes; asks for the images ' +
    'the judge is surest are unlike anything labeled. It ignores the classifier entirely and ' +
    'retrains both networks every round, so it is slow; the survey found it unsatisfying.',
  params: [
    {
      name: 'latentDim',
      type: 'integer',
      default: 32,
      min: 2,
      description: 'Size of the VAE’s latent code.',
    },
    {
      name: 'hidden',
      type: 'integer',
      default: 256,
      min: 8,
      description: 'Width of the VAE’s hidden layer.',
    },
    {
      name: 'epochs',
      type: 'number',
      default: 30,
      min: 0,
      description:
        'Training epochs per query, each of max(labeled, unlabeled) images paired labeled with ' +
        'unlabeled (the reference’s 30).',
    },
    {
      name: 'vaeSteps',
      type: 'integer',
      default: 2,
      min: 1,
      description:
        'VAE steps, then as many discriminator steps, per pair of batches (as the reference).',
    },
    {
      name: 'maxSteps',
      type: 'integer',
      default: 0,
      min: 0,
      description: 'Cap on the pairs of batches per query, to bound the time on a CPU (0 = none).',
    },
    {
      name: 'batchSize',
      type: 'integer',
      default: 64,
      min: 2,
      description: 'Labeled and unlabeled images per training step (each).',
    },
    {
      name: 'lr',
      type: 'number',
      default: 5e-4,
      min: 0,
      description: 'Learning rate of the VAE and the discriminator (Adam).',
    },
    {
      name: 'beta',
      type: 'number',
      default: 1,
      min: 0,
      description: 'Weight of the VAE’s KL term.',
    },
    {
      name: 'adversaryWeight',
      type: 'number',
      default: 1,
      min: 0,
      description: 'Weight of the VAE’s term for fooling the discriminator.',
    },
  ],
  async query(ctx: QueryContext): Promise<QueryResult> {
    const { k, all } = budgetFor(ctx);
    if (all) return { selected: all };
    const U = ctx.unlabeled;
    const L = ctx.labeled;
    const seed = deriveSeed(ctx.seed, 'VAAL', ctx.round);
    const rng = new Rng(seed);
    // Nothing labeled: no split to learn; a seeded random batch is the honest answer.
    if (L.length === 0) return { selected: rng.sample(U, k) };
    const p = ctx.params;
    const latent = Math.round(numParam(p, 'latentDim', 32));
    const hidden = Math.round(numParam(p, 'hidden', 256));
    const bs = Math.max(2, Math.round(numParam(p, 'batchSize', 64)));
    // The reference's joint loader: epochs of max(|L|, |U|) pairs of samples.
    const cap = Math.round(numParam(p, 'maxSteps', 0));
    const perEpoch = Math.ceil(Math.max(L.length, U.length) / bs);
    const allSteps = Math.ceil(numParam(p, 'epochs', 30) * perEpoch);
    const steps = cap > 0 ? Math.min(cap, allSteps) : allSteps;
    const vaeSteps = Math.max(1, Math.round(numParam(p, 'vaeSteps', 2)));
    const beta = numParam(p, 'beta', 1);
    const advW = numParam(p, 'adversaryWeight', 1);
    const lr = numParam(p, 'lr', 5e-4);
    const inDim = ctx.pool.sampleShape.reduce((a, b) => a * b, 1);
    const nets = new VaalNets(inDim, hidden, latent, rng);
    const vaeOpt = tf.train.adam(lr);
    const discOpt = tf.train.adam(lr);
    const batch = (from: Int32Array): tf.Tensor2D =>
      tf.tidy(() => tf.reshape(ctx.model.inputs(rng.sample(from, bs)), [-1, inDim]) as tf.Tensor2D);
    try {
      for (let step = 0; step < steps; step++) {
        checkAborted(ctx.signal);
        const xl = batch(L);
        const xu = batch(U);
        try {
          // VAE steps: reconstruct both sets, stay close to the prior, fool the discriminator.
          for (let v = 0; v < vaeSteps; v++)
            vaeOpt
              .minimize(
                () => {
                  // One encoding per batch serves the reconstruction and the discriminator, as
                  // in the reference (its VAE returns mu with the reconstruction).
                  const pass = (x: tf.Tensor2D): { loss: tf.Scalar; mu: tf.Tensor2D } => {
                    const { mu, logvar } = nets.encode(x);
                    const epsN = tf.randomNormal(mu.shape, 0, 1, 'float32', rng.fork());
                    const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), epsN)) as tf.Tensor2D;
                    return { loss: vaalVaeLoss(x, nets.decode(z), mu, logvar, beta), mu };
                  };
                  const l = pass(xl);
                  const u = pass(xu);
                  const adv = vaalAdversarialLoss(nets.discLogits(l.mu), nets.discLogits(u.mu));
                  return tf.addN([l.loss, u.loss, tf.mul(adv, advW)]) as tf.Scalar;
                },
                false,
                nets.vaeVars(),
              )
              ?.dispose();
          // Discriminator steps on the (fixed) latent means: labeled 1, unlabeled 0.
          const [ml, mu] = tf.tidy(() => [nets.encode(xl).mu, nets.encode(xu).mu]);
          for (let v = 0; v < vaeSteps; v++)
            discOpt
              .minimize(
                () => vaalDiscriminatorLoss(nets.discLogits(ml!), nets.discLogits(mu!)),
                false,
                nets.discVars(),
              )
              ?.dispose();
          ml!.dispose();
          mu!.dispose();
        } finally {
          xl.dispose();
          xu.dispose();
        }
        if ((step & 7) === 7) await Promise.resolve();
      }
      // Score: P(labeled) per unlabeled sample; the lowest look most unlabeled.
      const scores = new Float32Array(U.length);
      for (let s = 0; s < U.length; s += SCORE_CHUNK) {
        checkAborted(ctx.signal);
        const e = Math.min(U.length, s + SCORE_CHUNK);
        const v = readAndDispose(
          tf.tidy(() => {
            const x = tf.reshape(ctx.model.inputs(U.subarray(s, e)), [-1, inDim]) as tf.Tensor2D;
            return nets.discLogits(nets.encode(x).mu);
          }),
        );
        scores.set(v, s);
      }
      return { selected: toPool(U, topK(scores, k, 'asc')) };
    } finally {
      nets.dispose();
      vaeOpt.dispose();
      discOpt.dispose();
    }
  },
};

export const strategies: Strategy[] = [lpl, waal, vaal];
