import { aubc, finalAccuracy, meanCurve, meanStd, type MeanCurvePoint } from './metrics.ts';
import type { RunReport } from './report.ts';
import type { StudyConfig } from './study.ts';

/**
 * Ablations across studies, as in the survey's section 3.3 (Zhan et al. 2022): Figure 3 plots the
 * AUBC of each strategy against the number of training epochs and against the AL batch size on one
 * dataset; Figure 4 shows the accuracy-budget curves of each setting side by side. Here the
 * settings come from finished studies that differ in exactly one of those two protocol fields.
 *
 * Pure: the dashboards and their tests compute the same numbers from the same stored runs, with
 * AUBC, F-acc and the mean/std from shared/metrics.
 */

/** The protocol fields an ablation varies: training epochs per round, and the query batch size b. */
export type AblationField = 'epochs' | 'batch';

export const ABLATION_FIELDS: readonly AblationField[] = ['epochs', 'batch'];

/** How each field is named on screen and in exports. */
export const ABLATION_FIELD_LABELS: Record<AblationField, { title: string; short: string }> = {
  epochs: { title: 'Training epochs per round', short: 'epochs' },
  batch: { title: 'AL batch size (b)', short: 'batch size' },
};

/** One finished study taking part: its id and name (for labels) and its report's config and runs. */
export interface AblationStudy {
  id: number;
  name: string;
  config: StudyConfig;
  runs: readonly RunReport[];
}

/** One strategy at one value of the varied field, over the complete runs of the studies there. */
export interface AblationCell {
  value: number;
  /** The studies whose runs are pooled here (usually one). */
  studies: number[];
  /** Complete runs the statistics are over. */
  runs: number;
  aubcMean: number;
  /** Sample standard deviation (n - 1), 0 for a single run, as everywhere in the app. */
  aubcStd: number;
  faccMean: number;
  faccStd: number;
}

export interface AblationSeries {
  strategy: string;
  /** Ascending by value; a value is absent where the strategy has no complete run. */
  cells: AblationCell[];
}

/** The mean accuracy-budget curve of each strategy at one value (one panel of Figure 4). */
export interface AblationCurves {
  value: number;
  studies: number[];
  series: { strategy: string; points: MeanCurvePoint[] }[];
}

/** Another setting that differs between the chosen studies, so the comparison mixes it in. */
export interface AblationConfounder {
  setting: string;
  /** Each distinct value as text, with the studies that use it. */
  values: { value: string; studies: number[] }[];
}

export interface Ablation {
  field: AblationField;
  dataset: string;
  /** The distinct values of the field, ascending. */
  values: number[];
  /** Strategies in a stable order: as the studies list them, the studies taken by value. */
  series: AblationSeries[];
  curves: AblationCurves[];
  confounders: AblationConfounder[];
  /** Things to know: runs left out, pooled studies, strategies missing at some values. */
  notes: string[];
}

export type AblationResult = { ok: true; ablation: Ablation } | { ok: false; problem: string };

/** Settings that must not differ for a clean ablation but are reported rather than refused. */
const CONFOUNDING_SETTINGS: readonly (keyof StudyConfig)[] = [
  'model',
  'initial',
  'budget',
  'trainBatchSize',
  'learningRate',
  'warmStart',
  'poolSize',
  'testSize',
  'strategyParams',
];

/** The varied fields among `configs`: those with more than one distinct value. */
export function varyingFields(
  configs: readonly Pick<StudyConfig, AblationField>[],
): AblationField[] {
  return ABLATION_FIELDS.filter((f) => new Set(configs.map((c) => c[f])).size > 1);
}

const ids = (list: readonly { id: number }[]): string => list.map((s) => `#${s.id}`).join(', ');

/** Text for a setting's value, so that objects compare by content and show readably. */
function settingText(v: unknown): string {
  if (v === undefined) return 'all';
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/**
 * Compare strategies across studies that differ in the number of training epochs or in the AL
 * batch size. The varied field is detected; studies on different datasets, studies that differ in
 * both fields or in neither, and the same run counted twice are refused with what to change.
 * Other differing settings (model, seed size...) are listed as confounders. Only complete runs
 * count; std is the sample std over the runs pooled at a value.
 */
export function buildAblation(studies: readonly AblationStudy[]): AblationResult {
  if (studies.length < 2) {
    return { ok: false, problem: 'Choose at least two finished studies to compare.' };
  }
  const datasetKey = (s: AblationStudy) =>
    `${s.config.dataset}${s.config.imbalanced ? ' (imbalanced pool)' : ''}`;
  const datasets = new Map<string, AblationStudy[]>();
  for (const s of studies) datasets.set(datasetKey(s), [...(datasets.get(datasetKey(s)) ?? []), s]);
  if (datasets.size > 1) {
    const parts = [...datasets.entries()].map(([d, list]) => `${ids(list)} on ${d}`);
    return {
      ok: false,
      problem: `An ablation compares one dataset, but these studies use ${datasets.size}: ${parts.join('; ')}.`,
    };
  }

  const configs = studies.map((s) => s.config);
  const varying = varyingFields(configs);
  if (varying.length === 0) {
    return {
      ok: false,
      problem: `These studies all train ${configs[0]!.epochs} epochs per round with batch size ${configs[0]!.batch}; choose studies that differ in the number of epochs or in the batch size.`,
    };
  }
  if (varying.length > 1) {
    const show = (f: AblationField) =>
      `${ABLATION_FIELD_LABELS[f].short} (${[...new Set(configs.map((c) => c[f]))].sort((a, b) => a - b).join(', ')})`;
    return {
      ok: false,
      problem: `Both the ${show('epochs')} and the ${show('batch')} differ; choose studies that differ in only one of them, so the effect can be told apart.`,
    };
  }
  const field = varying[0]!;
  const sorted = [...studies].sort((a, b) => a.config[field] - b.config[field] || a.id - b.id);
  const values = [...new Set(sorted.map((s) => s.config[field]))];

  // Strategies in the order the studies list them.
  const strategies: string[] = [];
  for (const s of sorted) {
    for (const name of s.config.strategies) if (!strategies.includes(name)) strategies.push(name);
  }

  const notes: string[] = [];
  let leftOut = 0;
  type Run = { study: number; run: RunReport };
  // value -> strategy -> complete runs
  const complete = new Map<number, Map<string, Run[]>>();
  for (const s of sorted) {
    const v = s.config[field];
    const byStrategy = complete.get(v) ?? new Map<string, Run[]>();
    complete.set(v, byStrategy);
    for (const run of s.runs) {
      if (!run.complete || run.curve.length === 0) {
        leftOut++;
        continue;
      }
      const list = byStrategy.get(run.strategy) ?? [];
      const twin = list.find((r) => r.run.seed === run.seed);
      if (twin) {
        return {
          ok: false,
          problem: `Studies #${twin.study} and #${s.id} both ran ${run.strategy} at ${ABLATION_FIELD_LABELS[field].short} ${v} from the same seed (${run.seed}): the same run would count twice. Leave one of them out.`,
        };
      }
      list.push({ study: s.id, run });
      byStrategy.set(run.strategy, list);
    }
  }
  if ([...complete.values()].every((m) => m.size === 0)) {
    return { ok: false, problem: 'None of these studies has a complete run yet.' };
  }
  if (leftOut > 0) notes.push(`${leftOut} incomplete run(s) are left out of the statistics.`);

  for (const v of values) {
    const at = sorted.filter((s) => s.config[field] === v);
    if (at.length > 1) {
      notes.push(
        `${ABLATION_FIELD_LABELS[field].short} ${v}: the runs of studies ${ids(at)} are pooled.`,
      );
    }
  }

  const series: AblationSeries[] = strategies.map((strategy) => {
    const cells: AblationCell[] = [];
    for (const v of values) {
      const runs = complete.get(v)?.get(strategy) ?? [];
      if (runs.length === 0) continue;
      const curves = runs.map((r) => r.run.curve);
      const a = meanStd(curves.map((c) => aubc(c)));
      const f = meanStd(curves.map((c) => finalAccuracy(c)));
      cells.push({
        value: v,
        studies: [...new Set(runs.map((r) => r.study))],
        runs: runs.length,
        aubcMean: a.mean,
        aubcStd: a.std,
        faccMean: f.mean,
        faccStd: f.std,
      });
    }
    const missing = values.filter((v) => !cells.some((c) => c.value === v));
    if (missing.length > 0 && cells.length > 0) {
      notes.push(
        `${strategy} has no complete run at ${ABLATION_FIELD_LABELS[field].short} ${missing.join(', ')}.`,
      );
    }
    return { strategy, cells };
  });

  const curves: AblationCurves[] = values.map((v) => ({
    value: v,
    studies: sorted.filter((s) => s.config[field] === v).map((s) => s.id),
    series: strategies.flatMap((strategy) => {
      const runs = complete.get(v)?.get(strategy) ?? [];
      return runs.length === 0
        ? []
        : [{ strategy, points: meanCurve(runs.map((r) => r.run.curve)) }];
    }),
  }));

  const confounders: AblationConfounder[] = [];
  for (const setting of CONFOUNDING_SETTINGS) {
    const byValue = new Map<string, number[]>();
    for (const s of sorted) {
      const key = settingText(s.config[setting]);
      byValue.set(key, [...(byValue.get(key) ?? []), s.id]);
    }
    if (byValue.size > 1) {
      confounders.push({
        setting,
        values: [...byValue.entries()].map(([value, studyIds]) => ({ value, studies: studyIds })),
      });
    }
  }

  return {
    ok: true,
    ablation: {
      field,
      dataset: [...datasets.keys()][0]!,
      values,
      series: series.filter((s) => s.cells.length > 0),
      curves,
      confounders,
      notes,
    },
  };
}

/** CSV quoting as RFC 4180 wants. */
function cell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The ablation table, one row per strategy and value (long format, ready for a plotting tool). */
export function ablationCsv(a: Ablation): string {
  const lines = [
    ['strategy', a.field, 'runs', 'studies', 'aubc_mean', 'aubc_std', 'facc_mean', 'facc_std'].join(
      ',',
    ),
  ];
  for (const s of a.series) {
    for (const c of s.cells) {
      lines.push(
        [
          s.strategy,
          c.value,
          c.runs,
          c.studies.join(' '),
          c.aubcMean,
          c.aubcStd,
          c.faccMean,
          c.faccStd,
        ]
          .map(cell)
          .join(','),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
