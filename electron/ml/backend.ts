import * as tf from '@tensorflow/tfjs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { registerWasmKernels } from './kernels/index.ts';
import { startWasmBackend, wasmThreadsWanted } from './wasmThreads.ts';

/** User-facing backend names, in the order they are tried. */
export const BACKEND_ORDER = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_ORDER)[number];

export interface BackendInfo {
  /** Which of BACKEND_ORDER is in use. */
  backend: BackendChoice;
  /** tf.js's own name for it ("tensorflow", "wasm", "cpu"). */
  tfBackend: string;
  /** Threads the backend computes with. */
  threads: number;
  /** Why each earlier backend in the order was not used. */
  skipped: { backend: BackendChoice; reason: string }[];
  /** Anything to know about how the backend runs (e.g. why fewer threads than asked). */
  note?: string;
  versions: Record<string, string>;
}

const require = createRequire(import.meta.url);
let current: BackendInfo | null = null;
/** XNNPACK threads of the wasm backend once started (see wasmThreads.ts). */
let wasmThreads = 1;
let wasmThreadsNote: string | undefined;

export function isBackendChoice(name: string): name is BackendChoice {
  return (BACKEND_ORDER as readonly string[]).includes(name);
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

function packageVersion(name: string): string | null {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

async function tryBackend(choice: BackendChoice): Promise<void> {
  switch (choice) {
    case 'node-gpu':
    case 'node': {
      const pkg = choice === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      if (packageVersion(pkg) === null) throw new Error(`${pkg} is not installed`);
      // A native binding registers the "tensorflow" backend as a side effect of loading; a missing
      // libtensorflow (or CUDA) throws here and we fall through to the next backend.
      await import(pkg);
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but did not start`);
      return;
    }
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      const wanted = wasmThreadsWanted();
      try {
        wasmThreads = await startWasmBackend(wanted);
      } catch (err) {
        if (wanted < 2) throw err;
        // The threaded build did not start: the single-threaded one still computes the same.
        wasmThreadsNote = `threaded wasm did not start (${firstLine(err)}); using 1 thread`;
        wasmThreads = await startWasmBackend(1);
      }
      registerWasmKernels();
      return;
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not start');
      return;
    }
  }
}

function threadsOf(choice: BackendChoice): number {
  if (choice === 'node' || choice === 'node-gpu') return cpus().length;
  if (choice === 'wasm') return wasmThreads;
  return 1;
}

/** The backend requested by DEEPAL_BACKEND, if any (validated). */
export function requestedBackend(env: NodeJS.ProcessEnv = process.env): BackendChoice | undefined {
  const v = env.DEEPAL_BACKEND?.trim();
  if (!v) return undefined;
  if (!isBackendChoice(v)) {
    throw new Error(`DEEPAL_BACKEND=${v} is not a backend; use one of ${BACKEND_ORDER.join(', ')}`);
  }
  return v;
}

/**
 * Start TensorFlow.js on the best backend available: the one asked for (flag or DEEPAL_BACKEND),
 * else the first of node-gpu, node, wasm, cpu that loads. Asking for a specific backend that does
 * not load is an error, not a silent fallback.
 */
export async function initBackend(preferred?: BackendChoice): Promise<BackendInfo> {
  const wanted = preferred ?? requestedBackend();
  // Jobs start side by side: one start at a time, and callers arriving meanwhile wait for it (two
  // starts at once re-entered tf.setBackend, and one of them fell through to the cpu backend
  // under the other's tensors).
  while (starting) await starting.catch(() => undefined);
  if (current && (!wanted || current.backend === wanted)) return current;
  const start = startBackend(wanted);
  starting = start;
  try {
    return await start;
  } finally {
    starting = null;
  }
}

/** The start in progress, if any (see initBackend). */
let starting: Promise<BackendInfo> | null = null;

async function startBackend(wanted: BackendChoice | undefined): Promise<BackendInfo> {
  const order: readonly BackendChoice[] = wanted ? [wanted] : BACKEND_ORDER;
  const skipped: BackendInfo['skipped'] = [];
  for (const choice of order) {
    try {
      await tryBackend(choice);
      await tf.ready();
      const versions: Record<string, string> = {
        node: process.versions.node,
        tfjs: tf.version.tfjs,
      };
      for (const pkg of [
        '@tensorflow/tfjs-backend-wasm',
        '@tensorflow/tfjs-node-gpu',
        '@tensorflow/tfjs-node',
      ]) {
        const v = packageVersion(pkg);
        if (v) versions[pkg] = v;
      }
      current = {
        backend: choice,
        tfBackend: tf.getBackend(),
        threads: threadsOf(choice),
        skipped,
        ...(choice === 'wasm' && wasmThreadsNote ? { note: wasmThreadsNote } : {}),
        versions,
      };
      return current;
    } catch (err) {
      skipped.push({ backend: choice, reason: firstLine(err) });
    }
  }
  const why = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  throw new Error(`No TensorFlow.js backend could start (${why})`);
}

export function backendInfo(): BackendInfo | null {
  return current;
}
