/**
 * The model in the loop of an annotation project (runs in the ML worker): the cold-start batch
 * when there are too few labels to train on, else a retrain on the labels so far, the accuracy
 * estimate on the held-out labels, the model's guesses, the stability statistic for the
 * stopping advice, and the next batch from the project's strategy.
 *
 * Training, prediction and querying use the same building blocks as the study engine
 * (createNetwork, trainNetwork, predict, createModelView, the strategy catalog); the difference
 * is only where labels come from (a person's events instead of ground truth).
 */
import { MIN_HOLDOUT, MIN_LABELS_TO_TRAIN, readProjectSettings } from '../../shared/annotation.ts';
import { confusionMatrix } from '../../shared/metrics.ts';
import { deriveSeed, Rng } from '../../shared/random.ts';
import { initBackend } from '../ml/backend.ts';
import {
  autoCandidates,
  chooseHead,
  fitHead,
  LOGREG,
  viewFor,
  type HeadCandidate,
  type HeadChoice,
} from '../ml/heads/featureModel.ts';
import { createNetwork } from '../ml/models/index.ts';
import type { Network, Normalization } from '../ml/models/network.ts';
import type { Dataset } from '../ml/types.ts';
import { getStrategy, resolveParams } from '../ml/strategies/catalog.ts';
import { markTensors, tensorsLeftSince } from '../ml/training/tensorLeaks.ts';
import { kCenterGreedy, gatherRows } from '../ml/strategies/geometry.ts';
import { createModelView } from '../ml/training/modelView.ts';
import { computeNormalization } from '../ml/training/normalization.ts';
import { predict } from '../ml/training/predict.ts';
import { trainNetwork, TrainingCancelled } from '../ml/training/train.ts';
import {
  classState,
  effectiveClass,
  labeledCount,
  listTrainings,
  predictions as storedPredictions,
  projectEvents,
  recordBatch,
  recordTraining,
  type PredictionInput,
} from '../store/annotation.ts';
import type { Store } from '../store/store.ts';
import { labelFreeFeatures, loadPool, type PoolData } from './data.ts';
import { typiclust } from './coldStart.ts';
import { poolFeatureKey } from './featureMemo.ts';
import { loadPoolFeatures, type PoolFeatures } from './features.ts';
import { COLD_START_METHOD } from './projects.ts';
import { sampleStates } from './queue.ts';
import { cohenKappa, isHoldout, restEstimate, wilson, type ConfidenceFacts } from './stopping.ts';

export type TrainPhase = 'loading' | 'training' | 'querying';

/** Project models that are heads on feature vectors (the rest train on pixels). */
export function isFeatureModel(model: string): boolean {
  return model === 'auto' || model === 'linear';
}

export interface TrainJobOptions {
  signal?: AbortSignal;
  progress?: (p: { phase: TrainPhase; done: number; total: number }) => void;
  /** Pool pixels already loaded (the worker keeps them between retrains). */
  cache?: Map<string, PoolData>;
  /** Pool features already computed (the worker keeps them between retrains). */
  featureCache?: Map<string, PoolFeatures>;
  /**
   * A cold start on an image folder of more samples than this, whose features are not in memory
   * yet, describes a random sample of this many (default COLD_START_SAMPLE).
   */
  coldStartSample?: number;
}

/**
 * Images a project's first batch is chosen from on a large image folder. Describing 60,000
 * images took 36 s on 2 cores before anyone could label; the first batch needs only to cover the
 * kinds of images in the pool, which a random 10,000 show (TypiClust clusters them), in about 7 s.
 * The first retrain describes the whole pool.
 */
export const COLD_START_SAMPLE = 10_000;

export interface TrainJobResult {
  projectId: number;
  batchId: number;
  trainingId: number | null;
  coldStart: boolean;
  labels: number;
  accuracy: number | null;
  missing: number;
}

const TRAIN_BATCH = 32;
const TOP_GUESSES = 3;

async function pool(store: Store, datasetId: number, side: number, opts: TrainJobOptions) {
  const key = `${store.file}|${datasetId}|${side}`;
  const hit = opts.cache?.get(key);
  if (hit) return hit;
  const loaded = await loadPool(store, datasetId, side, (done, total) =>
    opts.progress?.({ phase: 'loading', done, total }),
  );
  opts.cache?.set(key, loaded);
  return loaded;
}

async function poolFeatures(
  store: Store,
  datasetId: number,
  settings: ReturnType<typeof readProjectSettings>,
  opts: TrainJobOptions,
  coldStart = false,
): Promise<PoolFeatures> {
  const key = poolFeatureKey(store, datasetId, settings.features);
  const hit = opts.featureCache?.get(key);
  if (hit) return hit;
  const loaded = await loadPoolFeatures(store, datasetId, settings.features, {
    signal: opts.signal,
    progress: (done, total) => opts.progress?.({ phase: 'loading', done, total }),
    ...(coldStart
      ? {
          sample: {
            size: opts.coldStartSample ?? COLD_START_SAMPLE,
            seed: deriveSeed(settings.seed, 'cold-start-sample'),
          },
        }
      : {}),
  });
  // A sample is not kept in memory: the retrains need every image's features.
  if (loaded.sampledFrom) return loaded;
  opts.featureCache?.set(key, loaded);
  return loaded;
}

/** Rows (standardised features) for the cold start's k-center. */
function standardisedRows(d: Dataset, norm: Normalization): { data: Float32Array; dim: number } {
  const dim = d.sampleShape[0]!;
  const x = d.x as Float32Array;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const j = i % dim;
    out[i] = (x[i]! - norm.mean[j]!) / norm.std[j]!;
  }
  return { data: out, dim };
}

/**
 * Cold start: TypiClust or k-center on label-free features (or random), continuing from labeled
 * samples.
 */
export async function coldStartBatch(
  data: PoolData | { features: { data: Float32Array; dim: number }; sampleIds: Int32Array },
  labeledRows: readonly number[],
  k: number,
  method: 'TypiClust' | 'KCenter' | 'Random',
  seed: number,
  /** Unlabeled rows never to pick (the audit share), which cover nothing either. */
  exclude: readonly number[] = [],
  opts: { signal?: AbortSignal; progress?: (done: number, total: number) => void } = {},
): Promise<Int32Array> {
  const isLabeled = new Uint8Array(data.sampleIds.length);
  for (const r of labeledRows) isLabeled[r] = 1;
  const excluded = new Uint8Array(data.sampleIds.length);
  for (const r of exclude) excluded[r] = 1;
  const cand: number[] = [];
  for (let r = 0; r < isLabeled.length; r++) if (!isLabeled[r] && !excluded[r]) cand.push(r);
  const rng = new Rng(deriveSeed(seed, 'cold-start', labeledRows.length));
  if (method === 'Random') return rng.sample(cand, k);
  const { data: feats, dim } = 'features' in data ? data.features : labelFreeFeatures(data.dataset);
  if (method === 'TypiClust') {
    return typiclust(feats, isLabeled.length, dim, labeledRows, Math.min(k, cand.length), rng, {
      signal: opts.signal,
      exclude: excluded,
      progress: opts.progress,
    });
  }
  const candFeats = gatherRows(feats, dim, cand);
  const fixed = gatherRows(feats, dim, labeledRows);
  const picks = kCenterGreedy(
    candFeats,
    cand.length,
    fixed,
    labeledRows.length,
    dim,
    Math.min(k, cand.length),
    rng,
  );
  return Int32Array.from(picks, (p) => cand[p]!);
}

/**
 * The audit stream: a fixed uniform-random share of the pool (chosen by a hash of the sample id,
 * `holdoutFraction` of it) is never proposed by a strategy; instead its samples are interleaved
 * into every batch, in a fixed random order, at that share. Their labels estimate the model's
 * accuracy: they were drawn at random, not by the strategy, so the estimate is right on average
 * for the pool (Kossen et al. 2021 show how far strategy-chosen test labels can mislead).
 */
export interface AuditPlan {
  /** Pool rows of the audit share, in the order they are proposed. */
  order: number[];
  isAudit: Uint8Array;
}

export function auditPlan(sampleIds: Int32Array, seed: number, fraction: number): AuditPlan {
  const isAudit = new Uint8Array(sampleIds.length);
  const order: number[] = [];
  for (let r = 0; r < sampleIds.length; r++) {
    if (isHoldout(sampleIds[r]!, seed, fraction)) {
      isAudit[r] = 1;
      order.push(r);
    }
  }
  new Rng(deriveSeed(seed, 'audit-order')).shuffle(order);
  return { order, isAudit };
}

/**
 * A batch of `size`: `picks` from the strategy with the next unlabeled audit rows interleaved at
 * evenly spaced places, `fraction` of the batch (at least one in a batch of two or more while
 * audit rows remain).
 */
export function withAudit(
  picks: ArrayLike<number>,
  plan: AuditPlan,
  isLabeled: (row: number) => boolean,
  size: number,
  fraction: number,
): { rows: number[]; audit: number } {
  const want = size >= 2 ? Math.max(1, Math.round(size * fraction)) : 0;
  const audit: number[] = [];
  for (const r of plan.order) {
    if (audit.length >= want) break;
    if (!isLabeled(r)) audit.push(r);
  }
  const rest = Array.from(picks).slice(0, Math.max(0, size - audit.length));
  const rows: number[] = [];
  const every = audit.length > 0 ? (rest.length + audit.length) / audit.length : Infinity;
  let a = 0;
  let p = 0;
  for (let i = 0; i < rest.length + audit.length; i++) {
    // Audit rows sit at positions every, 2 every, ... (rounded), so each part of the batch has some.
    if (a < audit.length && i >= Math.round((a + 0.5) * every) - 1) rows.push(audit[a++]!);
    else if (p < rest.length) rows.push(rest[p++]!);
    else rows.push(audit[a++]!);
  }
  return { rows, audit: audit.length };
}

/**
 * Folds of the labels for a feature model's out-of-fold guesses. The estimate is of the model fitted
 * on every label, and a fold's head sees (k - 1) / k of them: on the steep part of a learning
 * curve 5 folds (80%) made the estimate a few points pessimistic (NEU, 120 labels: the shown
 * interval ended at 96.1% for a real 96.2%). Logistic regression fits in milliseconds, so up to
 * 500 labels it gets 20 folds (95%), then 10. The MLP head takes 100 Adam steps per fit (about
 * half a second at 200 labels), so it keeps 5: 20 of its fits made a retrain at 200 labels on a
 * 60,000-image pool take 15 s.
 */
export function evalFolds(labels: number, head: 'linear' | 'mlp' = 'linear'): number {
  if (head === 'mlp') return Math.min(labels, 5);
  return Math.min(labels, labels <= 500 ? 20 : 10);
}

/**
 * Out-of-fold guesses (class positions) for labeled rows, with the guessing head's probability of
 * its guess: K folds, each guessed by the head fitted on the other folds.
 */
async function outOfFold(
  feats: PoolFeatures,
  headId: string,
  rows: number[],
  labels: number[],
  active: number[],
  seed: number,
  signal: AbortSignal | undefined,
): Promise<{ guess: number[]; confidence: number[] }> {
  const candidate = autoCandidates(feats.data.blocks).find((c) => c.id === headId) ?? LOGREG;
  const view = viewFor(feats.data, candidate);
  const k = evalFolds(rows.length, candidate.kind === 'linear' ? 'linear' : 'mlp');
  const order = new Rng(seed).shuffle(Array.from({ length: rows.length }, (_, i) => i));
  const fold = new Int32Array(rows.length);
  order.forEach((i, j) => (fold[i] = j % k));
  const out = new Array<number>(rows.length).fill(-1);
  const confidence = new Array<number>(rows.length).fill(0);
  const C = active.length;
  for (let f = 0; f < k; f++) {
    const trainR: number[] = [];
    const trainL: number[] = [];
    const test: number[] = [];
    rows.forEach((r, i) => {
      if (fold[i] === f) test.push(i);
      else {
        trainR.push(r);
        trainL.push(labels[i]!);
      }
    });
    if (test.length === 0 || new Set(trainL).size < 2) continue;
    const { net } = await fitHead(
      view,
      candidate,
      Int32Array.from(trainR),
      Int32Array.from(trainL),
      C,
      deriveSeed(seed, 'fold', f),
      signal,
    );
    try {
      const { probs } = await predict(
        net,
        view.pool,
        Int32Array.from(test, (i) => rows[i]!),
        view.norm,
        { signal },
      );
      test.forEach((i, j) => {
        let best = 0;
        for (let c = 1; c < C; c++) if (probs[j * C + c]! > probs[j * C + best]!) best = c;
        out[i] = active[best]!;
        confidence[i] = probs[j * C + best]!;
      });
    } finally {
      net.dispose();
    }
  }
  return { guess: out, confidence };
}

/** How the first batch was chosen, in one sentence for the labeling screen. */
function coldStartNote(method: 'TypiClust' | 'KCenter' | 'Random', features?: string): string {
  const on = features
    ? `the ${features}, standardised over the pool`
    : 'label-free features (each image shrunk to 8x8 pixels per channel, standardised)';
  if (method === 'TypiClust') {
    return `Cold start: typical-cluster sampling (TypiClust) on ${on}: the pool is clustered, and each pick is the most typical image of the largest cluster without a label yet, so the first batch covers the kinds of images in the pool.`;
  }
  if (method === 'KCenter') {
    return features
      ? `Cold start: greedy k-center (farthest-first) on ${on}, so the first batch covers the look of the whole pool.`
      : COLD_START_METHOD;
  }
  return 'Cold start: a random sample of the pool (chosen in the project settings).';
}

/** Run one cold start or retrain for a project and record its batch (and training). */
export async function runProjectTraining(
  store: Store,
  projectId: number,
  opts: TrainJobOptions = {},
): Promise<TrainJobResult> {
  const project = store.getProject(projectId);
  if (!project) throw new Error(`There is no project ${projectId}`);
  const settings = readProjectSettings(project.settings);
  const featureModel = isFeatureModel(settings.model);
  const pixels = featureModel
    ? null
    : await pool(store, project.datasetId, settings.modelSide, opts);
  // Fewer labels than a model needs: a cold start, which on a large image folder is chosen from
  // a sample of it (poolFeatures).
  const coldStart = labeledCount(store, projectId) < MIN_LABELS_TO_TRAIN;
  const feats = featureModel
    ? await poolFeatures(store, project.datasetId, settings, opts, coldStart)
    : null;
  const data = (pixels ?? feats)!;
  if (data.sampleIds.length === 0) {
    throw new Error(
      `None of the ${data.missing} samples of the project's dataset could be read from its source`,
    );
  }
  const { classNames, merges } = classState(store, projectId);
  const labels = new Map<number, number>();
  for (const [sampleId, s] of sampleStates(projectEvents(store, projectId))) {
    if (s.current && data.rowOf.has(sampleId))
      labels.set(sampleId, effectiveClass(merges, s.current.classIdx!));
  }
  // Image loading cannot stop half-way; a cancel that came meanwhile stops here (the pixels stay
  // cached for the next retrain).
  stopIfCancelled(opts.signal);
  const labeledRows = [...labels.keys()].map((id) => data.rowOf.get(id)!);
  const distinct = new Set(labels.values());
  const audit = auditPlan(data.sampleIds, settings.seed, settings.holdoutFraction);
  const isLabeledRow = new Uint8Array(data.sampleIds.length);
  for (const r of labeledRows) isLabeledRow[r] = 1;

  if (labels.size < MIN_LABELS_TO_TRAIN || distinct.size < 2) {
    const rows = await coldStartBatch(
      feats
        ? {
            features: standardisedRows(feats.data.pool, feats.data.norm),
            sampleIds: feats.sampleIds,
          }
        : pixels!,
      labeledRows,
      settings.batchSize,
      settings.coldStart,
      settings.seed,
      audit.order.filter((r) => !isLabeledRow[r]),
      {
        signal: opts.signal,
        progress: (done, total) => opts.progress?.({ phase: 'querying', done, total }),
      },
    );
    const batch = withAudit(
      rows,
      audit,
      (r) => isLabeledRow[r] === 1,
      settings.batchSize,
      settings.holdoutFraction,
    );
    stopIfCancelled(opts.signal);
    const batchId = recordBatch(store, {
      projectId,
      trainingId: null,
      strategy: settings.coldStart === 'Random' ? 'Random' : `${settings.coldStart} (label-free)`,
      note:
        coldStartNote(settings.coldStart, feats?.data.description) +
        (feats?.sampledFrom
          ? ` It was chosen among a random ${feats.sampleIds.length.toLocaleString('en-US')} of the pool's ${feats.sampledFrom.toLocaleString('en-US')} images (describing all of them takes longer; the first retrain does).`
          : ''),
      sampleIds: batch.rows.map((r) => data.sampleIds[r]!),
    });
    return {
      projectId,
      batchId,
      trainingId: null,
      coldStart: true,
      labels: labels.size,
      accuracy: null,
      missing: data.missing,
    };
  }

  const strategy = getStrategy(settings.strategy);
  if (strategy.trainingPlugin) {
    throw new Error(
      `Strategy ${strategy.id} changes how the model trains, which annotation projects do not support; choose another strategy (Entropy, Margin, BADGE, ...)`,
    );
  }
  const params = resolveParams(strategy, {});
  await initBackend();
  const tensors = markTensors();

  // Outputs only for classes still in use (merged-away classes have no labels of their own).
  const active = classNames.map((_, i) => i).filter((i) => !merges.has(i));
  const compact = new Map(active.map((c, k) => [c, k]));
  const trainRows: number[] = [];
  const trainLabels: number[] = [];
  const holdRows: number[] = [];
  const holdLabels: number[] = [];
  for (const [sampleId, c] of labels) {
    const held = isHoldout(sampleId, settings.seed, settings.holdoutFraction);
    (held ? holdRows : trainRows).push(data.rowOf.get(sampleId)!);
    (held ? holdLabels : trainLabels).push(compact.get(c)!);
  }
  if (holdRows.length < MIN_HOLDOUT || new Set(trainLabels).size < 2) {
    // Too few to hold out: train on everything and say the accuracy is not known yet.
    // Loops, not push(...): a project can hold 100,000 labels, over the argument limit.
    for (const r of holdRows.splice(0)) trainRows.push(r);
    for (const l of holdLabels.splice(0)) trainLabels.push(l);
  }

  const trainCount = trainings(store, projectId) + 1;
  const started = performance.now();
  const unlabeledRows: number[] = [];
  for (let r = 0; r < data.sampleIds.length; r++)
    if (!labels.has(data.sampleIds[r]!)) unlabeledRows.push(r);
  let net: Network;
  let modelData: Dataset;
  let norm: Normalization;
  let head: { id: string; choice?: HeadChoice; cvLabels: number } | undefined;
  if (feats) {
    const pick = await projectHead(
      store,
      projectId,
      settings.model,
      feats,
      trainRows,
      trainLabels,
      active.length,
      deriveSeed(settings.seed, 'head', trainCount),
      opts.signal,
    );
    const view = viewFor(feats.data, pick.candidate);
    opts.progress?.({ phase: 'training', done: 0, total: 1 });
    // A head fits in a fraction of a second: the model the person sees learns from every label,
    // evaluation labels included; the estimate comes from folds of them (below).
    net = (
      await fitHead(
        view,
        pick.candidate,
        Int32Array.from([...trainRows, ...holdRows]),
        Int32Array.from([...trainLabels, ...holdLabels]),
        active.length,
        deriveSeed(settings.seed, 'head-all', trainCount),
        opts.signal,
      )
    ).net;
    opts.progress?.({ phase: 'training', done: 1, total: 1 });
    modelData = view.pool;
    norm = view.norm;
    head = {
      id: pick.candidate.id,
      cvLabels: pick.cvLabels,
      ...(pick.choice ? { choice: pick.choice } : {}),
    };
  } else {
    modelData = pixels!.dataset;
    norm = computeNormalization(modelData);
    net = createNetwork({
      kind: settings.model as 'cnn' | 'mlp',
      inputShape: modelData.sampleShape,
      numClasses: active.length,
      seed: deriveSeed(settings.seed, 'init', trainCount),
    });
  }
  try {
    if (!feats) {
      await trainNetwork(net, modelData, {
        indices: Int32Array.from(trainRows),
        labels: Int32Array.from(trainLabels),
        epochs: settings.epochs,
        batchSize: TRAIN_BATCH,
        learningRate: 1e-3,
        seed: deriveSeed(settings.seed, 'train', trainCount),
        norm,
        augment: 'default',
        signal: opts.signal,
        plugins: [],
        unlabeled: Int32Array.from(unlabeledRows),
        onEpoch: (p) => opts.progress?.({ phase: 'training', done: p.epoch, total: p.epochs }),
      });
    }
    const trainMs = performance.now() - started;

    // The model's guesses on every pool sample.
    opts.progress?.({ phase: 'querying', done: 0, total: 1 });
    const all = Int32Array.from({ length: data.sampleIds.length }, (_, r) => r);
    const C = active.length;
    const toGuesses = (probs: Float32Array) => {
      const guess = new Int32Array(all.length);
      const confidence = new Float64Array(all.length);
      const preds: PredictionInput[] = [];
      for (let r = 0; r < all.length; r++) {
        const row = Array.from(probs.subarray(r * C, (r + 1) * C));
        const order = row.map((p, k) => [k, p] as const).sort((a, b) => b[1] - a[1]);
        guess[r] = active[order[0]![0]]!;
        confidence[r] = order[0]![1];
        preds.push({
          sampleId: data.sampleIds[r]!,
          classIdx: guess[r]!,
          top: order
            .slice(0, TOP_GUESSES)
            .map(([k, p]) => [active[k]!, Math.round(p * 1e4) / 1e4] as [number, number]),
        });
      }
      return { guess, confidence, preds };
    };
    const { guess, confidence, preds } = toGuesses(
      (await predict(net, modelData, all, norm, { signal: opts.signal })).probs,
    );
    // The evaluation labels' guesses. Pixel models: the model above, trained without them.
    // Feature models: out-of-fold guesses for every label (evalFolds: each guessed by a head fitted
    // on all the other labels), so the estimate is of a model like the one the person sees.
    let evalGuess: number[] = holdRows.map((r) => guess[r]!);
    let restCorrection: {
      labeled: number;
      correctOutOfFold: number;
      confidence: ConfidenceFacts;
    } | null = null;
    if (feats && head && holdRows.length > 0) {
      const rows = [...trainRows, ...holdRows];
      const labelsAll = [...trainLabels, ...holdLabels];
      const oof = await outOfFold(
        feats,
        head.id,
        rows,
        labelsAll,
        active,
        deriveSeed(settings.seed, 'eval-folds', trainCount),
        opts.signal,
      );
      evalGuess = oof.guess.slice(trainRows.length);
      let right = 0;
      oof.guess.forEach((g, i) => {
        if (g === active[labelsAll[i]!]) right++;
      });
      const evalConfidence = oof.confidence.slice(trainRows.length);
      restCorrection = {
        labeled: rows.length,
        correctOutOfFold: right,
        confidence: {
          evalRight: evalGuess.map((g, k) => (g === active[holdLabels[k]!] ? 1 : 0)),
          evalConfidence,
          labeledConfidence: oof.confidence.reduce((a, b) => a + b, 0),
          restConfidence: unlabeledRows.reduce((a, r) => a + confidence[r]!, 0),
        },
      };
    }
    let correct = 0;
    holdRows.forEach((_, k) => {
      if (evalGuess[k] === active[holdLabels[k]!]) correct++;
    });
    // Evaluation labels x guesses over the project's class positions, for per-class recall.
    const confusion =
      holdRows.length > 0
        ? confusionMatrix(
            holdLabels.map((k) => active[k]!),
            evalGuess,
            classNames.length,
          )
        : null;
    // The evaluation labels are a random sample of the pool: they estimate the pool's accuracy.
    // What a person wants is the accuracy on the images not yet labeled, which the strategy has
    // left easier (it took the hard ones). Pool = labeled + rest, and the labeled part's
    // out-of-fold correctness is known, so rest = (N x pool - labeled correct) / (N - labeled).
    // Feature models add the model's confidence on every image (prediction-powered, see
    // restEstimate): the evaluation labels then measure only how far the confidence is off.
    const poolInterval = holdRows.length > 0 ? wilson(correct, holdRows.length) : null;
    const poolAccuracy = holdRows.length > 0 ? correct / holdRows.length : null;
    const N = data.sampleIds.length;
    const rest =
      restCorrection && holdRows.length > 0
        ? restEstimate({
            pool: N,
            labeled: restCorrection.labeled,
            labeledCorrect: restCorrection.correctOutOfFold,
            evalCorrect: correct,
            evalCount: holdRows.length,
            confidence: restCorrection.confidence,
          })
        : null;
    const accuracy = rest ? rest.accuracy : poolAccuracy;
    const interval = rest ? { low: rest.low, high: rest.high } : poolInterval;

    // Stabilising predictions: kappa with the previous model on the fixed stop set.
    const stopRows = new Rng(deriveSeed(settings.seed, 'stop-set')).sample(
      all,
      Math.min(settings.stopSetSize, all.length),
    );
    const previous = storedPredictions(store, projectId);
    const prev: number[] = [];
    const next: number[] = [];
    for (const r of stopRows) {
      const p = previous.get(data.sampleIds[r]!);
      if (!p) continue;
      prev.push(effectiveClass(merges, p.classIdx));
      next.push(guess[r]!);
    }
    const stopKappa = prev.length > 0 ? cohenKappa(prev, next) : null;

    // The next batch from the project's strategy.
    const queryStart = performance.now();
    const labeledAll = [...trainRows, ...holdRows];
    const labeledLabels = [...trainLabels, ...holdLabels];
    const candidates = unlabeledRows.filter((r) => audit.isAudit[r] === 0);
    const auditLeft = unlabeledRows.length - candidates.length;
    const auditWanted =
      settings.batchSize >= 2 && auditLeft > 0
        ? Math.min(
            auditLeft,
            Math.max(1, Math.round(settings.batchSize * settings.holdoutFraction)),
          )
        : 0;
    const budget = Math.min(settings.batchSize - auditWanted, candidates.length);
    let selected: ArrayLike<number> = [];
    if (budget > 0) {
      const result = await strategy.query({
        pool: modelData,
        labeled: Int32Array.from(labeledAll),
        labels: Int32Array.from(labeledLabels),
        unlabeled: Int32Array.from(candidates),
        budget,
        seed: deriveSeed(settings.seed, strategy.id, 'query', trainCount),
        round: trainCount,
        model: createModelView(net, modelData, norm, { signal: opts.signal }),
        params,
        signal: opts.signal,
      });
      selected = result.selected;
    }
    const queryMs = performance.now() - queryStart;
    const batch = withAudit(
      selected,
      audit,
      (r) => isLabeledRow[r] === 1,
      settings.batchSize,
      settings.holdoutFraction,
    );
    // The last point a cancel can stop: what follows records the model and batch at once.
    stopIfCancelled(opts.signal);
    const { trainingId, batchId } = recordTraining(
      store,
      {
        projectId,
        labels: labels.size,
        trainCount: trainRows.length,
        holdoutCount: holdRows.length,
        accuracy,
        accuracyLow: interval?.low ?? null,
        accuracyHigh: interval?.high ?? null,
        stopKappa: stopKappa === null ? null : Math.max(-1, Math.min(1, stopKappa)),
        stopSet: stopRows.length,
        details: {
          strategy: strategy.id,
          model: settings.model,
          ...(feats
            ? {
                features: feats.data.description,
                featureMs: Math.round(feats.ms),
                head: head!.id,
                cvLabels: head!.cvLabels,
                ...(head!.choice
                  ? {
                      auto: {
                        folds: head!.choice.folds,
                        scores: head!.choice.scores.map((x) => ({
                          id: x.id,
                          balancedAccuracy: Math.round(x.balancedAccuracy * 1e4) / 1e4,
                        })),
                        ...(head!.choice.note ? { note: head!.choice.note } : {}),
                      },
                    }
                  : {}),
              }
            : { epochs: settings.epochs }),
          inputShape: modelData.sampleShape,
          stopCompared: prev.length,
          ...(confusion ? { confusion } : {}),
          ...(restCorrection && poolAccuracy !== null
            ? {
                estimate: {
                  of: 'images not yet labeled',
                  poolAccuracy,
                  poolLow: poolInterval!.low,
                  poolHigh: poolInterval!.high,
                  labeledCorrectOutOfFold: restCorrection.correctOutOfFold,
                  labeled: restCorrection.labeled,
                  pool: N,
                  ...(rest
                    ? {
                        method: rest.method,
                        meanConfidenceRest:
                          Math.round(
                            (restCorrection.confidence.restConfidence /
                              Math.max(1, N - restCorrection.labeled)) *
                              1e4,
                          ) / 1e4,
                      }
                    : {}),
                },
              }
            : {}),
        },
        trainMs,
        queryMs,
      },
      preds,
      {
        strategy: strategy.id,
        note: `Proposed by ${strategy.id} on the model retrained with ${feats ? labeledAll.length : trainRows.length} labels${batch.audit > 0 ? `, with ${batch.audit} random evaluation sample${batch.audit === 1 ? '' : 's'} mixed in` : ''}.`,
        sampleIds: batch.rows.map((r) => data.sampleIds[r]!),
      },
    );
    return {
      projectId,
      batchId,
      trainingId,
      coldStart: false,
      labels: labels.size,
      accuracy,
      missing: data.missing,
    };
  } finally {
    net.dispose();
    const leaked = tensorsLeftSince(tensors);
    if (leaked !== null && leaked > 0)
      process.emitWarning(`Project ${projectId}'s retrain left ${leaked} tensors`);
  }
}

/**
 * Throw TrainingCancelled when the job was cancelled. Checked before anything is recorded, so a
 * cancelled retrain leaves the previous model, its guesses and the queue exactly as they were.
 */
function stopIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TrainingCancelled();
}

function trainings(store: Store, projectId: number): number {
  return listTrainings(store, projectId).length;
}

/**
 * The head a feature-model retrain uses. `linear`: logistic regression. `auto`: cross-validated
 * among the candidates when the training set has grown by a quarter since the last choice (or
 * there was none), else the last winner again: a queue refresh every few labels should not pay
 * for cross-validation each time.
 */
async function projectHead(
  store: Store,
  projectId: number,
  model: string,
  feats: PoolFeatures,
  trainRows: number[],
  trainLabels: number[],
  numClasses: number,
  seed: number,
  signal: AbortSignal | undefined,
): Promise<{ candidate: HeadCandidate; choice?: HeadChoice; cvLabels: number }> {
  if (model !== 'auto') return { candidate: LOGREG, cvLabels: 0 };
  const candidates = autoCandidates(feats.data.blocks);
  const last = listTrainings(store, projectId).at(-1)?.details as
    { head?: string; cvLabels?: number; model?: string } | undefined;
  const previous = candidates.find((c) => c.id === last?.head);
  if (
    previous &&
    last?.model === 'auto' &&
    last.cvLabels &&
    trainRows.length < 1.25 * last.cvLabels
  ) {
    return { candidate: previous, cvLabels: last.cvLabels };
  }
  const choice = await chooseHead(
    feats.data,
    candidates,
    Int32Array.from(trainRows),
    Int32Array.from(trainLabels),
    numClasses,
    seed,
    { signal },
  );
  return { candidate: choice.winner, choice, cvLabels: trainRows.length };
}
