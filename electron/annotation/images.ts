/**
 * Images for the labeling screen, read in the main process with sharp (its work runs on libuv's
 * thread pool, so the event loop stays free). Files of image-folder datasets are re-encoded from
 * the original, shrunk only when larger than the screen asks for, so a large photo can be zoomed.
 * The file must lie inside the dataset's folder: a tampered database cannot make the app read
 * elsewhere.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import sharp from 'sharp';
import type { SampleImage } from '../../shared/annotation.ts';
import { mapInBatches } from '../ml/datasets/files.ts';

/** The absolute path of a sample's file, refusing anything outside the dataset folder. */
export async function sampleFile(datasetSource: string, sourcePath: string): Promise<string> {
  const root = resolve(datasetSource);
  return resolveSample(root, await realpath(root), sourcePath);
}

/**
 * sampleFile for many samples at once: the folder's real path is taken once, and the files are
 * resolved `concurrency` at a time on libuv's threads (one after another, 60,000 files took
 * seconds). A sample whose file is gone or lies outside the folder is null.
 */
export async function sampleFiles(
  datasetSource: string,
  sourcePaths: readonly string[],
  opts: { concurrency?: number; progress?: (done: number, total: number) => void } = {},
): Promise<(string | null)[]> {
  const root = resolve(datasetSource);
  const realRoot = await realpath(root);
  return mapInBatches(
    sourcePaths,
    opts.concurrency ?? 64,
    (p) => resolveSample(root, realRoot, p).catch(() => null),
    opts.progress,
  );
}

async function resolveSample(root: string, realRoot: string, sourcePath: string): Promise<string> {
  // A backslash is a separator only on Windows; on Linux and macOS it is a legal character of a
  // file name (`x\..\y.png` is one file), which must not be refused as a `..` step. The realpath
  // check below still refuses anything that resolves outside the folder.
  const steps = sourcePath.split(sep === '\\' ? /[\\/]/ : '/');
  if (isAbsolute(sourcePath) || steps.includes('..')) {
    throw new Error(`Sample path "${sourcePath}" leaves the dataset folder; refusing to read it`);
  }
  const candidates = [resolve(root, sourcePath)];
  // Datasets with train/ and test/ sub-folders store paths relative to those.
  for (const sub of ['train', 'test', 'val', 'valid', 'validation'])
    candidates.push(resolve(root, sub, sourcePath));
  for (const c of candidates) {
    let real: string;
    try {
      real = await realpath(c);
    } catch {
      continue;
    }
    const rel = relative(realRoot, real);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep)[0] === '..') {
      throw new Error(`Sample path "${sourcePath}" resolves outside the dataset folder`);
    }
    return real;
  }
  throw new Error(`The file ${sourcePath} is no longer in ${root}`);
}

/** Largest file sent as it is (a JPEG that needs no shrinking or turning). */
const PASS_THROUGH_BYTES = 300 * 1024;
/** JPEG quality of re-encoded photographs: visually lossless at screen size, a third of q90's bytes. */
const PHOTO_QUALITY = 82;

/**
 * Encode a file for display at most `maxSide` pixels on its longer side. Photographs (JPEG,
 * WebP, HEIF, AVIF: already lossy) are sent as JPEG whatever their size, decoded shrunk where the
 * format allows (libjpeg scales by 1/2, 1/4, 1/8 on load); a JPEG that needs neither shrinking
 * nor turning and is small enough is sent as its own bytes. Lossless sources stay PNG, so no
 * detail a label depends on is blurred.
 */
export async function encodeFile(file: string, maxSide: number): Promise<SampleImage> {
  const img = sharp(file, { limitInputPixels: 256_000_000 });
  const meta = await img.metadata();
  const w0 = meta.autoOrient?.width ?? meta.width ?? 0;
  const h0 = meta.autoOrient?.height ?? meta.height ?? 0;
  const scale = Math.min(1, maxSide / Math.max(1, w0, h0));
  const photo = ['jpeg', 'webp', 'heif', 'avif'].includes(meta.format ?? '');
  if (
    meta.format === 'jpeg' &&
    scale === 1 &&
    (meta.orientation ?? 1) === 1 &&
    (await stat(file)).size <= PASS_THROUGH_BYTES
  ) {
    return {
      kind: 'encoded',
      mime: 'image/jpeg',
      data: (await readFile(file)).toString('base64'),
      width: w0,
      height: h0,
    };
  }
  const turned = img.rotate();
  const resized =
    scale < 1
      ? turned.resize(Math.max(1, Math.round(w0 * scale)), Math.max(1, Math.round(h0 * scale)))
      : turned;
  const { data, info } = await (
    photo ? resized.jpeg({ quality: PHOTO_QUALITY }) : resized.png()
  ).toBuffer({
    resolveWithObject: true,
  });
  return {
    kind: 'encoded',
    mime: photo ? 'image/jpeg' : 'image/png',
    data: data.toString('base64'),
    width: info.width,
    height: info.height,
  };
}
