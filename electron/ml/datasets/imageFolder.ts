/**
 * Reader for a folder of image files: one sub-folder per class (labeled, class names = sorted
 * folder names, images found recursively inside each) or a flat folder (unlabeled, y = -1).
 * Files that cannot be used are reported in `skipped` with a reason instead of failing the whole
 * import: one bad file in ten thousand should not cost a person the other 9,999.
 */
import { closeSync, fstatSync, openSync, readSync, type Dirent } from 'node:fs';
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

/** The error of a folder with no image that could be read, naming the first files skipped. */
function noUsableImages(
  folder: string,
  candidates: number,
  skipped: readonly SkippedFile[],
): DatasetError {
  const why =
    skipped.length > 0
      ? ` Skipped: ${skipped
          .slice(0, 5)
          .map((s) => `${s.file} (${s.reason})`)
          .join('; ')}${skipped.length > 5 ? `; and ${skipped.length - 5} more` : ''}.`
      : '';
  return new DatasetError(
    folder,
    `expected image files (PNG, JPEG, WebP, GIF, TIFF...), found ${candidates === 0 ? 'none' : 'no usable one'}.${why}`,
  );
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
  /**
   * Decode only some files: called with the labels of the usable files (listing order, -1 where
   * unlabeled) and the class names once their headers are read, it answers the positions to
   * decode, ascending. A study on a sample of a 100,000-image folder decodes its sample, not the
   * folder.
   */
  keep?: (labels: Int32Array, classNames: readonly string[]) => ArrayLike<number>;
}

/** The dataset and what was left out. */
export interface ImageFolderResult {
  dataset: Dataset;
  skipped: SkippedFile[];
  /** True when the folder had class sub-folders. */
  labeled: boolean;
  /** Each dataset row's position among the usable files (what `keep` was asked about). */
  rows: Int32Array;
}

/** Names that are never data (Finder, Explorer and zip-tool leftovers). */
const IGNORED = new Set(['Thumbs.db', 'desktop.ini', '__MACOSX']);
const ignored = (name: string): boolean => name.startsWith('.') || IGNORED.has(name);
/** Code-point order: the same on every machine and locale. */
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export interface Candidate {
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

/**
 * Lists files under `dir` recursively, following symlinks but never a directory twice. Entries'
 * types come with the listing (no stat per file: a folder of 100,000 images is listed in a moment);
 * only links and entries of unknown type are looked at with stat.
 */
async function collect(
  root: string,
  dir: string,
  label: number,
  visited: Set<string>,
  out: Candidate[],
  skipped: SkippedFile[],
): Promise<void> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const rel = toPosix(relative(root, dir));
    skipped.push({
      file: rel,
      path: dir,
      reason: `folder unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    });
    return;
  }
  const entries = dirents
    .filter((d) => !ignored(d.name))
    .sort((a, b) => byCodePoint(a.name, b.name));
  for (const d of entries) {
    const abs = join(dir, d.name);
    const rel = toPosix(relative(root, abs));
    let isDir = d.isDirectory();
    let isFile = d.isFile();
    if (!isDir && !isFile) {
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
      isDir = st.isDirectory();
      isFile = st.isFile();
    }
    if (isDir) {
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
    } else if (isFile) {
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

/** The files of an image folder, in the order every reader uses, and what was left out. */
export interface ImageFolderListing {
  /** Files in deterministic order (class folders in code-point order, then paths). */
  candidates: Candidate[];
  skipped: SkippedFile[];
  /** True when the folder had class sub-folders. */
  labeled: boolean;
  /** The class folders' names (empty for a flat folder). */
  classNames: string[];
}

/**
 * List an image folder without opening any file: one sub-folder per class (images found
 * recursively inside each) or a flat folder. Throws a DatasetError when `folder` is not a folder.
 */
export async function listImageFolder(folder: string): Promise<ImageFolderListing> {
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
  const top = (await readdir(folder, { withFileTypes: true }))
    .filter((d) => !ignored(d.name))
    .sort((a, b) => byCodePoint(a.name, b.name));
  const classDirs: string[] = [];
  const looseFiles: string[] = [];
  for (const d of top) {
    const name = d.name;
    // The listing's own types: no stat per file, except for links and unknown types.
    if (d.isDirectory()) classDirs.push(name);
    else if (d.isFile()) looseFiles.push(name);
    else
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

  return { candidates, skipped, labeled, classNames: classDirs };
}

/** Header facts of one image file (nothing decoded). */
export interface ImageHeader {
  width: number;
  height: number;
  /** The header says grayscale (1 or 2 channels, a b-w or grey16 colour space). */
  grayHint: boolean;
  /** File size in bytes and modification time (ms), for fingerprints. */
  bytes: number;
  mtimeMs: number;
}

/** Bytes read from the start of a file to find a PNG's or a JPEG's dimensions. */
const HEAD_BYTES = 64 * 1024;

/**
 * Width, height and gray hint of a PNG or baseline/progressive JPEG from its first bytes, or null
 * (another format, a JPEG with EXIF, whose orientation may swap the sides, or a frame header past
 * the bytes read): libvips reads those. Parsing the two common formats here spares a decoder call
 * per file, the most of an import's time.
 */
export function quickDimensions(
  head: Uint8Array,
): { width: number; height: number; grayHint: boolean } | null {
  const n = head.length;
  const u16 = (i: number) => (head[i]! << 8) | head[i + 1]!;
  const u32 = (i: number) => u16(i) * 65536 + u16(i + 2);
  // PNG: signature, then IHDR: width, height, bit depth, colour type (0 gray, 4 gray + alpha).
  if (n >= 26 && head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) {
    if (String.fromCharCode(head[12]!, head[13]!, head[14]!, head[15]!) !== 'IHDR') return null;
    const type = head[25]!;
    return { width: u32(16), height: u32(20), grayHint: type === 0 || type === 4 };
  }
  if (n < 4 || head[0] !== 0xff || head[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 <= n) {
    if (head[i] !== 0xff) return null;
    const marker = head[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    const len = u16(i + 2);
    // APP1 with EXIF: an orientation may turn the image; libvips applies it.
    if (marker === 0xe1) return null;
    const sof =
      marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (sof) {
      if (i + 10 > n) return null;
      const height = u16(i + 5);
      const width = u16(i + 7);
      if (!width || !height) return null;
      return { width, height, grayHint: head[i + 9] === 1 };
    }
    if (marker === 0xda || marker === 0xd9) return null;
    i += 2 + len;
  }
  return null;
}

/**
 * Read one file's image header, or the reason the file cannot be used: empty, too large, not an
 * image, too many pixels. PNG and JPEG headers are parsed from the file's first bytes (read
 * synchronously: this runs in a worker thread); anything else is asked of libvips, which reads
 * the header only.
 */
export async function readImageHeader(
  cand: { abs: string; rel: string },
  limits: { maxInputPixels: number; maxFileBytes: number },
): Promise<ImageHeader | SkippedFile> {
  const skip = (reason: string): SkippedFile => ({ file: cand.rel, path: cand.abs, reason });
  try {
    let st: { size: number; mtimeMs: number };
    let head: Uint8Array;
    const fd = openSync(cand.abs, 'r');
    try {
      st = fstatSync(fd);
      head = new Uint8Array(Math.min(HEAD_BYTES, st.size));
      if (st.size > 0 && st.size <= limits.maxFileBytes) readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
    if (st.size === 0) return skip('zero bytes');
    if (st.size > limits.maxFileBytes) {
      return skip(`too large: ${st.size} bytes, over the limit of ${limits.maxFileBytes} bytes`);
    }
    const quick = quickDimensions(head);
    if (quick) {
      if (quick.width * quick.height > limits.maxInputPixels) {
        return skip(
          `too large: ${quick.width} x ${quick.height} = ${quick.width * quick.height} pixels, over the limit of ${limits.maxInputPixels} pixels`,
        );
      }
      return { ...quick, bytes: st.size, mtimeMs: st.mtimeMs };
    }
    const meta = await (await loadSharp())(cand.abs, { limitInputPixels: false }).metadata();
    const width = meta.autoOrient?.width ?? meta.width;
    const height = meta.autoOrient?.height ?? meta.height;
    if (!width || !height) return skip('failed to decode (no image dimensions in the header)');
    if (width * height > limits.maxInputPixels) {
      return skip(
        `too large: ${width} x ${height} = ${width * height} pixels, over the limit of ${limits.maxInputPixels} pixels`,
      );
    }
    const grayHint =
      meta.channels === 1 || meta.channels === 2 || meta.space === 'b-w' || meta.space === 'grey16';
    return { width, height, grayHint, bytes: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    return skip(describeSharpError(err));
  }
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
  const { candidates, skipped, labeled, classNames: classDirs } = await listImageFolder(folder);

  // Pass 1: headers only, to pick the output size and refuse what is unusable before decoding.
  const scanned: Array<Scanned | null> = new Array<Scanned | null>(candidates.length).fill(null);
  let scannedCount = 0;
  const scanSkips: Array<SkippedFile | null> = new Array<SkippedFile | null>(
    candidates.length,
  ).fill(null);
  await pool(candidates, 8, async (cand, i) => {
    try {
      const r = await readImageHeader(cand, { maxInputPixels, maxFileBytes });
      if ('reason' in r) scanSkips[i] = r;
      else scanned[i] = { ...cand, ...r };
    } finally {
      scannedCount++;
      onProgress?.(scannedCount, candidates.length, 'scan');
    }
  });
  for (const s of scanSkips) if (s) skipped.push(s);
  const all = scanned.filter((s): s is Scanned => s !== null);
  if (all.length === 0) throw noUsableImages(folder, candidates.length, skipped);
  const picked = options.keep
    ? Int32Array.from(
        options.keep(
          Int32Array.from(all, (s) => s.label),
          classDirs,
        ),
      )
    : null;
  const usable = picked ? Array.from(picked, (i) => all[i]!) : all;

  const [h, w] =
    options.size ??
    defaultImageSize(
      all.map((s) => [s.height, s.width]),
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
  if (kept.length === 0 && usable.length > 0) {
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
    rows: Int32Array.from(kept, (i) => (picked ? picked[i]! : i)),
  };
}

/** An image file with its header facts. */
export interface IndexedImage extends Candidate, ImageHeader {}

/** What indexImageFolder found: nothing decoded except a few images to tell gray from colour. */
export interface ImageFolderIndex {
  listing: ImageFolderListing;
  /** Files whose header was read and that can be used, in listing order. */
  images: IndexedImage[];
  /** Files left out (the listing's, and those whose header failed), by path. */
  skipped: SkippedFile[];
  /** The default size: the most common [h, w] of `images`, capped by maxSide. */
  size: [number, number];
  /** 1 when every image read is grayscale (by header, or by decoding a sample), else 3. */
  channels: 1 | 3;
  /** Every listed file's header was read (so `images` holds every usable file). */
  complete: boolean;
}

export interface IndexOptions {
  /** Read the header of every file (an import), or of this many spread over the folder (a preview). */
  headers: 'all' | number;
  maxSide?: number;
  maxInputPixels?: number;
  maxFileBytes?: number;
  /** Called as headers are read (a few times a second is the caller's to throttle). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** How many images whose header says colour are decoded to see whether they are gray. */
const GRAY_SAMPLE = 24;

/** `k` indices spread evenly over 0..n-1 (all of them when k >= n). */
export function spread(n: number, k: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: k }, (_, j) => Math.floor(((j + 0.5) * n) / k));
}

/** One image decoded small (longer side at most `side`), as raw HWC bytes of `channels`. */
export async function decodeSmall(
  abs: string,
  side: number,
  channels: 1 | 3,
  maxInputPixels = 64_000_000,
): Promise<{ data: Buffer; width: number; height: number }> {
  let img = (await loadSharp())(abs, { limitInputPixels: maxInputPixels })
    .rotate()
    .flatten({ background: '#000000' })
    .resize(side, side, { fit: 'inside', withoutEnlargement: true });
  img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
  const { data, info } = await img
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * Index an image folder without decoding it: list the files, read headers (all, or a spread
 * sample), pick the default size, and tell gray from colour. Images whose header says colour are
 * decoded only for a sample of GRAY_SAMPLE: grayscale photographs saved as RGB JPEGs count as gray
 * when every sampled one is. Memory grows with the number of files (their paths), never with
 * their pixels.
 */
export async function indexImageFolder(
  folder: string,
  opts: IndexOptions,
): Promise<ImageFolderIndex> {
  const {
    maxSide = 224,
    maxInputPixels = 64_000_000,
    maxFileBytes = 256 * 1024 * 1024,
    onProgress,
    signal,
  } = opts;
  const listing = await listImageFolder(folder);
  const { candidates } = listing;
  const picked =
    opts.headers === 'all'
      ? candidates
      : spread(candidates.length, opts.headers).map((i) => candidates[i]!);
  const read: Array<IndexedImage | SkippedFile | null> = new Array(picked.length).fill(null);
  let done = 0;
  await pool(picked, 8, async (cand, i) => {
    if (signal?.aborted) return;
    // Header reads are mostly synchronous: let a cancel message in now and then.
    if (i % 512 === 0) await new Promise((r) => setImmediate(r));
    const r = await readImageHeader(cand, { maxInputPixels, maxFileBytes });
    read[i] = 'reason' in r ? r : { ...cand, ...r };
    done++;
    onProgress?.(done, picked.length);
  });
  if (signal?.aborted) throw signal.reason ?? new Error('cancelled');
  const images: IndexedImage[] = [];
  const skipped = [...listing.skipped];
  for (const r of read) {
    if (r === null) continue;
    if ('reason' in r) skipped.push(r);
    else images.push(r);
  }
  skipped.sort((a, b) => byCodePoint(a.file, b.file));
  if (images.length === 0) throw noUsableImages(folder, candidates.length, skipped);
  const size = defaultImageSize(
    images.map((s) => [s.height, s.width]),
    maxSide,
  );
  const colour = images.filter((s) => !s.grayHint);
  let channels: 1 | 3 = 1;
  for (const k of spread(colour.length, GRAY_SAMPLE)) {
    let gray = false;
    try {
      const { data } = await decodeSmall(colour[k]!.abs, 64, 3, maxInputPixels);
      gray = true;
      for (let p = 0; p < data.length; p += 3) {
        if (data[p] !== data[p + 1] || data[p] !== data[p + 2]) {
          gray = false;
          break;
        }
      }
    } catch {
      // Undecodable after all: it says nothing about the others' colour.
      continue;
    }
    if (!gray) {
      channels = 3;
      break;
    }
  }
  return {
    listing,
    images,
    skipped,
    size,
    channels,
    complete: picked.length === candidates.length,
  };
}
