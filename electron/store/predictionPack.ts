/**
 * A model's guesses on a whole pool as three binary columns (see migration 007): sample ids in
 * ascending order (Int32), each one's most likely class (Int32), and its top guesses as
 * [class, probability] pairs (Float32, `topK` per sample; class -1 pads a shorter list).
 * Probabilities are stored to float precision and read back rounded to 4 decimals, as written.
 */
export interface PredictionRow {
  sampleId: number;
  classIdx: number;
  top: [number, number][];
}

export interface PackedPredictions {
  count: number;
  topK: number;
  sampleIds: Buffer;
  classes: Buffer;
  top: Buffer;
}

const le = (a: Int32Array | Float32Array): Buffer => {
  // Typed arrays use the machine's byte order; the stored format is little-endian.
  const b = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] === 1) return Buffer.from(b);
  const out = Buffer.from(b);
  out.swap32();
  return out;
};

const view = <T extends Int32Array | Float32Array>(
  b: Buffer,
  Ctor: { new (buf: ArrayBuffer): T },
): T => {
  const copy = Buffer.from(b);
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) copy.swap32();
  return new Ctor(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength));
};

export function packPredictions(rows: readonly PredictionRow[]): PackedPredictions {
  const sorted = [...rows].sort((a, b) => a.sampleId - b.sampleId);
  // A loop, not Math.max(...): a pool of 100,000 is over the argument limit.
  let topK = 1;
  for (const r of sorted) topK = Math.max(topK, r.top.length);
  const ids = new Int32Array(sorted.length);
  const classes = new Int32Array(sorted.length);
  const top = new Float32Array(sorted.length * topK * 2).fill(-1);
  sorted.forEach((r, i) => {
    ids[i] = r.sampleId;
    classes[i] = r.classIdx;
    r.top.forEach(([c, p], k) => {
      top[(i * topK + k) * 2] = c;
      top[(i * topK + k) * 2 + 1] = p;
    });
  });
  return { count: sorted.length, topK, sampleIds: le(ids), classes: le(classes), top: le(top) };
}

/** Packed guesses, decoded once and searched by sample id. */
export class PredictionSet {
  private readonly ids: Int32Array;
  private readonly classes: Int32Array;
  private readonly top: Float32Array;

  constructor(
    readonly trainingId: number,
    private readonly topK: number,
    sampleIds: Buffer,
    classes: Buffer,
    top: Buffer,
  ) {
    this.ids = view(sampleIds, Int32Array);
    this.classes = view(classes, Int32Array);
    this.top = view(top, Float32Array);
  }

  get size(): number {
    return this.ids.length;
  }

  private row(i: number): { classIdx: number; top: [number, number][] } {
    const top: [number, number][] = [];
    for (let k = 0; k < this.topK; k++) {
      const c = this.top[(i * this.topK + k) * 2]!;
      if (c < 0) break;
      top.push([c, Math.round(this.top[(i * this.topK + k) * 2 + 1]! * 1e4) / 1e4]);
    }
    return { classIdx: this.classes[i]!, top };
  }

  get(sampleId: number): { classIdx: number; top: [number, number][] } | undefined {
    let lo = 0;
    let hi = this.ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.ids[mid]!;
      if (v === sampleId) return this.row(mid);
      if (v < sampleId) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  entries(): [number, { classIdx: number; top: [number, number][] }][] {
    return Array.from(this.ids, (id, i) => [id, this.row(i)]);
  }
}
