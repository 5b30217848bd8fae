import * as tf from '@tensorflow/tfjs';
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WasmMemory } from './simd.ts';

/**
 * The parts of tfjs-backend-wasm's BackendWasm our kernels use. Tensor data lives in the wasm
 * module's heap; `dataIdMap` gives its offset, so a kernel can read and write it in place instead
 * of copying through JS arrays.
 */
export interface WasmBackend {
  dataIdMap: {
    get(dataId: object): { id: number; memoryOffset: number; shape: number[] } | undefined;
    delete(dataId: object): boolean;
  };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  wasm: {
    HEAPF32: Float32Array;
    HEAPU8: Uint8Array;
    _malloc(bytes: number): number;
    _free(ptr: number): void;
    tfjs: { disposeData(id: number): void };
    /** The module's exports; `memory` is the heap itself (single-threaded build). */
    asm?: { memory?: WasmMemory };
    /** The heap of the threaded build (imported, shared, not among the exports). */
    wasmMemory?: WasmMemory;
  };
}

/** The wasm Memory holding the backend's heap, in the single-threaded and threaded builds. */
export function heapMemory(backend: WasmBackend): WasmMemory | undefined {
  return backend.wasm.asm?.memory ?? backend.wasm.wasmMemory;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function offsetOf(backend: WasmBackend, info: TensorInfo): number {
  return backend.dataIdMap.get(info.dataId)!.memoryOffset;
}

/** The wasm backend as our interface; kernels receive it as `args.backend`. */
export function asWasm(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/**
 * A float32 view of a tensor in the wasm heap. Any allocation on the heap (makeOutput, another
 * kernel) may grow the memory and detach earlier views, so take views after allocating.
 */
export function heapF32(backend: WasmBackend, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/**
 * A tensor info for `shape` that views `src`'s memory from element `offset` on, under a new id:
 * lets a stock kernel read part of a tensor without a copy. Release it with releaseAlias, never
 * disposeData (the memory belongs to `src`).
 */
export function aliasOf(
  backend: WasmBackend,
  src: TensorInfo,
  offset: number,
  shape: number[],
): TensorInfo {
  const base = backend.dataIdMap.get(src.dataId)!.memoryOffset;
  return backend.makeOutput(shape, 'float32', base + 4 * offset);
}

/** Forget an alias made by aliasOf (and anything the backend cached under its id). */
export function releaseAlias(backend: WasmBackend, alias: TensorInfo): void {
  backend.wasm.tfjs.disposeData(backend.dataIdMap.get(alias.dataId)!.id);
  backend.dataIdMap.delete(alias.dataId);
}

type KernelFn = (args: { inputs: object; backend: unknown; attrs: object }) => TensorInfo;
const stock = new Map<string, KernelFn>();

/**
 * Remember the wasm backend's own kernel for `name` before we register ours over it, so our
 * kernels can still call it. Keeps the first one seen (a second registration would see ours).
 */
export function saveStockKernel(name: string): void {
  if (stock.has(name)) return;
  const cfg = tf.getKernel(name, 'wasm');
  if (cfg) stock.set(name, cfg.kernelFunc as unknown as KernelFn);
}

/** The wasm backend's own kernel for `name` (saved before registration). */
export function stockKernel(name: string): KernelFn {
  saveStockKernel(name);
  const fn = stock.get(name);
  if (!fn) throw new Error(`the wasm backend has no ${name} kernel; is it initialised?`);
  return fn;
}

/**
 * out[M, N] = a[M, K] x b[K, N] through the wasm backend's own BatchMatMul kernel, which hands a
 * non-transposed single-batch product to XNNPACK's fully-connected operator (any transpose or
 * batch > 1 falls back to a slow scalar loop there, so callers lay their data out to avoid it).
 *
 * XNNPACK packs `b` as weights and the backend caches that operator under b's tensor id, ignoring
 * the shape on later calls. A tensor we did not create (dy, say) might be used as `b` elsewhere
 * with another [K, N] split, so for those (`freshB`) we run on a new id aliasing the same memory
 * and drop it afterwards, which also drops its cached operator.
 * Returns a new tensor info of shape [M, N] that the caller owns.
 */
export function matMulXnn(
  backend: WasmBackend,
  a: TensorInfo,
  b: TensorInfo,
  m: number,
  k: number,
  n: number,
  freshB = true,
): TensorInfo {
  const a3 = { dataId: a.dataId, shape: [1, m, k], dtype: a.dtype };
  const alias = freshB ? aliasOf(backend, b, 0, [1, k, n]) : null;
  const b3: TensorInfo = alias ?? { dataId: b.dataId, shape: [1, k, n], dtype: b.dtype };
  const out = stockKernel('BatchMatMul')({
    inputs: { a: a3, b: b3 },
    backend,
    attrs: { transposeA: false, transposeB: false },
  });
  if (alias) releaseAlias(backend, alias);
  out.shape = [m, n];
  return out;
}

/**
 * Live bytes of the tensors and kernel buffers allocated from JavaScript on the wasm heap, and
 * their high-water mark. XNNPACK's own allocations inside C++ (packed weights, caches) are not
 * counted; they add a fraction on top.
 */
export interface HeapTracker {
  /** Bytes allocated from JavaScript and not yet freed. */
  readonly live: number;
  /** The largest `live` since the last resetPeak. */
  readonly peak: number;
  resetPeak(): void;
  /** Size of the wasm Memory now (it grows, never shrinks). */
  heapBytes(): number;
}

/**
 * Live bytes at which an allocation is refused. A wasm32 heap ends at 4 GiB; the allocator and
 * XNNPACK need room beyond what we count, and near that end the stock kernels fail in ways that
 * are not errors: at 4 GiB an XNNPACK product trapped with "memory access out of bounds", and in a
 * study the heap allocator spun for minutes inside `free` (issue 17, item 7). Refusing earlier
 * turns both into an error that says what happened.
 */
export const LIVE_BYTES_LIMIT = 2 * 2 ** 30;

/** Thrown when a tensor would take the wasm heap past LIVE_BYTES_LIMIT (or malloc fails). */
export class WasmHeapExhausted extends Error {
  constructor(
    readonly requested: number,
    readonly live: number,
  ) {
    const mib = (b: number): string => `${Math.round(b / 2 ** 20)} MiB`;
    super(
      `Out of memory for the wasm backend: a tensor of ${mib(requested)} on top of ${mib(live)} ` +
        `in use would pass the ${mib(LIVE_BYTES_LIMIT)} this app allows in the 4 GiB wasm heap. ` +
        'Use smaller images (--image-size), a smaller training batch or a smaller model.',
    );
    this.name = 'WasmHeapExhausted';
  }
}

const trackers = new WeakMap<object, HeapTracker>();

/**
 * Count the wasm heap's JavaScript-side allocations of `backend` (idempotent), refusing any that
 * would pass LIVE_BYTES_LIMIT, and a failed malloc: tf.js would take its 0 as an address and write
 * the tensor over the start of the heap, the allocator's own state included.
 */
export function trackHeap(backend: WasmBackend): HeapTracker {
  const wasm = backend.wasm;
  const known = trackers.get(wasm);
  if (known) return known;
  // Emscripten's exported _malloc/_free replace themselves with the raw exports on first call;
  // call them once so the functions we wrap are the final ones.
  wasm._free(wasm._malloc(16));
  const malloc = wasm._malloc.bind(wasm);
  const free = wasm._free.bind(wasm);
  const sizes = new Map<number, number>();
  let live = 0;
  let peak = 0;
  wasm._malloc = (bytes: number): number => {
    if (live + bytes > LIVE_BYTES_LIMIT) throw new WasmHeapExhausted(bytes, live);
    const ptr = malloc(bytes) >>> 0;
    if (ptr === 0 && bytes > 0) throw new WasmHeapExhausted(bytes, live);
    sizes.set(ptr, bytes);
    live += bytes;
    if (live > peak) peak = live;
    return ptr;
  };
  wasm._free = (ptr: number): void => {
    const key = ptr >>> 0;
    const bytes = sizes.get(key);
    if (bytes !== undefined) {
      live -= bytes;
      sizes.delete(key);
    }
    free(ptr);
  };
  const tracker: HeapTracker = {
    get live() {
      return live;
    },
    get peak() {
      return peak;
    },
    resetPeak() {
      peak = live;
    },
    heapBytes() {
      return wasm.HEAPU8.length;
    },
  };
  trackers.set(wasm, tracker);
  return tracker;
}

/** The heap tracker of tf.js's current backend, or null unless it is wasm with our kernels. */
export function currentHeapTracker(): HeapTracker | null {
  if (tf.getBackend() !== 'wasm') return null;
  return trackers.get(asWasm(tf.backend()).wasm) ?? null;
}
