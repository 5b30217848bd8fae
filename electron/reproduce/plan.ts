/**
 * The reproduction plan of issue 9: the survey's comparison (Zhan et al. 2022) at CPU scale, as a
 * list of studies, each with its own database and report folder. Pure: no data, no TensorFlow.js,
 * so `deepal reproduce --dry-run` and the tests build and price the plan instantly.
 *
 * Why these numbers: docs/results/PROTOCOL.md.
 */
import { roundBatch, roundCount, type StudyConfigInput } from '../../shared/study.ts';

/** Which part of the reproduction a study belongs to; `--only` takes these or study keys. */
export type StudyGroup = 'main' | 'ablation-epochs' | 'ablation-batch';

export interface PlannedStudy {
  /** Folder and database name: `docs/results/<key>/`, `.deepal/reproduce/<key>.db`. */
  key: string;
  group: StudyGroup;
  /**
   * Other groups this study also serves: the epochs ablation's study at the protocol's epochs is
   * also the batch ablation's point at the protocol's batch size (the same settings, run once).
   */
  alsoIn?: StudyGroup[];
  /**
   * For a main study that also serves the ablations: the ablation's strategies. The ablation
   * reads only their runs (a run depends on the repeat's seed and the strategy alone, so those
   * runs are exactly what a separate 4-strategy study with the same settings would record).
   */
  ablationStrategies?: readonly string[];
  /** Short title for tables ("Fashion-MNIST (imbalanced)"). */
  title: string;
  config: StudyConfigInput;
}

/** The shared protocol of every main study. */
export interface Protocol {
  strategies: readonly string[];
  repeats: number;
  seed: number;
  initial: number;
  batch: number;
  budget: number;
  epochs: number;
  model: 'mlp' | 'cnn' | 'resnet18';
  trainBatchSize: number;
  learningRate: number;
  poolSize: number;
  testSize: number;
}

/** The ablations (the survey's Figures 3 and 4): a few strategies, one setting varied at a time. */
export interface AblationProtocol {
  dataset: string;
  strategies: readonly string[];
  repeats: number;
  epochs: readonly number[];
  batches: readonly number[];
}

export interface PlanSpec {
  protocol: Protocol;
  datasets: readonly { key: string; title: string; dataset: string; imbalanced: boolean }[];
  ablation: AblationProtocol | null;
}

/**
 * The catalog's strategy ids, in catalog order. Listed here (and checked against the catalog by a
 * test) so the plan stays pure; `deepal strategies` is the authority.
 */
export const CATALOG_IDS: readonly string[] = [
  'Random',
  'Entropy',
  'Margin',
  'LeastConf',
  'VarRatio',
  'EntropyD',
  'MarginD',
  'LeastConfD',
  'BALD',
  'MeanSTD',
  'KMeans',
  'KCenter',
  'BADGE',
  'CEAL',
  'AdversarialBIM',
  'AdversarialDeepFool',
  'LPL',
  'WAAL',
  'VAAL',
  'ClusterMargin',
  'DBAL',
  'BatchBALD',
];

/** The protocol the full run uses (reasons in docs/results/PROTOCOL.md). */
export const FULL_PROTOCOL: Protocol = {
  strategies: CATALOG_IDS,
  repeats: 3,
  seed: 100,
  initial: 100,
  batch: 100,
  budget: 1000,
  epochs: 10,
  model: 'cnn',
  trainBatchSize: 64,
  learningRate: 1e-3,
  poolSize: 5000,
  testSize: 2000,
};

export const FULL_PLAN: PlanSpec = {
  protocol: FULL_PROTOCOL,
  datasets: [
    { key: 'fmnist', title: 'Fashion-MNIST', dataset: 'fashion-mnist', imbalanced: false },
    {
      key: 'fmnist-imb',
      title: 'Fashion-MNIST (imbalanced)',
      dataset: 'fashion-mnist',
      imbalanced: true,
    },
    {
      key: 'mnist',
      title: 'MNIST (test split as pool + test)',
      dataset: 'mnist',
      imbalanced: false,
    },
  ],
  ablation: {
    dataset: 'fashion-mnist',
    strategies: ['Random', 'Entropy', 'BADGE', 'WAAL'],
    repeats: 3,
    epochs: [5, 10, 20, 30],
    batches: [50, 100, 200, 500],
  },
};

/**
 * A plan that runs in seconds on the built-in demo data (MLP, 1 epoch, tiny pool): for smoke
 * checks of the whole pipeline (`deepal reproduce --plan smoke`) and for the tests.
 */
export const SMOKE_PLAN: PlanSpec = {
  protocol: {
    strategies: ['Random', 'Entropy'],
    repeats: 2,
    seed: 7,
    initial: 20,
    batch: 20,
    budget: 40,
    epochs: 1,
    model: 'mlp',
    trainBatchSize: 32,
    learningRate: 1e-3,
    poolSize: 200,
    testSize: 100,
  },
  datasets: [{ key: 'demo', title: 'Demo shapes', dataset: 'demo', imbalanced: false }],
  ablation: {
    dataset: 'demo',
    strategies: ['Random', 'Entropy'],
    repeats: 1,
    epochs: [1, 2],
    batches: [20, 40],
  },
};

export const PLANS: Record<string, PlanSpec> = { full: FULL_PLAN, smoke: SMOKE_PLAN };

function baseConfig(p: Protocol): Omit<StudyConfigInput, 'dataset' | 'strategies'> {
  return {
    repeats: p.repeats,
    seed: p.seed,
    initial: p.initial,
    batch: p.batch,
    budget: p.budget,
    epochs: p.epochs,
    model: p.model,
    trainBatchSize: p.trainBatchSize,
    learningRate: p.learningRate,
    warmStart: false,
    poolSize: p.poolSize,
    testSize: p.testSize,
  };
}

/**
 * The studies of a plan: one per dataset with every strategy, then one per ablation value (the
 * other setting held at the protocol's). Each study is its own unit of resumption.
 */
export function buildPlan(spec: PlanSpec): PlannedStudy[] {
  const p = spec.protocol;
  const out: PlannedStudy[] = spec.datasets.map((d) => ({
    key: d.key,
    group: 'main' as const,
    title: d.title,
    config: {
      ...baseConfig(p),
      dataset: d.dataset,
      imbalanced: d.imbalanced,
      strategies: [...p.strategies],
    },
  }));
  const a = spec.ablation;
  if (a) {
    const common = {
      ...baseConfig(p),
      dataset: a.dataset,
      imbalanced: false,
      strategies: [...a.strategies],
      repeats: a.repeats,
    };
    const atProtocol = (e: number, b: number) => e === p.epochs && b === p.batch;
    // The main study on the ablation's dataset, when it ran every ablation strategy with the
    // protocol's repeats, is the ablations' point at the protocol's epochs and batch size.
    const host = out.find(
      (s) =>
        s.config.dataset === a.dataset &&
        !s.config.imbalanced &&
        a.repeats === p.repeats &&
        a.strategies.every((x) => p.strategies.includes(x)),
    );
    const served: StudyGroup[] = [];
    if (a.epochs.includes(p.epochs) && a.batches.includes(p.batch)) {
      if (host) served.push('ablation-epochs', 'ablation-batch');
    }
    if (host && served.length > 0) {
      host.alsoIn = served;
      host.ablationStrategies = [...a.strategies];
    }
    for (const e of a.epochs) {
      if (host && served.length > 0 && atProtocol(e, p.batch)) continue;
      out.push({
        key: `ablation-epochs-${e}`,
        group: 'ablation-epochs',
        ...(!host && atProtocol(e, p.batch) && a.batches.includes(p.batch)
          ? { alsoIn: ['ablation-batch' as const] }
          : {}),
        title: `${a.dataset}, ${e} epochs`,
        config: { ...common, epochs: e },
      });
    }
    for (const b of a.batches) {
      if (b > p.budget)
        throw new Error(`ablation batch ${b} is larger than the budget ${p.budget}`);
      if (a.epochs.includes(p.epochs) && atProtocol(p.epochs, b)) continue;
      out.push({
        key: `ablation-batch-${b}`,
        group: 'ablation-batch',
        title: `${a.dataset}, batch ${b}`,
        config: { ...common, batch: b },
      });
    }
  }
  const keys = new Set<string>();
  for (const s of out) {
    if (keys.has(s.key)) throw new Error(`study key ${s.key} appears twice in the plan`);
    keys.add(s.key);
  }
  return out;
}

/**
 * The studies `--only` names: comma-separated groups (main, ablation-epochs, ablation-batch,
 * ablations = both) or study keys. Unknown names are refused with the valid ones.
 */
export function selectStudies(
  plan: readonly PlannedStudy[],
  only: string | undefined,
): PlannedStudy[] {
  if (only === undefined || only.trim() === '') return [...plan];
  const wanted = only
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const groups = new Set<string>(plan.map((s) => s.group));
  const valid = [...groups, 'ablations', ...plan.map((s) => s.key)];
  const unknown = wanted.filter((w) => !valid.includes(w));
  if (unknown.length > 0)
    throw new Error(`--only: unknown ${unknown.join(', ')}; choose from ${valid.join(', ')}`);
  return plan.filter(
    (s) =>
      wanted.includes(s.key) ||
      inGroup(s).some((g) => wanted.includes(g)) ||
      (wanted.includes('ablations') && inGroup(s).some((g) => g !== 'main')),
  );
}

/**
 * The strategies `--strategies` names (comma-separated ids), checked against the plan's; undefined
 * when none are named (all of them). Unknown ids are refused with the valid ones.
 */
export function selectStrategies(
  plan: readonly PlannedStudy[],
  names: string | undefined,
): Set<string> | undefined {
  if (names === undefined || names.trim() === '') return undefined;
  const wanted = names
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const valid = [...new Set(plan.flatMap((s) => s.config.strategies))];
  const unknown = wanted.filter((w) => !valid.includes(w));
  if (unknown.length > 0)
    throw new Error(
      `--strategies: unknown ${unknown.join(', ')}; the plan's strategies are ${valid.join(', ')}`,
    );
  return new Set(wanted);
}

/**
 * For estimates only: the studies that run any of `strategies`, each listing only those. Never
 * run these: a study's settings (and so its database and committed runs) are of all its
 * strategies; `--strategies` restricts which of its runs are trained, not the study.
 */
export function withOnlyStrategies(
  plan: readonly PlannedStudy[],
  strategies: ReadonlySet<string> | undefined,
): PlannedStudy[] {
  if (!strategies) return [...plan];
  return plan
    .map((s) => ({
      ...s,
      config: { ...s.config, strategies: s.config.strategies.filter((x) => strategies.has(x)) },
    }))
    .filter((s) => s.config.strategies.length > 0);
}

/** The groups a study belongs to: its own and those it also serves. */
export function inGroup(s: PlannedStudy): StudyGroup[] {
  return [s.group, ...(s.alsoIn ?? [])];
}

/**
 * The strategies of `s` that an ablation group reads: all of them for an ablation study, the
 * ablation's few for a main study that also serves as the ablations' point at the protocol.
 */
export function strategiesFor(s: PlannedStudy, group: StudyGroup): readonly string[] {
  return s.group === group || !s.ablationStrategies ? s.config.strategies : s.ablationStrategies;
}

/**
 * Measured costs on this machine (see docs/results/PROTOCOL.md, "Measurements"): training time
 * per sample-epoch, the fixed cost of a round (test evaluation, model build), and per strategy a
 * query time per unlabeled pool sample and a training-time factor (WAAL and LPL train extra parts).
 */
export interface Calibration {
  /** Where the numbers come from, printed with every estimate. */
  basis: string;
  /** CNN training, per sample-epoch, at 10 epochs of a 28x28 image. */
  trainMsPerSampleEpoch: number;
  /** Per round, besides training and the query (evaluation on the test set, model setup). */
  roundOverheadMsPerTestSample: number;
  /** Query time per unlabeled pool sample, by strategy; a strategy not listed uses `default`. */
  queryMsPerPoolSample: Record<string, number> & { default: number };
  /** Multiplier on the training time, by strategy (1 when not listed). */
  trainFactor: Record<string, number>;
  /**
   * Strategies whose training epochs go through max(|L|, |U|) samples, the labeled set cycled
   * (WAAL, as its reference trains); the others' epochs go through |L|.
   */
  poolEpochs?: readonly string[];
}

/** One study's estimated cost. */
export interface StudyEstimate {
  key: string;
  runs: number;
  rounds: number;
  /** Rounds already recorded (from the study's database), left out of `remainingMs`. */
  roundsDone: number;
  totalMs: number;
  remainingMs: number;
}

/** Estimated milliseconds of one round t (0 = the seed) of one strategy under `cfg`. */
export function roundMs(
  cfg: StudyConfigInput,
  strategy: string,
  t: number,
  cal: Calibration,
): number {
  let labeled = cfg.initial;
  for (let k = 1; k <= t; k++) labeled += roundBatch(cfg, k);
  const perEpoch = cal.poolEpochs?.includes(strategy)
    ? Math.max(labeled, (cfg.poolSize ?? 10000) - labeled)
    : labeled;
  const train =
    perEpoch * cfg.epochs * cal.trainMsPerSampleEpoch * (cal.trainFactor[strategy] ?? 1);
  const overhead = (cfg.testSize ?? 2000) * cal.roundOverheadMsPerTestSample;
  const query =
    t === 0
      ? 0
      : ((cfg.poolSize ?? 10000) - labeled + roundBatch(cfg, t)) *
        (cal.queryMsPerPoolSample[strategy] ?? cal.queryMsPerPoolSample.default);
  return train + overhead + query;
}

/**
 * Estimated milliseconds of one run of `strategy` under `cfg` from round `from` on (0: the whole
 * run; the rounds before `from` are recorded).
 */
export function runMs(cfg: StudyConfigInput, strategy: string, cal: Calibration, from = 0): number {
  let ms = 0;
  for (let t = from; t <= roundCount(cfg); t++) ms += roundMs(cfg, strategy, t, cal);
  return ms;
}

/**
 * Estimated time of each study: every strategy x repeat x round, priced with `cal`. `done` gives
 * the recorded rounds per study key and strategy (summed over repeats); those count as spent.
 */
export function estimatePlan(
  plan: readonly PlannedStudy[],
  cal: Calibration,
  done: Record<string, Record<string, number[]>> = {},
): StudyEstimate[] {
  return plan.map((s) => {
    const cfg = s.config;
    const rounds = roundCount(cfg);
    let total = 0;
    let remaining = 0;
    let roundsDone = 0;
    for (const strategy of cfg.strategies) {
      const perRepeat = done[s.key]?.[strategy] ?? [];
      for (let r = 0; r < cfg.repeats; r++) {
        const recorded = perRepeat[r] ?? 0;
        roundsDone += Math.min(recorded, rounds + 1);
        total += runMs(cfg, strategy, cal);
        remaining += runMs(cfg, strategy, cal, recorded);
      }
    }
    return {
      key: s.key,
      runs: cfg.strategies.length * cfg.repeats,
      rounds: (rounds + 1) * cfg.strategies.length * cfg.repeats,
      roundsDone,
      totalMs: total,
      remainingMs: remaining,
    };
  });
}

/** "3 h 25 min", "12 min", "40 s". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return `${h} h ${String(min % 60).padStart(2, '0')} min`;
}
