// Tests run under Node; the module under test (shared/report.ts) stays free of node:* imports.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  buildReport,
  classLabels,
  imbalanceRatio,
  resultsCsv,
  type RoundRecord,
  type RunRecord,
  type StudyReport,
} from './report.ts';
import { DEFAULT_STUDY, roundCount, StudyConfigSchema } from './study.ts';

const close = (actual: number | null | undefined, expected: number, what: string) =>
  assert.ok(
    typeof actual === 'number' && Math.abs(actual - expected) < 1e-12,
    `${what}: expected ${expected}, got ${actual}`,
  );

const config = { ...DEFAULT_STUDY, strategies: ['Random'], initial: 10, batch: 10, budget: 10 };

function round(r: number, accuracy: number, confusion?: number[][]): RoundRecord {
  return {
    round: r,
    labeled: 10 + 10 * r,
    accuracy,
    loss: 1,
    trainMs: 100,
    queryMs: r === 0 ? 0 : 5,
    ...(confusion ? { confusion } : {}),
  };
}

function build(runs: RunRecord[]): StudyReport {
  return buildReport({
    config,
    dataset: { description: 'd', pool: 100, test: 6, classes: ['ok', 'defect'] },
    backend: 'test',
    runs,
    expectedRounds: 1,
    generatedAt: '2025-01-01T00:00:00.000Z',
  });
}

// Two classes, 4 "ok" and 2 "defect" test samples; rows true class, columns predicted.
const runA: RunRecord = {
  strategy: 'Random',
  repeat: 0,
  seed: 1,
  status: 'done',
  rounds: [
    // recall [1, 0] -> balanced 0.5; F1 ok = 8/10, defect = 0 -> macro 0.4
    round(0, 4 / 6, [
      [4, 0],
      [2, 0],
    ]),
    // recall [0.75, 1] -> balanced 0.875; F1 ok = 6/7, defect = 4/5 -> macro (6/7 + 0.8) / 2
    round(1, 5 / 6, [
      [3, 1],
      [0, 2],
    ]),
  ],
};
const runB: RunRecord = {
  strategy: 'Random',
  repeat: 1,
  seed: 2,
  status: 'done',
  rounds: [
    // recall [0.5, 0.5] -> 0.5; F1 ok = 4/7, defect = 2/5
    round(0, 3 / 6, [
      [2, 2],
      [1, 1],
    ]),
    // recall [1, 0.5] -> 0.75; F1 ok = 8/9, defect = 2/3 -> macro 7/9
    round(1, 5 / 6, [
      [4, 0],
      [1, 1],
    ]),
  ],
};
const legacy = (r: RunRecord): RunRecord => ({
  ...r,
  rounds: r.rounds.map(({ confusion: _dropped, ...rest }) => rest),
});

describe('buildReport: per-class metrics', () => {
  test('per round, per run and per strategy, by hand', () => {
    const report = build([runA, runB]);
    const [a, b] = report.runs;
    assert.deepEqual(
      a!.curve.map((p) => p.balancedAccuracy),
      [0.5, 0.875],
    );
    close(a!.curve[0]!.macroF1, 0.4, 'macro-F1 A0');
    close(a!.curve[1]!.macroF1, (6 / 7 + 0.8) / 2, 'macro-F1 A1');
    close(b!.curve[0]!.macroF1, (4 / 7 + 0.4) / 2, 'macro-F1 B0');
    // Trapezoid over two points: the mean of the two.
    close(a!.balancedAubc, (0.5 + 0.875) / 2, 'balanced AUBC A');
    close(b!.balancedAubc, (0.5 + 0.75) / 2, 'balanced AUBC B');
    assert.equal(a!.balancedFacc, 0.875);
    assert.deepEqual(a!.finalRecall, [0.75, 1]);
    assert.deepEqual(b!.finalRecall, [1, 0.5]);
    // The matrices are kept, so the file alone rebuilds the report.
    assert.deepEqual(a!.curve[1]!.confusion, runA.rounds[1]!.confusion);

    const s = report.summary[0]!;
    // Mean and sample std of two values x, y: (x + y) / 2 and |x - y| / sqrt(2).
    close(s.balancedAubcMean, (0.6875 + 0.625) / 2, 'balanced AUBC mean');
    close(s.balancedAubcStd, 0.0625 / Math.SQRT2, 'balanced AUBC std');
    close(s.balancedFaccMean, (0.875 + 0.75) / 2, 'balanced F-acc mean');
    close(s.balancedFaccStd, 0.125 / Math.SQRT2, 'balanced F-acc std');
    const f1A = (6 / 7 + 0.8) / 2;
    const f1B = 7 / 9;
    close(s.macroF1Mean, (f1A + f1B) / 2, 'macro-F1 mean');
    close(s.macroF1Std, Math.abs(f1A - f1B) / Math.SQRT2, 'macro-F1 std');
    assert.deepEqual(s.finalRecall, [0.875, 0.75]);
    // Accuracy statistics are untouched: F-acc 5/6 in both runs.
    close(s.faccMean, 5 / 6, 'F-acc');

    assert.deepEqual(report.classSupport, [4, 2]);
    assert.equal(imbalanceRatio(report.classSupport), 2);
    assert.deepEqual(report.balancedCurves![0]!.points[0], { labeled: 10, mean: 0.5, std: 0 });
    close(report.balancedCurves![0]!.points[1]!.mean, 0.8125, 'mean balanced curve');
    close(report.macroF1Curves![0]!.points[1]!.mean, (f1A + f1B) / 2, 'mean macro-F1 curve');
  });

  test('runs recorded without confusion matrices report them as null, accuracy unchanged', () => {
    const old = build([legacy(runA), legacy(runB)]);
    const now = build([runA, runB]);
    for (const run of old.runs) {
      assert.equal(run.balancedAubc, null);
      assert.equal(run.balancedFacc, null);
      assert.equal(run.finalMacroF1, null);
      assert.equal(run.finalRecall, null);
      for (const p of run.curve) {
        assert.equal(p.balancedAccuracy, null);
        assert.equal(p.macroF1, null);
        assert.equal(p.confusion, null);
      }
    }
    const s = old.summary[0]!;
    for (const k of [
      'balancedAubcMean',
      'balancedAubcStd',
      'balancedFaccMean',
      'balancedFaccStd',
      'macroF1Mean',
      'macroF1Std',
      'finalRecall',
    ] as const) {
      assert.equal(s[k], null, k);
    }
    assert.equal(old.classSupport, null);
    assert.deepEqual(old.balancedCurves, []);
    assert.deepEqual(old.macroF1Curves, []);
    // AUBC, F-acc, curves and win-tie-loss do not depend on the matrices.
    assert.deepEqual(
      old.summary.map(({ strategy, aubcMean, aubcStd, faccMean, faccStd }) => [
        strategy,
        aubcMean,
        aubcStd,
        faccMean,
        faccStd,
      ]),
      now.summary.map(({ strategy, aubcMean, aubcStd, faccMean, faccStd }) => [
        strategy,
        aubcMean,
        aubcStd,
        faccMean,
        faccStd,
      ]),
    );
    assert.deepEqual(old.curves, now.curves);
    assert.deepEqual(old.winTieLoss, now.winTieLoss);
  });

  test('a strategy with one run lacking matrices gets no per-class statistics (never over a subset)', () => {
    const mixed = build([runA, legacy(runB)]);
    close(mixed.runs[0]!.balancedAubc, 0.6875, 'the run with matrices keeps its own');
    assert.equal(mixed.runs[1]!.balancedAubc, null);
    assert.equal(mixed.summary[0]!.balancedAubcMean, null);
    assert.equal(mixed.summary[0]!.finalRecall, null);
    assert.deepEqual(mixed.balancedCurves, []);
    // A run whose first round predates the matrices has no balanced AUBC, but its last round's
    // balanced accuracy is known.
    const resumed = build([{ ...runA, rounds: [legacy(runA).rounds[0]!, runA.rounds[1]!] }]);
    assert.equal(resumed.runs[0]!.balancedAubc, null);
    assert.equal(resumed.runs[0]!.balancedFacc, 0.875);
  });

  test('a class with no test samples has recall null in runs, summary and CSV', () => {
    const threeClasses = (m: number[][]): number[][] => [...m.map((r) => [...r, 0]), [0, 0, 0]];
    const report = buildReport({
      config,
      dataset: { description: 'd', pool: 100, test: 6, classes: ['ok', 'defect', 'rare'] },
      backend: 'test',
      runs: [
        {
          ...runA,
          rounds: runA.rounds.map((r) => ({ ...r, confusion: threeClasses(r.confusion!) })),
        },
      ],
      expectedRounds: 1,
    });
    assert.deepEqual(report.runs[0]!.finalRecall, [0.75, 1, null]);
    assert.deepEqual(report.summary[0]!.finalRecall, [0.75, 1, null]);
    assert.equal(report.runs[0]!.balancedFacc, 0.875);
    assert.deepEqual(report.classSupport, [4, 2, 0]);
    const lastRow = resultsCsv(report).trim().split('\n').at(-1)!;
    assert.match(lastRow, /,0\.875,0\.8285714285714285,0\.75,1,$/);
  });

  test('refuses a malformed confusion matrix, naming the run and round', () => {
    assert.throws(
      () =>
        build([
          {
            ...runA,
            rounds: [
              round(0, 0.5, [
                [1, 2],
                [3, -1],
              ]),
              runA.rounds[1]!,
            ],
          },
        ]),
      /confusion matrix of Random repeat 0, round 0, row 1 \(true class\), column 1/,
    );
  });
});

describe('resultsCsv', () => {
  test('balanced accuracy, macro-F1 and per-class recall columns', () => {
    const lines = resultsCsv(build([runA]))
      .trim()
      .split('\n');
    assert.equal(
      lines[0],
      'strategy,repeat,seed,round,labeled,accuracy,loss,train_ms,query_ms,balanced_accuracy,macro_f1,recall_ok,recall_defect',
    );
    assert.equal(lines[1], `Random,0,1,0,10,${4 / 6},1,100,0,0.5,0.4,1,0`);
    assert.equal(lines[2], `Random,0,1,1,20,${5 / 6},1,100,5,0.875,${(6 / 7 + 0.8) / 2},0.75,1`);
  });

  test('without matrices: the new columns are empty and there are no recall columns', () => {
    const lines = resultsCsv(build([legacy(runA)]))
      .trim()
      .split('\n');
    assert.equal(
      lines[0],
      'strategy,repeat,seed,round,labeled,accuracy,loss,train_ms,query_ms,balanced_accuracy,macro_f1',
    );
    assert.equal(lines[1], `Random,0,1,0,10,${4 / 6},1,100,0,,`);
  });

  test('class names that need quoting stay one column each', () => {
    const report = build([runA]);
    const quoted = { ...report, dataset: { ...report.dataset, classes: ['a,b', 'c"d'] } };
    assert.deepEqual(classLabels(quoted), ['a,b', 'c"d']);
    assert.match(resultsCsv(quoted).split('\n')[0]!, /,"recall_a,b","recall_c""d"$/);
  });
});

describe('a committed report (recorded before confusion matrices)', () => {
  test('rebuilds with the same numbers and null per-class fields', () => {
    const file = new URL('../docs/results/ablation-batch-500/report.json', import.meta.url);
    const committed = JSON.parse(readFileSync(file, 'utf8')) as StudyReport;
    const cfg = StudyConfigSchema.parse(committed.config);
    const rebuilt = buildReport({
      config: cfg,
      dataset: committed.dataset,
      backend: committed.backend,
      runs: committed.runs.map((r) => ({
        strategy: r.strategy,
        repeat: r.repeat,
        seed: r.seed,
        status: r.status,
        rounds: r.curve.map((p) => ({ ...p, loss: p.loss ?? NaN })),
      })),
      expectedRounds: roundCount(cfg),
      generatedAt: committed.generatedAt,
    });
    const strip = (summary: StudyReport['summary']) =>
      summary.map(({ strategy, repeats, aubcMean, aubcStd, faccMean, faccStd }) => ({
        strategy,
        repeats,
        aubcMean,
        aubcStd,
        faccMean,
        faccStd,
      }));
    assert.ok(committed.summary.length > 0);
    assert.deepEqual(strip(rebuilt.summary), strip(committed.summary));
    assert.deepEqual(rebuilt.curves, committed.curves);
    assert.deepEqual(rebuilt.winTieLoss, committed.winTieLoss);
    assert.ok(rebuilt.summary.every((s) => s.balancedAubcMean === null && s.finalRecall === null));
    assert.equal(rebuilt.classSupport, null);
  });
});
