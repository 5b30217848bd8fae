/**
 * In-memory datasets, as the ML engine sees them. Images stay uint8 (0..255) until a batch is
 * built, so a 60,000-image pool costs 47 MB rather than 188 MB of float32.
 */
export interface Dataset {
  /** Human-readable name, e.g. "fashion-mnist/train" or a folder path. */
  name: string;
  /** Sample-major values: uint8 pixels (HWC) for images, float32 features for tabular data. */
  x: Uint8Array | Float32Array;
  /** Class index per sample, -1 where the label is unknown. */
  y: Int32Array;
  /** Shape of one sample: [height, width, channels] for images, [features] for vectors. */
  sampleShape: number[];
  /** Class names; index = class id. */
  classNames: string[];
  /** Optional stable id per sample (source path, or "file#index"). */
  ids?: string[];
  /**
   * The training-time augmentation that keeps this data's labels ('none': none at all). Only the
   * data knows: a mirrored 3 or "b" is another class, a mirrored car is not. When absent, training
   * uses a safe default (defaultAugmentation in training/batches.ts).
   */
  augmentation?: Augmentation | 'none';
}

/** Training-time augmentation of image batches (ignored for feature vectors). */
export interface Augmentation {
  /** Random crop back to the original size after zero-padding this many pixels on each side. */
  cropPadding?: number;
  /** Mirror left-right with probability 1/2. */
  horizontalFlip?: boolean;
}

/** A train pool and a held-out test set sharing classes and sample shape. */
export interface DatasetSplit {
  train: Dataset;
  test: Dataset;
}

export function sampleSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function datasetLength(d: Dataset): number {
  return d.y.length;
}

export function isImageDataset(d: Dataset): boolean {
  return d.sampleShape.length === 3;
}
