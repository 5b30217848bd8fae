// Tests run under Node; the module under test (shared/metrics.ts) stays free of node:* imports.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aubc,
  balancedAccuracy,
  classSupport,
  confusionAccuracy,
  confusionMatrix,
  finalAccuracy,
  macroF1,
  perClassRecall,
  meanCurve,
  meanStd,
  timeTotals,
  winTieLoss,
  type AubcResult,
  type WinTieLossResult,
} from './metrics.ts';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: expected ${expected}, got ${actual}`);

describe('aubc', () => {
  test('evenly spaced rounds', () => {
    // ((0.5 + 0.7) / 2 * 100 + (0.7 + 0.8) / 2 * 100) / (300 - 100)
    // = (60 + 75) / 200 = 0.675
    close(
      aubc([
        { labeled: 100, accuracy: 0.5 },
        { labeled: 200, accuracy: 0.7 },
        { labeled: 300, accuracy: 0.8 },
      ]),
      0.675,
      'AUBC',
    );
  });

  test('a last partial batch is a round like any other', () => {
    // Seed 100, batch 100, quota 150: the last round adds only 50.
    // ((0.5 + 0.7) / 2 * 100 + (0.7 + 0.8) / 2 * 50) / (250 - 100)
    // = (60 + 37.5) / 150 = 0.65
    // (Dropping the partial round, as the reference code effectively does, would give 0.6.)
    close(
      aubc([
        { labeled: 100, accuracy: 0.5 },
        { labeled: 200, accuracy: 0.7 },
        { labeled: 250, accuracy: 0.8 },
      ]),
      0.65,
      'AUBC with a partial last batch',
    );
  });

  test('unevenly spaced points are weighted by their width', () => {
    // ((0.2 + 0.4) / 2 * 10 + (0.4 + 1.0) / 2 * 30) / 40 = (3 + 21) / 40 = 0.6
    close(
      aubc([
        { labeled: 0, accuracy: 0.2 },
        { labeled: 10, accuracy: 0.4 },
        { labeled: 40, accuracy: 1 },
      ]),
      0.6,
      'AUBC',
    );
  });

  test('a single point is its own accuracy; a flat curve is its level', () => {
    assert.equal(aubc([{ labeled: 100, accuracy: 0.42 }]), 0.42);
    close(
      aubc([
        { labeled: 10, accuracy: 0.3 },
        { labeled: 20, accuracy: 0.3 },
        { labeled: 70, accuracy: 0.3 },
      ]),
      0.3,
      'flat curve',
    );
  });

  test('refuses bad curves with a message naming the point', () => {
    assert.throws(() => aubc([]), /empty/);
    assert.throws(
      () =>
        aubc([
          { labeled: 200, accuracy: 0.5 },
          { labeled: 100, accuracy: 0.6 },
        ]),
      /point 1: labeled count 100 is not above the previous point's 200/,
    );
    assert.throws(
      () =>
        aubc([
          { labeled: 100, accuracy: 0.5 },
          { labeled: 100, accuracy: 0.6 },
        ]),
      /strictly increasing/,
    );
    assert.throws(
      () =>
        aubc([
          { labeled: 100, accuracy: 0.5 },
          { labeled: 200, accuracy: 75 },
        ]),
      /point 1 \(labeled 200\): accuracy 75 is not a fraction in \[0, 1\]/,
    );
    assert.throws(() => aubc([{ labeled: 100, accuracy: NaN }]), /accuracy NaN/);
    assert.throws(() => aubc([{ labeled: Infinity, accuracy: 0.5 }]), /labeled count Infinity/);
  });
});

describe('finalAccuracy', () => {
  test('is the last point', () => {
    assert.equal(
      finalAccuracy([
        { labeled: 100, accuracy: 0.5 },
        { labeled: 200, accuracy: 0.9 },
        { labeled: 250, accuracy: 0.8 },
      ]),
      0.8,
    );
    assert.throws(() => finalAccuracy([]), /empty/);
  });
});

describe('meanStd', () => {
  test('sample standard deviation (n - 1)', () => {
    // mean = (0.70 + 0.72 + 0.74) / 3 = 0.72; deviations -0.02, 0, 0.02;
    // squares sum 0.0008; / (3 - 1) = 0.0004; sqrt = 0.02 (population would be 0.01633).
    const r = meanStd([0.7, 0.72, 0.74]);
    close(r.mean, 0.72, 'mean');
    close(r.std, 0.02, 'std');
  });

  test('the textbook example: sample std of 2,4,4,4,5,5,7,9 is sqrt(32/7)', () => {
    // mean 5; squared deviations 9,1,1,1,0,0,4,16 sum to 32; population std would be 2.
    const r = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
    assert.equal(r.mean, 5);
    close(r.std, Math.sqrt(32 / 7), 'std');
  });

  test('one value has std 0; nothing or non-finite is refused', () => {
    assert.deepEqual(meanStd([0.5]), { mean: 0.5, std: 0 });
    assert.throws(() => meanStd([]), /no values/);
    assert.throws(() => meanStd([1, NaN]), /value 1 is NaN/);
  });
});

describe('meanCurve', () => {
  test('per labeled count mean and sample std', () => {
    // labeled 100: (0.5 + 0.6) / 2 = 0.55, deviations +-0.05, std sqrt(0.005 / 1) = 0.0707107
    // labeled 200: (0.7 + 0.9) / 2 = 0.8,  deviations +-0.1,  std sqrt(0.02 / 1)  = 0.1414214
    const m = meanCurve([
      [
        { labeled: 100, accuracy: 0.5 },
        { labeled: 200, accuracy: 0.7 },
      ],
      [
        { labeled: 100, accuracy: 0.6 },
        { labeled: 200, accuracy: 0.9 },
      ],
    ]);
    assert.equal(m.length, 2);
    assert.equal(m[0]!.labeled, 100);
    close(m[0]!.mean, 0.55, 'mean at 100');
    close(m[0]!.std, Math.sqrt(0.005), 'std at 100');
    assert.equal(m[1]!.labeled, 200);
    close(m[1]!.mean, 0.8, 'mean at 200');
    close(m[1]!.std, Math.sqrt(0.02), 'std at 200');
  });

  test('refuses repeats whose labeled counts differ', () => {
    const a = [
      { labeled: 100, accuracy: 0.5 },
      { labeled: 200, accuracy: 0.7 },
    ];
    assert.throws(() => meanCurve([a, a.slice(0, 1)]), /curve 1 has 1 points but curve 0 has 2/);
    assert.throws(
      () =>
        meanCurve([
          a,
          [
            { labeled: 100, accuracy: 0.5 },
            { labeled: 210, accuracy: 0.7 },
          ],
        ]),
      /curve 1, point 1 is at labeled 210 but curve 0's is at 200/,
    );
    assert.throws(() => meanCurve([]), /no curves/);
  });
});

function pair(r: WinTieLossResult, a: string, b: string) {
  const p = r.pairs.find((x) => x.a === a && x.b === b);
  assert.ok(p, `pair ${a} vs ${b} missing`);
  return [p.win, p.tie, p.loss];
}

describe('winTieLoss', () => {
  // Three strategies, two datasets.
  // d1 mean AUBC: A (0.80 + 0.82) / 2 = 0.81; B (0.806 + 0.808) / 2 = 0.807; C (0.70 + 0.72) / 2 = 0.71
  //   A - B = 0.003  -> tie (inside the 0.005 margin: the near tie)
  //   A - C = 0.10   -> A wins;   B - C = 0.097 -> B wins
  // d2 (one repeat): A 0.60, B 0.65, C 0.61
  //   A - B = -0.05  -> A loses;  A - C = -0.01 -> A loses;  B - C = 0.04 -> B wins
  const results: AubcResult[] = [
    { strategy: 'A', dataset: 'd1', repeat: 0, aubc: 0.8 },
    { strategy: 'A', dataset: 'd1', repeat: 1, aubc: 0.82 },
    { strategy: 'B', dataset: 'd1', repeat: 0, aubc: 0.806 },
    { strategy: 'B', dataset: 'd1', repeat: 1, aubc: 0.808 },
    { strategy: 'C', dataset: 'd1', repeat: 0, aubc: 0.7 },
    { strategy: 'C', dataset: 'd1', repeat: 1, aubc: 0.72 },
    { strategy: 'A', dataset: 'd2', repeat: 0, aubc: 0.6 },
    { strategy: 'B', dataset: 'd2', repeat: 0, aubc: 0.65 },
    { strategy: 'C', dataset: 'd2', repeat: 0, aubc: 0.61 },
  ];

  test('per dataset on mean AUBC (the paper), with a near tie inside the margin', () => {
    const r = winTieLoss(results);
    // [win, tie, loss] of row vs column
    assert.deepEqual(pair(r, 'A', 'B'), [0, 1, 1]);
    assert.deepEqual(pair(r, 'B', 'A'), [1, 1, 0]);
    assert.deepEqual(pair(r, 'A', 'C'), [1, 0, 1]);
    assert.deepEqual(pair(r, 'C', 'A'), [1, 0, 1]);
    assert.deepEqual(pair(r, 'B', 'C'), [2, 0, 0]);
    assert.deepEqual(pair(r, 'C', 'B'), [0, 0, 2]);
    assert.equal(r.pairs.length, 6);
    // Totals: A 1 win (C on d1), 1 tie, 2 losses -> -1; B 3 wins, 1 tie -> 3; C 1 win, 3 losses -> -2.
    assert.deepEqual(r.ranking, [
      { strategy: 'B', win: 3, tie: 1, loss: 0, score: 3 },
      { strategy: 'A', win: 1, tie: 1, loss: 2, score: -1 },
      { strategy: 'C', win: 1, tie: 0, loss: 3, score: -2 },
    ]);
  });

  test('per repeat differs from per dataset mean', () => {
    // A vs B: d1 r0 0.800 - 0.806 = -0.006 loss; d1 r1 0.820 - 0.808 = 0.012 win; d2 r0 loss.
    const r = winTieLoss(results, 0.005, { unit: 'repeat' });
    assert.deepEqual(pair(r, 'A', 'B'), [1, 0, 2]);
  });

  test('a difference of exactly the margin is a tie, just above it a win', () => {
    // 0.805 - 0.8 is 0.0050000000000000044 in floating point: still exactly the margin.
    const r = winTieLoss([
      { strategy: 'A', dataset: 'd', repeat: 0, aubc: 0.805 },
      { strategy: 'B', dataset: 'd', repeat: 0, aubc: 0.8 },
      { strategy: 'C', dataset: 'd', repeat: 0, aubc: 0.7949 },
    ]);
    assert.deepEqual(pair(r, 'A', 'B'), [0, 1, 0]);
    assert.deepEqual(pair(r, 'B', 'C'), [1, 0, 0]); // 0.0051 > 0.005
    assert.deepEqual(pair(r, 'A', 'C'), [1, 0, 0]);
  });

  test('equal scores are ordered by name; margin 0 makes any difference count', () => {
    const r = winTieLoss(
      [
        { strategy: 'zeta', dataset: 'd', repeat: 0, aubc: 0.5 },
        { strategy: 'alpha', dataset: 'd', repeat: 0, aubc: 0.5 },
        { strategy: 'mid', dataset: 'd', repeat: 0, aubc: 0.5001 },
      ],
      0,
    );
    assert.deepEqual(
      r.ranking.map((x) => [x.strategy, x.score]),
      [
        ['mid', 2],
        ['alpha', -1],
        ['zeta', -1],
      ],
    );
  });

  test('missing results are skipped by default or counted as losses', () => {
    const withD: AubcResult[] = [
      ...results,
      { strategy: 'D', dataset: 'd1', repeat: 0, aubc: 0.9 },
    ];
    // D only ran on d1: 0.9 - 0.81 = 0.09 -> win over A there.
    assert.deepEqual(pair(winTieLoss(withD), 'D', 'A'), [1, 0, 0]);
    // Counting the missing d2 as a loss for D (the paper's treatment of incomplete AdvBIM runs).
    assert.deepEqual(pair(winTieLoss(withD, 0.005, { missing: 'loss' }), 'D', 'A'), [1, 0, 1]);
    assert.deepEqual(pair(winTieLoss(withD, 0.005, { missing: 'loss' }), 'A', 'D'), [1, 0, 1]);
  });

  test('refuses duplicates, percentages and bad margins', () => {
    assert.throws(
      () => winTieLoss([results[0]!, results[0]!]),
      /repeats A on d1, repeat 0; each run must appear once/,
    );
    assert.throws(
      () => winTieLoss([{ strategy: 'A', dataset: 'd', repeat: 0, aubc: 81 }]),
      /not a fraction/,
    );
    assert.throws(() => winTieLoss(results, -1), /margin -1/);
    assert.deepEqual(winTieLoss([]), { pairs: [], ranking: [] });
  });
});

describe('timeTotals', () => {
  test('sums training and query time separately', () => {
    // train 1000.5 + 2000 = 3000.5; query 20 + 30.25 = 50.25; total 3050.75
    assert.deepEqual(
      timeTotals([
        { trainMs: 1000.5, queryMs: 20 },
        { trainMs: 2000, queryMs: 30.25 },
      ]),
      { trainMs: 3000.5, queryMs: 50.25, totalMs: 3050.75 },
    );
    assert.deepEqual(timeTotals([]), { trainMs: 0, queryMs: 0, totalMs: 0 });
    assert.throws(() => timeTotals([{ trainMs: -1, queryMs: 0 }]), /round 0/);
  });
});

describe('confusion-matrix metrics', () => {
  // Rows: true class; columns: predicted class.
  // Class 2 has no test samples but is predicted once (a sample of class 1).
  const noSamples = [
    [8, 2, 0],
    [1, 3, 1],
    [0, 0, 0],
  ];
  // Class 2 has 4 samples but the model never predicts it.
  const neverPredicted = [
    [5, 0, 0],
    [0, 3, 0],
    [2, 2, 0],
  ];

  test('confusionMatrix counts true x predicted and refuses what is not a class', () => {
    assert.deepEqual(confusionMatrix([0, 0, 1, 2, 2], [0, 1, 1, 0, 2], 3), [
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 1],
    ]);
    assert.throws(() => confusionMatrix([0, 1], [0], 2), /2 true classes but 1 predictions/);
    assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), /sample 1's true class 3/);
    assert.throws(() => confusionMatrix([0], [-1], 3), /sample 0's predicted class -1/);
  });

  test('a class with no samples: recall null, left out of balanced accuracy', () => {
    // Recall: 8/10 = 0.8, 3/5 = 0.6, class 2 has no samples (null, not 0).
    assert.deepEqual(perClassRecall(noSamples), [0.8, 0.6, null]);
    assert.deepEqual(classSupport(noSamples), [10, 5, 0]);
    // Balanced accuracy: (0.8 + 0.6) / 2 = 0.7 (scikit-learn drops the class too).
    close(balancedAccuracy(noSamples), 0.7, 'balanced accuracy');
    // Accuracy: (8 + 3) / 15.
    close(confusionAccuracy(noSamples), 11 / 15, 'accuracy');
  });

  test('a class with no samples but predicted: F1 0 in the macro mean (its predictions are false positives)', () => {
    // F1 = 2TP / (2TP + FP + FN):
    //   class 0: TP 8, FP 1, FN 2 -> 16 / 19
    //   class 1: TP 3, FP 2, FN 2 -> 6 / 10 = 0.6
    //   class 2: TP 0, FP 1, FN 0 -> 0 / 1 = 0
    // macro = (16/19 + 0.6 + 0) / 3 = 0.480701754...
    close(macroF1(noSamples), (16 / 19 + 0.6 + 0) / 3, 'macro-F1');
  });

  test('a class never predicted: recall 0 and F1 0, both in the means', () => {
    assert.deepEqual(perClassRecall(neverPredicted), [1, 1, 0]);
    close(balancedAccuracy(neverPredicted), 2 / 3, 'balanced accuracy');
    // class 0: TP 5, FP 2, FN 0 -> 10 / 12; class 1: TP 3, FP 2, FN 0 -> 6 / 8;
    // class 2: TP 0, FP 0, FN 4 -> 0 / 4 = 0. macro = (10/12 + 0.75 + 0) / 3 = 0.527777...
    close(macroF1(neverPredicted), (10 / 12 + 0.75) / 3, 'macro-F1');
  });

  test('a class in neither the samples nor the predictions is left out of every mean', () => {
    const padded = neverPredicted.map((row) => [...row, 0]);
    padded.push([0, 0, 0, 0]);
    assert.deepEqual(perClassRecall(padded), [1, 1, 0, null]);
    close(balancedAccuracy(padded), balancedAccuracy(neverPredicted), 'balanced accuracy');
    close(macroF1(padded), macroF1(neverPredicted), 'macro-F1');
  });

  test('the majority-class answer on imbalanced data: high accuracy, balanced accuracy 0.5', () => {
    // 1470 good, 30 defects; the model always answers "good".
    const m = [
      [1470, 0],
      [30, 0],
    ];
    close(confusionAccuracy(m), 0.98, 'accuracy');
    close(balancedAccuracy(m), 0.5, 'balanced accuracy');
    // F1(good) = 2940 / (2940 + 30) = 0.98989...; F1(defect) = 0.
    close(macroF1(m), 2940 / 2970 / 2, 'macro-F1');
  });

  test('with equally many samples per class, balanced accuracy is accuracy', () => {
    const m = [
      [7, 2, 1],
      [0, 10, 0],
      [3, 3, 4],
    ];
    // Recall 0.7, 1.0, 0.4: mean 0.7; accuracy 21 / 30 = 0.7.
    close(balancedAccuracy(m), 0.7, 'balanced accuracy');
    close(confusionAccuracy(m), 0.7, 'accuracy');
    // A perfect model scores 1 everywhere.
    const perfect = [
      [3, 0],
      [0, 5],
    ];
    assert.equal(balancedAccuracy(perfect), 1);
    assert.equal(macroF1(perfect), 1);
  });

  test('refuses a matrix that is not a square of counts, or counts nothing', () => {
    assert.throws(() => balancedAccuracy([]), /no rows/);
    assert.throws(() => balancedAccuracy([[1, 0]]), /row 0: it has 2 columns, expected 1/);
    assert.throws(
      () =>
        macroF1([
          [1, 0.5],
          [0, 1],
        ]),
      /row 0 \(true class\), column 1 \(predicted class\): 0.5 is not a count/,
    );
    assert.throws(
      () =>
        perClassRecall([
          [0, 0],
          [0, 0],
        ]),
      /counts no samples/,
    );
  });
});
