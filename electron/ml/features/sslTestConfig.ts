import { DEFAULT_AUGMENT } from './sslAugment.ts';
import type { SslTrainConfig } from './ssl.ts';

/**
 * A small encoder for tests: 16-pixel views, two narrow stages, batches of 16 images, and milder
 * views than the app's, so the loss falls clearly within a few dozen steps.
 */
export const TINY_SSL_CONFIG: Partial<SslTrainConfig> = {
  net: { widths: [8, 16], projDim: 16, stemStride: 1 },
  batchSize: 16,
  learningRate: 1e-2,
  readScale: 1.5,
  augment: {
    ...DEFAULT_AUGMENT,
    minScale: 0.6,
    jitterProb: 0.5,
    brightness: 0.2,
    contrast: 0.2,
    saturation: 0.2,
  },
};
