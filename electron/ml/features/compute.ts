/**
 * Compute (or find in the cache) the embedding matrix of an image source: the feature layer's one
 * entry point for the study engine, annotation projects and the worker's feature job.
 */
import { describeFeatures, type FeatureSpec } from '../../../shared/features.ts';
import { featureKey, readCached, writeCached } from './cache.ts';
import { createExtractor } from './index.ts';
import type { FeatureExtractor, FeatureJobContext, FeatureMatrix, ImageSource } from './types.ts';

/** Thrown when a feature job stops because its signal fired. */
export class FeaturesCancelled extends Error {
  constructor() {
    super('Feature extraction was cancelled; nothing was cached, and the next run starts again.');
    this.name = 'FeaturesCancelled';
  }
}

export interface ComputeFeaturesOptions extends FeatureJobContext {
  /** Folder of the workspace's feature cache; absent: compute without caching. */
  cacheDir?: string;
  /** Images per slice read from the source (default 32). */
  chunk?: number;
  /** Names of the images, for error messages (e.g. file paths); default "image <i>". */
  nameOf?: (i: number) => string;
  /** Use this extractor instead of the spec's (tests); it is disposed at the end all the same. */
  extractor?: FeatureExtractor;
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FeaturesCancelled();
}

/**
 * The embedding matrix [source.count, dim] of `spec` on `source`. From the cache when an entry
 * with the same images, extractor, settings and version exists; else computed slice by slice
 * (cancellable between slices, with progress) and cached. A row with a NaN or infinite value fails
 * the job, naming the image and the extractor.
 */
export async function computeFeatures(
  source: ImageSource,
  spec: FeatureSpec,
  opts: ComputeFeaturesOptions = {},
): Promise<FeatureMatrix> {
  const [m] = await computeFeatureSets(source, [source], spec, {
    ...opts,
    nameOf: opts.nameOf ? (_s, i) => opts.nameOf!(i) : undefined,
  });
  return m!;
}

/**
 * Embedding matrices of several sources with one extractor, prepared on `prepareOn` (the pool: a
 * self-supervised encoder learns from it, then embeds the pool and the test set alike). Every
 * source is read at the size chosen for `prepareOn`.
 */
export async function computeFeatureSets(
  prepareOn: ImageSource,
  sources: readonly ImageSource[],
  spec: FeatureSpec,
  opts: Omit<ComputeFeaturesOptions, 'nameOf'> & {
    nameOf?: (source: number, i: number) => string;
  } = {},
): Promise<FeatureMatrix[]> {
  const { signal, progress } = opts;
  checkCancelled(signal);
  for (const s of sources) {
    if (s.count === 0) throw new Error('There are no images to compute features for');
  }
  const extractor = opts.extractor ?? (await createExtractor(spec));
  try {
    const inputSize = extractor.inputSize(prepareOn);
    await extractor.prepare?.(prepareOn, opts);
    checkCancelled(signal);
    const extra = extractor.cacheKeyExtra?.();
    const out: FeatureMatrix[] = [];
    for (let si = 0; si < sources.length; si++) {
      const source = sources[si]!;
      const key = featureKey({
        fingerprint: source.fingerprint,
        spec,
        version: extractor.version,
        inputSize,
        extra,
      });
      if (opts.cacheDir) {
        const hit = await readCached(opts.cacheDir, key);
        if (hit && hit.meta.n === source.count) {
          out.push({
            data: hit.data,
            n: hit.meta.n,
            dim: hit.meta.dim,
            blocks: hit.meta.blocks,
            spec,
            key,
            fromCache: true,
            ms: 0,
          });
          continue;
        }
      }
      const started = performance.now();
      const dim = extractor.dim(prepareOn);
      const n = source.count;
      const data = new Float32Array(n * dim);
      const chunk = Math.max(1, opts.chunk ?? 32);
      const [h, w] = inputSize;
      progress?.({ phase: 'embedding', done: 0, total: n });
      // The next slice is read (decoded on libuv's threads) while this one is embedded on this
      // thread, so decoding and describing overlap on two cores.
      const readSlice = (s: number) => {
        const p = source.read(s, Math.min(n, s + chunk), inputSize);
        // Handled where it is awaited; a cancel may leave it unawaited.
        p.catch(() => {});
        return p;
      };
      let next = readSlice(0);
      for (let s = 0; s < n; s += chunk) {
        checkCancelled(signal);
        const e = Math.min(n, s + chunk);
        const pixels = await next;
        if (e < n) next = readSlice(e);
        const rows = await extractor.embed(pixels, e - s, [h, w, source.channels], opts);
        if (rows.length !== (e - s) * dim) {
          throw new Error(
            `The ${describeFeatures(spec)} gave ${rows.length / (e - s)} values per image; expected ${dim}`,
          );
        }
        for (let k = 0; k < rows.length; k++) {
          if (!Number.isFinite(rows[k]!)) {
            const i = s + Math.floor(k / dim);
            throw new Error(
              `The ${describeFeatures(spec)} gave a ${Number.isNaN(rows[k]!) ? 'NaN' : 'infinite'} value for ${opts.nameOf?.(si, i) ?? `image ${i}`}; expected finite numbers`,
            );
          }
        }
        data.set(rows, s * dim);
        progress?.({ phase: 'embedding', done: e, total: n });
        // Let a cancel message in between slices.
        await new Promise((r) => setImmediate(r));
      }
      checkCancelled(signal);
      const ms = performance.now() - started;
      const blocks = extractor.blocks?.(prepareOn) ?? [{ name: spec.kind, start: 0, end: dim }];
      if (opts.cacheDir) {
        await writeCached(
          opts.cacheDir,
          {
            key,
            n,
            dim,
            blocks,
            spec,
            version: extractor.version,
            fingerprint: source.fingerprint,
            inputSize,
            ms,
            createdAt: new Date().toISOString(),
          },
          data,
        );
      }
      out.push({ data, n, dim, blocks, spec, key, fromCache: false, ms });
    }
    return out;
  } finally {
    extractor.dispose();
  }
}
