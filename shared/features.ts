import { z } from 'zod';

/**
 * Where a feature model's embedding comes from. Every extractor turns an image dataset into an
 * embedding matrix [n, D], computed once per dataset and cached in the workspace.
 *
 * - `descriptors`: built-in hand-crafted descriptors that need no training (HOG, rotation-invariant
 *   uniform LBP histograms at several radii and two scales, intensity/colour histograms and
 *   statistics), at a resolution chosen from the images.
 * - `ssl`: an encoder pretrained on the unlabeled pool itself by self-supervised contrastive
 *   learning, as a resumable background job with a time budget.
 * - `onnx` / `tfjs`: the user's own pretrained encoder from a file on disk.
 */
export const FEATURE_KINDS = ['descriptors', 'ssl', 'onnx', 'tfjs'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

const positive = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be a whole number` })
    .positive({ error: `${what} must be at least 1` });

const sizeSchema = z
  .tuple([positive('input height'), positive('input width')])
  .refine(([h, w]) => h <= 4096 && w <= 4096, { error: 'input size must be at most 4096 pixels' });

export const DescriptorFeaturesSchema = z
  .object({
    kind: z.literal('descriptors'),
    /**
     * Longer side, in pixels, the images are read at (default: their own size, capped at 256).
     * Texture descriptors need the fine detail a 32-pixel thumbnail throws away.
     */
    side: positive('feature image size')
      .max(1024, { error: 'feature image size is at most 1024' })
      .optional(),
  })
  .strict();

export const SslFeaturesSchema = z
  .object({
    kind: z.literal('ssl'),
    /** Wall-clock budget of the pretraining, seconds (resumable: more budget continues it). */
    budgetSec: positive('pretraining budget')
      .max(7 * 24 * 3600)
      .default(600),
    /** Images are read at this side for the encoder (default 64). */
    side: positive('pretraining image size').max(256).default(64),
    seed: z.number().int().nonnegative().default(0),
  })
  .strict();

/** A user's own encoder: the file, the input it expects, and which output is the embedding. */
export const ModelFileFeaturesSchema = z
  .object({
    kind: z.enum(['onnx', 'tfjs']),
    /** Absolute path of the .onnx file, or of a TF.js model.json. */
    path: z.string().min(1, { error: 'model file path must not be empty' }),
    /** [height, width] the encoder takes; default: read from the model where it says. */
    inputSize: sizeSchema.optional(),
    /** 1 or 3 input channels; default: from the model, else 3. */
    channels: z.union([z.literal(1), z.literal(3)]).optional(),
    /** Pixels are scaled to [0, 1], then (x - mean) / std per channel (default ImageNet's). */
    mean: z.array(z.number()).min(1).max(3).optional(),
    std: z
      .array(z.number().positive({ error: 'std values must be above 0' }))
      .min(1)
      .max(3)
      .optional(),
    /** Tensor layout of the input: channels first (PyTorch exports) or last (TF). Default: from the model. */
    layout: z.enum(['nchw', 'nhwc']).optional(),
    /** Name of the output to use as the embedding (default: the first output). */
    output: z.string().min(1).optional(),
  })
  .strict();

export const FeatureSpecSchema = z.discriminatedUnion('kind', [
  DescriptorFeaturesSchema,
  SslFeaturesSchema,
  ModelFileFeaturesSchema,
]);

export type FeatureSpec = z.infer<typeof FeatureSpecSchema>;
export type FeatureSpecInput = z.input<typeof FeatureSpecSchema>;
export type ModelFileFeatures = z.infer<typeof ModelFileFeaturesSchema>;

/**
 * Parse the command line's `--features` value: `descriptors` (alias `hog`), `ssl`, `ssl:SECONDS`,
 * `onnx:PATH` or `tfjs:PATH`. Throws a sentence that says what is accepted.
 */
export function parseFeatureArg(value: string): FeatureSpecInput {
  const v = value.trim();
  const colon = v.indexOf(':');
  const head = (colon < 0 ? v : v.slice(0, colon)).toLowerCase();
  const rest = colon < 0 ? '' : v.slice(colon + 1);
  if (head === 'descriptors' || head === 'hog') {
    if (rest) throw new Error(`--features ${value}: "${head}" takes no value after a colon`);
    return { kind: 'descriptors' };
  }
  if (head === 'ssl') {
    if (!rest) return { kind: 'ssl' };
    const budget = Number(rest);
    if (!(Number.isInteger(budget) && budget > 0)) {
      throw new Error(
        `--features ${value}: ssl:SECONDS takes a whole number of seconds of pretraining, got "${rest}"`,
      );
    }
    return { kind: 'ssl', budgetSec: budget };
  }
  if (head === 'onnx' || head === 'tfjs') {
    if (!rest)
      throw new Error(
        `--features ${value}: give the model file, e.g. ${head}:/path/to/model${head === 'onnx' ? '.onnx' : '/model.json'}`,
      );
    return { kind: head, path: rest };
  }
  throw new Error(
    `--features ${value}: expected descriptors (or hog), ssl, ssl:SECONDS, onnx:PATH or tfjs:PATH`,
  );
}

/** A short human name for a feature spec, for screens and reports. */
export function describeFeatures(spec: FeatureSpec): string {
  switch (spec.kind) {
    case 'descriptors':
      return 'built-in descriptors (HOG, multi-scale LBP, histograms)';
    case 'ssl':
      return `self-supervised encoder pretrained on the pool (${spec.budgetSec} s budget)`;
    case 'onnx':
    case 'tfjs': {
      const name = spec.path.split(/[\\/]/).pop() ?? spec.path;
      return `${spec.kind === 'onnx' ? 'ONNX' : 'TF.js'} encoder ${name}`;
    }
  }
}
