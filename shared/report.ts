import { aubc, finalAccuracy, meanCurve, meanStd, timeTotals, winTieLoss } from './metrics.ts';
import type { StudyConfig } from './study.ts';

/** One round of one run, as recorded. */
export interface RoundRecord {
  round: number;
  labeled: number;
  accuracy: number;
  loss: number;
  trainMs: number;
  queryMs: number;
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
  curve: {
    round: number;
    labeled: number;
    accuracy: number;
    loss: number;
    trainMs: number;
    queryMs: number;
  }[];
  aubc: number | null;
  facc: number | null;
  trainMs: number;
  queryMs: number;
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
  const runReports: RunReport[] = runs.map((r) => {
    const rounds = [...r.rounds].sort((a, b) => a.round - b.round);
    const curve = rounds.map((x) => ({
      round: x.round,
      labeled: x.labeled,
      accuracy: x.accuracy,
      loss: x.loss,
      trainMs: x.trainMs,
      queryMs: x.queryMs,
    }));
    const complete = rounds.length === expectedRounds + 1;
    const totals = timeTotals(rounds);
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
    };
  });

  const strategies = config.strategies;
  const summary: StrategySummary[] = [];
  const curves: StudyReport['curves'] = [];
  for (const strategy of strategies) {
    const done = runReports.filter((r) => r.strategy === strategy && r.complete);
    if (done.length === 0) continue;
    const a = meanStd(done.map((r) => r.aubc ?? 0));
    const f = meanStd(done.map((r) => r.facc ?? 0));
    summary.push({
      strategy,
      repeats: done.length,
      aubcMean: a.mean,
      aubcStd: a.std,
      faccMean: f.mean,
      faccStd: f.std,
      trainMs: meanStd(done.map((r) => r.trainMs)).mean,
      queryMs: meanStd(done.map((r) => r.queryMs)).mean,
    });
    curves.push({ strategy, points: meanCurve(done.map((r) => r.curve)) });
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
  };
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per run per round. */
export function resultsCsv(report: StudyReport): string {
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
  ];
  const lines = [header.join(',')];
  for (const run of report.runs) {
    run.curve.forEach((p) => {
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
        ]
          .map(csvCell)
          .join(','),
      );
    });
  }
  return `${lines.join('\n')}\n`;
}
