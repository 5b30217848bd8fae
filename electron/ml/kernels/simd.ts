/**
 * A tiny hand-assembled WebAssembly SIMD module that works directly on the wasm backend's heap (it
 * imports the backend module's own Memory, so tensor offsets are valid pointers). It holds the
 * inner loops where plain JS was the bottleneck of a training step and XNNPACK has nothing to
 * offer: the 2x2 / stride 2 max-pooling gradient, the patch scatter-add (col2im) of the
 * convolution input gradient, and the filter gradient of a layer with few taps. Built at first use; if the engine rejects it (no SIMD), callers
 * keep their other paths.
 */

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const str = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// Instructions.
const get = (i: number): number[] => [0x20, ...uleb(i)];
const set = (i: number): number[] => [0x21, ...uleb(i)];
const tee = (i: number): number[] => [0x22, ...uleb(i)];
const i32c = (v: number): number[] => [0x41, ...sleb(v)];
const ADD = [0x6a];
const SUB = [0x6b];
const AND32 = [0x71];
const IF = [0x04, 0x40];
const MUL = [0x6c];
const LT_U = [0x49];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const BR_IF0 = [0x0d, 0x00];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const LOAD = [...simd(0x00), 0x00, 0x00]; // align hint 1, offset 0 (unaligned is legal)
const STORE = [...simd(0x0b), 0x00, 0x00];
const GT = simd(0x44);
const AND = simd(0x4e);
const ANDNOT = simd(0x4f);
const BITSELECT = simd(0x52);
const FADD = simd(0xe4);
const FMUL = simd(0xe6);
const FSUB = simd(0xe5);
const FDIV = simd(0xe7);
const FSQRT = simd(0xe3);
const F32 = 0x7d;
const loadAt = (offset: number): number[] => [...simd(0x00), 0x00, ...uleb(offset)];
const storeAt = (offset: number): number[] => [...simd(0x0b), 0x00, ...uleb(offset)];
const F32_LOAD = [0x2a, 0x02, 0x00];
const F32_SPLAT = simd(0x13);
const ZERO_V128 = [...i32c(0), ...simd(0x11)];

/** `i += step; br_if (i < limit)` closing a do-while loop. */
const next = (i: number, step: number, limit: number): number[] => [
  ...get(i),
  ...i32c(step),
  ...ADD,
  ...tee(i),
  ...get(limit),
  ...LT_U,
  ...BR_IF0,
  ...END,
];

/**
 * maxPool2x2Grad(x, dy, dx, n, oh, ow, cBytes, rowBytes, imgBytes): for every 2x2 window and 4
 * channels at once, the window's first strict maximum (row-major) gets dy, the other three get 0.
 * Pointers and sizes in bytes; channels a multiple of 4; n, oh, ow >= 1.
 */
function maxPoolGradBody(): number[] {
  // params 0..8: x dy dx n oh ow cBytes rowBytes imgBytes
  const [X, DY, DX, N, OH, OW, C, ROW, IMG] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  // i32 locals 9..17, v128 locals 18..25
  const [NI, OY, OX, CH, OFF, Q, O, XA, DA] = [9, 10, 11, 12, 13, 14, 15, 16, 17];
  const [VA, VB, VD, VE, G, T1, T2, LOW] = [18, 19, 20, 21, 22, 23, 24, 25];
  const store = (addr: number[], value: number[]): number[] => [...addr, ...value, ...STORE];
  const code = [
    ...get(DY),
    ...set(O),
    ...i32c(0),
    ...set(NI),
    ...LOOP,
    ...i32c(0),
    ...set(OY),
    ...LOOP,
    // off = ni * img + 2 * oy * row
    ...get(NI),
    ...get(IMG),
    ...MUL,
    ...get(OY),
    ...get(OY),
    ...ADD,
    ...get(ROW),
    ...MUL,
    ...ADD,
    ...set(OFF),
    ...get(OFF),
    ...set(Q),
    ...i32c(0),
    ...set(OX),
    ...LOOP,
    ...i32c(0),
    ...set(CH),
    ...LOOP,
    ...get(X),
    ...get(Q),
    ...ADD,
    ...get(CH),
    ...ADD,
    ...set(XA),
    ...get(DX),
    ...get(Q),
    ...ADD,
    ...get(CH),
    ...ADD,
    ...set(DA),
    ...get(XA),
    ...LOAD,
    ...set(VA),
    ...get(XA),
    ...get(C),
    ...ADD,
    ...LOAD,
    ...set(VB),
    ...get(XA),
    ...get(ROW),
    ...ADD,
    ...LOAD,
    ...set(VD),
    ...get(XA),
    ...get(ROW),
    ...ADD,
    ...get(C),
    ...ADD,
    ...LOAD,
    ...set(VE),
    ...get(O),
    ...LOAD,
    ...set(G),
    ...get(VB),
    ...get(VA),
    ...GT,
    ...set(T1),
    ...get(VE),
    ...get(VD),
    ...GT,
    ...set(T2),
    // lower = max(d, e) > max(a, b), each max keeping the first on ties
    ...get(VE),
    ...get(VD),
    ...get(T2),
    ...BITSELECT,
    ...get(VB),
    ...get(VA),
    ...get(T1),
    ...BITSELECT,
    ...GT,
    ...set(LOW),
    ...store(get(DA), [...get(G), ...get(T1), ...ANDNOT, ...get(LOW), ...ANDNOT]),
    ...store(
      [...get(DA), ...get(C), ...ADD],
      [...get(G), ...get(T1), ...AND, ...get(LOW), ...ANDNOT],
    ),
    ...store(
      [...get(DA), ...get(ROW), ...ADD],
      [...get(G), ...get(T2), ...ANDNOT, ...get(LOW), ...AND],
    ),
    ...store(
      [...get(DA), ...get(ROW), ...ADD, ...get(C), ...ADD],
      [...get(G), ...get(T2), ...AND, ...get(LOW), ...AND],
    ),
    ...get(O),
    ...i32c(16),
    ...ADD,
    ...set(O),
    ...next(CH, 16, C),
    // q += 2 * cBytes
    ...get(Q),
    ...get(C),
    ...ADD,
    ...get(C),
    ...ADD,
    ...set(Q),
    ...next(OX, 1, OW),
    ...next(OY, 1, OH),
    ...next(NI, 1, N),
    ...END,
  ];
  const locals = vec([
    [...uleb(9), I32],
    [...uleb(8), V128],
  ]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/**
 * col2im(dcol, dx, n, oh, ow, fh, fw, ih, iw, sh, sw, top, left, cBytes): adds every row of the
 * patch-gradient matrix dcol [n*oh*ow, fh*fw*c] into the input gradient dx [n, ih, iw, c] (which
 * the caller zeroes), skipping taps that fall in the padding. Channels a multiple of 4.
 */
function col2imBody(): number[] {
  const [DCOL, DX, N, OH, OW, FH, FW, IH, IW, SH, SW, TOP, LEFT, C] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
  ];
  const [NI, OY, OX, FY, FX, IY, IX, SRC, DST, CH] = [14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  const code = [
    ...get(DCOL),
    ...set(SRC),
    ...i32c(0),
    ...set(NI),
    ...LOOP,
    ...i32c(0),
    ...set(OY),
    ...LOOP,
    ...i32c(0),
    ...set(OX),
    ...LOOP,
    ...i32c(0),
    ...set(FY),
    ...LOOP,
    // iy = oy * sh - top + fy (may be negative: the unsigned compare below rejects it)
    ...get(OY),
    ...get(SH),
    ...MUL,
    ...get(TOP),
    ...SUB,
    ...get(FY),
    ...ADD,
    ...set(IY),
    ...i32c(0),
    ...set(FX),
    ...LOOP,
    ...get(OX),
    ...get(SW),
    ...MUL,
    ...get(LEFT),
    ...SUB,
    ...get(FX),
    ...ADD,
    ...set(IX),
    ...get(IY),
    ...get(IH),
    ...LT_U,
    ...get(IX),
    ...get(IW),
    ...LT_U,
    ...AND32,
    ...IF,
    // dst = dx + ((ni * ih + iy) * iw + ix) * cBytes
    ...get(NI),
    ...get(IH),
    ...MUL,
    ...get(IY),
    ...ADD,
    ...get(IW),
    ...MUL,
    ...get(IX),
    ...ADD,
    ...get(C),
    ...MUL,
    ...get(DX),
    ...ADD,
    ...set(DST),
    ...i32c(0),
    ...set(CH),
    ...LOOP,
    ...get(DST),
    ...get(CH),
    ...ADD,
    ...get(DST),
    ...get(CH),
    ...ADD,
    ...LOAD,
    ...get(SRC),
    ...get(CH),
    ...ADD,
    ...LOAD,
    ...FADD,
    ...STORE,
    ...next(CH, 16, C),
    ...END, // if
    ...get(SRC),
    ...get(C),
    ...ADD,
    ...set(SRC),
    ...next(FX, 1, FW),
    ...next(FY, 1, FH),
    ...next(OX, 1, OW),
    ...next(OY, 1, OH),
    ...next(NI, 1, N),
    ...END,
  ];
  const body = [...vec([[...uleb(10), I32]]), ...code];
  return [...uleb(body.length), ...body];
}

/**
 * dwSmall(colT, dy, dw, kDim, q, coBytes): dw[k, co] = sum over i < q of colT[k, i] * dy[i, co],
 * for a patch matrix with few rows (a first conv layer's taps): a plain SIMD product that reads
 * dy where it lies, where XNNPACK would first pack (copy and reorder) all of dy. Output channels
 * a multiple of 16.
 */
function dwSmallBody(): number[] {
  const [COLT, DY, DW, KDIM, Q, CO] = [0, 1, 2, 3, 4, 5];
  const [K, CB, QI, SRC, DYP] = [6, 7, 8, 9, 10];
  const ACC = [11, 12, 13, 14];
  const S = 15;
  const code = [
    ...i32c(0),
    ...set(K),
    ...LOOP,
    ...i32c(0),
    ...set(CB),
    ...LOOP,
    ...ACC.flatMap((a) => [...ZERO_V128, ...set(a)]),
    ...get(COLT),
    ...get(K),
    ...get(Q),
    ...MUL,
    ...i32c(4),
    ...MUL,
    ...ADD,
    ...set(SRC),
    ...get(DY),
    ...get(CB),
    ...ADD,
    ...set(DYP),
    ...i32c(0),
    ...set(QI),
    ...LOOP,
    ...get(SRC),
    ...F32_LOAD,
    ...F32_SPLAT,
    ...set(S),
    ...ACC.flatMap((a, j) => [
      ...get(a),
      ...get(S),
      ...get(DYP),
      ...loadAt(16 * j),
      ...FMUL,
      ...FADD,
      ...set(a),
    ]),
    ...get(SRC),
    ...i32c(4),
    ...ADD,
    ...set(SRC),
    ...get(DYP),
    ...get(CO),
    ...ADD,
    ...set(DYP),
    ...next(QI, 1, Q),
    // dst = dw + k * coBytes + cb
    ...get(DW),
    ...get(K),
    ...get(CO),
    ...MUL,
    ...ADD,
    ...get(CB),
    ...ADD,
    ...set(SRC),
    ...ACC.flatMap((a, j) => [...get(SRC), ...get(a), ...storeAt(16 * j)]),
    ...next(CB, 64, CO),
    ...next(K, 1, KDIM),
    ...END,
  ];
  const body = [
    ...vec([
      [...uleb(5), I32],
      [...uleb(5), V128],
    ]),
    ...code,
  ];
  return [...uleb(body.length), ...body];
}

/**
 * adam(p, g, m, v, pOut, mOut, vOut, bytes, b1, c1, b2, c2, stepSize, epsHat): one Adam update,
 * 4 floats at a time, in the same order of operations as the element-wise kernels it replaces:
 * m' = m*b1 + g*c1; v' = v*b2 + (g*g)*c2; p' = p - (m' / (sqrt(v') + epsHat)) * stepSize.
 * Pointers in bytes; `bytes` a positive multiple of 16.
 */
function adamBody(): number[] {
  const [P, G, M, V, PO, MO, VO, BYTES] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [B1, C1, B2, C2, S, E] = [8, 9, 10, 11, 12, 13];
  const I = 14;
  const [VB1, VC1, VB2, VC2, VS, VE, VG, VM, VV] = [15, 16, 17, 18, 19, 20, 21, 22, 23];
  const at = (base: number): number[] => [...get(base), ...get(I), ...ADD];
  const code = [
    ...[B1, C1, B2, C2, S, E].flatMap((f, j) => [...get(f), ...F32_SPLAT, ...set(VB1 + j)]),
    ...i32c(0),
    ...set(I),
    ...LOOP,
    ...at(G),
    ...LOAD,
    ...set(VG),
    // m' = m*b1 + g*c1
    ...at(M),
    ...LOAD,
    ...get(VB1),
    ...FMUL,
    ...get(VG),
    ...get(VC1),
    ...FMUL,
    ...FADD,
    ...set(VM),
    ...at(MO),
    ...get(VM),
    ...STORE,
    // v' = v*b2 + (g*g)*c2
    ...at(V),
    ...LOAD,
    ...get(VB2),
    ...FMUL,
    ...get(VG),
    ...get(VG),
    ...FMUL,
    ...get(VC2),
    ...FMUL,
    ...FADD,
    ...set(VV),
    ...at(VO),
    ...get(VV),
    ...STORE,
    // p' = p - (m' / (sqrt(v') + eps)) * step
    ...at(PO),
    ...at(P),
    ...LOAD,
    ...get(VM),
    ...get(VV),
    ...FSQRT,
    ...get(VE),
    ...FADD,
    ...FDIV,
    ...get(VS),
    ...FMUL,
    ...FSUB,
    ...STORE,
    ...next(I, 16, BYTES),
  ];
  const body = [
    ...vec([
      [...uleb(1), I32],
      [...uleb(9), V128],
    ]),
    ...code,
    ...END,
  ];
  return [...uleb(body.length), ...body];
}

function buildModule(shared: boolean): Uint8Array {
  const fnType = (params: number): number[] => [
    0x60,
    ...vec(Array.from({ length: params }, () => [I32])),
    ...vec([]),
  ];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(
      1,
      vec([
        fnType(9),
        fnType(14),
        fnType(6),
        [
          0x60,
          ...vec([
            ...Array.from({ length: 8 }, () => [I32]),
            ...Array.from({ length: 6 }, () => [F32]),
          ]),
          ...vec([]),
        ],
      ]),
    ),
    // The threaded build's heap is a shared Memory; an import must say so, with a maximum.
    ...section(
      2,
      vec([
        [
          ...str('env'),
          ...str('memory'),
          0x02,
          ...(shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)]),
        ],
      ]),
    ),
    ...section(3, vec([uleb(0), uleb(1), uleb(2), uleb(3)])),
    ...section(
      7,
      vec([
        [...str('maxPool2x2Grad'), 0x00, ...uleb(0)],
        [...str('col2im'), 0x00, ...uleb(1)],
        [...str('dwSmall'), 0x00, ...uleb(2)],
        [...str('adam'), 0x00, ...uleb(3)],
      ]),
    ),
    ...section(10, vec([maxPoolGradBody(), col2imBody(), dwSmallBody(), adamBody()])),
  ];
  return Uint8Array.from(bytes);
}

/** The module's exports, bound to one wasm Memory. */
export interface SimdKernels {
  maxPool2x2Grad(
    x: number,
    dy: number,
    dx: number,
    n: number,
    oh: number,
    ow: number,
    cBytes: number,
    rowBytes: number,
    imgBytes: number,
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
    cBytes: number,
  ): void;
  dwSmall(colT: number, dy: number, dw: number, kDim: number, q: number, coBytes: number): void;
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    pOut: number,
    mOut: number,
    vOut: number,
    bytes: number,
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

const cache = new WeakMap<WasmMemory, SimdKernels | null>();

/**
 * The SIMD kernels bound to `memory` (the wasm backend's heap), or null where the engine cannot
 * compile them. Compiled once per Memory.
 */
export function simdKernels(memory: WasmMemory | undefined): SimdKernels | null {
  if (!memory || !wasmApi) return null;
  if (cache.has(memory)) return cache.get(memory)!;
  let k: SimdKernels | null = null;
  try {
    const buffer = (memory as { buffer?: unknown }).buffer;
    const shared = typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
    const mod = new wasmApi.Module(buildModule(shared));
    const inst = new wasmApi.Instance(mod, { env: { memory } });
    k = inst.exports as unknown as SimdKernels;
  } catch {
    k = null;
  }
  cache.set(memory, k);
  return k;
}
