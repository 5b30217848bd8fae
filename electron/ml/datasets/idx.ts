/**
 * Reader for the IDX format of MNIST and Fashion-MNIST (big-endian header: two zero bytes, a type
 * byte, a dimension count, one uint32 per dimension, then the data). Files may be gzip-compressed;
 * compression is detected from the gzip magic bytes, never from the file name.
 */
import { gunzipSync } from 'node:zlib';
import type { Dataset } from '../types.ts';
import { DatasetError } from './errors.ts';
import { FILE_LIMITS, formatBytes, readRegularFile } from './files.ts';

/** Magic number of IDX label files (type 0x08, 1 dimension). */
export const IDX_LABELS_MAGIC = 2049;
/** Magic number of IDX image files (type 0x08, 3 dimensions). */
export const IDX_IMAGES_MAGIC = 2051;

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'short (2 bytes)',
  0x0c: 'int (4 bytes)',
  0x0d: 'float (4 bytes)',
  0x0e: 'double (8 bytes)',
};

/** Images of one IDX file: count x height x width, one channel, row-major uint8. */
export interface IdxImages {
  file: string;
  count: number;
  height: number;
  width: number;
  /** count * height * width bytes (HWC with C = 1). */
  pixels: Uint8Array;
}

/** Labels of one IDX file. */
export interface IdxLabels {
  file: string;
  count: number;
  labels: Int32Array;
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads a regular file and gunzips it when it starts with the gzip magic. Both the file and the
 * decompressed data are refused beyond `maxBytes`: a small gzip file can inflate to gigabytes.
 */
export function readMaybeGzip(file: string, maxBytes: number = FILE_LIMITS.idx): Buffer {
  const raw = readRegularFile(file, maxBytes, 'an IDX file');
  if (!isGzip(raw)) return raw;
  try {
    return gunzipSync(raw, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DatasetError(
        file,
        `decompresses to more than ${maxBytes} bytes (${formatBytes(maxBytes)}), the limit for IDX data ` +
          `(${raw.length} compressed bytes); is it really an MNIST-style file? Use a smaller subset`,
        { cause: err },
      );
    }
    const msg = (err as Error).message;
    const kind = /unexpected end/i.test(msg) ? 'truncated' : 'corrupt';
    throw new DatasetError(
      file,
      `${kind} gzip data (${raw.length} compressed bytes; zlib says: ${msg}). ` +
        'Download the file again or decompress it to check it.',
      { cause: err },
    );
  }
}

interface IdxHeader {
  magic: number;
  dims: number[];
  dataOffset: number;
}

function parseHeader(
  file: string,
  bytes: Uint8Array,
  expectedMagic: number,
  expectedDims: number,
): IdxHeader {
  const what = expectedMagic === IDX_IMAGES_MAGIC ? 'IDX images' : 'IDX labels';
  if (bytes.length < 4) {
    throw new DatasetError(
      file,
      `too short for an ${what} file: expected at least a 4-byte magic number, found ${bytes.length} bytes`,
      { offset: 0 },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const type = bytes[2]!;
  const ndims = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError(
      file,
      `not an IDX file: expected magic number ${expectedMagic} (0x${expectedMagic.toString(16).padStart(8, '0')}), ` +
        `found 0x${magic.toString(16).padStart(8, '0')} at offset 0`,
      { offset: 0 },
    );
  }
  if (type !== 0x08) {
    const name = TYPE_NAMES[type] ?? 'unknown';
    throw new DatasetError(
      file,
      `unsupported IDX data type byte 0x${type.toString(16).padStart(2, '0')} (${name}) at offset 2: ` +
        'only 0x08 (unsigned byte) is supported',
      { offset: 2 },
    );
  }
  // Byte 3 is both part of the magic number and the dimension count: a labels file offered as
  // images is a wrong-magic problem, any other count a wrong-dimensions one.
  if (magic === IDX_IMAGES_MAGIC || magic === IDX_LABELS_MAGIC) {
    if (magic !== expectedMagic) {
      const found = magic === IDX_IMAGES_MAGIC ? 'an IDX images file' : 'an IDX labels file';
      throw new DatasetError(
        file,
        `wrong magic number for ${what}: expected ${expectedMagic}, found ${magic} (${found})`,
        { offset: 0 },
      );
    }
  } else if (ndims !== expectedDims) {
    throw new DatasetError(
      file,
      `wrong number of dimensions for ${what}: expected ${expectedDims}, found ${ndims} ` +
        `(byte at offset 3; magic ${magic} instead of ${expectedMagic})`,
      { offset: 3 },
    );
  }
  const dataOffset = 4 + 4 * ndims;
  if (bytes.length < dataOffset) {
    throw new DatasetError(
      file,
      `truncated header: expected ${dataOffset} header bytes for ${ndims} dimensions, found ${bytes.length}`,
      { offset: bytes.length },
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expectedData = dims.reduce((a, b) => a * b, 1);
  const actualData = bytes.length - dataOffset;
  if (actualData !== expectedData) {
    const problem = actualData < expectedData ? 'truncated data' : 'unexpected trailing data';
    throw new DatasetError(
      file,
      `${problem}: header says ${dims.join(' x ')} = ${expectedData} data bytes after the ${dataOffset}-byte header ` +
        `(${dataOffset + expectedData} bytes in all), found ${actualData} data bytes (${bytes.length} in all)`,
      { offset: Math.min(bytes.length, dataOffset + expectedData) },
    );
  }
  return { magic, dims, dataOffset };
}

/** Reads an IDX images file (magic 2051, type 0x08, dims N x rows x cols), gzip or raw. */
export function readIdxImages(file: string): IdxImages {
  const bytes = readMaybeGzip(file);
  const { dims, dataOffset } = parseHeader(file, bytes, IDX_IMAGES_MAGIC, 3);
  const [count, height, width] = dims as [number, number, number];
  // A copy (not a view into the decompression buffer) so x.buffer holds exactly the pixels and
  // can be transferred to a worker as is.
  const pixels = new Uint8Array(bytes.subarray(dataOffset));
  return { file, count, height, width, pixels };
}

/**
 * Reads an IDX labels file (magic 2049, type 0x08, one dimension), gzip or raw. With `numClasses`,
 * every label must lie in 0..numClasses-1.
 */
export function readIdxLabels(file: string, numClasses?: number): IdxLabels {
  const bytes = readMaybeGzip(file);
  const { dims, dataOffset } = parseHeader(file, bytes, IDX_LABELS_MAGIC, 1);
  const count = dims[0]!;
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = bytes[dataOffset + i]!;
    if (numClasses !== undefined && v >= numClasses) {
      throw new DatasetError(
        file,
        `label out of range at record ${i} (byte offset ${dataOffset + i}): expected 0..${numClasses - 1}, found ${v}`,
        { row: i, offset: dataOffset + i },
      );
    }
    labels[i] = v;
  }
  return { file, count, labels };
}

/**
 * Loads an IDX images file and its labels file as one Dataset (28x28x1 for MNIST). Labels must be
 * in range of `classNames`, and the two files must hold the same number of items.
 */
export function loadIdxPair(
  imagesFile: string,
  labelsFile: string,
  classNames: string[],
  name: string,
): Dataset {
  const labels = readIdxLabels(labelsFile, classNames.length);
  const images = readIdxImages(imagesFile);
  if (images.count !== labels.count) {
    throw new DatasetError(
      labelsFile,
      `image/label count mismatch: ${imagesFile} holds ${images.count} images but this labels file holds ${labels.count} labels`,
    );
  }
  return {
    name,
    x: images.pixels,
    y: labels.labels,
    sampleShape: [images.height, images.width, 1],
    classNames: [...classNames],
  };
}
