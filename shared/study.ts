import { z } from 'zod';
import { FeatureSpecSchema } from './features.ts';
import { studyLimitProblems } from './limits.ts';

/**
 * A study's protocol: dataset x strategies x repeats x protocol. Validated at every door (CLI, IPC,
 * browser mode) before any work starts, so a setting that cannot work is refused up front with what
 * to change.
 */
export const ModelKindSchema = z.enum(['mlp', 'cnn', 'resnet18', 'linear', 'auto']);

/**
 * Models that train on feature vectors: 'linear' (class-balanced logistic regression), 'auto' (a
 * head chosen by cross-validation on the labeled set each round). 'mlp' too, when features are
 * given. On image datasets they use `features` (default: the built-in descriptors).
 */
export const FEATURE_MODELS = ['linear', 'auto'] as const;

/** Models that learn from pixels and so take no feature extractor. */
export const PIXEL_MODELS = ['cnn', 'resnet18'] as const;

const positiveInt = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be a whole number` })
    .positive({ error: `${what} must be at least 1` });

export const StudyConfigSchema = z
  .object({
    /** "demo", "fashion-mnist", "mnist" or a path. */
    dataset: z.string().min(1, { error: 'dataset must not be empty' }),
    dataDir: z.string().optional(),
    imbalanced: z.boolean().default(false),
    strategies: z.array(z.string().min(1)).min(1, { error: 'choose at least one strategy' }),
    /** Per-strategy hyperparameter overrides, by strategy id. */
    strategyParams: z
      .record(z.string(), z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])))
      .default({}),
    repeats: positiveInt('repeats'),
    seed: z.number().int().nonnegative({ error: 'seed must be 0 or more' }),
    /** Initial labeled seed size M (the same for every strategy within a repeat). */
    initial: positiveInt('initial (the labeled seed size)'),
    /** Query batch size b. */
    batch: positiveInt('batch (the query size)'),
    /** Labels to acquire after the seed (quota Q); the last round may be a partial batch. */
    budget: positiveInt('budget'),
    epochs: positiveInt('epochs'),
    model: ModelKindSchema,
    trainBatchSize: positiveInt('train batch size'),
    learningRate: z.number().positive({ error: 'learning rate must be above 0' }),
    /** Retrain from scratch every round (survey protocol) unless warm start is chosen. */
    warmStart: z.boolean().default(false),
    /** Pool (training) subset size; all when absent. */
    poolSize: positiveInt('pool size').optional(),
    /** Test subset size; all when absent. */
    testSize: positiveInt('test size').optional(),
    /**
     * Where a feature model's inputs come from (image datasets). Absent with a feature model:
     * the built-in descriptors.
     */
    features: FeatureSpecSchema.optional(),
    /**
     * Longer side, in pixels, image folders are read at (default: their own size up to 224). The
     * CNN trains at this size; feature extractors read the images at their own size.
     */
    imageSize: positiveInt('image size')
      .max(1024, { error: 'image size is at most 1024 pixels' })
      .optional(),
    /**
     * Share of the simulated oracle's answers that are wrong: each repeat flips this share of the
     * pool's labels (seeded), so every strategy of a repeat meets the same wrong answers. The
     * report says how many of the flipped labels it acquired the suspect finder caught.
     */
    labelNoise: z
      .number({ error: 'label noise must be a number' })
      .min(0, { error: 'label noise must be 0 or more' })
      .max(0.5, { error: 'label noise is at most 0.5 (half the answers wrong)' })
      .optional(),
    /**
     * Where a flipped answer goes: another class at random (uniform, the default), or the class
     * whose mean is nearest to the true class's in the model's features (confusable).
     */
    noiseKind: z.enum(['uniform', 'confusable']).optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // Bounds (shared/limits.ts) in the schema too, so every form shows them before submit.
    for (const message of studyLimitProblems(cfg)) ctx.addIssue({ code: 'custom', message });
    if (cfg.noiseKind && !cfg.labelNoise) {
      ctx.addIssue({
        code: 'custom',
        path: ['noiseKind'],
        message: 'a noise kind needs label noise: add --label-noise (e.g. 0.1)',
      });
    }
    if (cfg.features && (PIXEL_MODELS as readonly string[]).includes(cfg.model)) {
      ctx.addIssue({
        code: 'custom',
        path: ['features'],
        message: `the ${cfg.model} model learns from pixels and takes no feature extractor; choose --model auto, linear or mlp, or leave out --features`,
      });
    }
  });

export type StudyConfig = z.infer<typeof StudyConfigSchema>;
export type StudyConfigInput = z.input<typeof StudyConfigSchema>;

/** The short study `deepal study` runs when given nothing: a few minutes on a 2-core CPU. */
export const DEFAULT_STUDY: StudyConfig = {
  dataset: 'demo',
  imbalanced: false,
  strategies: ['Random', 'Entropy', 'KCenter', 'BADGE'],
  strategyParams: {},
  repeats: 2,
  seed: 1,
  initial: 100,
  batch: 100,
  budget: 400,
  epochs: 10,
  model: 'cnn',
  trainBatchSize: 64,
  learningRate: 1e-3,
  warmStart: false,
  poolSize: 3000,
  testSize: 1000,
};

/** Number of query rounds: ceil(budget / batch); the last one takes the remainder. */
export function roundCount(cfg: Pick<StudyConfig, 'budget' | 'batch'>): number {
  return Math.ceil(cfg.budget / cfg.batch);
}

/** Size of query round t (1-based). */
export function roundBatch(cfg: Pick<StudyConfig, 'budget' | 'batch'>, t: number): number {
  return Math.min(cfg.batch, cfg.budget - (t - 1) * cfg.batch);
}

/**
 * Checks that need the dataset's size: the labeled seed plus the budget must fit in the pool.
 * Returns the problems as sentences (empty when fine).
 */
export function checkAgainstPool(cfg: StudyConfig, poolSize: number): string[] {
  const problems: string[] = [];
  if (cfg.initial >= poolSize) {
    problems.push(
      `initial seed ${cfg.initial} must be smaller than the pool (${poolSize} samples); lower --init`,
    );
  } else if (cfg.initial + cfg.budget > poolSize) {
    problems.push(
      `initial seed ${cfg.initial} + budget ${cfg.budget} exceeds the pool (${poolSize} samples); lower --budget to at most ${poolSize - cfg.initial} or use a larger --pool-size`,
    );
  }
  return problems;
}

/** Readable one-line reasons from a zod error. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}
