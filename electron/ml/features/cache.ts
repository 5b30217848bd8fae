/**
 * The workspace's feature cache: one embedding matrix per (images, extractor, settings, version),
 * so a dataset's features are computed once, not at every study round or retrain.
 *
 * A matrix is two files in the cache folder: `<key>.f32` (little-endian float32, row-major) and
 * `<key>.json` (its shape and provenance). Both are written under temporary names and renamed, the
 * JSON last: a process killed mid-write leaves no entry that looks complete, only a temporary file
 * that the next write replaces.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FeatureSpec } from '../../../shared/features.ts';
import type { FeatureBlock } from './types.ts';

export interface CachedMeta {
  key: string;
  n: number;
  dim: number;
  blocks: FeatureBlock[];
  spec: FeatureSpec;
  version: number;
  fingerprint: string;
  inputSize: [number, number];
  /** Milliseconds it took to compute. */
  ms: number;
  createdAt: string;
}

/** The cache key: a hash of everything that decides the matrix. */
export function featureKey(parts: {
  fingerprint: string;
  spec: FeatureSpec;
  version: number;
  inputSize: readonly [number, number];
  extra?: string;
}): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({
      fingerprint: parts.fingerprint,
      spec: canonical(parts.spec),
      version: parts.version,
      inputSize: parts.inputSize,
      extra: parts.extra ?? '',
    }),
  );
  return `${parts.spec.kind}-${h.digest('hex').slice(0, 32)}`;
}

/** JSON with sorted keys, so equal settings hash equal whatever order they were written in. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** A cached matrix, or null when there is none or it is damaged (then it is recomputed). */
export async function readCached(
  dir: string,
  key: string,
): Promise<{ meta: CachedMeta; data: Float32Array } | null> {
  let meta: CachedMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, `${key}.json`), 'utf8')) as CachedMeta;
  } catch {
    return null;
  }
  try {
    const file = join(dir, `${key}.f32`);
    const st = await stat(file);
    if (meta.key !== key || st.size !== meta.n * meta.dim * 4) return null;
    const buf = await readFile(file);
    const data = new Float32Array(meta.n * meta.dim);
    new Uint8Array(data.buffer).set(buf);
    return { meta, data };
  } catch {
    return null;
  }
}

async function writeDurably(path: string, bytes: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Store a matrix under its key (replacing any previous entry). */
export async function writeCached(
  dir: string,
  meta: CachedMeta,
  data: Float32Array,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = `.${meta.key}.${process.pid}.${Date.now()}`;
  const bin = join(dir, `${tmp}.f32`);
  const json = join(dir, `${tmp}.json`);
  try {
    await writeDurably(bin, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    await rename(bin, join(dir, `${meta.key}.f32`));
    await writeDurably(json, JSON.stringify(meta));
    await rename(json, join(dir, `${meta.key}.json`));
  } finally {
    await rm(bin, { force: true });
    await rm(json, { force: true });
  }
}
