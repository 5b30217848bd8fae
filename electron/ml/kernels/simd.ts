import { KERNELS_WASM, KERNELS_WASM_SHARED } from './c/kernels.generated.ts';

/**
 * Our WebAssembly SIMD kernels, compiled from c/kernels.c (read that file for what each one
 * does; c/build.ts builds it). The module imports the wasm backend's own Memory, so tensor
 * offsets are valid pointers. Pointers are byte offsets in that heap; every size is an element
 * count. Instantiated once per Memory; where the engine rejects it (no SIMD), callers keep their
 * other paths.
 */
export interface SimdKernels {
  maxPool2x2Grad(
    x: number,
    dy: number,
    dx: number,
    n: number,
    oh: number,
    ow: number,
    c: number,
    row: number,
    img: number,
  ): void;
  col2im(
    dcol: number,
    dx: number,
    n: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    ih: number,
    iw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
    c: number,
  ): void;
  dwSmall(
    colT: number,
    dy: number,
    dw: number,
    kDim: number,
    q: number,
    co: number,
    accumulate: number,
  ): void;
  addInto(dst: number, src: number, count: number): void;
  reluGrad(x: number, dy: number, dx: number, count: number): void;
  transpose(src: number, dst: number, rows: number, cols: number, dstStride: number): void;
  sumRows(src: number, dst: number, rows: number, cols: number, stride: number): void;
  im2colT(
    xT: number,
    colT: number,
    n: number,
    ih: number,
    iw: number,
    c: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
    rowBegin: number,
    rowEnd: number,
  ): void;
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    pOut: number,
    mOut: number,
    vOut: number,
    count: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    stepSize: number,
    epsHat: number,
  ): void;
}

/** A wasm Memory (typed here: the project's TS lib has no WebAssembly declarations). */
export type WasmMemory = object;

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

function decode(base64: string): Uint8Array {
  const bin = atob(base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

const cache = new WeakMap<WasmMemory, SimdKernels | null>();

/**
 * The SIMD kernels bound to `memory` (the wasm backend's heap), or null where the engine cannot
 * compile them.
 */
export function simdKernels(memory: WasmMemory | undefined): SimdKernels | null {
  if (!memory || !wasmApi) return null;
  if (cache.has(memory)) return cache.get(memory)!;
  let k: SimdKernels | null = null;
  try {
    const buffer = (memory as { buffer?: unknown }).buffer;
    const shared = typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
    const mod = new wasmApi.Module(decode(shared ? KERNELS_WASM_SHARED : KERNELS_WASM));
    const inst = new wasmApi.Instance(mod, { env: { memory } });
    k = inst.exports as unknown as SimdKernels;
  } catch {
    k = null;
  }
  cache.set(memory, k);
  return k;
}
