import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cpus, tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type * as WasmPackageModule from '@tensorflow/tfjs-backend-wasm';
import type * as WorkerThreads from 'node:worker_threads';
import type * as Os from 'node:os';
import { setKernelHelpers } from './kernels/parallel.ts';

const require = createRequire(import.meta.url);

type WasmPackage = typeof WasmPackageModule;

/**
 * Multi-threaded wasm under Node.
 *
 * tfjs-backend-wasm ships a threaded SIMD build (XNNPACK's thread pool on Emscripten pthreads),
 * but under Node it reports no thread support and, forced on, cannot start its workers: it hands
 * Emscripten the worker script as a `blob:` URL, which Node's worker_threads refuse
 * (ERR_WORKER_PATH), and the worker then loads the main script from another Blob.
 *
 * We give Node what it can load: the same worker script written to a file, with one line
 * appended so that its `importScripts` of the Blob loads the package's own main script file
 * instead. `worker_threads.Worker` is wrapped to send only `blob:` URLs there; every other worker
 * (ours included) is untouched.
 */
function enableWasmThreads(threads: number): void {
  // Loading the package registers the backend and its flags (it starts only on setBackend).
  const wasmPkg = require('@tensorflow/tfjs-backend-wasm') as WasmPackage;
  const pkgDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const mainJs = join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(
    join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js'),
  ) as { wasmWorkerContents: string };
  const loadMain =
    `\n;global.importScripts=function(f){if(String(f).startsWith('blob:'))f=${JSON.stringify(mainJs)};` +
    `(0,eval)(require('fs').readFileSync(f,'utf8')+'//# sourceURL='+f)};\n`;
  // The string holds the source's escaped newlines as real ones (tfjs re-escapes them too).
  const script = wasmWorkerContents.replace(/\n/g, '\\n') + loadMain;
  const dir = join(tmpdir(), `deepal-wasm-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `pthread-worker-${tf.version.tfjs}.cjs`);
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // not written yet
  }
  if (current !== script) writeFileSync(file, script);

  const wt = require('node:worker_threads') as typeof WorkerThreads;
  const Base = wt.Worker;
  if (!(Base as { deepalPatched?: boolean }).deepalPatched) {
    class PthreadWorker extends Base {
      static deepalPatched = true;
      constructor(url: string | URL, options?: WorkerThreads.WorkerOptions) {
        const pthread = String(url).startsWith('blob:');
        super(pthread ? file : url, options);
        this.pthread = pthread;
        // XNNPACK's threads wait for work forever; they must not keep the process alive. The
        // main thread only ever waits for them synchronously, inside a kernel.
        if (pthread) this.unref();
      }
      private readonly pthread: boolean;
      override ref(): void {
        if (!this.pthread) super.ref();
      }
    }
    wt.Worker = PthreadWorker;
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasmPkg.setThreadsCount(threads);
}

/** XNNPACK's pool in tfjs-backend-wasm 4.22 has at most this many threads. */
export const MAX_WASM_THREADS = 4;

/**
 * How many threads the wasm backend should use: `DEEPAL_WASM_THREADS` (1 to 4) when set, else one
 * per logical CPU up to 4. A bad value is an error that says what is accepted.
 */
export function wasmThreadsWanted(
  env: NodeJS.ProcessEnv = process.env,
  logicalCpus: number = cpus().length,
): number {
  const v = env.DEEPAL_WASM_THREADS?.trim();
  if (v) {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
      throw new Error(
        `DEEPAL_WASM_THREADS=${v} is not a thread count; use a whole number from 1 to ${MAX_WASM_THREADS}`,
      );
    }
    return n;
  }
  return Math.max(1, Math.min(MAX_WASM_THREADS, logicalCpus));
}

/**
 * Start tf.js's wasm backend with `threads` XNNPACK threads (1 = the single-threaded SIMD build).
 * Returns the number of threads the backend reports.
 *
 * tfjs-backend-wasm sizes its thread pool once, when the module starts, from Emscripten's
 * logical-core count halved (it assumes two hyper-threads per core) and clamped to [1, 4];
 * `setThreadsCount` cannot change it after that. Under Node that count is `os.cpus().length`,
 * so for the start alone we report twice the threads wanted, and restore `os.cpus` at once.
 */
export async function startWasmBackend(threads: number): Promise<number> {
  const wanted = Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(threads)));
  const wasmPkg = require('@tensorflow/tfjs-backend-wasm') as WasmPackage;
  if (wanted < 2) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not start');
    setKernelHelpers(0);
    return 1;
  }
  enableWasmThreads(wanted);
  const os = require('node:os') as typeof Os;
  const cpus = os.cpus;
  const one = cpus()[0];
  os.cpus = () => Array.from({ length: 2 * wanted }, () => one!);
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error('the threaded wasm backend did not start');
  } finally {
    os.cpus = cpus;
  }
  const started = wasmPkg.getThreadsCount();
  // Our own C kernels get as many threads as XNNPACK (kernels/parallel.ts).
  setKernelHelpers(started - 1);
  return started;
}
