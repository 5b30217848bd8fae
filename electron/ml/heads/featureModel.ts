/**
 * Models on features: a head (logistic regression or a small MLP) trained on an extractor's
 * embedding, and the `auto` model that picks a head by cross-validation on the labeled set.
 *
 * The study engine and annotation projects both go through here: `featureData` turns image
 * datasets into feature datasets (vectors, standardised over the pool), `fitHead` trains one
 * candidate, `chooseHead` cross-validates the candidates and says which won and by how much.
 */
import { deriveSeed, Rng } from '../../../shared/random.ts';
import { createNetwork } from '../models/index.ts';
import type { Network, Normalization } from '../models/network.ts';
import { computeNormalization } from '../training/normalization.ts';
import { predict } from '../training/predict.ts';
import type { Dataset } from '../types.ts';
import type { FeatureBlock, FeatureMatrix } from '../features/types.ts';
import { trainHead } from './train.ts';

/** One head a feature model can use. */
export interface HeadCandidate {
  /** Short stable id shown in reports, e.g. "logreg C=1 (all features)". */
  id: string;
  kind: 'linear' | 'mlp';
  /** Inverse L2 strength (scikit-learn's C). */
  C: number;
  /** MLP hidden widths. */
  hidden?: number[];
  /** MLP dropout before the output layer (kept for MC-dropout strategies). */
  dropout?: number;
  /** Names of the feature blocks used; absent = every column. */
  blocks?: string[];
}

/** Dropout of the MLP head: its MC-dropout passes are what BALD and friends sample. */
export const MLP_HEAD_DROPOUT = 0.5;
export const MLP_HEAD_HIDDEN = [128];

export const LOGREG: HeadCandidate = { id: 'logreg C=1', kind: 'linear', C: 1 };
export const MLP_HEAD: HeadCandidate = {
  id: 'mlp 128',
  kind: 'mlp',
  C: 1,
  hidden: MLP_HEAD_HIDDEN,
  dropout: MLP_HEAD_DROPOUT,
};

/**
 * The candidates `auto` cross-validates: logistic regression at two penalties, the MLP, and,
 * where the extractor has named blocks, logistic regression on the texture blocks alone (on
 * NEU's defects texture carries the classes and the shape block only adds noise at few labels).
 */
export function autoCandidates(blocks: readonly FeatureBlock[]): HeadCandidate[] {
  const out: HeadCandidate[] = [LOGREG, { id: 'logreg C=0.1', kind: 'linear', C: 0.1 }, MLP_HEAD];
  const names = new Set(blocks.map((b) => b.name));
  if (names.has('lbp') && names.has('hog')) {
    const texture = blocks.map((b) => b.name).filter((n) => n !== 'hog');
    out.push({ id: 'logreg C=1 (texture blocks)', kind: 'linear', C: 1, blocks: texture });
  }
  return out;
}

/** A pool and test set as feature vectors, with their normalisation. */
export interface FeatureView {
  pool: Dataset;
  test: Dataset;
  norm: Normalization;
}

/** Feature datasets of a study or project, and the column subsets made from them. */
export interface FeatureData extends FeatureView {
  blocks: FeatureBlock[];
  /** How the features were made, one line. */
  description: string;
  /** Column-subset views by block list, made on first use. */
  views: Map<string, FeatureView>;
}

/** A vector dataset of feature rows, keeping the image dataset's labels, classes and ids. */
export function featureDataset(images: Dataset, m: FeatureMatrix): Dataset {
  if (m.n !== images.y.length) {
    throw new Error(`${images.name}: ${m.n} feature rows for ${images.y.length} images`);
  }
  return {
    name: `${images.name} (features)`,
    x: m.data,
    y: images.y,
    sampleShape: [m.dim],
    classNames: images.classNames,
    ids: images.ids,
  };
}

/** Feature data from the pool's and the test set's matrices; standardised over the pool. */
export function featureData(
  pool: Dataset,
  test: Dataset,
  poolFeatures: FeatureMatrix,
  testFeatures: FeatureMatrix,
  description: string,
): FeatureData {
  if (poolFeatures.dim !== testFeatures.dim) {
    throw new Error(
      `Pool and test features differ in width (${poolFeatures.dim} and ${testFeatures.dim})`,
    );
  }
  const p = featureDataset(pool, poolFeatures);
  const t = featureDataset(test, testFeatures);
  // Labels are not used: the whole pool may take part in the standardisation.
  const norm = computeNormalization(p);
  return { pool: p, test: t, norm, blocks: poolFeatures.blocks, description, views: new Map() };
}

function selectColumns(d: Dataset, cols: Int32Array): Dataset {
  const D = d.sampleShape[0]!;
  const n = d.y.length;
  const x = new Float32Array(n * cols.length);
  const src = d.x as Float32Array;
  for (let i = 0; i < n; i++) {
    const o = i * cols.length;
    const base = i * D;
    for (let k = 0; k < cols.length; k++) x[o + k] = src[base + cols[k]!]!;
  }
  return { ...d, x, sampleShape: [cols.length] };
}

/** The pool, test set and normalisation a candidate sees (its blocks' columns only). */
export function viewFor(data: FeatureData, candidate: HeadCandidate): FeatureView {
  if (!candidate.blocks) return data;
  const key = [...candidate.blocks].sort().join('+');
  const hit = data.views.get(key);
  if (hit) return hit;
  const cols: number[] = [];
  for (const name of candidate.blocks) {
    const b = data.blocks.find((x) => x.name === name);
    if (!b) throw new Error(`The features have no block "${name}"`);
    for (let c = b.start; c < b.end; c++) cols.push(c);
  }
  const idx = Int32Array.from(cols);
  const view: FeatureView = {
    pool: selectColumns(data.pool, idx),
    test: selectColumns(data.test, idx),
    norm: {
      scale: data.norm.scale,
      mean: cols.map((c) => data.norm.mean[c]!),
      std: cols.map((c) => data.norm.std[c]!),
    },
  };
  data.views.set(key, view);
  return view;
}

/** Train a candidate head on labeled pool rows; the caller disposes the network. */
export async function fitHead(
  view: FeatureView,
  candidate: HeadCandidate,
  rows: Int32Array,
  labels: Int32Array,
  numClasses: number,
  seed: number,
  signal?: AbortSignal,
): Promise<{ net: Network; ms: number }> {
  const started = performance.now();
  const net = createNetwork({
    kind: candidate.kind,
    inputShape: view.pool.sampleShape,
    numClasses,
    seed: deriveSeed(seed, 'head-init'),
    hidden: candidate.hidden,
    dropout: candidate.dropout,
  });
  try {
    await trainHead(net, view.pool, {
      indices: rows,
      labels,
      norm: view.norm,
      C: candidate.C,
      seed: deriveSeed(seed, 'head-train'),
      signal,
    });
  } catch (err) {
    net.dispose();
    throw err;
  }
  return { net, ms: performance.now() - started };
}

/** One candidate's cross-validated scores. */
export interface CandidateScore {
  id: string;
  /** Balanced accuracy (mean per-class recall) of the out-of-fold predictions. */
  balancedAccuracy: number;
  accuracy: number;
}

/** What `auto` chose and why. */
export interface HeadChoice {
  winner: HeadCandidate;
  /** Every candidate's score, in candidate order (empty when there was nothing to compare). */
  scores: CandidateScore[];
  folds: number;
  /** Why no cross-validation ran, when it did not. */
  note?: string;
  ms: number;
}

/**
 * Stratified fold of each labeled row (k folds), or -1 for rows of classes with fewer than 2
 * labels: those always train, since a class cannot be predicted from no examples.
 */
export function stratifiedFolds(labels: Int32Array, k: number, rng: Rng): Int32Array {
  const fold = new Int32Array(labels.length).fill(-1);
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => {
    const list = byClass.get(l) ?? [];
    list.push(i);
    byClass.set(l, list);
  });
  let offset = 0;
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(c)!;
    if (rows.length < 2) continue;
    rng.shuffle(rows);
    // Continue the round-robin across classes so small classes do not all land in fold 0.
    rows.forEach((r, j) => (fold[r] = (offset + j) % k));
    offset += rows.length;
  }
  return fold;
}

/**
 * Cross-validate the candidates on the labeled rows and return the best by balanced accuracy
 * (ties: the earlier, simpler candidate). With too few labels to hold any out, the first
 * candidate wins and `note` says why.
 */
export async function chooseHead(
  data: FeatureData,
  candidates: readonly HeadCandidate[],
  rows: Int32Array,
  labels: Int32Array,
  numClasses: number,
  seed: number,
  opts: { folds?: number; signal?: AbortSignal } = {},
): Promise<HeadChoice> {
  const started = performance.now();
  if (candidates.length === 0) throw new Error('chooseHead needs at least one candidate');
  const counts = new Map<number, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const evaluable = [...counts.values()].filter((c) => c >= 2).length;
  // Classes with fewer labels than folds are simply absent from some folds' held-out parts.
  const k = Math.max(2, opts.folds ?? 3);
  if (candidates.length === 1 || evaluable < 2) {
    return {
      winner: candidates[0]!,
      scores: [],
      folds: 0,
      note:
        candidates.length === 1
          ? 'one candidate'
          : 'too few labels per class to cross-validate; the first candidate is used',
      ms: performance.now() - started,
    };
  }
  const fold = stratifiedFolds(labels, k, new Rng(deriveSeed(seed, 'cv-folds')));
  const scores: CandidateScore[] = [];
  for (const cand of candidates) {
    const view = viewFor(data, cand);
    const confusion = new Float64Array(numClasses * numClasses);
    for (let f = 0; f < k; f++) {
      const trainIdx: number[] = [];
      const testIdx: number[] = [];
      fold.forEach((g, i) => (g === f ? testIdx : trainIdx).push(i));
      if (testIdx.length === 0) continue;
      const trRows = Int32Array.from(trainIdx, (i) => rows[i]!);
      const trLabels = Int32Array.from(trainIdx, (i) => labels[i]!);
      if (new Set(trLabels).size < 2) continue;
      const { net } = await fitHead(
        view,
        cand,
        trRows,
        trLabels,
        numClasses,
        deriveSeed(seed, 'cv', f),
        opts.signal,
      );
      try {
        const teRows = Int32Array.from(testIdx, (i) => rows[i]!);
        const { probs } = await predict(net, view.pool, teRows, view.norm, { signal: opts.signal });
        testIdx.forEach((i, j) => {
          let best = 0;
          for (let c = 1; c < numClasses; c++)
            if (probs[j * numClasses + c]! > probs[j * numClasses + best]!) best = c;
          const cell = labels[i]! * numClasses + best;
          confusion[cell] = confusion[cell]! + 1;
        });
      } finally {
        net.dispose();
      }
    }
    scores.push({ id: cand.id, ...scoreConfusion(confusion, numClasses) });
  }
  let best = 0;
  for (let i = 1; i < scores.length; i++) {
    if (scores[i]!.balancedAccuracy > scores[best]!.balancedAccuracy + 1e-9) best = i;
  }
  return { winner: candidates[best]!, scores, folds: k, ms: performance.now() - started };
}

function scoreConfusion(
  confusion: Float64Array,
  C: number,
): { balancedAccuracy: number; accuracy: number } {
  let correct = 0;
  let total = 0;
  let recallSum = 0;
  let classes = 0;
  for (let t = 0; t < C; t++) {
    let rowSum = 0;
    for (let p = 0; p < C; p++) rowSum += confusion[t * C + p]!;
    if (rowSum === 0) continue;
    classes++;
    recallSum += confusion[t * C + t]! / rowSum;
    correct += confusion[t * C + t]!;
    total += rowSum;
  }
  return {
    balancedAccuracy: classes > 0 ? recallSum / classes : 0,
    accuracy: total > 0 ? correct / total : 0,
  };
}
