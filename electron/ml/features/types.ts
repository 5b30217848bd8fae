/**
 * The feature layer's contracts. An extractor turns images into an embedding matrix; a source
 * hands it images at the size it asks for, a slice at a time, so neither ever needs every pixel of
 * a large dataset in memory at once.
 */
import type { FeatureSpec } from '../../../shared/features.ts';

/** Progress of a feature job: phases are extractor-specific ('pretraining', 'embedding', ...). */
export interface FeatureProgress {
  phase: string;
  done: number;
  total: number;
}

export interface FeatureJobContext {
  signal?: AbortSignal;
  progress?: (p: FeatureProgress) => void;
  /**
   * A folder of the workspace the extractor may keep state in between runs (the self-supervised
   * encoder's checkpoints). Absent: nothing is kept.
   */
  stateDir?: string;
}

/** Images an extractor reads. */
export interface ImageSource {
  /** Number of images. */
  readonly count: number;
  /** The images' own [height, width] (the most common one where they differ). */
  readonly nativeSize: readonly [number, number];
  /** 1 for grayscale content, 3 for colour. */
  readonly channels: 1 | 3;
  /**
   * Identity of the content, for the cache: equal fingerprints mean equal images in equal order.
   */
  readonly fingerprint: string;
  /**
   * Pixels of images [start, end) resized to [height, width] (uint8, HWC, `channels` per pixel),
   * concatenated. Sources resize with an area filter when shrinking.
   */
  read(start: number, end: number, size: readonly [number, number]): Promise<Uint8Array>;
}

/** Turns images into embedding rows. Created from a FeatureSpec by `createExtractor`. */
export interface FeatureExtractor {
  readonly spec: FeatureSpec;
  /**
   * Bumped whenever the output for the same settings changes (a fixed bug, another descriptor):
   * part of the cache key, so a stale cache is never used.
   */
  readonly version: number;
  /** The [height, width] images are read at for this source. */
  inputSize(source: ImageSource): [number, number];
  /**
   * Anything that needs the whole source before embedding: loading and checking a model file,
   * or pretraining an encoder on the pool. Called once per source, before `embed`.
   */
  prepare?(source: ImageSource, ctx: FeatureJobContext): Promise<void>;
  /**
   * Anything besides the spec and version that decides the output for a source (the pretrained
   * encoder's identity, the model file's content hash); part of the cache key. Called after
   * `prepare`.
   */
  cacheKeyExtra?(): string;
  /** Width of an embedding row (known after `prepare`). */
  dim(source: ImageSource): number;
  /** Embedding rows of n images of `shape` (uint8 HWC): [n, dim], row-major. */
  embed(
    pixels: Uint8Array,
    n: number,
    shape: readonly [number, number, number],
    ctx: FeatureJobContext,
  ): Promise<Float32Array>;
  /** Names of the columns, or of contiguous blocks of columns (for the `auto` model). */
  blocks?(source: ImageSource): FeatureBlock[];
  dispose(): void;
}

/** A named run of columns of the embedding (e.g. "lbp", "hog"). */
export interface FeatureBlock {
  name: string;
  start: number;
  end: number;
}

/** An embedding matrix and how it was made. */
export interface FeatureMatrix {
  /** [n, dim] row-major. */
  data: Float32Array;
  n: number;
  dim: number;
  blocks: FeatureBlock[];
  spec: FeatureSpec;
  /** The cache key it was stored or found under. */
  key: string;
  /** True when it came from the workspace cache rather than being computed now. */
  fromCache: boolean;
  /** Wall time spent computing (0 when cached), milliseconds. */
  ms: number;
}
