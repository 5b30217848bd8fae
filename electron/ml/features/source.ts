/**
 * Image sources for feature extraction: an image dataset already in memory (the study engine's
 * pool), or image files read one slice at a time at the size an extractor asks for (annotation
 * projects, where the pool may be 100,000 photographs).
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { datasetFingerprint } from '../datasets/index.ts';
import { DatasetError } from '../datasets/errors.ts';
import { mapInBatches } from '../datasets/files.ts';
import { isImageDataset, type Dataset } from '../types.ts';
import { resizeImages } from './resize.ts';
import { decodeSmallPng } from './smallPng.ts';
import type { ImageSource } from './types.ts';

/** An in-memory image dataset (uint8 HWC) as a source. */
export function datasetSource(d: Dataset, fingerprint?: string): ImageSource {
  if (!isImageDataset(d) || !(d.x instanceof Uint8Array)) {
    throw new Error(
      `${d.name}: feature extractors read images; this dataset holds feature vectors of shape [${d.sampleShape}]`,
    );
  }
  const [h, w, c] = d.sampleShape as [number, number, number];
  if (c !== 1 && c !== 3) {
    throw new Error(`${d.name}: expected 1 or 3 channels per pixel, found ${c}`);
  }
  const x = d.x;
  const per = h * w * c;
  let fp = fingerprint;
  return {
    count: d.y.length,
    nativeSize: [h, w],
    channels: c,
    get fingerprint() {
      // Hashing a large pool takes a moment: only when a cache key is needed.
      fp ??= datasetFingerprint(d);
      return fp;
    },
    async read(start, end, [th, tw]) {
      return resizeImages(x.subarray(start * per, end * per), end - start, h, w, c, th, tw);
    },
  };
}

/** One image file of a file source. */
export interface ImageFile {
  /** Absolute path. */
  path: string;
}

export interface FileSourceOptions {
  /** The images' most common [height, width] (from the import). */
  nativeSize: readonly [number, number];
  channels: 1 | 3;
  /** Decode at most this many files at once (default 4). */
  concurrency?: number;
  /** Files checked for the fingerprint so far (60,000 take a second or more). */
  progress?: (done: number, total: number) => void;
}

/**
 * Image files as a source. The fingerprint covers each file's path, size and modification time,
 * so a cache made before a file changed is not used after. A file that can no longer be decoded
 * fails the read with a DatasetError that names it.
 */
export async function fileSource(
  files: readonly ImageFile[],
  opts: FileSourceOptions,
): Promise<ImageSource> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ v: 1, size: opts.nativeSize, channels: opts.channels }));
  // Stat a few dozen files at a time, hashing in file order.
  const stats = await mapInBatches(
    files,
    64,
    async (f) => {
      try {
        return await stat(f.path);
      } catch (err) {
        throw new DatasetError(
          f.path,
          `expected an image file, found nothing readable (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
        );
      }
    },
    opts.progress,
  );
  files.forEach((f, k) => hash.update(`${f.path}\0${stats[k]!.size}\0${stats[k]!.mtimeMs}\n`));
  const fingerprint = hash.digest('hex');
  const { default: sharp } = await import('sharp');
  const c = opts.channels;
  const concurrency = opts.concurrency ?? 4;
  return {
    count: files.length,
    nativeSize: opts.nativeSize,
    channels: c,
    fingerprint,
    async read(start, end, [th, tw]) {
      const per = th * tw * c;
      const out = new Uint8Array((end - start) * per);
      let next = start;
      const work = async (): Promise<void> => {
        while (next < end) {
          const i = next++;
          const file = files[i]!;
          try {
            // Small PNGs at the asked size are decoded here, about seven times faster than through sharp (0.23 against 1.6 ms a 28x28 file).
            const bytes = /\.png$/i.test(file.path) ? await readFile(file.path) : null;
            const fast = bytes && decodeSmallPng(bytes, th, tw, c);
            if (fast) {
              out.set(fast, (i - start) * per);
              continue;
            }
            let img = sharp(bytes ?? file.path, { limitInputPixels: 64_000_000 })
              .rotate()
              .flatten({ background: '#000000' })
              .resize(tw, th, { fit: 'cover', position: 'centre' });
            img = c === 1 ? img.grayscale() : img.toColourspace('srgb');
            const { data, info } = await img
              .removeAlpha()
              .raw({ depth: 'uchar' })
              .toBuffer({ resolveWithObject: true });
            if (info.width !== tw || info.height !== th || data.length !== per) {
              throw new Error(`decoder gave ${info.width} x ${info.height} x ${info.channels}`);
            }
            out.set(data, (i - start) * per);
          } catch (err) {
            throw new DatasetError(
              file.path,
              `could not be read as an image for feature extraction (${(err as Error).message})`,
              { cause: err },
            );
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, end - start) }, work));
      return out;
    },
  };
}
