/**
 * Reading a dataset file safely: only regular files (a named pipe would block a file thread
 * forever, /dev/zero never ends), and only up to a size the reader can hold, so a careless path
 * gets a sentence instead of a hang or "Invalid string length".
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { DatasetError } from './errors.ts';

const MiB = 1024 * 1024;

/**
 * Upper bounds per kind of file, with room above the largest public dataset of each kind
 * (Fashion-MNIST's IDX images are 47 MiB, EMNIST ByClass 638 MiB, CIFAR-100's train.bin 150 MiB).
 */
export const FILE_LIMITS = {
  /** V8 cannot hold a string much over 512 MiB, so a CSV is read whole only below that. */
  csv: 512 * MiB,
  /** Raw or decompressed IDX data. */
  idx: 768 * MiB,
  cifar: 1024 * MiB,
  /** Small text files beside the data (class names). */
  text: 1 * MiB,
} as const;

/** "42 MiB" or "512 bytes": sizes as a person reads them. */
export function formatBytes(n: number): string {
  if (n >= MiB) return `${Math.round((n / MiB) * 10) / 10} MiB`;
  return `${n} bytes`;
}

/** What a non-regular file is, in words. */
export function describeKind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The bytes of `file`, which must be a regular file of at most `maxBytes`. Opened without
 * blocking (a FIFO with no writer would otherwise hang the open) and checked on the open handle,
 * so a file swapped between a check and the read is still caught.
 */
export function readRegularFile(file: string, maxBytes: number, what: string): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK does not exist on Windows, where FIFOs are not files anyway.
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied; check that you may read it'
          : code === 'EISDIR'
            ? 'it is a folder, not a file'
            : `the system says ${code ?? (err as Error).message}`;
    throw new DatasetError(file, `cannot read file: ${why} (expected ${what})`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new DatasetError(file, `is a folder, not a file; expected ${what}`);
    if (!st.isFile())
      throw new DatasetError(
        file,
        `is ${describeKind(st)}, not a regular file; expected ${what} saved on disk`,
      );
    if (st.size > maxBytes)
      throw new DatasetError(
        file,
        `is ${st.size} bytes, over the ${maxBytes}-byte limit (${formatBytes(maxBytes)}) for ${what}; use a smaller file or a subset`,
      );
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(
      file,
      `cannot read file (the system says ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); expected ${what}`,
      { cause: err },
    );
  } finally {
    closeSync(fd);
  }
}

/**
 * `fn` over `items`, `size` calls at a time (file calls run on libuv's threads: one after another,
 * 60,000 of them took seconds), results in item order. `progress` is told after each batch that
 * crosses a multiple of `every` items, and at the end.
 */
export async function mapInBatches<T, R>(
  items: readonly T[],
  size: number,
  fn: (item: T, i: number) => Promise<R>,
  progress?: (done: number, total: number) => void,
  every = 4096,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  for (let s = 0; s < items.length; s += size) {
    const end = Math.min(items.length, s + size);
    const got = await Promise.all(items.slice(s, end).map((item, k) => fn(item, s + k)));
    got.forEach((r, k) => (out[s + k] = r));
    if (end === items.length || end % every < size) progress?.(end, items.length);
  }
  return out;
}
