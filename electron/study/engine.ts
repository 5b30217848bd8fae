import { deriveSeed, Rng } from '../../shared/random.ts';
import {
  buildReport,
  type RoundModel as ReportedModel,
  type RunRecord,
  type StudyReport,
} from '../../shared/report.ts';
import {
  checkAgainstPool,
  FEATURE_MODELS,
  formatIssues,
  roundBatch,
  roundCount,
  StudyConfigSchema,
  type StudyConfig,
  type StudyConfigInput,
} from '../../shared/study.ts';
import { dirname, join } from 'node:path';
import { describeFeatures, type FeatureSpec } from '../../shared/features.ts';
import { initBackend, type BackendChoice } from '../ml/backend.ts';
import { computeFeatureSets } from '../ml/features/compute.ts';
import { datasetSource } from '../ml/features/source.ts';
import {
  autoCandidates,
  chooseHead,
  featureData,
  fitHead,
  LOGREG,
  MLP_HEAD,
  viewFor,
  type FeatureData,
  type FeatureView,
  type HeadChoice,
} from '../ml/heads/featureModel.ts';
import { datasetFingerprint, loadDataset } from '../ml/datasets/index.ts';
import { createNetwork } from '../ml/models/index.ts';
import type { Network, Normalization } from '../ml/models/network.ts';
import { getStrategy, resolveParams } from '../ml/strategies/catalog.ts';
import type { ParamValue, Strategy } from '../ml/strategies/types.ts';
import { createModelView } from '../ml/training/modelView.ts';
import { computeNormalization } from '../ml/training/normalization.ts';
import type { TrainingPlugin } from '../ml/training/plugin.ts';
import { evaluate } from '../ml/training/predict.ts';
import { markTensors, tensorsLeftSince } from '../ml/training/tensorLeaks.ts';
import { trainNetwork, TrainingCancelled } from '../ml/training/train.ts';
import { isImageDataset, type Dataset, type DatasetSplit } from '../ml/types.ts';
import type { Store } from '../store/store.ts';
import type { RoundLabelNoise } from '../../shared/labelQuality.ts';
import { findLabelIssues, outOfFoldProbs } from '../annotation/suspects.ts';
import { nearestClassMap, noisyLabels, type NoiseKind } from './labelNoise.ts';

/** Progress of a study, for progress bars and the app's run monitor. */
export type StudyEvent =
  | { type: 'dataset'; description: string; pool: number; test: number }
  | { type: 'features'; phase: string; done: number; total: number; description: string }
  | {
      type: 'run-start';
      strategy: string;
      repeat: number;
      runIndex: number;
      runCount: number;
      /** Rounds already recorded; equal to `rounds` when the run is complete. */
      resumedAt: number;
      /** Rounds of a complete run, the initial seed's included. */
      rounds: number;
    }
  | {
      type: 'round';
      strategy: string;
      repeat: number;
      round: number;
      rounds: number;
      labeled: number;
      accuracy: number;
      trainMs: number;
      queryMs: number;
    }
  | {
      type: 'epoch';
      strategy: string;
      repeat: number;
      round: number;
      epoch: number;
      epochs: number;
      loss: number;
    }
  | { type: 'run-end'; strategy: string; repeat: number; status: 'done' | 'cancelled' | 'failed' };

export class StudyCancelled extends Error {
  constructor() {
    super('The study was cancelled; every completed round is stored and --resume continues it.');
    this.name = 'StudyCancelled';
  }
}

/** Validate a study's settings without loading data: unknown strategies, impossible numbers. */
export function validateStudyConfig(input: StudyConfigInput): StudyConfig {
  const parsed = StudyConfigSchema.safeParse(input);
  if (!parsed.success) throw new Error(`Invalid study settings: ${formatIssues(parsed.error)}`);
  const cfg = parsed.data;
  const seen = new Set<string>();
  for (const id of cfg.strategies) {
    if (seen.has(id)) throw new Error(`Invalid study settings: strategy ${id} is listed twice`);
    seen.add(id);
    const strategy = getStrategy(id);
    resolveParams(strategy, cfg.strategyParams[id] ?? {});
    const refusal = usesFeatures(cfg) ? featureModelRefusal(strategy) : null;
    if (refusal) throw new Error(`Invalid study settings: ${refusal}`);
  }
  for (const id of Object.keys(cfg.strategyParams)) {
    if (!seen.has(id))
      throw new Error(
        `Invalid study settings: parameters given for ${id}, which is not in the study`,
      );
  }
  return cfg;
}

/** Whether the study's model trains on feature vectors (a head) rather than on pixels. */
export function usesFeatures(cfg: Pick<StudyConfig, 'model' | 'features'>): boolean {
  return (FEATURE_MODELS as readonly string[]).includes(cfg.model) || cfg.features !== undefined;
}

/**
 * Why a strategy cannot run on a feature model, or null. Strategies that change how the network
 * trains need a network that learns its representation: a head on fixed features has none.
 */
export function featureModelRefusal(strategy: Strategy): string | null {
  if (!strategy.trainingPlugin) return null;
  return `${strategy.id} changes how the network learns its representation (${strategy.id === 'LPL' ? 'a loss-prediction module on the backbone' : 'a critic trained jointly with the backbone'}); a feature model's head is fitted on fixed features, so ${strategy.id} cannot work with it. Choose --model cnn for ${strategy.id}, or another strategy.`;
}

/** Create a study row for validated settings; returns its id. */
export function createStudy(store: Store, input: StudyConfigInput, name?: string): number {
  const config = validateStudyConfig(input);
  return store.createStudy({
    name: name ?? `${config.dataset}: ${config.strategies.join(', ')}`,
    datasetSpec: config.dataset,
    config,
  });
}

interface LoadedData {
  split: DatasetSplit;
  description: string;
  norm: Normalization;
  poolSampleIds: Int32Array;
  /** Set when the model trains on features: the pool and test set as feature vectors. */
  features?: FeatureData;
}

async function loadStudyData(
  store: Store,
  studyId: number,
  cfg: StudyConfig,
  opts: RunStudyOptions,
  emit: (e: StudyEvent) => void,
): Promise<LoadedData> {
  const loaded = await loadDataset(cfg.dataset, {
    dataDir: cfg.dataDir,
    poolSize: cfg.poolSize,
    testSize: cfg.testSize,
    seed: cfg.seed,
    imbalanced: cfg.imbalanced,
    ...(cfg.imageSize ? { image: { maxSide: cfg.imageSize } } : {}),
  });
  const { train, test } = loaded;
  const problems = checkAgainstPool(cfg, train.y.length);
  if (problems.length > 0) throw new Error(`Invalid study settings: ${problems.join('; ')}`);
  for (let i = 0; i < train.y.length; i++) {
    if (train.y[i]! < 0) {
      throw new Error(
        `The study's oracle is simulated from ground truth, but pool sample ${i} of ${train.name} has no label`,
      );
    }
  }
  // Register the study's samples so simulated label events reference stable sample ids.
  const fingerprint = `${datasetFingerprint(train)}:${datasetFingerprint(test)}`;
  const datasetId = store.importDataset(
    {
      name: loaded.description,
      source: loaded.source,
      format: loaded.format,
      classNames: train.classNames,
      sampleShape: train.sampleShape,
      fingerprint,
    },
    (function* () {
      for (let i = 0; i < train.y.length; i++) {
        yield {
          split: 'train' as const,
          idx: i,
          groundTruth: train.y[i]!,
          sourcePath: train.ids?.[i] ?? null,
        };
      }
      for (let i = 0; i < test.y.length; i++) {
        yield {
          split: 'test' as const,
          idx: i,
          groundTruth: test.y[i]!,
          sourcePath: test.ids?.[i] ?? null,
        };
      }
    })(),
  );
  store.attachStudyDataset(studyId, datasetId);
  const features = usesFeatures(cfg)
    ? await studyFeatures(store, cfg, train, test, opts, emit)
    : undefined;
  return {
    split: loaded,
    description: features
      ? `${loaded.description} Model inputs: ${features.description}.`
      : loaded.description,
    norm: computeNormalization(train),
    poolSampleIds: store.sampleIds(datasetId, 'train'),
    ...(features ? { features } : {}),
  };
}

/** The workspace's feature cache: beside the study database. */
function featureCacheDir(store: Store, opts: RunStudyOptions): string | undefined {
  if (opts.featureCacheDir !== undefined) return opts.featureCacheDir || undefined;
  if (!store.file || store.file === ':memory:') return undefined;
  return join(dirname(store.file), 'features');
}

/**
 * Feature vectors of the pool and test set: an extractor's embedding of image datasets (cached
 * in the workspace), or the columns of a vector dataset as they are.
 */
async function studyFeatures(
  store: Store,
  cfg: StudyConfig,
  train: Dataset,
  test: Dataset,
  opts: RunStudyOptions,
  emit: (e: StudyEvent) => void,
): Promise<FeatureData> {
  if (!isImageDataset(train)) {
    if (cfg.features) {
      throw new Error(
        `Invalid study settings: --features extracts features from images, and ${cfg.dataset} holds feature vectors of ${train.sampleShape[0]} columns already; leave out --features`,
      );
    }
    const columns = (d: Dataset) => ({
      data: d.x as Float32Array,
      n: d.y.length,
      dim: d.sampleShape[0]!,
      blocks: [{ name: 'columns', start: 0, end: d.sampleShape[0]! }],
      spec: { kind: 'descriptors' } as FeatureSpec,
      key: '',
      fromCache: false,
      ms: 0,
    });
    return featureData(train, test, columns(train), columns(test), "the dataset's own columns");
  }
  const spec: FeatureSpec = cfg.features ?? { kind: 'descriptors' };
  const description = describeFeatures(spec);
  const cacheDir = featureCacheDir(store, opts);
  const names = ['pool', 'test set'];
  const parts = [train, test];
  const sources = parts.map((d) => datasetSource(d));
  const matrices = await computeFeatureSets(sources[0]!, sources, spec, {
    cacheDir,
    stateDir: cacheDir ? join(cacheDir, 'state') : undefined,
    signal: opts.signal,
    nameOf: (s, i) => parts[s]!.ids?.[i] ?? `${names[s]} image ${i}`,
    progress: (p) =>
      emit({ type: 'features', phase: p.phase, done: p.done, total: p.total, description }),
  });
  return featureData(train, test, matrices[0]!, matrices[1]!, description);
}

/** Pool indices in [0, n) that are not in `labeled`, ascending. */
function complement(n: number, labeled: readonly number[]): Int32Array {
  const isLabeled = new Uint8Array(n);
  for (const i of labeled) isLabeled[i] = 1;
  const out = new Int32Array(n - labeled.length);
  let k = 0;
  for (let i = 0; i < n; i++) if (isLabeled[i] === 0) out[k++] = i;
  return out;
}

function checkSelection(
  strategy: string,
  selected: Int32Array,
  unlabeled: Set<number>,
  expected: number,
): void {
  const seen = new Set<number>();
  for (const i of selected) {
    if (!unlabeled.has(i))
      throw new Error(
        `Strategy ${strategy} selected sample ${i}, which is not in the unlabeled pool`,
      );
    if (seen.has(i)) throw new Error(`Strategy ${strategy} selected sample ${i} twice`);
    seen.add(i);
  }
  if (selected.length !== expected) {
    throw new Error(
      `Strategy ${strategy} selected ${selected.length} samples; the round needs ${expected}`,
    );
  }
}

interface RunContext {
  store: Store;
  cfg: StudyConfig;
  data: LoadedData;
  strategy: Strategy;
  params: Record<string, ParamValue>;
  runId: number;
  repeat: number;
  repeatSeed: number;
  signal: AbortSignal | undefined;
  emit: (e: StudyEvent) => void;
  /** The repeat's noisy oracle, when the study has label noise. */
  noise?: RepeatNoise;
}

/** A round's trained model and the data it reads (feature models read feature vectors). */
interface RoundModel {
  net: Network;
  plugin: TrainingPlugin | undefined;
  trainMs: number;
  view: FeatureView;
  /** Feature models: the head used and, for `auto`, the cross-validation behind the choice. */
  head?: { id: string; choice?: HeadChoice };
}

/** Train round t's model on the labeled set (plus pseudo-labels), with the strategy's plugin. */
async function trainRound(
  ctx: RunContext,
  round: number,
  labeled: number[],
  pseudo: { indices: Int32Array; labels: Int32Array } | undefined,
  previous: Network | null,
): Promise<RoundModel> {
  const { cfg, data } = ctx;
  const pool = data.split.train;
  const started = performance.now();
  const indices = [...labeled];
  const labels = labeled.map((i) => pool.y[i]!);
  if (pseudo) {
    // A loop, not push(...): CEAL may pseudo-label most of a 60,000-sample pool.
    for (let k = 0; k < pseudo.indices.length; k++) {
      indices.push(pseudo.indices[k]!);
      labels.push(pseudo.labels[k]!);
    }
  }
  if (data.features) {
    // A head on features, fitted afresh every round (warm start does not apply to a convex fit).
    const seed = deriveSeed(ctx.repeatSeed, 'head', round);
    const rows = Int32Array.from(indices);
    const ys = Int32Array.from(labels);
    const C = pool.classNames.length;
    let candidate = cfg.model === 'linear' ? LOGREG : MLP_HEAD;
    let choice: HeadChoice | undefined;
    if (cfg.model === 'auto') {
      choice = await chooseHead(
        data.features,
        autoCandidates(data.features.blocks),
        rows,
        ys,
        C,
        seed,
        {
          signal: ctx.signal,
        },
      );
      candidate = choice.winner;
    }
    const view = viewFor(data.features, candidate);
    const { net } = await fitHead(view, candidate, rows, ys, C, seed, ctx.signal);
    return {
      net,
      plugin: undefined,
      trainMs: performance.now() - started,
      view,
      head: { id: candidate.id, ...(choice ? { choice } : {}) },
    };
  }
  // From scratch (survey protocol): every strategy of a repeat starts round t from the same
  // initial weights. Warm start continues from the previous round's weights.
  const net =
    cfg.warmStart && previous
      ? previous
      : createNetwork({
          kind: cfg.model as 'mlp' | 'cnn' | 'resnet18',
          inputShape: pool.sampleShape,
          numClasses: pool.classNames.length,
          seed: deriveSeed(ctx.repeatSeed, 'init', cfg.warmStart ? 0 : round),
        });
  const unlabeled = complement(pool.y.length, labeled);
  const plugin = ctx.strategy.trainingPlugin?.({
    pool,
    labeled: Int32Array.from(labeled),
    unlabeled,
    net,
    params: ctx.params,
    seed: deriveSeed(ctx.repeatSeed, ctx.strategy.id, 'plugin', round),
    epochs: cfg.epochs,
  });
  try {
    await trainNetwork(net, pool, {
      indices: Int32Array.from(indices),
      labels: Int32Array.from(labels),
      epochs: cfg.epochs,
      batchSize: cfg.trainBatchSize,
      learningRate: cfg.learningRate,
      seed: deriveSeed(ctx.repeatSeed, 'train', round),
      norm: data.norm,
      augment: 'default',
      signal: ctx.signal,
      plugins: plugin ? [plugin] : [],
      unlabeled,
      onEpoch: (p) =>
        ctx.emit({
          type: 'epoch',
          strategy: ctx.strategy.id,
          repeat: ctx.repeat,
          round,
          epoch: p.epoch,
          epochs: p.epochs,
          loss: p.loss,
        }),
    });
  } catch (err) {
    plugin?.dispose();
    if (net !== previous) net.dispose();
    throw err;
  }
  return {
    net,
    plugin,
    trainMs: performance.now() - started,
    view: { pool, test: data.split.test, norm: data.norm },
  };
}

/** What a round records about its model besides the numbers (the feature head and its choice). */
function modelDetails(m: RoundModel): Record<string, unknown> {
  if (!m.head) return {};
  const c = m.head.choice;
  return {
    model: {
      head: m.head.id,
      ...(c
        ? {
            auto: {
              folds: c.folds,
              scores: c.scores.map((s) => ({
                id: s.id,
                balancedAccuracy: Math.round(s.balancedAccuracy * 1e4) / 1e4,
                accuracy: Math.round(s.accuracy * 1e4) / 1e4,
              })),
              ...(c.note ? { note: c.note } : {}),
              ms: Math.round(c.ms),
            },
          }
        : {}),
    },
  };
}

/** Run (or resume) one strategy x repeat to the end of the budget. */
async function runOne(ctx: RunContext): Promise<void> {
  const { store, cfg, data, strategy } = ctx;
  const pool = data.split.train;
  const rounds = roundCount(cfg);
  const recorded = store.listRounds(ctx.runId);
  recorded.forEach((r, i) => {
    if (r.round !== i)
      throw new Error(
        `Run ${ctx.runId} has a gap in its rounds (round ${i} missing); it cannot resume`,
      );
  });
  if (recorded.length === rounds + 1) return;

  // The initial labeled seed depends only on the repeat, so every strategy starts equal.
  const initial = new Rng(deriveSeed(ctx.repeatSeed, 'initial')).sample(
    Int32Array.from({ length: pool.y.length }, (_, i) => i),
    cfg.initial,
  );
  const labeled: number[] = [];
  // Loops, not push(...): a seed of 200,000 samples overflows the call stack as arguments.
  for (const r of recorded) for (const i of r.selected) labeled.push(i);
  if (recorded.length > 0) {
    const first = recorded[0]!.selected;
    if (first.length !== initial.length || first.some((v, i) => v !== initial[i])) {
      throw new Error(
        `Run ${ctx.runId}'s stored initial seed differs from the one its seed gives; it cannot resume`,
      );
    }
  }

  let model: RoundModel | null = null;
  let plugin: TrainingPlugin | undefined;
  try {
    let t = recorded.length;
    if (t === 0) {
      for (const i of initial) labeled.push(i);
      const trained = await trainRound(ctx, 0, labeled, undefined, null);
      model = trained;
      plugin = trained.plugin;
      const ev = await evaluate(trained.net, trained.view.test, undefined, trained.view.norm);
      store.recordRound(
        {
          runId: ctx.runId,
          round: 0,
          labeled: labeled.length,
          accuracy: ev.accuracy,
          loss: ev.loss,
          trainMs: trained.trainMs,
          queryMs: 0,
          selected: [...initial],
          details: {
            confusion: ev.confusion,
            ...modelDetails(trained),
            ...(await noiseDetails(ctx, labeled, false, trained)),
          },
        },
        [...initial].map((i) => ({ sampleId: data.poolSampleIds[i]!, classIdx: pool.y[i]! })),
      );
      ctx.emit({
        type: 'round',
        strategy: strategy.id,
        repeat: ctx.repeat,
        round: 0,
        rounds,
        labeled: labeled.length,
        accuracy: ev.accuracy,
        trainMs: trained.trainMs,
        queryMs: 0,
      });
      t = 1;
    } else {
      // Resuming: rebuild the last completed round's model. Training is seeded, so this is the
      // same model up to the backend's floating-point nondeterminism.
      const last = recorded[recorded.length - 1]!;
      const pseudo = store.pseudoLabels(ctx.runId, last.round);
      const trained = await trainRound(ctx, last.round, labeled, pseudo, null);
      model = trained;
      plugin = trained.plugin;
    }

    for (; t <= rounds; t++) {
      if (ctx.signal?.aborted) throw new StudyCancelled();
      const unlabeled = complement(pool.y.length, labeled);
      const b = roundBatch(cfg, t);
      const queryStart = performance.now();
      const current: RoundModel = model!;
      const result = await strategy.query({
        pool: current.view.pool,
        labeled: Int32Array.from(labeled),
        labels: Int32Array.from(labeled, (i) => pool.y[i]!),
        unlabeled,
        budget: b,
        seed: deriveSeed(ctx.repeatSeed, strategy.id, 'query', t),
        round: t,
        // MC-dropout masks seeded per query: with warm start one network serves every round,
        // and its own seed would give every round the same T masks.
        model: createModelView(current.net, current.view.pool, current.view.norm, {
          mcSeed: deriveSeed(ctx.repeatSeed, strategy.id, 'mc', t),
        }),
        params: ctx.params,
        plugin,
        signal: ctx.signal,
      });
      const queryMs = performance.now() - queryStart;
      checkSelection(
        strategy.id,
        result.selected,
        new Set(unlabeled),
        Math.min(b, unlabeled.length),
      );
      const selected = [...result.selected];
      for (const i of selected) labeled.push(i);

      plugin?.dispose();
      plugin = undefined;
      const previous: Network = current.net;
      model = null;
      const trained = await trainRound(ctx, t, labeled, result.pseudo, previous);
      if (trained.net !== previous) previous.dispose();
      model = trained;
      plugin = trained.plugin;
      const ev = await evaluate(trained.net, trained.view.test, undefined, trained.view.norm);
      store.recordRound(
        {
          runId: ctx.runId,
          round: t,
          labeled: labeled.length,
          accuracy: ev.accuracy,
          loss: ev.loss,
          trainMs: trained.trainMs,
          queryMs,
          selected,
          details: {
            confusion: ev.confusion,
            ...modelDetails(trained),
            ...(await noiseDetails(ctx, labeled, t === rounds, trained)),
          },
        },
        selected.map((i) => ({ sampleId: data.poolSampleIds[i]!, classIdx: pool.y[i]! })),
        result.pseudo
          ? [...result.pseudo.indices].map((i, k) => ({
              sampleId: data.poolSampleIds[i]!,
              classIdx: result.pseudo!.labels[k]!,
            }))
          : [],
      );
      ctx.emit({
        type: 'round',
        strategy: strategy.id,
        repeat: ctx.repeat,
        round: t,
        rounds,
        labeled: labeled.length,
        accuracy: ev.accuracy,
        trainMs: trained.trainMs,
        queryMs,
      });
    }
  } finally {
    plugin?.dispose();
    model?.net.dispose();
  }
}

// ------------------------------------------------------------------------ noisy oracle

/** A repeat's noisy oracle: which pool answers are wrong, and the features the suspects use. */
interface RepeatNoise {
  rate: number;
  kind: NoiseKind;
  flipped: Uint8Array;
  features: FeatureData;
}

interface StudyNoise {
  rate: number;
  kind: NoiseKind;
  /** Confusable noise: each class's nearest other class by class-mean features. */
  map: Int32Array | null;
  features: FeatureData;
}

/**
 * What every repeat's noisy oracle needs: features for the suspect finder and the confusable map
 * (the model's features; for models on pixels, the built-in descriptors, cached like any
 * features), and the class map from the pool's ground truth.
 */
async function prepareNoise(
  store: Store,
  cfg: StudyConfig,
  data: LoadedData,
  opts: RunStudyOptions,
  emit: (e: StudyEvent) => void,
): Promise<StudyNoise> {
  const { train, test } = data.split;
  const features =
    data.features ??
    (await studyFeatures(
      store,
      { ...cfg, features: { kind: 'descriptors' } },
      train,
      test,
      opts,
      emit,
    ));
  const kind = cfg.noiseKind ?? 'uniform';
  const map =
    kind === 'confusable'
      ? nearestClassMap(
          features.pool.x as Float32Array,
          features.pool.sampleShape[0]!,
          train.y,
          train.classNames.length,
        )
      : null;
  return { rate: cfg.labelNoise ?? 0, kind, map, features };
}

/**
 * The repeat's view of the data with the oracle's answers in place of the truth: the training
 * pool's labels are what the oracle says (the test set and the stored ground truth stay true).
 */
function noisyOracle(
  data: LoadedData,
  noise: StudyNoise,
  cfg: StudyConfig,
  repeatSeed: number,
): { data: LoadedData; noise: RepeatNoise } {
  const train = data.split.train;
  const { labels, flipped } = noisyLabels(
    train.y,
    train.classNames.length,
    noise.rate,
    noise.kind,
    deriveSeed(repeatSeed, 'oracle', cfg.noiseKind ?? 'uniform'),
    noise.map ?? undefined,
  );
  return {
    data: { ...data, split: { ...data.split, train: { ...train, y: labels } } },
    noise: { rate: noise.rate, kind: noise.kind, flipped, features: noise.features },
  };
}

/**
 * A round's record of the noisy oracle: wrong labels acquired so far; in the last round also the
 * suspect finder (confident learning on 5-fold out-of-fold probabilities of the round's head, or
 * logistic regression for models on pixels) over every acquired label, and how many wrong ones
 * it caught.
 */
async function noiseDetails(
  ctx: RunContext,
  labeled: readonly number[],
  last: boolean,
  model: RoundModel,
): Promise<{ labelNoise?: RoundLabelNoise }> {
  const n = ctx.noise;
  if (!n) return {};
  let flipped = 0;
  for (const i of labeled) flipped += n.flipped[i]!;
  const out: RoundLabelNoise = {
    rate: n.rate,
    kind: n.kind,
    labeled: labeled.length,
    flipped,
  };
  if (!last) return { labelNoise: out };
  const pool = ctx.data.split.train;
  const K = pool.classNames.length;
  const head = autoCandidates(n.features.blocks).find((c) => c.id === model.head?.id) ?? LOGREG;
  const rows = Int32Array.from(labeled);
  const labels = Int32Array.from(labeled, (i) => pool.y[i]!);
  const oof = await outOfFoldProbs(
    viewFor(n.features, head),
    head,
    rows,
    labels,
    K,
    deriveSeed(ctx.repeatSeed, 'suspects'),
    { signal: ctx.signal },
  );
  const judged: number[] = [];
  oof.judged.forEach((j, i) => j && judged.push(i));
  const probs = new Float32Array(judged.length * K);
  judged.forEach((i, t) => probs.set(oof.probs.subarray(i * K, (i + 1) * K), t * K));
  const listed = findLabelIssues(
    Int32Array.from(judged, (i) => labels[i]!),
    probs,
    K,
  ).ranked.map((t) => labeled[judged[t]!]!);
  const wrong = (list: readonly number[]) => list.filter((i) => n.flipped[i] === 1).length;
  out.suspects = {
    listed: listed.length,
    caught: wrong(listed),
    caughtAtK: wrong(listed.slice(0, flipped)),
    judged: judged.length,
    head: head.id,
  };
  return { labelNoise: out };
}

export interface RunStudyOptions {
  backend?: BackendChoice;
  signal?: AbortSignal;
  /**
   * Which runs this process works on (all when absent): a reproduction split across machines
   * leaves the others to them. A study with runs left out ends 'cancelled', not 'done'.
   */
  only?: (strategy: string, repeat: number) => boolean;
  onEvent?: (e: StudyEvent) => void;
  /**
   * Folder of the feature cache (default: "features" beside the database; "" = no cache). A
   * dataset's features are computed once and found there by every later study and round.
   */
  featureCacheDir?: string;
}

/**
 * Run a stored study to completion, resuming whatever it already recorded: completed rounds are
 * never repeated. Cancelling (signal) stops between batches, leaves every completed round stored
 * and throws StudyCancelled.
 */
export async function runStudy(
  store: Store,
  studyId: number,
  opts: RunStudyOptions = {},
): Promise<StudyReport> {
  const study = store.getStudy(studyId);
  if (!study) throw new Error(`No study ${studyId} in this database`);
  const cfg = validateStudyConfig(study.config as StudyConfigInput);
  const emit = opts.onEvent ?? (() => {});
  const backend = await initBackend(opts.backend);
  const data = await loadStudyData(store, studyId, cfg, opts, emit);
  const noise = cfg.labelNoise ? await prepareNoise(store, cfg, data, opts, emit) : null;
  emit({
    type: 'dataset',
    description: data.description,
    pool: data.split.train.y.length,
    test: data.split.test.y.length,
  });
  store.setStudyStatus(studyId, 'running');

  const mine = (id: string, repeat: number) => opts.only?.(id, repeat) ?? true;
  let runCount = 0;
  for (let repeat = 0; repeat < cfg.repeats; repeat++)
    for (const id of cfg.strategies) if (mine(id, repeat)) runCount++;
  const leftOut = runCount < cfg.repeats * cfg.strategies.length;
  let runIndex = 0;
  try {
    for (let repeat = 0; repeat < cfg.repeats; repeat++) {
      const repeatSeed = deriveSeed(cfg.seed, 'repeat', repeat);
      for (const id of cfg.strategies) {
        if (!mine(id, repeat)) continue;
        const strategy = getStrategy(id);
        const run = store.ensureRun({ studyId, strategy: id, repeat, seed: repeatSeed });
        const resumedAt = store.listRounds(run.id).length;
        emit({
          type: 'run-start',
          strategy: id,
          repeat,
          runIndex: runIndex++,
          runCount,
          resumedAt,
          rounds: roundCount(cfg) + 1,
        });
        if (resumedAt === roundCount(cfg) + 1) {
          if (run.status !== 'done') store.setRunStatus(run.id, 'done');
          continue;
        }
        store.setRunStatus(run.id, 'running');
        const tensors = markTensors();
        try {
          const oracle = noise ? noisyOracle(data, noise, cfg, repeatSeed) : null;
          await runOne({
            store,
            cfg,
            data: oracle?.data ?? data,
            ...(oracle ? { noise: oracle.noise } : {}),
            strategy,
            params: resolveParams(strategy, cfg.strategyParams[id] ?? {}),
            runId: run.id,
            repeat,
            repeatSeed,
            signal: opts.signal,
            emit,
          });
        } catch (err) {
          const cancelled =
            err instanceof StudyCancelled ||
            err instanceof TrainingCancelled ||
            opts.signal?.aborted;
          store.setRunStatus(run.id, cancelled ? 'cancelled' : 'failed');
          emit({
            type: 'run-end',
            strategy: id,
            repeat,
            status: cancelled ? 'cancelled' : 'failed',
          });
          if (cancelled) throw new StudyCancelled();
          throw new Error(
            `${id}, repeat ${repeat + 1}: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          );
        }
        store.setRunStatus(run.id, 'done');
        emit({ type: 'run-end', strategy: id, repeat, status: 'done' });
        const leaked = tensorsLeftSince(tensors);
        if (leaked !== null && leaked > 0)
          process.emitWarning(`${id} left ${leaked} tensors allocated after its run`);
      }
    }
  } catch (err) {
    store.setStudyStatus(studyId, err instanceof StudyCancelled ? 'cancelled' : 'failed');
    throw err;
  }
  store.setStudyStatus(studyId, leftOut ? 'cancelled' : 'done');
  return studyReport(store, studyId, {
    description: data.description,
    pool: data.split.train.y.length,
    test: data.split.test.y.length,
    classes: data.split.train.classNames,
    backend: backend.backend,
  });
}

/** The report of a study from what the store holds (complete or not). */
export function studyReport(
  store: Store,
  studyId: number,
  meta: { description: string; pool: number; test: number; classes: string[]; backend: string },
): StudyReport {
  const study = store.getStudy(studyId);
  if (!study) throw new Error(`No study ${studyId} in this database`);
  const cfg = StudyConfigSchema.parse(study.config);
  const runs: RunRecord[] = store.listRuns(studyId).map((r) => ({
    strategy: r.strategy,
    repeat: r.repeat,
    seed: r.seed,
    status: r.status,
    rounds: store.listRounds(r.id).map((x) => ({
      round: x.round,
      labeled: x.labeled,
      accuracy: x.accuracy,
      loss: x.loss,
      trainMs: x.trainMs,
      queryMs: x.queryMs,
      confusion: x.details.confusion ?? null,
      model: (x.details.model as ReportedModel | undefined) ?? null,
      ...(x.details.labelNoise ? { labelNoise: x.details.labelNoise as RoundLabelNoise } : {}),
    })),
  }));
  return buildReport({
    config: cfg,
    dataset: {
      description: meta.description,
      pool: meta.pool,
      test: meta.test,
      classes: meta.classes,
    },
    backend: meta.backend,
    runs,
    expectedRounds: roundCount(cfg),
  });
}
