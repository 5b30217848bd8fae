import { createRequire } from 'node:module';
import type * as WorkerThreads from 'node:worker_threads';
import { KERNELS_WASM_SHARED } from './c/kernels.generated.ts';
import { simdKernels, type SimdKernels, type WasmMemory } from './simd.ts';

/**
 * Our C kernels on more than one thread, for tf.js's threaded build (its heap is a shared Memory).
 *
 * XNNPACK runs tf.js's convolutions and products on its own thread pool; our kernels (patch
 * matrices, scatter-adds, pooling and ReLU gradients, bias sums, Adam) ran on the calling thread
 * alone while the other core waited. Here helper threads instantiate the same wasm module on the
 * same heap and take jobs (calls of one exported function on disjoint parts of the data) from a
 * shared counter, the calling thread too. The caller never waits for a job nobody has taken, so
 * a helper the OS has not scheduled yet costs nothing but its share of the speed-up.
 *
 * Control block (a SharedArrayBuffer of Int32 slots, then Float64 arguments):
 *   GEN: bumped to publish a batch of jobs; idle helpers sleep on it.
 *   CLAIM: the batch's generation (15 bits) and the next job index (16 bits). Jobs are claimed by
 *     compare-and-swap, so a thread still looping on an old batch can never take a job of the
 *     next one (its generation no longer matches) and no job runs twice.
 *   DONE: jobs of this batch finished; JOBS, FN, ARGC: the batch; HELPED: jobs helpers ran, ever;
 *   FAILED: set by a helper whose job threw (the job still counts as done, so nobody waits forever).
 */
const GEN = 0;
const CLAIM = 1;
const DONE = 2;
const JOBS = 3;
const FN = 4;
const ARGC = 5;
const HELPED = 6;
const FAILED = 7;
const HEADER_BYTES = 64;
export const MAX_JOBS = 32;
const MAX_ARGS = 16;

/** The exports jobs may call, by index (the same list in the helpers). */
const FUNCTIONS = [
  'maxPool2x2Grad',
  'col2im',
  'dwSmall',
  'reluGrad',
  'transpose',
  'im2colT',
  'adam',
  'addInto',
  'sumRows',
] as const;
export type KernelName = (typeof FUNCTIONS)[number];

/**
 * Claims the next job of generation `gen`: its index, or -1 when none is left. The helpers run
 * the same steps (HELPER below; written out there, since a bundler may rename what this uses).
 */
function claim(h: Int32Array, gen: number): number {
  for (;;) {
    const v = Atomics.load(h, CLAIM);
    if (v >>> 16 !== (gen & 0x7fff)) return -1;
    const job = v & 0xffff;
    if (job >= Atomics.load(h, JOBS)) return -1;
    if (Atomics.compareExchange(h, CLAIM, v, v + 1) === v) return job;
  }
}

/** Runs in each helper thread (CommonJS, eval'd). */
const HELPER = `
const { workerData } = require('node:worker_threads');
const { memory, control, bytes, names } = workerData;
const kernels = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const h = new Int32Array(control, 0, ${HEADER_BYTES / 4});
const args = new Float64Array(control, ${HEADER_BYTES});
function claim(gen) {
  for (;;) {
    const v = Atomics.load(h, ${CLAIM});
    if (v >>> 16 !== (gen & 0x7fff)) return -1;
    const job = v & 0xffff;
    if (job >= Atomics.load(h, ${JOBS})) return -1;
    if (Atomics.compareExchange(h, ${CLAIM}, v, v + 1) === v) return job;
  }
}
let gen = 0;
for (;;) {
  Atomics.wait(h, ${GEN}, gen);
  gen = Atomics.load(h, ${GEN});
  for (let job = claim(gen); job >= 0; job = claim(gen)) {
    const argc = h[${ARGC}];
    try {
      kernels[names[h[${FN}]]](...args.subarray(job * argc, job * argc + argc));
      Atomics.add(h, ${HELPED}, 1);
    } catch {
      Atomics.store(h, ${FAILED}, 1);
    }
    Atomics.add(h, ${DONE}, 1);
    Atomics.notify(h, ${DONE});
  }
}
`;

interface Pool {
  kernels: SimdKernels;
  header: Int32Array;
  args: Float64Array;
  helpers: number;
}

const pools = new WeakMap<WasmMemory, Pool | null>();
let helperCount = 0;

/**
 * Helper threads for the next pools made (0: none). The wasm backend sets it to its own thread
 * count less one when it starts.
 */
export function setKernelHelpers(count: number): void {
  helperCount = Math.max(0, Math.floor(count));
}

function decode(base64: string): Uint8Array {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function makePool(memory: WasmMemory, kernels: SimdKernels): Pool | null {
  const buffer = (memory as { buffer?: unknown }).buffer;
  if (helperCount === 0 || !(buffer instanceof SharedArrayBuffer)) return null;
  let wt: typeof WorkerThreads;
  try {
    wt = createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;
  } catch {
    return null;
  }
  const control = new SharedArrayBuffer(HEADER_BYTES + 8 * MAX_JOBS * MAX_ARGS);
  const bytes = decode(KERNELS_WASM_SHARED);
  for (let i = 0; i < helperCount; i++) {
    const worker = new wt.Worker(HELPER, {
      eval: true,
      workerData: { memory, control, bytes, names: FUNCTIONS },
    });
    // They sleep between jobs; they must not keep the process alive.
    worker.unref();
  }
  return {
    kernels,
    header: new Int32Array(control, 0, HEADER_BYTES / 4),
    args: new Float64Array(control, HEADER_BYTES),
    helpers: helperCount,
  };
}

function poolFor(memory: WasmMemory, kernels: SimdKernels): Pool | null {
  if (!pools.has(memory)) pools.set(memory, makePool(memory, kernels));
  return pools.get(memory)!;
}

/** Threads that run a kernel's jobs on `memory` (1 without helpers). */
export function kernelThreads(memory: WasmMemory | undefined): number {
  const kernels = simdKernels(memory);
  if (!memory || !kernels) return 1;
  return 1 + (poolFor(memory, kernels)?.helpers ?? 0);
}

/** False once Atomics.wait has refused to block here (then waiting spins). */
let canWait = true;

/**
 * Calls `name` once per argument list in `jobs`, spread over the calling thread and the helpers,
 * and returns when all have run. Jobs must write disjoint memory. Without helpers (single-threaded
 * build, or none configured) the calls run here, in order.
 */
export function runJobs(memory: WasmMemory, name: KernelName, jobs: readonly number[][]): void {
  const kernels = simdKernels(memory);
  if (!kernels) throw new Error(`the SIMD kernels are not available for ${name}`);
  const fn = kernels[name] as (...a: number[]) => void;
  const pool = jobs.length > 1 ? poolFor(memory, kernels) : null;
  if (!pool) {
    for (const a of jobs) fn(...a);
    return;
  }
  if (jobs.length > MAX_JOBS) throw new Error(`${jobs.length} jobs; at most ${MAX_JOBS}`);
  const argc = jobs[0]!.length;
  if (argc > MAX_ARGS) throw new Error(`${name} takes ${argc} arguments; at most ${MAX_ARGS}`);
  const { header: h, args } = pool;
  jobs.forEach((a, j) => args.set(a, j * argc));
  h[FN] = FUNCTIONS.indexOf(name);
  h[ARGC] = argc;
  Atomics.store(h, JOBS, jobs.length);
  Atomics.store(h, DONE, 0);
  Atomics.store(h, FAILED, 0);
  // Publish: the claim word first (with the new generation), then the generation helpers wait on.
  const gen = (Atomics.load(h, GEN) + 1) | 0;
  Atomics.store(h, CLAIM, (gen & 0x7fff) << 16);
  Atomics.store(h, GEN, gen);
  Atomics.notify(h, GEN);
  let error: unknown = null;
  for (let job = claim(h, gen); job >= 0; job = claim(h, gen)) {
    try {
      fn(...jobs[job]!);
    } catch (err) {
      // Keep claiming and then wait as usual: a helper must not be left in this batch.
      error ??= err;
    }
    Atomics.add(h, DONE, 1);
  }
  // Only jobs a helper has claimed are left: wait for them.
  for (;;) {
    const done = Atomics.load(h, DONE);
    if (done >= jobs.length) break;
    if (canWait) {
      try {
        Atomics.wait(h, DONE, done);
      } catch {
        // A thread that may not block (a browser's main thread): spin instead.
        canWait = false;
      }
    }
  }
  if (error) throw error;
  if (Atomics.load(h, FAILED)) {
    throw new Error(`${name} failed on a helper thread (the other parts ran; the result is wrong)`);
  }
}

/** Jobs the helper threads have run on `memory` so far (tests and benchmarks). */
export function helperJobs(memory: WasmMemory | undefined): number {
  const pool = memory ? pools.get(memory) : null;
  return pool ? Atomics.load(pool.header, HELPED) : 0;
}

/** [begin, end) ranges covering [0, total) in `parts` pieces, each a multiple of `align`. */
export function splitRange(total: number, parts: number, align = 1): [number, number][] {
  const units = Math.ceil(total / align);
  const n = Math.max(1, Math.min(parts, units));
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const b = Math.floor((units * i) / n) * align;
    const e = Math.min(total, Math.floor((units * (i + 1)) / n) * align);
    if (e > b) out.push([b, e]);
  }
  return out;
}

/** Below this many floats of work a kernel runs on the calling thread alone. */
const MIN_PARALLEL_WORK = 1 << 15;

/**
 * How many jobs to cut `work` floats into on `memory`: 1 when small or without helpers, else two
 * per thread (so that a thread that started late still finds work to take).
 */
export function jobCount(memory: WasmMemory | undefined, work: number): number {
  if (work < MIN_PARALLEL_WORK) return 1;
  const threads = kernelThreads(memory);
  return threads === 1 ? 1 : Math.min(MAX_JOBS, 2 * threads);
}

/** dst [cols, rows] = src [rows, cols] transposed (pointers into `memory`), bands of rows per thread. */
export function transposeInHeap(
  memory: WasmMemory,
  src: number,
  dst: number,
  rows: number,
  cols: number,
): void {
  const jobs = splitRange(rows, jobCount(memory, rows * cols), 4).map(([b, e]) => [
    src + 4 * b * cols,
    dst + 4 * b,
    e - b,
    cols,
    rows,
  ]);
  runJobs(memory, 'transpose', jobs);
}
