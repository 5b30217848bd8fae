import {
  aubc,
  balancedAccuracy,
  classSupport,
  finalAccuracy,
  macroF1,
  meanCurve,
  meanStd,
  perClassRecall,
  timeTotals,
  validateConfusion,
  winTieLoss,
  type MeanCurvePoint,
} from './metrics.ts';
import type { StudyConfig } from './study.ts';
import { labelNoiseSummary, type LabelNoiseSummary, type RoundLabelNoise } from './labelQuality.ts';

/** One round of one run, as recorded. */
export interface RoundRecord {
  round: number;
  labeled: number;
  accuracy: number;
  loss: number;
  trainMs: number;
  queryMs: number;
  /**
   * The test set's confusion matrix (counts, `confusion[true][predicted]`). Absent or null for
   * rounds recorded before it was kept: their per-class metrics are null, never guessed.
   */
  confusion?: number[][] | null;
  /** Feature models: the head the round used and, for `auto`, the cross-validation behind it. */
  model?: RoundModel | null;
  /** A noisy oracle's wrong answers so far (and, last round, what the suspect finder caught). */
  labelNoise?: RoundLabelNoise | null;
}

/** What a feature model's round recorded about its model (engine.ts modelDetails). */
export interface RoundModel {
  head: string;
  auto?: {
    folds: number;
    scores: { id: string; balancedAccuracy: number; accuracy?: number }[];
    note?: string;
    ms?: number;
  };
}

export interface RunRecord {
  strategy: string;
  repeat: number;
  seed: number;
  status: string;
  rounds: RoundRecord[];
}

export interface RunReport {
  strategy: string;
  repeat: number;
  seed: number;
  status: string;
  /** Whether every round of the protocol was recorded. */
  complete: boolean;
  curve: CurvePointReport[];
  aubc: number | null;
  facc: number | null;
  trainMs: number;
  queryMs: number;
  /**
   * AUBC of the balanced-accuracy curve; null unless every round has a confusion matrix. The
   * per-class fields are optional because report.json files written before they existed lack them.
   */
  balancedAubc?: number | null;
  /** Balanced accuracy of the last round; null without its confusion matrix. */
  balancedFacc?: number | null;
  /** Macro-F1 of the last round. */
  finalMacroF1?: number | null;
  /** Recall per class of the last round (null for a class with no test samples). */
  finalRecall?: (number | null)[] | null;
}

/** One round of a run in the report. */
export interface CurvePointReport {
  round: number;
  labeled: number;
  accuracy: number;
  loss: number;
  trainMs: number;
  queryMs: number;
  /** Mean recall over the classes with test samples (shared/metrics.ts balancedAccuracy). */
  balancedAccuracy?: number | null;
  macroF1?: number | null;
  /** The round's confusion matrix as recorded, so the report can be rebuilt from this file. */
  confusion?: number[][] | null;
  /** Feature models: the head used (and auto's cross-validated scores). */
  model?: RoundModel | null;
  /** A noisy oracle's wrong answers so far (last round: what the suspect finder caught). */
  labelNoise?: RoundLabelNoise | null;
}

export interface StrategySummary {
  strategy: string;
  /** Complete runs the statistics are over. */
  repeats: number;
  aubcMean: number;
  aubcStd: number;
  faccMean: number;
  faccStd: number;
  /** Mean total training / query time per run, milliseconds. */
  trainMs: number;
  queryMs: number;
  /**
   * Balanced-accuracy statistics over the same complete runs; null unless every one of them has
   * its confusion matrices (so they never describe a different set of runs than AUBC and F-acc).
   */
  balancedAubcMean?: number | null;
  balancedAubcStd?: number | null;
  balancedFaccMean?: number | null;
  balancedFaccStd?: number | null;
  /** Macro-F1 of the last round, mean and sample std over the runs. */
  macroF1Mean?: number | null;
  macroF1Std?: number | null;
  /** Mean recall per class of the last round over the runs; null for a class with no test samples. */
  finalRecall?: (number | null)[] | null;
}

export interface StudyReport {
  generatedAt: string;
  config: StudyConfig;
  dataset: { description: string; pool: number; test: number; classes: string[] };
  backend: string;
  /** Standard deviations are sample standard deviations (n - 1) over repeats. */
  stdKind: 'sample';
  runs: RunReport[];
  /** Sorted by mean AUBC, best first; strategies with no complete run are left out. */
  summary: StrategySummary[];
  /** Mean accuracy-budget curve and its std band per strategy, over complete runs. */
  curves: { strategy: string; points: { labeled: number; mean: number; std: number }[] }[];
  /**
   * Within one study (one dataset), each comparison is one repeat: the two strategies' runs that
   * share that repeat's initial labeled seed. Across studies (datasets), compare per dataset.
   */
  winTieLoss: ReturnType<typeof winTieLoss> & { margin: number; unit: 'repeat' };
  /**
   * Test samples per class (the confusion matrices' row sums; every run shares the test set), or
   * null when no round has a confusion matrix.
   */
  classSupport?: number[] | null;
  /** Mean balanced-accuracy and macro-F1 curves, for the strategies whose summary has them. */
  balancedCurves?: { strategy: string; points: MeanCurvePoint[] }[];
  macroF1Curves?: { strategy: string; points: MeanCurvePoint[] }[];
  /**
   * Feature models: how many rounds (over every run) used each head, most used first; empty for
   * models trained on pixels.
   */
  modelChoices?: { head: string; rounds: number }[];
  /** With a noisy oracle: how many wrong labels each strategy acquired and the suspect finder caught. */
  labelNoise?: LabelNoiseSummary;
}

/** Win-tie-loss margin: 0.5 percentage points of AUBC (accuracies are fractions). */
export const WTL_MARGIN = 0.005;

/**
 * Assemble the study report from recorded runs. Pure: the CLI, the HTML report and the app's
 * dashboards all show numbers computed here, so they cannot disagree.
 */
export function buildReport(args: {
  config: StudyConfig;
  dataset: StudyReport['dataset'];
  backend: string;
  runs: RunRecord[];
  expectedRounds: number;
  generatedAt?: string;
}): StudyReport {
  const { config, runs, expectedRounds } = args;
  let support: number[] | null = null;
  const runReports: RunReport[] = runs.map((r) => {
    const rounds = [...r.rounds].sort((a, b) => a.round - b.round);
    const curve: CurvePointReport[] = rounds.map((x) => {
      const m = x.confusion ?? null;
      if (m) {
        validateConfusion(
          m,
          `confusion matrix of ${r.strategy} repeat ${r.repeat}, round ${x.round}`,
        );
        support ??= classSupport(m);
      }
      return {
        round: x.round,
        labeled: x.labeled,
        accuracy: x.accuracy,
        loss: x.loss,
        trainMs: x.trainMs,
        queryMs: x.queryMs,
        balancedAccuracy: m ? balancedAccuracy(m) : null,
        macroF1: m ? macroF1(m) : null,
        confusion: m,
        ...(x.model ? { model: x.model } : {}),
        ...(x.labelNoise ? { labelNoise: x.labelNoise } : {}),
      };
    });
    const complete = rounds.length === expectedRounds + 1;
    const totals = timeTotals(rounds);
    const last = curve[curve.length - 1];
    const balanced = balancedCurve(curve);
    return {
      strategy: r.strategy,
      repeat: r.repeat,
      seed: r.seed,
      status: r.status,
      complete,
      curve,
      aubc: curve.length > 0 ? aubc(curve) : null,
      facc: curve.length > 0 ? finalAccuracy(curve) : null,
      trainMs: totals.trainMs,
      queryMs: totals.queryMs,
      balancedAubc: balanced ? aubc(balanced) : null,
      balancedFacc: last?.balancedAccuracy ?? null,
      finalMacroF1: last?.macroF1 ?? null,
      finalRecall: last?.confusion ? perClassRecall(last.confusion) : null,
    };
  });

  const strategies = config.strategies;
  const summary: StrategySummary[] = [];
  const curves: StudyReport['curves'] = [];
  const balancedCurves: NonNullable<StudyReport['balancedCurves']> = [];
  const macroF1Curves: NonNullable<StudyReport['macroF1Curves']> = [];
  for (const strategy of strategies) {
    const done = runReports.filter((r) => r.strategy === strategy && r.complete);
    if (done.length === 0) continue;
    const a = meanStd(done.map((r) => r.aubc ?? 0));
    const f = meanStd(done.map((r) => r.facc ?? 0));
    // Per-class statistics only when every run has them: never over a subset of the runs.
    const perClass = done.map((r) => balancedCurve(r.curve));
    const allHave = perClass.every((c) => c !== null);
    const stat = (values: (number | null | undefined)[]) =>
      allHave ? meanStd(values.map((v) => v!)) : null;
    const ba = stat(done.map((r) => r.balancedAubc));
    const bf = stat(done.map((r) => r.balancedFacc));
    const mf = stat(done.map((r) => r.finalMacroF1));
    summary.push({
      strategy,
      repeats: done.length,
      aubcMean: a.mean,
      aubcStd: a.std,
      faccMean: f.mean,
      faccStd: f.std,
      trainMs: meanStd(done.map((r) => r.trainMs)).mean,
      queryMs: meanStd(done.map((r) => r.queryMs)).mean,
      balancedAubcMean: ba?.mean ?? null,
      balancedAubcStd: ba?.std ?? null,
      balancedFaccMean: bf?.mean ?? null,
      balancedFaccStd: bf?.std ?? null,
      macroF1Mean: mf?.mean ?? null,
      macroF1Std: mf?.std ?? null,
      finalRecall: allHave ? meanRecall(done.map((r) => r.finalRecall!)) : null,
    });
    curves.push({ strategy, points: meanCurve(done.map((r) => r.curve)) });
    if (allHave) {
      balancedCurves.push({ strategy, points: meanCurve(perClass.map((c) => c!)) });
      macroF1Curves.push({
        strategy,
        points: meanCurve(
          done.map((r) => r.curve.map((p) => ({ labeled: p.labeled, accuracy: p.macroF1! }))),
        ),
      });
    }
  }
  summary.sort((x, y) => y.aubcMean - x.aubcMean || x.strategy.localeCompare(y.strategy));

  const wtlInput = runReports
    .filter((r) => r.complete && r.aubc !== null)
    .map((r) => ({
      strategy: r.strategy,
      dataset: config.dataset,
      repeat: r.repeat,
      aubc: r.aubc ?? 0,
    }));
  const wtl = winTieLoss(wtlInput, WTL_MARGIN, { unit: 'repeat' });

  return {
    generatedAt: args.generatedAt ?? new Date().toISOString(),
    config,
    dataset: args.dataset,
    backend: args.backend,
    stdKind: 'sample',
    runs: runReports,
    summary,
    curves,
    winTieLoss: { ...wtl, margin: WTL_MARGIN, unit: 'repeat' },
    classSupport: support,
    balancedCurves,
    macroF1Curves,
    ...(runReports.some((r) => r.curve.some((p) => p.model))
      ? { modelChoices: modelChoices(runReports) }
      : {}),
    ...noiseOf(runReports),
  };
}

function noiseOf(runs: readonly RunReport[]): { labelNoise?: LabelNoiseSummary } {
  const s = labelNoiseSummary(
    runs.map((r) => ({
      strategy: r.strategy,
      complete: r.complete,
      labelNoise: r.curve.at(-1)?.labelNoise ?? null,
    })),
  );
  return s ? { labelNoise: s } : {};
}

/** A run's balanced-accuracy curve, or null unless every round has one. */
function balancedCurve(
  curve: readonly CurvePointReport[],
): { labeled: number; accuracy: number }[] | null {
  if (curve.length === 0) return null;
  const out: { labeled: number; accuracy: number }[] = [];
  for (const p of curve) {
    if (p.balancedAccuracy === null || p.balancedAccuracy === undefined) return null;
    out.push({ labeled: p.labeled, accuracy: p.balancedAccuracy });
  }
  return out;
}

/**
 * Mean recall per class over runs. A class's recall is null where it has no test samples; the
 * test set is shared by every run, so that is the same class in each, and its mean is null too.
 */
function meanRecall(perRun: readonly (readonly (number | null)[])[]): (number | null)[] {
  const C = Math.max(...perRun.map((r) => r.length));
  return Array.from({ length: C }, (_, c) => {
    const values = perRun.map((r) => r[c]).filter((v): v is number => typeof v === 'number');
    return values.length === 0 ? null : meanStd(values).mean;
  });
}

/**
 * How imbalanced the test classes are: the largest class's samples over the smallest's (classes
 * with none left out); null without class counts. Above IMBALANCE_RATIO the views put balanced
 * accuracy first, since accuracy then mostly measures the large classes.
 */
export function imbalanceRatio(support: readonly number[] | null | undefined): number | null {
  const present = (support ?? []).filter((n) => n > 0);
  if (present.length === 0) return null;
  return Math.max(...present) / Math.min(...present);
}

/** Largest over smallest class above which a test set counts as imbalanced (1.5 : 1). */
export const IMBALANCE_RATIO = 1.5;

/** Column names for per-class values: the class names when they match the matrix, else indices. */
export function classLabels(report: Pick<StudyReport, 'dataset' | 'classSupport'>): string[] {
  const C = report.classSupport?.length ?? 0;
  const names = report.dataset.classes;
  return names.length === C ? [...names] : Array.from({ length: C }, (_, c) => `class ${c}`);
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * One row per run per round. Balanced accuracy and macro-F1 are empty for rounds recorded without
 * a confusion matrix; one `recall_<class>` column per class follows when any round has one (empty
 * where that round has none or the class has no test samples).
 */
export function resultsCsv(report: StudyReport): string {
  const classes = classLabels(report);
  const header = [
    'strategy',
    'repeat',
    'seed',
    'round',
    'labeled',
    'accuracy',
    'loss',
    'train_ms',
    'query_ms',
    'balanced_accuracy',
    'macro_f1',
    ...classes.map((c) => `recall_${c}`),
  ];
  const lines = [header.map(csvCell).join(',')];
  const blank = (v: number | null | undefined) => (typeof v === 'number' ? v : '');
  for (const run of report.runs) {
    run.curve.forEach((p) => {
      const recall = p.confusion ? perClassRecall(p.confusion) : [];
      lines.push(
        [
          run.strategy,
          run.repeat,
          run.seed,
          p.round,
          p.labeled,
          p.accuracy,
          p.loss,
          Math.round(p.trainMs),
          Math.round(p.queryMs),
          blank(p.balancedAccuracy),
          blank(p.macroF1),
          ...classes.map((_, c) => blank(recall[c])),
        ]
          .map(csvCell)
          .join(','),
      );
    });
  }
  return `${lines.join('\n')}\n`;
}

/** Rounds per head over every run, most used first (feature models; empty otherwise). */
export function modelChoices(runs: readonly RunReport[]): { head: string; rounds: number }[] {
  const counts = new Map<string, number>();
  for (const r of runs)
    for (const p of r.curve)
      if (p.model) counts.set(p.model.head, (counts.get(p.model.head) ?? 0) + 1);
  return [...counts.entries()]
    .map(([head, rounds]) => ({ head, rounds }))
    .sort((a, b) => b.rounds - a.rounds || (a.head < b.head ? -1 : 1));
}

/** One sentence about the heads a feature-model study used, or null for pixel models. */
export function describeModelChoices(
  report: Pick<StudyReport, 'config' | 'modelChoices'>,
): string | null {
  const choices = report.modelChoices ?? [];
  if (choices.length === 0) return null;
  const total = choices.reduce((a, c) => a + c.rounds, 0);
  const list = choices.map((c) => `${c.head} in ${c.rounds} of ${total} rounds`).join(', ');
  return report.config.model === 'auto'
    ? `auto chose, by cross-validation on each round's labels: ${list}.`
    : `Head: ${list}.`;
}
