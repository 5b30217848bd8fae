/**
 * docs/results/README.md from the committed study reports. Pure: the reports go in, Markdown
 * comes out, so the tests check it on a hand-made set. Every number is computed here from the
 * runs with shared/metrics and shared/ablation, the same functions the app's dashboards use.
 *
 * A study is shown as complete only when every strategy x repeat of the plan has all its rounds;
 * anything less is labelled partial (or missing) and kept out of the cross-dataset ranking.
 */
import { createHash } from 'node:crypto';
import { ABLATION_FIELD_LABELS, buildAblation, type Ablation } from '../../shared/ablation.ts';
import { meanStd, winTieLoss, type AubcResult } from '../../shared/metrics.ts';
import { StudyConfigSchema, type StudyConfig } from '../../shared/study.ts';
import { WTL_MARGIN, type StudyReport } from '../../shared/report.ts';
import { inGroup, strategiesFor, type PlannedStudy } from './plan.ts';

export type StudyState = 'complete' | 'partial' | 'missing' | 'stale';

export interface StudyResult {
  planned: PlannedStudy;
  state: StudyState;
  report: StudyReport | null;
  /** Complete runs / runs the plan asks for. */
  completeRuns: number;
  plannedRuns: number;
  /** Why a report is stale (its settings are not the plan's). */
  staleWhy?: string;
}

/** A figure file (relative to the results folder) and what it shows. */
export interface Figure {
  file: string;
  caption: string;
  /** The study keys or ablation group it belongs to. */
  group: string;
}

function settingsKey(cfg: StudyConfig): string {
  const { dataDir: _d, ...rest } = cfg;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

/** Classify one study's report against its plan entry. */
export function classify(planned: PlannedStudy, report: StudyReport | null): StudyResult {
  const cfg = StudyConfigSchema.parse(planned.config);
  const plannedRuns = cfg.strategies.length * cfg.repeats;
  if (!report) return { planned, state: 'missing', report: null, completeRuns: 0, plannedRuns };
  const stored = StudyConfigSchema.parse(report.config);
  if (settingsKey(stored) !== settingsKey(cfg)) {
    const differs = (Object.keys(cfg) as (keyof StudyConfig)[]).filter(
      (k) => k !== 'dataDir' && JSON.stringify(cfg[k]) !== JSON.stringify(stored[k]),
    );
    return {
      planned,
      state: 'stale',
      report,
      completeRuns: 0,
      plannedRuns,
      staleWhy: `its settings differ from the plan's in ${differs.join(', ') || 'some field'}`,
    };
  }
  let completeRuns = 0;
  for (const strategy of cfg.strategies) {
    for (let r = 0; r < cfg.repeats; r++) {
      if (report.runs.some((x) => x.strategy === strategy && x.repeat === r && x.complete))
        completeRuns++;
    }
  }
  return {
    planned,
    state: completeRuns === plannedRuns ? 'complete' : 'partial',
    report,
    completeRuns,
    plannedRuns,
  };
}

const pct = (v: number, digits = 2) => (v * 100).toFixed(digits);
const pm = (mean: number, std: number) => `${pct(mean)} ± ${pct(std)}`;
const secs = (ms: number) => (ms / 1000).toFixed(1);

function table(header: string[], rows: string[][], align: ('l' | 'r')[] = []): string {
  const sep = header.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}

function stateText(s: StudyResult): string {
  switch (s.state) {
    case 'complete':
      return `complete (${s.completeRuns}/${s.plannedRuns} runs)`;
    case 'partial':
      return `**PARTIAL**: ${s.completeRuns}/${s.plannedRuns} runs complete`;
    case 'missing':
      return '**NOT RUN** yet';
    case 'stale':
      return `**STALE**: ${s.staleWhy}; rerun with --from-scratch`;
  }
}

/**
 * Strategy summary rows of a report: AUBC, F-acc, repeats, ranked by AUBC; balanced AUBC and
 * F-acc too when the runs were recorded with confusion matrices (reports before them have none).
 */
function summaryTable(r: StudyResult): string {
  const report = r.report!;
  const balanced = report.summary.some((s) => typeof s.balancedFaccMean === 'number');
  const opt = (mean: number | null | undefined, std: number | null | undefined) =>
    typeof mean === 'number' && typeof std === 'number' ? [pm(mean, std)] : ['—'];
  const rows = report.summary.map((s, i) => [
    String(i + 1),
    s.strategy,
    pm(s.aubcMean, s.aubcStd),
    pm(s.faccMean, s.faccStd),
    ...(balanced
      ? [
          ...opt(s.balancedAubcMean, s.balancedAubcStd),
          ...opt(s.balancedFaccMean, s.balancedFaccStd),
        ]
      : []),
    String(s.repeats),
  ]);
  const extra = balanced ? ['balanced AUBC % (mean ± std)', 'balanced F-acc % (mean ± std)'] : [];
  return table(
    ['#', 'strategy', 'AUBC % (mean ± std)', 'F-acc % (mean ± std)', ...extra, 'repeats'],
    rows,
    ['r', 'l', 'r', 'r', ...extra.map(() => 'r' as const), 'r'],
  );
}

/** Complete runs of the complete (or, with `partial`, any) main studies as AUBC results. */
export function mainAubcResults(results: readonly StudyResult[]): AubcResult[] {
  const out: AubcResult[] = [];
  for (const r of results) {
    if (r.planned.group !== 'main' || r.state !== 'complete') continue;
    for (const run of r.report!.runs) {
      if (run.complete && run.aubc !== null)
        out.push({
          strategy: run.strategy,
          dataset: r.planned.key,
          repeat: run.repeat,
          aubc: run.aubc,
        });
    }
  }
  return out;
}

/** Ranks (1-based, by win-tie-loss score) across the complete main studies, and their count. */
export function overallRanking(results: readonly StudyResult[]) {
  const aubcs = mainAubcResults(results);
  const perDataset = winTieLoss(aubcs, WTL_MARGIN, { unit: 'dataset' });
  const perRepeat = winTieLoss(aubcs, WTL_MARGIN, { unit: 'repeat' });
  return { perDataset, perRepeat, datasets: new Set(aubcs.map((a) => a.dataset)).size };
}

/** 1-based rank of a strategy in a ranking, with ties sharing the best rank of their score. */
function rankOf(
  ranking: readonly { strategy: string; score: number }[],
  strategy: string,
): number | null {
  const me = ranking.find((r) => r.strategy === strategy);
  if (!me) return null;
  return ranking.filter((r) => r.score > me.score).length + 1;
}

function meanAubc(r: StudyResult, strategy: string): number | null {
  return r.report?.summary.find((s) => s.strategy === strategy)?.aubcMean ?? null;
}

function summaryOf(r: StudyResult, strategy: string) {
  return r.report?.summary.find((s) => s.strategy === strategy) ?? null;
}

const signed = (v: number) => `${v >= 0 ? '+' : ''}${pct(v)}`;

/**
 * A study's report as an ablation group sees it: a main study that serves as the ablations'
 * point at the protocol's settings contributes only the ablation's strategies.
 */
export function ablationReport(
  r: StudyResult,
  group: 'ablation-epochs' | 'ablation-batch',
): StudyReport {
  const report = r.report!;
  const keep = strategiesFor(r.planned, group);
  if (keep.length === report.config.strategies.length) return report;
  return {
    ...report,
    config: {
      ...report.config,
      strategies: report.config.strategies.filter((s) => keep.includes(s)),
    },
    runs: report.runs.filter((run) => keep.includes(run.strategy)),
  };
}

/** The ablation over the studies of one group that are complete, via shared/ablation. */
export function ablationOf(
  results: readonly StudyResult[],
  group: 'ablation-epochs' | 'ablation-batch',
): { ablation: Ablation | null; problem: string | null; complete: number; planned: number } {
  const members = results.filter((r) => inGroup(r.planned).includes(group));
  const done = members.filter((r) => r.state === 'complete');
  const built = buildAblation(
    done.map((r, i) => {
      const report = ablationReport(r, group);
      return {
        id: i + 1,
        name: r.planned.key,
        config: StudyConfigSchema.parse(report.config),
        runs: report.runs,
      };
    }),
  );
  return {
    ablation: built.ok ? built.ablation : null,
    problem: built.ok ? null : built.problem,
    complete: done.length,
    planned: members.length,
  };
}

/** One of the survey's findings and the facts computed here about it. */
export interface Finding {
  /** Stable key: the heading of its verdict in VERDICTS.md. */
  id: string;
  survey: string;
  here: string[];
}

/**
 * The survey's findings (../shared/docs/SURVEY.md, end) each with what the data here says, as
 * computed facts. The verdict ("holds", "does not hold", why) is a person's: see `parseVerdicts`.
 */
export function findings(results: readonly StudyResult[]): Finding[] {
  const main = results.filter((r) => r.planned.group === 'main' && r.state === 'complete');
  const { perDataset, perRepeat, datasets } = overallRanking(results);
  const n = perRepeat.ranking.length;
  const rank = (s: string) => {
    const k = rankOf(perRepeat.ranking, s);
    return k === null ? `${s} has no complete runs` : `${s} ranks ${k} of ${n}`;
  };
  const diffs = (a: string, b: string) => {
    const list = main
      .map((r) => {
        const x = meanAubc(r, a);
        const y = meanAubc(r, b);
        return x === null || y === null ? null : `${r.planned.title} ${signed(x - y)}`;
      })
      .filter((v): v is string => v !== null);
    return list.length ? list : ['n/a (no complete runs of both)'];
  };
  const meanDiff = (a: string, b: string) => {
    const d = main
      .map((r) => {
        const x = meanAubc(r, a);
        const y = meanAubc(r, b);
        return x === null || y === null ? null : x - y;
      })
      .filter((v): v is number => v !== null);
    return d.length ? meanStd(d).mean : null;
  };
  const query = (s: string) => {
    const q = main.map((r) => summaryOf(r, s)?.queryMs).filter((v): v is number => v !== undefined);
    return q.length ? meanStd(q).mean : null;
  };
  const train = (s: string) => {
    const q = main.map((r) => summaryOf(r, s)?.trainMs).filter((v): v is number => v !== undefined);
    return q.length ? meanStd(q).mean : null;
  };
  const timeText = (s: string) => {
    const q = query(s);
    const t = train(s);
    return q === null || t === null
      ? `${s}: no times`
      : `${s} query ${secs(q)} s, train ${secs(t)} s per run`;
  };
  const basis =
    main.length === 0
      ? ['No main study is complete yet: nothing to compare.']
      : [
          `Over ${datasets} complete dataset(s): ${main.map((r) => r.planned.title).join(', ')}; ranks by win-tie-loss score over repeats (margin 0.5 points).`,
        ];
  if (main.length === 0) return [{ id: 'all', survey: 'All findings', here: basis }];

  const out: Finding[] = [];
  out.push({
    id: 'uncertainty',
    survey:
      'Uncertainty methods are strong and cheap; MC-dropout versions are 1-3% better on TinyImageNet.',
    here: [
      ...basis,
      ['Entropy', 'Margin', 'LeastConf', 'Random'].map(rank).join('; ') + '.',
      `MC dropout minus deterministic AUBC (points): EntropyD-Entropy ${diffs('EntropyD', 'Entropy').join(', ')}; MarginD-Margin ${diffs('MarginD', 'Margin').join(', ')}; LeastConfD-LeastConf ${diffs('LeastConfD', 'LeastConf').join(', ')}.`,
      `Times: ${['Entropy', 'EntropyD', 'BADGE'].map(timeText).join('; ')}.`,
    ],
  });
  const ceal = meanDiff('CEAL', 'Entropy');
  const badge = meanDiff('BADGE', 'KMeans');
  out.push({
    id: 'ceal-badge',
    survey:
      'CEAL adds ~0.5% AUBC over Entropy on average. BADGE is consistently good, 1-3% over KMeans.',
    here: [
      `CEAL minus Entropy: ${diffs('CEAL', 'Entropy').join(', ')}${ceal === null ? '' : ` (mean ${signed(ceal)})`}.`,
      `BADGE minus KMeans: ${diffs('BADGE', 'KMeans').join(', ')}${badge === null ? '' : ` (mean ${signed(badge)})`}; ${rank('BADGE')}.`,
    ],
  });
  out.push({
    id: 'diversity',
    survey: 'KMeans, KCenter and VAAL are unsatisfying and slow.',
    here: [
      `${['KMeans', 'KCenter', 'VAAL'].map(rank).join('; ')}.`,
      `Minus Random: KMeans ${diffs('KMeans', 'Random').join(', ')}; KCenter ${diffs('KCenter', 'Random').join(', ')}; VAAL ${diffs('VAAL', 'Random').join(', ')}.`,
      `Times: ${['KMeans', 'KCenter', 'VAAL', 'Random'].map(timeText).join('; ')}.`,
    ],
  });
  const winsPerDataset = (s: string) =>
    main.map((r) => {
      const k = r.report!.summary.findIndex((x) => x.strategy === s);
      return `${r.planned.title} ${k < 0 ? 'n/a' : `${k + 1}/${r.report!.summary.length}`}`;
    });
  out.push({
    id: 'lpl-waal',
    survey:
      'LPL and WAAL are excellent on some datasets and fail on many-class sets; WAAL ranks first overall and is robust to few training epochs.',
    here: [
      `By mean AUBC per dataset: LPL ${winsPerDataset('LPL').join(', ')}; WAAL ${winsPerDataset('WAAL').join(', ')}.`,
      `${rank('WAAL')} (per-dataset units: ${(() => {
        const k = rankOf(perDataset.ranking, 'WAAL');
        return k === null ? 'n/a' : `${k} of ${perDataset.ranking.length}`;
      })()}); first here: ${perRepeat.ranking[0]?.strategy ?? 'n/a'}.`,
      ...(() => {
        const a = ablationOf(results, 'ablation-epochs').ablation;
        if (!a) return ['Epochs ablation not complete: robustness to few epochs not measured yet.'];
        const cell = (s: string, v: number) =>
          a.series.find((x) => x.strategy === s)?.cells.find((c) => c.value === v);
        const gaps = a.values.flatMap((v) => {
          const w = cell('WAAL', v);
          const r = cell('Random', v);
          return w && r ? [`${signed(w.aubcMean - r.aubcMean)} at ${v}`] : [];
        });
        return [
          gaps.length > 0
            ? `WAAL minus Random AUBC (points) by epochs: ${gaps.join(', ')}.`
            : `WAAL or Random missing at epochs ${a.values.join(', ')}.`,
        ];
      })(),
      'The datasets here have 10 classes each: the many-class failure (EMNIST, TinyImageNet) is not tested.',
    ],
  });
  const adv = ['AdversarialBIM', 'AdversarialDeepFool'].map((s) => {
    const q = query(s);
    const e = query('Entropy');
    return q === null || e === null || e === 0
      ? `${s}: no times`
      : `${s} query ${secs(q)} s per run (${(q / e).toFixed(0)}x Entropy's)`;
  });
  out.push({
    id: 'adversarial',
    survey: 'AdversarialBIM/DeepFool are prohibitively slow on large pools.',
    here: [
      `${adv.join('; ')}. Both score at most maxCandidates pool samples per round here (see PROTOCOL.md).`,
    ],
  });
  const trend = (group: 'ablation-epochs' | 'ablation-batch') => {
    const { ablation, complete, planned } = ablationOf(results, group);
    if (!ablation)
      return `${group}: ${complete}/${planned} studies complete, not enough to compare.`;
    const label = ABLATION_FIELD_LABELS[ablation.field].short;
    return ablation.series
      .map(
        (s) =>
          `${s.strategy}: ${s.cells.map((c) => `${pct(c.aubcMean)} at ${label} ${c.value}`).join(', ')}`,
      )
      .join('; ');
  };
  out.push({
    id: 'epochs-batch',
    survey:
      'More epochs help with diminishing returns; batch size matters little until it is very large.',
    here: [
      `AUBC % by epochs: ${trend('ablation-epochs')}.`,
      `AUBC % by batch size: ${trend('ablation-batch')}.`,
    ],
  });
  return out;
}

/** Short fingerprint of a finding's computed facts, so a verdict knows which numbers it read. */
export function factsFingerprint(f: Finding): string {
  return createHash('sha256').update(f.here.join('\n')).digest('hex').slice(0, 12);
}

/** A person's verdict on one finding, from VERDICTS.md. */
export interface Verdict {
  text: string;
  /** The fingerprint of the facts it was written against (`<!-- facts: ... -->`), if given. */
  facts: string | null;
}

/**
 * Parse VERDICTS.md: a `## <finding id>` heading per finding, an optional
 * `<!-- facts: <fingerprint> -->` line copied from README.md, then the prose. Text before the
 * first heading is the file's own introduction. Unknown ids and repeated headings are errors,
 * with the line, so a typo cannot silently drop a verdict.
 */
export function parseVerdicts(
  text: string,
  knownIds: readonly string[],
  file = 'VERDICTS.md',
): Map<string, Verdict> {
  const out = new Map<string, Verdict>();
  let current: { id: string; lines: string[]; facts: string | null } | null = null;
  const flush = () => {
    if (!current) return;
    const body = current.lines.join('\n').trim();
    if (body) out.set(current.id, { text: body, facts: current.facts });
  };
  text.split(/\r?\n/).forEach((line, i) => {
    const h = /^##\s+(.+?)\s*$/.exec(line);
    if (h) {
      flush();
      const id = h[1]!;
      if (!knownIds.includes(id))
        throw new Error(
          `${file}, line ${i + 1}: unknown finding "${id}"; the findings are ${knownIds.join(', ')}`,
        );
      if (out.has(id) || current?.id === id)
        throw new Error(`${file}, line ${i + 1}: a second verdict for "${id}"`);
      current = { id, lines: [], facts: null };
      return;
    }
    if (!current) return;
    const f = /^<!--\s*facts:\s*([0-9a-f]+)\s*-->$/.exec(line.trim());
    if (f) current.facts = f[1]!;
    else current.lines.push(line);
  });
  flush();
  return out;
}

/** Every finding id `findings` can produce. */
export const FINDING_IDS = [
  'all',
  'uncertainty',
  'ceal-badge',
  'diversity',
  'lpl-waal',
  'adversarial',
  'epochs-batch',
] as const;

export interface RenderInput {
  results: readonly StudyResult[];
  figures: readonly Figure[];
  /** Text about the figures (e.g. why some could not be exported). */
  figureNotes: readonly string[];
  /** A person's verdicts by finding id (VERDICTS.md); missing ones are marked TO WRITE. */
  verdicts?: ReadonlyMap<string, Verdict>;
}

/** The whole results page. */
export function renderResults(input: RenderInput): string {
  const { results, figures } = input;
  const out: string[] = [];
  const main = results.filter((r) => r.planned.group === 'main');
  const allComplete = results.every((r) => r.state === 'complete');
  out.push("# Results: the survey's comparison at CPU scale");
  out.push('');
  out.push(
    "_Generated by `npm run reproduce` (publisher: `electron/reproduce/results.ts`) from the report files in this folder; do not edit by hand: the verdicts on the survey's findings are written in [VERDICTS.md](VERDICTS.md)._",
  );
  out.push('');
  out.push(
    allComplete
      ? 'Every planned study is complete.'
      : `**Not finished:** ${results.filter((r) => r.state !== 'complete').length} of ${results.length} planned studies are not complete; their numbers below are marked and will change.`,
  );
  out.push('');
  out.push('## Protocol');
  out.push('');
  out.push('The protocol and the reasons for it: [PROTOCOL.md](PROTOCOL.md). Per study:');
  out.push('');
  out.push(
    table(
      [
        'study',
        'dataset',
        'strategies',
        'repeats',
        'model',
        'epochs',
        'seed M',
        'batch b',
        'budget Q',
        'pool',
        'test',
        'state',
      ],
      results.map((r) => {
        const c = StudyConfigSchema.parse(r.planned.config);
        const link = r.report ? `[${r.planned.key}](${r.planned.key}/report.html)` : r.planned.key;
        return [
          link,
          `${c.dataset}${c.imbalanced ? ' (imbalanced)' : ''}`,
          String(c.strategies.length),
          String(c.repeats),
          c.model,
          String(c.epochs),
          String(c.initial),
          String(c.batch),
          String(c.budget),
          String(c.poolSize ?? 'all'),
          String(c.testSize ?? 'all'),
          stateText(r),
        ];
      }),
    ),
  );
  const described = main.filter((r) => r.report);
  if (described.length) {
    out.push('');
    for (const r of described)
      out.push(
        `- ${r.planned.key}: ${r.report!.dataset.description} Backend: ${r.report!.backend}.`,
      );
  }
  out.push('');
  out.push('## AUBC and F-acc per dataset');
  out.push('');
  out.push(
    'Percent, mean ± sample standard deviation (n - 1) over complete repeats; ranked by mean AUBC. AUBC: trapezoid area under the accuracy-budget curve over the whole labeled range, divided by its width.',
  );
  for (const r of main) {
    out.push('');
    out.push(`### ${r.planned.title} (${r.planned.key}): ${stateText(r)}`);
    out.push('');
    if (!r.report || r.state === 'stale' || r.report.summary.length === 0) {
      out.push('No complete run yet.');
      continue;
    }
    if (r.state === 'partial')
      out.push(
        '_Partial: only strategies with complete runs are listed, over the repeats done so far._\n',
      );
    out.push(summaryTable(r));
  }

  out.push('');
  out.push('## Win-tie-loss and ranking');
  out.push('');
  out.push(
    `A wins over B when its AUBC is higher by more than ${pct(WTL_MARGIN, 1)} points, loses when lower by more, else ties. Score = wins - losses.`,
  );
  const { perDataset, perRepeat, datasets } = overallRanking(results);
  out.push('');
  out.push(`### Across datasets (${datasets} complete of ${main.length})`);
  out.push('');
  if (datasets === 0) {
    out.push('No main study is complete yet; the ranking across datasets waits for them.');
  } else {
    if (datasets < main.length)
      out.push(
        `_Only the complete datasets count: ${main
          .filter((r) => r.state === 'complete')
          .map((r) => r.planned.key)
          .join(', ')}._\n`,
      );
    out.push(
      table(
        [
          'rank',
          'strategy',
          'per repeat: W',
          'T',
          'L',
          'score',
          'per dataset (mean AUBC): W',
          'T',
          'L',
          'score',
        ],
        perRepeat.ranking.map((t) => {
          const d = perDataset.ranking.find((x) => x.strategy === t.strategy)!;
          return [
            String(rankOf(perRepeat.ranking, t.strategy)),
            t.strategy,
            String(t.win),
            String(t.tie),
            String(t.loss),
            String(t.score),
            String(d.win),
            String(d.tie),
            String(d.loss),
            String(d.score),
          ];
        }),
        ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    out.push('');
    out.push(
      '"Per repeat" compares the two runs that share a repeat\'s initial labeled seed on each dataset (one comparison per repeat); "per dataset" compares mean AUBC over the repeats, one comparison per pair and dataset, as the survey\'s Table 3.',
    );
  }
  for (const r of main) {
    if (r.state !== 'complete') continue;
    out.push('');
    out.push(`### ${r.planned.title} alone (per repeat)`);
    out.push('');
    out.push(
      table(
        ['rank', 'strategy', 'W', 'T', 'L', 'score'],
        r.report!.winTieLoss.ranking.map((t) => [
          String(rankOf(r.report!.winTieLoss.ranking, t.strategy)),
          t.strategy,
          String(t.win),
          String(t.tie),
          String(t.loss),
          String(t.score),
        ]),
        ['r', 'l', 'r', 'r', 'r', 'r'],
      ),
    );
  }

  out.push('');
  out.push('## Time per strategy');
  out.push('');
  out.push(
    'Mean total seconds per run (one strategy, one repeat, the whole budget): training (all rounds, including any extra networks a strategy trains) and query (selection), measured per round in milliseconds. Compare strategies within a column: which machine ran which runs, and how loaded it was, is in [PROTOCOL.md](PROTOCOL.md#how-the-published-run-was-made).',
  );
  out.push('');
  const strategies = [
    ...new Set(main.flatMap((r) => (r.report ? r.report.summary.map((s) => s.strategy) : []))),
  ];
  const shown = main.filter((r) => r.report && r.state !== 'stale');
  if (strategies.length === 0) out.push('No complete run yet.');
  else
    out.push(
      table(
        ['strategy', ...shown.flatMap((r) => [`${r.planned.key} train s`, 'query s'])],
        strategies.map((s) => [
          s,
          ...shown.flatMap((r) => {
            const x = summaryOf(r, s);
            return x ? [secs(x.trainMs), secs(x.queryMs)] : ['', ''];
          }),
        ]),
        ['l', ...shown.flatMap(() => ['r', 'r'] as const)],
      ),
    );
  if (shown.some((r) => r.state !== 'complete'))
    out.push('\n_Columns of partial studies are over the runs completed so far._');

  out.push('');
  out.push("## Ablations (the survey's Figures 3 and 4)");
  for (const group of ['ablation-epochs', 'ablation-batch'] as const) {
    const { ablation, problem, complete, planned } = ablationOf(results, group);
    if (planned === 0) continue;
    const field = group === 'ablation-epochs' ? 'epochs' : 'batch';
    out.push('');
    out.push(
      `### AUBC against ${ABLATION_FIELD_LABELS[field].short} (${complete} of ${planned} studies complete)`,
    );
    out.push('');
    const hosts = results.filter(
      (r) => r.planned.group === 'main' && inGroup(r.planned).includes(group),
    );
    for (const h of hosts)
      out.push(
        `The point at ${ABLATION_FIELD_LABELS[field].short} ${h.planned.config[field]} is the ${h.planned.key} study's runs of ${strategiesFor(h.planned, group).join(', ')} (the same settings and seeds, so not run twice).\n`,
      );
    if (!ablation) {
      out.push(`Not shown yet: ${problem}`);
    } else {
      if (complete < planned) out.push('_Partial: only the complete studies are included._\n');
      out.push(
        table(
          ['strategy', ...ablation.values.map((v) => `${ABLATION_FIELD_LABELS[field].short} ${v}`)],
          ablation.series.map((s) => [
            s.strategy,
            ...ablation.values.map((v) => {
              const c = s.cells.find((x) => x.value === v);
              return c ? pm(c.aubcMean, c.aubcStd) : '';
            }),
          ]),
          ['l', ...ablation.values.map(() => 'r' as const)],
        ),
      );
      for (const note of ablation.notes) out.push(`\n- ${note}`);
    }
    for (const f of figures.filter((x) => x.group === group))
      out.push(`\n![${f.caption}](${f.file})`);
  }
  const studyFigures = figures.filter((f) => !f.group.startsWith('ablation'));
  if (studyFigures.length || input.figureNotes.length) {
    out.push('');
    out.push('## Figures');
    out.push('');
    out.push(
      'Exported with the app\'s own "Export PNG" buttons (browser mode, driven by playwright-core).',
    );
    for (const f of studyFigures) out.push(`\n![${f.caption}](${f.file})`);
    for (const note of input.figureNotes) out.push(`\n- ${note}`);
  }

  out.push('');
  out.push("## Compared with the survey's findings");
  out.push('');
  out.push(
    "Each finding of the survey, the facts computed here, then a person's verdict (holds / does not hold / why), kept in [VERDICTS.md](VERDICTS.md) under the finding's id. A verdict written against other numbers than these is marked for re-checking; _Verdict: TO WRITE_ marks one not written yet.",
  );
  for (const f of findings(results)) {
    const fp = factsFingerprint(f);
    out.push('');
    out.push(`- **Survey** (\`${f.id}\`): ${f.survey}`);
    for (const h of f.here) out.push(`  - Here: ${h}`);
    out.push(`  <!-- facts: ${fp} -->`);
    const v = input.verdicts?.get(f.id);
    if (!v) out.push('  - _Verdict: TO WRITE_');
    else {
      const stale =
        v.facts === fp
          ? ''
          : ` _(written against ${v.facts ? `other numbers (facts ${v.facts}, now ${fp})` : 'unstated numbers'}: re-check)_`;
      const [first, ...rest] = v.text.split('\n');
      out.push(`  - **Verdict:**${stale} ${first}`);
      for (const line of rest) out.push(line.trim() === '' ? '' : `    ${line}`);
    }
  }
  out.push('');
  out.push('## CIFAR-10');
  out.push('');
  out.push(
    'Not run: CIFAR-10 is not on this machine (neither /usr/share/datasets nor ../shared/datasets has it) and it cannot be downloaded here. With the binary batches in a folder, `deepal study --dataset <folder>` reads them; see PROTOCOL.md.',
  );
  out.push('');
  return out.join('\n');
}
