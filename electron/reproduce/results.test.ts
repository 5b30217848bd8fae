import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { buildReport, type RunRecord, type StudyReport } from '../../shared/report.ts';
import { StudyConfigSchema } from '../../shared/study.ts';
import { buildPlan, type PlanSpec, type PlannedStudy } from './plan.ts';
import { publish } from './publish.ts';
import { classify, factsFingerprint, findings, parseVerdicts, renderResults } from './results.ts';

/**
 * A tiny fake reproduction: two datasets (d1 complete, d2 partial), an epochs ablation with one
 * of its two studies reported, and a batch study whose report has other settings (stale).
 * Numbers are hand-checked: one query round, so AUBC is the mean of the curve's two accuracies.
 */
const SPEC: PlanSpec = {
  protocol: {
    strategies: ['Random', 'Entropy'],
    repeats: 2,
    seed: 3,
    initial: 10,
    batch: 10,
    budget: 10,
    epochs: 1,
    model: 'mlp',
    trainBatchSize: 8,
    learningRate: 1e-3,
    poolSize: 100,
    testSize: 50,
  },
  datasets: [
    { key: 'd1', title: 'Data one', dataset: 'demo', imbalanced: false },
    { key: 'd2', title: 'Data two', dataset: 'mnist', imbalanced: false },
  ],
  ablation: {
    dataset: 'demo',
    strategies: ['Random', 'Entropy'],
    repeats: 1,
    epochs: [1, 2],
    batches: [5, 10],
  },
};
const plan = buildPlan(SPEC);
const byKey = (k: string): PlannedStudy => plan.find((s) => s.key === k)!;

function run(
  strategy: string,
  repeat: number,
  accs: number[],
  complete = true,
  step = 10,
): RunRecord {
  const rounds = accs.map((accuracy, round) => ({
    round,
    labeled: 10 + round * step,
    accuracy,
    loss: 1,
    trainMs: 1000 * (round + 1),
    queryMs: round === 0 ? 0 : strategy === 'Random' ? 0 : 500,
  }));
  return { strategy, repeat, seed: 100 + repeat, status: complete ? 'done' : 'cancelled', rounds };
}

function report(
  p: PlannedStudy,
  runs: RunRecord[],
  override: Partial<PlannedStudy['config']> = {},
): StudyReport {
  const config = StudyConfigSchema.parse({ ...p.config, ...override });
  return buildReport({
    config,
    dataset: { description: `${p.title} (fake).`, pool: 100, test: 50, classes: [] },
    backend: 'test',
    runs,
    expectedRounds: Math.ceil(config.budget / config.batch),
    generatedAt: '2025-01-01T00:00:00.000Z',
  });
}

const reports = new Map<string, StudyReport>([
  [
    'd1',
    report(byKey('d1'), [
      run('Random', 0, [0.5, 0.6]),
      run('Random', 1, [0.5, 0.7]),
      run('Entropy', 0, [0.5, 0.7]),
      run('Entropy', 1, [0.5, 0.8]),
    ]),
  ],
  ['d2', report(byKey('d2'), [run('Random', 0, [0.4, 0.5]), run('Entropy', 0, [0.4], false)])],
  [
    'ablation-epochs-1',
    report(byKey('ablation-epochs-1'), [
      run('Random', 0, [0.5, 0.6]),
      run('Entropy', 0, [0.5, 0.7]),
    ]),
  ],
  ['ablation-batch-5', report(byKey('ablation-batch-5'), [], { seed: 99 })],
]);

const dir = mkdtempSync(join(tmpdir(), 'deepal-results-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('results page', () => {
  test('classify: complete, partial, missing, stale', () => {
    const states = plan.map((p) => [p.key, classify(p, reports.get(p.key) ?? null).state]);
    assert.deepEqual(states, [
      ['d1', 'complete'],
      ['d2', 'partial'],
      ['ablation-epochs-1', 'complete'],
      ['ablation-epochs-2', 'missing'],
      ['ablation-batch-5', 'stale'],
    ]);
    assert.equal(classify(byKey('d2'), reports.get('d2')!).completeRuns, 1);
    assert.match(
      classify(byKey('ablation-batch-5'), reports.get('ablation-batch-5')!).staleWhy!,
      /seed/,
    );
  });

  test('tables, ranking and findings from hand-checked numbers; partial never shown as complete', async () => {
    for (const [key, r] of reports) {
      mkdirSync(join(dir, key), { recursive: true });
      writeFileSync(join(dir, key, 'report.json'), JSON.stringify(r));
    }
    const { readme, results } = await publish({ plan, outDir: dir, figures: false });
    const md = readFileSync(readme, 'utf8');
    assert.equal(
      md,
      renderResults({
        results,
        figures: [],
        figureNotes: ['Figures were not exported in this publication (--no-figures).'],
      }),
    );
    assert.match(md, /\*\*Not finished:\*\* 3 of 5 planned studies are not complete/);
    assert.doesNotMatch(md, /Every planned study is complete/);
    // d1: Random AUBC .55, .60 -> 57.50 ± 3.54 (sample std); F-acc .6, .7 -> 65.00 ± 7.07.
    assert.ok(md.includes('| 1 | Entropy | 62.50 ± 3.54 | 75.00 ± 7.07 | 2 |'), md);
    assert.ok(md.includes('| 2 | Random | 57.50 ± 3.54 | 65.00 ± 7.07 | 2 |'));
    // d2 is partial: labelled, its one complete run shown as such, left out of the ranking.
    assert.ok(md.includes('### Data two (d2): **PARTIAL**: 1/4 runs complete'));
    assert.ok(md.includes('| 1 | Random | 45.00 ± 0.00 | 50.00 ± 0.00 | 1 |'));
    assert.ok(md.includes('### Across datasets (1 complete of 2)'));
    assert.ok(md.includes('_Only the complete datasets count: d1._'));
    // Per repeat Entropy beats Random by 5 points twice; per dataset once.
    assert.ok(md.includes('| 1 | Entropy | 2 | 0 | 0 | 2 | 1 | 0 | 0 | 1 |'));
    assert.ok(md.includes('| 2 | Random | 0 | 0 | 2 | -2 | 0 | 0 | 1 | -1 |'));
    assert.doesNotMatch(md, /### Data two alone/);
    // Times: Entropy trains 1 s + 2 s and queries 0.5 s per run.
    assert.match(md, /\| Entropy \| 3\.0 \| 0\.5 \|/);
    // Ablations: one of two epochs studies, so no comparison; the stale batch study is not used.
    assert.ok(
      md.includes('| [ablation-epochs-2]') === false && md.includes('| ablation-epochs-2 | demo |'),
    );
    assert.ok(md.includes('**NOT RUN** yet'));
    assert.ok(md.includes("**STALE**: its settings differ from the plan's in seed"));
    assert.ok(md.includes('### AUBC against epochs (1 of 2 studies complete)'));
    assert.ok(md.includes('Not shown yet: Choose at least two finished studies to compare.'));
    // Findings: computed facts, verdicts left to a person.
    assert.ok(
      md.includes(
        'Entropy ranks 1 of 2; Margin has no complete runs; LeastConf has no complete runs; Random ranks 2 of 2.',
      ),
    );
    assert.ok(md.includes('CEAL minus Entropy: n/a (no complete runs of both).'));
    assert.ok(md.includes('Epochs ablation not complete'));
    assert.equal((md.match(/^ {2}- _Verdict: TO WRITE_$/gm) ?? []).length, 6);
    assert.ok(md.includes('Not run: CIFAR-10 is not on this machine'));
  });

  test('verdicts come from VERDICTS.md; one written against other numbers is flagged', async () => {
    const results = plan.map((p) => classify(p, reports.get(p.key) ?? null));
    const byId = new Map(findings(results).map((f) => [f.id, f]));
    const fp = factsFingerprint(byId.get('uncertainty')!);
    writeFileSync(
      join(dir, 'VERDICTS.md'),
      [
        '# Verdicts',
        'Introduction, not a verdict.',
        '## uncertainty',
        `<!-- facts: ${fp} -->`,
        'Holds: Entropy beats Random.',
        '',
        'Second paragraph.',
        '## diversity',
        '<!-- facts: 000000000000 -->',
        'Written for an older run.',
        '## adversarial',
        '',
      ].join('\n'),
    );
    const { readme } = await publish({ plan, outDir: dir, figures: false });
    const md = readFileSync(readme, 'utf8');
    assert.ok(
      md.includes(
        `  <!-- facts: ${fp} -->\n  - **Verdict:** Holds: Entropy beats Random.\n\n    Second paragraph.`,
      ),
      md,
    );
    assert.ok(
      md.includes(
        `  - **Verdict:** _(written against other numbers (facts 000000000000, now ${factsFingerprint(byId.get('diversity')!)}): re-check)_ Written for an older run.`,
      ),
    );
    // An empty section and the findings without a section are still to write.
    assert.equal((md.match(/^ {2}- _Verdict: TO WRITE_$/gm) ?? []).length, 4);
    assert.doesNotMatch(md, /Introduction, not a verdict/);

    // A typo in a heading stops the publication with the file and line; README.md is kept.
    writeFileSync(join(dir, 'VERDICTS.md'), '## uncertainty\nok\n\n## diversty\nx\n');
    await assert.rejects(
      publish({ plan, outDir: dir, figures: false }),
      /VERDICTS\.md, line 4: unknown finding "diversty"; the findings are all, uncertainty/,
    );
    assert.equal(readFileSync(readme, 'utf8'), md);
    assert.throws(
      () => parseVerdicts('## adversarial\na\n## adversarial\nb', ['adversarial']),
      /line 3: a second verdict for "adversarial"/,
    );
    rmSync(join(dir, 'VERDICTS.md'));
  });

  test('with every study complete the page says so and ranks the ablation', () => {
    const done = new Map(reports);
    done.set(
      'd2',
      report(byKey('d2'), [
        run('Random', 0, [0.4, 0.5]),
        run('Random', 1, [0.4, 0.5]),
        run('Entropy', 0, [0.4, 0.5]),
        run('Entropy', 1, [0.4, 0.5]),
      ]),
    );
    done.set(
      'ablation-epochs-2',
      report(byKey('ablation-epochs-2'), [
        run('Random', 0, [0.5, 0.7]),
        run('Entropy', 0, [0.6, 0.8]),
      ]),
    );
    done.set(
      'ablation-batch-5',
      report(byKey('ablation-batch-5'), [
        run('Random', 0, [0.5, 0.6, 0.6], true, 5),
        run('Entropy', 0, [0.5, 0.6, 0.8], true, 5),
      ]),
    );
    const results = plan.map((p) => classify(p, done.get(p.key) ?? null));
    const md = renderResults({ results, figures: [], figureNotes: [] });
    assert.ok(md.includes('Every planned study is complete.'));
    assert.ok(md.includes('### Across datasets (2 complete of 2)'));
    // d2: equal curves tie; d1 as before. Per repeat: Entropy 2 wins, 2 ties.
    assert.ok(md.includes('| 1 | Entropy | 2 | 2 | 0 | 2 | 1 | 1 | 0 | 1 |'), md);
    // Epochs: Random .55 at 1, .60 at 2; Entropy .60 at 1, .70 at 2.
    assert.ok(md.includes('| Random | 55.00 ± 0.00 | 60.00 ± 0.00 |'));
    assert.ok(md.includes('| Entropy | 60.00 ± 0.00 | 70.00 ± 0.00 |'));
    // Batch 5 (two rounds of 5 over labeled 10..20): Entropy (.55 + .7) / 2 = 62.50.
    // The 1-epoch study is also the batch ablation's point at batch 10.
    assert.ok(md.includes('| strategy | batch size 5 | batch size 10 |'));
    assert.ok(md.includes('| Entropy | 62.50 ± 0.00 | 60.00 ± 0.00 |'));
    assert.ok(
      md.includes('WAAL minus Random') === false &&
        md.includes('WAAL or Random missing at epochs 1, 2.'),
    );
  });
});

describe('results page: the main study as the ablations’ point at the protocol', () => {
  // Same protocol as above, but the ablation has the main study's repeats and a subset of its
  // strategies, so the d1 study (1 epoch, batch 10) is the ablations' point and is not run twice.
  const spec: PlanSpec = {
    ...SPEC,
    protocol: { ...SPEC.protocol, strategies: ['Random', 'Entropy', 'Margin'] },
    ablation: { ...SPEC.ablation!, repeats: 2 },
  };
  const hosted = buildPlan(spec);
  const key = (k: string) => hosted.find((s) => s.key === k)!;

  test('its other strategies stay out of the ablation tables', () => {
    assert.deepEqual(
      hosted.map((s) => s.key),
      ['d1', 'd2', 'ablation-epochs-2', 'ablation-batch-5'],
    );
    const done = new Map<string, StudyReport>([
      [
        'd1',
        report(key('d1'), [
          run('Random', 0, [0.5, 0.6]),
          run('Random', 1, [0.5, 0.7]),
          run('Entropy', 0, [0.5, 0.7]),
          run('Entropy', 1, [0.5, 0.9]),
          run('Margin', 0, [0.5, 0.9]),
          run('Margin', 1, [0.5, 0.9]),
        ]),
      ],
      [
        'ablation-epochs-2',
        report(key('ablation-epochs-2'), [
          run('Random', 0, [0.5, 0.7]),
          run('Random', 1, [0.5, 0.7]),
          run('Entropy', 0, [0.6, 0.8]),
          run('Entropy', 1, [0.6, 0.8]),
        ]),
      ],
    ]);
    const results = hosted.map((p) => classify(p, done.get(p.key) ?? null));
    const md = renderResults({ results, figures: [], figureNotes: [] });
    const epochs = md.slice(md.indexOf('| strategy | epochs 1 | epochs 2 |'));
    // d1 at 1 epoch: Random (.55 + .6) / 2 = 57.50 ± 3.54, Entropy (.6 + .7) / 2 = 65.00 ± 7.07.
    assert.ok(epochs.includes('| Random | 57.50 ± 3.54 | 60.00 ± 0.00 |'), epochs);
    assert.ok(epochs.includes('| Entropy | 65.00 ± 7.07 | 70.00 ± 0.00 |'), epochs);
    assert.ok(
      md.includes(
        "The point at epochs 1 is the d1 study's runs of Random, Entropy (the same settings and seeds, so not run twice).",
      ),
    );
    const table = epochs.slice(0, epochs.indexOf('\n\n'));
    assert.equal(table.includes('Margin'), false, 'Margin is not an ablation strategy');
  });
});

describe('results page: WAAL against Random over the epochs ablation', () => {
  const spec: PlanSpec = {
    ...SPEC,
    ablation: { ...SPEC.ablation!, strategies: ['Random', 'WAAL'] },
  };
  const waalPlan = buildPlan(spec);
  const key = (k: string) => waalPlan.find((s) => s.key === k)!;

  test('the lpl-waal finding gives the gap at every epoch setting', () => {
    const done = new Map<string, StudyReport>([
      ['d1', reports.get('d1')!],
      [
        'ablation-epochs-1',
        report(key('ablation-epochs-1'), [
          run('Random', 0, [0.5, 0.6]),
          run('WAAL', 0, [0.5, 0.8]),
        ]),
      ],
      [
        'ablation-epochs-2',
        report(key('ablation-epochs-2'), [
          run('Random', 0, [0.5, 0.7]),
          run('WAAL', 0, [0.5, 0.5]),
        ]),
      ],
    ]);
    const results = waalPlan.map((p) => classify(p, done.get(p.key) ?? null));
    const lplWaal = findings(results).find((f) => f.id === 'lpl-waal')!;
    // AUBC: Random 55 and 60, WAAL 65 and 50.
    assert.ok(
      lplWaal.here.includes('WAAL minus Random AUBC (points) by epochs: +10.00 at 1, -10.00 at 2.'),
      lplWaal.here.join('\n'),
    );
  });
});

describe('results page: balanced accuracy', () => {
  test('a report recorded with confusion matrices gets balanced columns; older reports none', () => {
    // Every round: recall 25/25 and 15/25, so balanced accuracy 0.8 throughout.
    const confusion = [
      [25, 0],
      [10, 15],
    ];
    const withMatrices = (r: RunRecord): RunRecord => ({
      ...r,
      rounds: r.rounds.map((x) => ({ ...x, confusion })),
    });
    const d1 = report(
      byKey('d1'),
      [
        run('Random', 0, [0.5, 0.6]),
        run('Random', 1, [0.5, 0.7]),
        run('Entropy', 0, [0.5, 0.7]),
        run('Entropy', 1, [0.5, 0.8]),
      ].map(withMatrices),
    );
    const md = renderResults({
      results: plan.map((p) => classify(p, p.key === 'd1' ? d1 : (reports.get(p.key) ?? null))),
      figures: [],
      figureNotes: [],
    });
    assert.ok(
      md.includes(
        '| # | strategy | AUBC % (mean ± std) | F-acc % (mean ± std) | balanced AUBC % (mean ± std) | balanced F-acc % (mean ± std) | repeats |',
      ),
      md,
    );
    assert.ok(
      md.includes(
        '| 1 | Entropy | 62.50 ± 3.54 | 75.00 ± 7.07 | 80.00 ± 0.00 | 80.00 ± 0.00 | 2 |',
      ),
      md,
    );
    // d2's report has no matrices: its table keeps the old columns.
    assert.ok(
      md.includes('| # | strategy | AUBC % (mean ± std) | F-acc % (mean ± std) | repeats |'),
    );
  });
});
