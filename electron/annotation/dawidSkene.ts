/**
 * Annotator weights: Dawid & Skene, "Maximum Likelihood Estimation of Observer Error-Rates Using
 * the EM Algorithm" (Applied Statistics, 1979). Each annotator a has a confusion matrix
 * pi_a[k][l] = P(a says l | the true class is k); the classes have priors p_k. EM alternates:
 *
 * - E-step: each sample's posterior over its true class,
 *   T_i[k] ∝ p_k · Π_{labels (a, l) of i} pi_a[k][l];
 * - M-step: priors and confusion matrices from the posteriors' expected counts, with a small
 *   Dirichlet smoothing so that a confusion nobody made yet is unlikely, not impossible.
 *
 * It starts from the (soft) majority vote. The parameters are fitted on the samples two or more
 * people labeled (a sample one person labeled says nothing about that person's errors, and would
 * only confirm them); posteriors are then given for every sample. Pure functions: no store, no
 * Node.
 */
import { effectiveClass, type Merges, type ProjectEvent } from '../store/annotation.ts';
import type { AnnotatorQuality } from '../../shared/labelQuality.ts';
import { Rng } from '../../shared/random.ts';
import { sampleStates } from './queue.ts';

/** One label: item (sample position), annotator position, class position. */
export interface Observation {
  item: number;
  annotator: number;
  label: number;
}

export interface DawidSkeneResult {
  /** p_k. */
  priors: number[];
  /** [annotator][true class][label], rows sum to 1. */
  confusion: number[][][];
  /** items x K posteriors (rows of items without labels are the priors). */
  posteriors: Float64Array;
  /** Most probable class per item (-1 for items without labels). */
  consensus: Int32Array;
  iterations: number;
  converged: boolean;
}

export interface DawidSkeneOptions {
  maxIterations?: number;
  /** Stop when no posterior moves by more than this. */
  tolerance?: number;
  /** Dirichlet pseudo-count added to every cell of the confusion matrices and priors. */
  smoothing?: number;
  /** Items the parameters are fitted on (default: every item with a label). */
  fit?: ArrayLike<number>;
}

export function dawidSkene(
  obs: readonly Observation[],
  items: number,
  annotators: number,
  K: number,
  opts: DawidSkeneOptions = {},
): DawidSkeneResult {
  const maxIter = opts.maxIterations ?? 500;
  const tol = opts.tolerance ?? 1e-6;
  const beta = opts.smoothing ?? 0.01;
  for (const o of obs) {
    if (o.item < 0 || o.item >= items || o.annotator < 0 || o.annotator >= annotators)
      throw new Error(`Dawid-Skene: observation out of range (${JSON.stringify(o)})`);
    if (o.label < 0 || o.label >= K)
      throw new Error(`Dawid-Skene: label ${o.label} outside 0..${K - 1}`);
  }
  const byItem: Observation[][] = Array.from({ length: items }, () => []);
  for (const o of obs) byItem[o.item]!.push(o);
  const fitMask = new Uint8Array(items);
  if (opts.fit) for (let i = 0; i < opts.fit.length; i++) fitMask[opts.fit[i]!] = 1;
  else for (let i = 0; i < items; i++) if (byItem[i]!.length > 0) fitMask[i] = 1;

  // Soft majority vote.
  const T = new Float64Array(items * K);
  for (let i = 0; i < items; i++) {
    const list = byItem[i]!;
    if (list.length === 0) continue;
    for (const o of list) T[i * K + o.label] = T[i * K + o.label]! + 1 / list.length;
  }

  const priors = new Array<number>(K).fill(1 / K);
  const confusion = Array.from({ length: annotators }, () =>
    Array.from({ length: K }, () => new Array<number>(K).fill(1 / K)),
  );
  let iterations = 0;
  let converged = false;
  const logRow = new Float64Array(K);
  while (iterations < maxIter) {
    iterations++;
    // M-step.
    const pc = new Array<number>(K).fill(beta);
    const counts = Array.from({ length: annotators }, () =>
      Array.from({ length: K }, () => new Array<number>(K).fill(beta)),
    );
    for (let i = 0; i < items; i++) {
      if (!fitMask[i] || byItem[i]!.length === 0) continue;
      for (let k = 0; k < K; k++) {
        const t = T[i * K + k]!;
        pc[k] = pc[k]! + t;
        for (const o of byItem[i]!) {
          const row = counts[o.annotator]![k]!;
          row[o.label] = row[o.label]! + t;
        }
      }
    }
    const pSum = pc.reduce((a, b) => a + b, 0);
    for (let k = 0; k < K; k++) priors[k] = pc[k]! / pSum;
    for (let a = 0; a < annotators; a++) {
      for (let k = 0; k < K; k++) {
        const row = counts[a]![k]!;
        const s = row.reduce((x, y) => x + y, 0);
        for (let l = 0; l < K; l++) confusion[a]![k]![l] = row[l]! / s;
      }
    }
    // E-step.
    let moved = 0;
    for (let i = 0; i < items; i++) {
      const list = byItem[i]!;
      if (list.length === 0) continue;
      let max = -Infinity;
      for (let k = 0; k < K; k++) {
        let v = Math.log(priors[k]!);
        for (const o of list) v += Math.log(confusion[o.annotator]![k]![o.label]!);
        logRow[k] = v;
        if (v > max) max = v;
      }
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.exp(logRow[k]! - max);
      for (let k = 0; k < K; k++) {
        const p = Math.exp(logRow[k]! - max) / s;
        moved = Math.max(moved, Math.abs(p - T[i * K + k]!));
        T[i * K + k] = p;
      }
    }
    if (moved < tol) {
      converged = true;
      break;
    }
  }
  const consensus = new Int32Array(items).fill(-1);
  for (let i = 0; i < items; i++) {
    if (byItem[i]!.length === 0) {
      for (let k = 0; k < K; k++) T[i * K + k] = priors[k]!;
      continue;
    }
    let best = 0;
    for (let k = 1; k < K; k++) if (T[i * K + k]! > T[i * K + best]!) best = k;
    consensus[i] = best;
  }
  return { priors, confusion, posteriors: T, consensus, iterations, converged };
}

/** Plain majority vote per item; ties broken at random (seeded); -1 without labels. */
export function majorityVote(
  obs: readonly Observation[],
  items: number,
  K: number,
  seed = 1,
): Int32Array {
  const votes = new Float64Array(items * K);
  for (const o of obs) votes[o.item * K + o.label] = votes[o.item * K + o.label]! + 1;
  const rng = new Rng(seed);
  const out = new Int32Array(items).fill(-1);
  for (let i = 0; i < items; i++) {
    let max = 0;
    const tied: number[] = [];
    for (let k = 0; k < K; k++) {
      const v = votes[i * K + k]!;
      if (v > max) {
        max = v;
        tied.length = 0;
      }
      if (v === max && v > 0) tied.push(k);
    }
    if (tied.length > 0) out[i] = tied.length === 1 ? tied[0]! : tied[rng.int(tied.length)]!;
  }
  return out;
}

/**
 * Per annotator: the expected share of their labels that are right (the mean posterior of the
 * class they gave, over the items in `over`), and their most frequent expected confusion.
 */
export function annotatorEstimates(
  r: DawidSkeneResult,
  obs: readonly Observation[],
  annotators: number,
  K: number,
  over?: (item: number) => boolean,
): {
  accuracy: (number | null)[];
  n: number[];
  confusion: (AnnotatorQuality['confusion'] | null)[];
} {
  const right = new Array<number>(annotators).fill(0);
  const n = new Array<number>(annotators).fill(0);
  const expected = Array.from({ length: annotators }, () =>
    Array.from({ length: K }, () => new Array<number>(K).fill(0)),
  );
  for (const o of obs) {
    if (over && !over(o.item)) continue;
    n[o.annotator] = n[o.annotator]! + 1;
    right[o.annotator] = right[o.annotator]! + r.posteriors[o.item * K + o.label]!;
    for (let k = 0; k < K; k++) {
      const row = expected[o.annotator]![k]!;
      row[o.label] = row[o.label]! + r.posteriors[o.item * K + k]!;
    }
  }
  const confusion = expected.map((m) => {
    let best: AnnotatorQuality['confusion'] = null;
    for (let k = 0; k < K; k++)
      for (let l = 0; l < K; l++)
        if (k !== l && m[k]![l]! >= 0.5 && (!best || m[k]![l]! > best.count))
          best = { trueClass: k, labeledAs: l, count: m[k]![l]! };
    return best;
  });
  return {
    accuracy: right.map((x, a) => (n[a]! > 0 ? x / n[a]! : null)),
    n,
    confusion,
  };
}

// ------------------------------------------------------------------------------------ projects

export const DAWID_SKENE_METHOD =
  "Dawid-Skene (1979): EM over each annotator's confusion matrix and the class priors, started from the majority vote and fitted on the samples two or more people labeled; an annotator's accuracy is the expected share of their labels there that are right.";

export interface ProjectConsensus {
  /** Per labeled sample: the consensus class (project position, after merges) and its posterior. */
  bySample: Map<number, { classIdx: number; posterior: number | null }>;
  annotators: AnnotatorQuality[];
  multiLabeled: number;
  differsFromMajority: number;
  iterations: number;
  converged: boolean;
  /** False when no sample has labels from two people: nothing to estimate. */
  fitted: boolean;
}

/**
 * Dawid-Skene over a project's event log: each annotator's current label of each sample (after
 * merges). Without any sample labeled by two people there is nothing to fit: each sample's
 * consensus is its current label, with no posterior.
 */
export function projectConsensus(
  events: readonly ProjectEvent[],
  merges: Merges,
  classCount: number,
): ProjectConsensus {
  const active: number[] = [];
  for (let c = 0; c < classCount; c++) if (!merges.has(c)) active.push(c);
  const compact = new Map(active.map((c, k) => [c, k]));
  const K = active.length;
  const states = sampleStates(events);
  const sampleIds: number[] = [];
  const names: string[] = [];
  const nameIdx = new Map<string, number>();
  const obs: Observation[] = [];
  const multi: number[] = [];
  const current = new Map<number, number>();
  for (const [sampleId, s] of states) {
    if (!s.current || s.byAnnotator.size === 0) continue;
    const item = sampleIds.length;
    sampleIds.push(sampleId);
    current.set(sampleId, effectiveClass(merges, s.current.classIdx!));
    if (s.byAnnotator.size >= 2) multi.push(item);
    for (const [name, e] of s.byAnnotator) {
      let a = nameIdx.get(name);
      if (a === undefined) {
        a = names.length;
        names.push(name);
        nameIdx.set(name, a);
      }
      obs.push({ item, annotator: a, label: compact.get(effectiveClass(merges, e.classIdx!))! });
    }
  }
  const labelsOf = new Array<number>(names.length).fill(0);
  const sharedOf = new Array<number>(names.length).fill(0);
  const isMulti = new Uint8Array(sampleIds.length);
  for (const i of multi) isMulti[i] = 1;
  for (const o of obs) {
    labelsOf[o.annotator] = labelsOf[o.annotator]! + 1;
    if (isMulti[o.item]) sharedOf[o.annotator] = sharedOf[o.annotator]! + 1;
  }
  const order = names.map((_, a) => a).sort((x, y) => names[x]!.localeCompare(names[y]!));
  if (multi.length === 0 || K < 2) {
    return {
      bySample: new Map(
        [...current.entries()].map(([id, c]) => [id, { classIdx: c, posterior: null }]),
      ),
      annotators: order.map((a) => ({
        name: names[a]!,
        labels: labelsOf[a]!,
        shared: 0,
        accuracy: null,
        confusion: null,
      })),
      multiLabeled: 0,
      differsFromMajority: 0,
      iterations: 0,
      converged: true,
      fitted: false,
    };
  }
  const r = dawidSkene(obs, sampleIds.length, names.length, K, { fit: multi });
  const est = annotatorEstimates(r, obs, names.length, K, (i) => isMulti[i] === 1);
  const mv = majorityVote(obs, sampleIds.length, K);
  let differs = 0;
  for (const i of multi) if (mv[i] !== r.consensus[i]) differs++;
  const bySample = new Map<number, { classIdx: number; posterior: number | null }>();
  sampleIds.forEach((id, i) => {
    const k = r.consensus[i]!;
    bySample.set(id, { classIdx: active[k]!, posterior: r.posteriors[i * K + k]! });
  });
  return {
    bySample,
    annotators: order.map((a) => {
      const c = est.confusion[a];
      return {
        name: names[a]!,
        labels: labelsOf[a]!,
        shared: sharedOf[a]!,
        accuracy: sharedOf[a]! > 0 ? est.accuracy[a]! : null,
        confusion:
          sharedOf[a]! > 0 && c
            ? { trueClass: active[c.trueClass]!, labeledAs: active[c.labeledAs]!, count: c.count }
            : null,
      };
    }),
    multiLabeled: multi.length,
    differsFromMajority: differs,
    iterations: r.iterations,
    converged: r.converged,
    fitted: true,
  };
}
