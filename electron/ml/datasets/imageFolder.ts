/**
 * Reader for a folder of image files: one sub-folder per class (labeled, class names = sorted
 * folder names, images found recursively inside each) or a flat folder (unlabeled, y = -1).
 * Files that cannot be used are reported in `skipped` with a reason instead of failing the whole
 * import: one bad file in ten thousand should not cost a person the other 9,999.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type Sharp from 'sharp';
import type { Dataset } from '../types.ts';
import { DatasetError } from './errors.ts';

/**
 * sharp (libvips) is loaded on the first image folder read, not with this module: the dataset
 * readers are imported together, and reading IDX or CSV data needs no image codec.
 */
let sharpLoading: Promise<typeof Sharp> | undefined;
const loadSharp = () => (sharpLoading ??= import('sharp').then((m) => m.default));

/** A file left out of the import, and why. */
export interface SkippedFile {
  /** Path relative to the folder (forward slashes). */
  file: string;
  /** Absolute path. */
  path: string;
  reason: string;
}

/** Options of loadImageFolder. */
export interface ImageFolderOptions {
  /** Output size [height, width]; default the most common size in the folder, capped by maxSide. */
  size?: [number, number];
  /** Cap on the default size's longer side, keeping the aspect ratio (default 224). */
  maxSide?: number;
  /** How images of another size are fitted (sharp's fit): 'cover' crops (default), 'contain' pads, 'fill' stretches. */
  fit?: 'cover' | 'contain' | 'fill';
  /** 1 or 3 channels; default 1 when every image is grayscale, else 3. */
  channels?: 1 | 3;
  /** Images with more pixels than this are skipped (default 64 megapixels). */
  maxInputPixels?: number;
  /** Files bigger than this are skipped unread (default 256 MiB). */
  maxFileBytes?: number;
  /** Refuse the import when the decoded dataset would exceed this many bytes (default 2 GiB). */
  maxTotalBytes?: number;
  /** Background for transparent pixels and 'contain' padding (default black). */
  background?: string;
  /** Called as files are scanned and decoded. */
  onProgress?: (done: number, total: number, phase: 'scan' | 'decode') => void;
  /** Name of the dataset (default: the folder path). */
  name?: string;
}

/** The dataset and what was left out. */
export interface ImageFolderResult {
  dataset: Dataset;
  skipped: SkippedFile[];
  /** True when the folder had class sub-folders. */
  labeled: boolean;
}

/** Names that are never data (Finder, Explorer and zip-tool leftovers). */
const IGNORED = new Set(['Thumbs.db', 'desktop.ini', '__MACOSX']);
const ignored = (name: string): boolean => name.startsWith('.') || IGNORED.has(name);
/** Code-point order: the same on every machine and locale. */
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface Candidate {
  abs: string;
  rel: string;
  label: number;
}

interface Scanned extends Candidate {
  width: number;
  height: number;
  grayHint: boolean;
}

const toPosix = (p: string): string => p.split(sep).join('/');

/** Lists files under `dir` recursively, following symlinks but never a directory twice. */
async function collect(
  root: string,
  dir: string,
  label: number,
  visited: Set<string>,
  out: Candidate[],
  skipped: SkippedFile[],
): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const rel = toPosix(relative(root, dir));
    skipped.push({
      file: rel,
      path: dir,
      reason: `folder unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    });
    return;
  }
  const entries = names.filter((n) => !ignored(n)).sort(byCodePoint);
  for (const name of entries) {
    const abs = join(dir, name);
    const rel = toPosix(relative(root, abs));
    let st;
    try {
      st = await stat(abs);
    } catch (err) {
      skipped.push({
        file: rel,
        path: join(root, rel),
        reason: `unreadable or broken link (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      });
      continue;
    }
    if (st.isDirectory()) {
      const real = await realpath(abs);
      if (visited.has(real)) {
        skipped.push({
          file: rel,
          path: join(root, rel),
          reason: 'folder already visited (symbolic link loop or second link to it)',
        });
        continue;
      }
      visited.add(real);
      await collect(root, abs, label, visited, out, skipped);
    } else if (st.isFile()) {
      out.push({ abs, rel, label });
    }
  }
}

function describeSharpError(err: unknown): string {
  const msg = (err as Error).message ?? String(err);
  if (/unsupported image format/i.test(msg)) return 'not an image (no decoder recognises it)';
  return `failed to decode (${msg.trim()})`;
}

async function pool<T>(
  items: T[],
  concurrency: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
}

/** Most common [h, w] (ties: the larger area, then the smaller height), scaled to fit maxSide. */
export function defaultImageSize(
  sizes: Array<[number, number]>,
  maxSide: number,
): [number, number] {
  const counts = new Map<string, { h: number; w: number; n: number }>();
  for (const [h, w] of sizes) {
    const k = `${h}x${w}`;
    const c = counts.get(k);
    if (c) c.n++;
    else counts.set(k, { h, w, n: 1 });
  }
  const best = [...counts.values()].sort(
    (a, b) => b.n - a.n || b.h * b.w - a.h * a.w || a.h - b.h,
  )[0];
  if (!best) throw new Error('defaultImageSize needs at least one size');
  const scale = Math.min(1, maxSide / Math.max(best.h, best.w));
  return [Math.max(1, Math.round(best.h * scale)), Math.max(1, Math.round(best.w * scale))];
}

/**
 * Loads a folder of images as a Dataset of uint8 HWC pixels. Order is deterministic (sorted by
 * path), ids are the paths relative to the folder.
 */
export async function loadImageFolder(
  folder: string,
  options: ImageFolderOptions = {},
): Promise<ImageFolderResult> {
  const {
    maxSide = 224,
    fit = 'cover',
    maxInputPixels = 64_000_000,
    maxFileBytes = 256 * 1024 * 1024,
    maxTotalBytes = 2 * 1024 * 1024 * 1024,
    background = '#000000',
    onProgress,
  } = options;
  let rootStat;
  try {
    rootStat = await stat(folder);
  } catch (err) {
    throw new DatasetError(
      folder,
      `expected a folder of images, found nothing readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  if (!rootStat.isDirectory())
    throw new DatasetError(folder, 'expected a folder of images, found a file');

  const skipped: SkippedFile[] = [];
  const top = (await readdir(folder)).filter((n) => !ignored(n)).sort(byCodePoint);
  const classDirs: string[] = [];
  const looseFiles: string[] = [];
  for (const name of top) {
    try {
      const st = await stat(join(folder, name));
      if (st.isDirectory()) classDirs.push(name);
      else if (st.isFile()) looseFiles.push(name);
    } catch (err) {
      skipped.push({
        file: name,
        path: join(folder, name),
        reason: `unreadable or broken link (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      });
    }
  }
  const labeled = classDirs.length > 0;
  const candidates: Candidate[] = [];
  const visited = new Set<string>([await realpath(folder)]);
  if (labeled) {
    for (const name of looseFiles)
      skipped.push({
        file: name,
        path: join(folder, name),
        reason: 'outside every class folder (this folder has class sub-folders)',
      });
    for (let c = 0; c < classDirs.length; c++) {
      const abs = join(folder, classDirs[c]!);
      const real = await realpath(abs);
      if (visited.has(real)) {
        skipped.push({
          file: classDirs[c]!,
          path: join(folder, classDirs[c]!),
          reason: 'folder already visited (symbolic link loop or second link to it)',
        });
        continue;
      }
      visited.add(real);
      await collect(folder, abs, c, visited, candidates, skipped);
    }
  } else {
    for (const name of looseFiles)
      candidates.push({ abs: join(folder, name), rel: name, label: -1 });
  }

  // Pass 1: headers only, to pick the output size and refuse what is unusable before decoding.
  const scanned: Array<Scanned | null> = new Array<Scanned | null>(candidates.length).fill(null);
  let scannedCount = 0;
  const scanSkips: Array<SkippedFile | null> = new Array<SkippedFile | null>(
    candidates.length,
  ).fill(null);
  await pool(candidates, 8, async (cand, i) => {
    try {
      const st = await stat(cand.abs);
      if (st.size === 0) {
        scanSkips[i] = { file: cand.rel, path: cand.abs, reason: 'zero bytes' };
        return;
      }
      if (st.size > maxFileBytes) {
        scanSkips[i] = {
          file: cand.rel,
          path: cand.abs,
          reason: `too large: ${st.size} bytes, over the limit of ${maxFileBytes} bytes`,
        };
        return;
      }
      const meta = await (await loadSharp())(cand.abs, { limitInputPixels: false }).metadata();
      const width = meta.autoOrient?.width ?? meta.width;
      const height = meta.autoOrient?.height ?? meta.height;
      if (!width || !height) {
        scanSkips[i] = {
          file: cand.rel,
          path: cand.abs,
          reason: 'failed to decode (no image dimensions in the header)',
        };
        return;
      }
      if (width * height > maxInputPixels) {
        scanSkips[i] = {
          file: cand.rel,
          path: cand.abs,
          reason: `too large: ${width} x ${height} = ${width * height} pixels, over the limit of ${maxInputPixels} pixels`,
        };
        return;
      }
      const grayHint =
        meta.channels === 1 ||
        meta.channels === 2 ||
        meta.space === 'b-w' ||
        meta.space === 'grey16';
      scanned[i] = { ...cand, width, height, grayHint };
    } catch (err) {
      scanSkips[i] = { file: cand.rel, path: cand.abs, reason: describeSharpError(err) };
    } finally {
      scannedCount++;
      onProgress?.(scannedCount, candidates.length, 'scan');
    }
  });
  for (const s of scanSkips) if (s) skipped.push(s);
  const usable = scanned.filter((s): s is Scanned => s !== null);
  if (usable.length === 0) {
    const why =
      skipped.length > 0
        ? ` Skipped: ${skipped
            .slice(0, 5)
            .map((s) => `${s.file} (${s.reason})`)
            .join('; ')}${skipped.length > 5 ? `; and ${skipped.length - 5} more` : ''}.`
        : '';
    throw new DatasetError(
      folder,
      `expected image files (PNG, JPEG, WebP, GIF, TIFF...), found ${candidates.length === 0 ? 'none' : 'no usable one'}.${why}`,
    );
  }

  const [h, w] =
    options.size ??
    defaultImageSize(
      usable.map((s) => [s.height, s.width]),
      maxSide,
    );
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) {
    throw new DatasetError(
      folder,
      `expected a positive integer size [height, width], found [${h}, ${w}]`,
    );
  }
  const rgbBytes = usable.length * h * w * 3;
  if (rgbBytes > maxTotalBytes) {
    throw new DatasetError(
      folder,
      `${usable.length} images at ${h} x ${w} x 3 need ${rgbBytes} bytes, over the memory bound of ${maxTotalBytes} bytes; ` +
        'choose a smaller size or a subset of the folder',
    );
  }

  // Pass 2: decode to RGB at the target size; decide grayscale from headers and content.
  const plane = h * w;
  const rgb = new Uint8Array(usable.length * plane * 3);
  const ok = new Uint8Array(usable.length);
  const gray = new Uint8Array(usable.length);
  const decodeSkips: Array<SkippedFile | null> = new Array<SkippedFile | null>(usable.length).fill(
    null,
  );
  let decoded = 0;
  await pool(usable, 4, async (s, i) => {
    try {
      const { data, info } = await (
        await loadSharp()
      )(s.abs, { limitInputPixels: maxInputPixels })
        .rotate()
        .flatten({ background })
        .resize(w, h, { fit, background, position: 'centre' })
        .toColourspace('srgb')
        .removeAlpha()
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (
        info.width !== w ||
        info.height !== h ||
        info.channels !== 3 ||
        data.length !== plane * 3
      ) {
        decodeSkips[i] = {
          file: s.rel,
          path: s.abs,
          reason: `failed to decode (expected ${w} x ${h} x 3 bytes, decoder gave ${info.width} x ${info.height} x ${info.channels})`,
        };
        return;
      }
      rgb.set(data, i * plane * 3);
      let isGray = s.grayHint;
      if (!isGray) {
        isGray = true;
        for (let p = 0; p < data.length; p += 3) {
          if (data[p] !== data[p + 1] || data[p] !== data[p + 2]) {
            isGray = false;
            break;
          }
        }
      }
      gray[i] = isGray ? 1 : 0;
      ok[i] = 1;
    } catch (err) {
      decodeSkips[i] = { file: s.rel, path: s.abs, reason: describeSharpError(err) };
    } finally {
      decoded++;
      onProgress?.(decoded, usable.length, 'decode');
    }
  });
  for (const s of decodeSkips) if (s) skipped.push(s);
  skipped.sort((a, b) => byCodePoint(a.file, b.file));

  const kept: number[] = [];
  for (let i = 0; i < usable.length; i++) if (ok[i]) kept.push(i);
  if (kept.length === 0) {
    throw new DatasetError(
      folder,
      `expected decodable images, found none: ${skipped
        .slice(0, 5)
        .map((s) => `${s.file} (${s.reason})`)
        .join('; ')}`,
    );
  }
  const channels = options.channels ?? (kept.every((i) => gray[i] === 1) ? 1 : 3);
  const x = new Uint8Array(kept.length * plane * channels);
  const y = new Int32Array(kept.length);
  const ids: string[] = [];
  kept.forEach((src, dst) => {
    const s = usable[src]!;
    y[dst] = s.label;
    ids.push(s.rel);
    const from = src * plane * 3;
    if (channels === 3) {
      x.set(rgb.subarray(from, from + plane * 3), dst * plane * 3);
    } else {
      const to = dst * plane;
      for (let p = 0; p < plane; p++) {
        const r = rgb[from + 3 * p]!;
        const g = rgb[from + 3 * p + 1]!;
        const b = rgb[from + 3 * p + 2]!;
        // Rec. 601 luma; exact for gray pixels (r = g = b).
        x[to + p] = r === g && g === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      }
    }
  });
  return {
    dataset: {
      name: options.name ?? folder,
      x,
      y,
      sampleShape: [h, w, channels],
      classNames: labeled ? classDirs : [],
      ids,
    },
    skipped,
    labeled,
  };
}
