/**
 * The pretraining checkpoint: one file, `checkpoint.bin`, holding a JSON header (step, elapsed
 * time, settings, tensor names and shapes, a SHA-256 of the payload) and the tensors as
 * little-endian float32. It is written under a temporary name, flushed to disk, then renamed over
 * the previous one, so a process killed at any moment leaves either the old checkpoint or the new
 * one, never a mix; a damaged file (the checksum disagrees) is refused, not half-loaded.
 *
 * Layout: "DEEPALSSL1" (10 bytes), header length (uint32 LE), header (UTF-8 JSON), payload.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const CHECKPOINT_FILE = 'checkpoint.bin';
const MAGIC = 'DEEPALSSL1';
const TMP_PREFIX = '.checkpoint.';

export interface CheckpointTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint<M> {
  meta: M;
  tensors: CheckpointTensor[];
}

interface Header<M> {
  meta: M;
  tensors: { name: string; shape: number[]; length: number }[];
  payloadBytes: number;
  sha256: string;
}

/** A checkpoint file that exists but cannot be trusted. */
export class CheckpointDamaged extends Error {
  constructor(
    readonly file: string,
    why: string,
  ) {
    super(`The pretraining checkpoint ${file} is damaged (${why})`);
    this.name = 'CheckpointDamaged';
  }
}

export interface WriteHooks {
  /** Called with the temporary file half written (tests kill the process here). */
  midWrite?: (tmpFile: string) => Promise<void>;
}

/** Hash of a checkpoint's payload: identifies the weights it holds. */
export function payloadHash(tensors: readonly CheckpointTensor[]): string {
  const h = createHash('sha256');
  for (const t of tensors)
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return h.digest('hex');
}

/** Write `ckpt` as `dir/checkpoint.bin`, atomically. Returns the payload's SHA-256. */
export async function writeCheckpoint<M>(
  dir: string,
  ckpt: Checkpoint<M>,
  hooks: WriteHooks = {},
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const sha256 = payloadHash(ckpt.tensors);
  const payloadBytes = ckpt.tensors.reduce((a, t) => a + t.data.byteLength, 0);
  const header: Header<M> = {
    meta: ckpt.meta,
    tensors: ckpt.tensors.map((t) => ({ name: t.name, shape: t.shape, length: t.data.length })),
    payloadBytes,
    sha256,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(MAGIC.length + 4);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(headerBytes.length, MAGIC.length);
  // Earlier runs killed mid-write leave temporary files behind: they are never read, only removed.
  await removeStaleTemps(dir);
  const tmp = join(dir, `${TMP_PREFIX}${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.write(prefix);
    await fh.write(headerBytes);
    const half = Math.floor(ckpt.tensors.length / 2);
    for (let i = 0; i < ckpt.tensors.length; i++) {
      if (i === half && hooks.midWrite) await hooks.midWrite(tmp);
      const d = ckpt.tensors[i]!.data;
      await fh.write(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, join(dir, CHECKPOINT_FILE));
  // Make the rename itself durable where the platform allows syncing a folder.
  try {
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // Not supported here (Windows): the rename is still atomic.
  }
  return sha256;
}

async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.startsWith(TMP_PREFIX) && name.endsWith('.tmp')) {
      await rm(join(dir, name), { force: true });
    }
  }
}

/**
 * The checkpoint in `dir`, or null when there is none. Throws CheckpointDamaged when the file is
 * there but truncated, altered, or not a checkpoint.
 */
export async function readCheckpoint<M>(
  dir: string,
): Promise<(Checkpoint<M> & { sha256: string }) | null> {
  const file = join(dir, CHECKPOINT_FILE);
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) {
    throw new CheckpointDamaged(file, 'not a pretraining checkpoint');
  }
  const headerLen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + headerLen > buf.length) throw new CheckpointDamaged(file, 'truncated header');
  let header: Header<M>;
  try {
    header = JSON.parse(buf.toString('utf8', start, start + headerLen)) as Header<M>;
  } catch {
    throw new CheckpointDamaged(file, 'unreadable header');
  }
  const payloadStart = start + headerLen;
  if (buf.length - payloadStart !== header.payloadBytes) {
    throw new CheckpointDamaged(
      file,
      `expected ${header.payloadBytes} bytes of weights, found ${buf.length - payloadStart}`,
    );
  }
  // Copy into an aligned buffer: Float32Array views need a 4-byte aligned offset.
  const payload = new Uint8Array(header.payloadBytes);
  payload.set(buf.subarray(payloadStart));
  const all = new Float32Array(payload.buffer);
  const tensors: CheckpointTensor[] = [];
  let off = 0;
  for (const t of header.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.length || off + size > all.length) {
      throw new CheckpointDamaged(file, `tensor ${t.name} does not fit its shape`);
    }
    tensors.push({ name: t.name, shape: t.shape, data: all.subarray(off, off + size) });
    off += size;
  }
  const sha256 = payloadHash(tensors);
  if (sha256 !== header.sha256) throw new CheckpointDamaged(file, 'checksum mismatch');
  return { meta: header.meta, tensors, sha256 };
}
