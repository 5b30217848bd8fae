/**
 * The survey's evaluation metrics as pure functions (Zhan et al. 2022, "A Comparative Survey of
 * Deep Active Learning", section 3; spec in docs/SURVEY.md, "Metrics"). The study engine, the
 * reports and the dashboards all compute their numbers here, so they cannot disagree.
 *
 * Accuracies are fractions in [0, 1] everywhere (0.875, not 87.5); a value outside that range is
 * refused, because a percentage slipping in would silently scale AUBC and the win-tie-loss margin.
 */

/** One point of an accuracy-budget curve: test accuracy after training on `labeled` samples. */
export type CurvePoint = { labeled: number; accuracy: number };

/** Mean and standard deviation of one labeled count over repeats. */
export type MeanCurvePoint = { labeled: number; mean: number; std: number };

/** One measured AUBC: a strategy on a dataset in one repeat. */
export type AubcResult = { strategy: string; dataset: string; repeat: number; aubc: number };

/** Win-tie-loss of strategy `a` against strategy `b` (the row-vs-column cell of the matrix). */
export type WinTieLossPair = { a: string; b: string; win: number; tie: number; loss: number };

/** A strategy's totals over all its pairwise comparisons; `score` = win - loss. */
export type WinTieLossTotal = {
  strategy: string;
  win: number;
  tie: number;
  loss: number;
  score: number;
};

export type WinTieLossResult = {
  /** Every ordered pair (a, b) with a !== b; (b, a) mirrors (a, b) with win and loss swapped. */
  pairs: WinTieLossPair[];
  /** Best first: by score, then by name (code-unit order), so equal scores order stably. */
  ranking: WinTieLossTotal[];
};

export type WinTieLossOptions = {
  /**
   * What one comparison is. 'dataset' (the paper's Table 3, the default): per dataset, the mean
   * AUBC over that strategy's repeats. 'repeat': per (dataset, repeat), pairing the runs that
   * share a repeat index (and so the same initial labeled seed); finer, not the paper's count.
   */
  unit?: 'dataset' | 'repeat';
  /**
   * A comparison where only one side has a result. 'skip' (default) leaves it out. 'loss' counts
   * it as a loss for the missing side and a win for the other, which is how the paper ranks
   * AdvBIM "far behind due to many incomplete tasks".
   */
  missing?: 'skip' | 'loss';
};

/**
 * Absolute slack when comparing a difference with the margin: 0.805 - 0.8 is 0.00500000000000000444
 * in binary floating point, and a difference of exactly the margin is a tie ("higher by MORE than").
 */
const MARGIN_EPS = 1e-12;

function describe(value: number): string {
  return Number.isNaN(value) ? 'NaN' : String(value);
}

function checkAccuracy(value: number, where: string): void {
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error(
      `${where}: accuracy ${describe(value)} is not a fraction in [0, 1] (accuracies are fractions, not percentages)`,
    );
  }
}

/**
 * Check a curve: at least one point, finite non-negative labeled counts in strictly increasing
 * order, accuracies in [0, 1]. Throws an error naming the offending point.
 */
export function validateCurve(curve: readonly CurvePoint[], what = 'accuracy-budget curve'): void {
  if (curve.length === 0) {
    throw new Error(`The ${what} is empty; it needs at least the round-0 point (the initial seed)`);
  }
  let previous = -Infinity;
  curve.forEach((p, i) => {
    if (!Number.isFinite(p.labeled) || p.labeled < 0) {
      throw new Error(
        `The ${what}, point ${i}: labeled count ${describe(p.labeled)} is not a finite number >= 0`,
      );
    }
    if (p.labeled <= previous) {
      throw new Error(
        `The ${what}, point ${i}: labeled count ${p.labeled} is not above the previous point's ${previous}; points must be sorted by strictly increasing labeled count`,
      );
    }
    checkAccuracy(p.accuracy, `The ${what}, point ${i} (labeled ${p.labeled})`);
    previous = p.labeled;
  });
}

/**
 * Area under the accuracy-budget curve (AUBC), normalised to [0, 1]: the trapezoid rule over the
 * whole labeled range [first.labeled, last.labeled], divided by the range's width. Every point
 * counts, including a last partial batch; the reference toolkit drops one batch width when the
 * quota is not a multiple of the batch, which we deliberately do not copy. A single-point curve
 * (no query round yet) has no width; its AUBC is its one accuracy.
 */
export function aubc(curve: readonly CurvePoint[]): number {
  validateCurve(curve);
  const first = curve[0]!;
  const last = curve[curve.length - 1]!;
  if (curve.length === 1) return first.accuracy;
  let area = 0;
  for (let i = 1; i < curve.length; i++) {
    const p = curve[i - 1]!;
    const q = curve[i]!;
    area += ((p.accuracy + q.accuracy) / 2) * (q.labeled - p.labeled);
  }
  return area / (last.labeled - first.labeled);
}

/** F-acc: the accuracy at the end of the budget, i.e. the curve's last point. */
export function finalAccuracy(curve: readonly CurvePoint[]): number {
  validateCurve(curve);
  return curve[curve.length - 1]!.accuracy;
}

/**
 * Mean and SAMPLE standard deviation (divisor n - 1, Bessel's correction) of a list of numbers.
 * Sample, not population: the repeats of a study are a sample of the runs it could have drawn, and
 * with the usual 3 repeats the population formula would understate the spread by ~18%. One value
 * has std 0 (there is no spread to estimate). Two-pass, so large equal values give exactly 0.
 */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  if (values.length === 0) throw new Error('meanStd: no values to summarise');
  values.forEach((v, i) => {
    if (!Number.isFinite(v))
      throw new Error(`meanStd: value ${i} is ${describe(v)}, not a finite number`);
  });
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  if (values.length === 1) return { mean, std: 0 };
  let squares = 0;
  for (const v of values) squares += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(squares / (values.length - 1)) };
}

/**
 * Mean accuracy-budget curve over repeats: per labeled count, the mean and sample std (as
 * meanStd) of the repeats' accuracies. Repeats of one protocol share their labeled counts; curves
 * that do not (different lengths or counts) are refused rather than silently misaligned.
 */
export function meanCurve(curves: readonly (readonly CurvePoint[])[]): MeanCurvePoint[] {
  if (curves.length === 0) throw new Error('meanCurve: no curves to average');
  curves.forEach((c, k) => validateCurve(c, `curve of repeat ${k}`));
  const reference = curves[0]!;
  curves.forEach((c, k) => {
    if (c.length !== reference.length) {
      throw new Error(
        `meanCurve: curve ${k} has ${c.length} points but curve 0 has ${reference.length}; repeats must share their labeled counts`,
      );
    }
    c.forEach((p, i) => {
      if (p.labeled !== reference[i]!.labeled) {
        throw new Error(
          `meanCurve: curve ${k}, point ${i} is at labeled ${p.labeled} but curve 0's is at ${reference[i]!.labeled}; repeats must share their labeled counts`,
        );
      }
    });
  });
  return reference.map((p, i) => {
    const { mean, std } = meanStd(curves.map((c) => c[i]!.accuracy));
    return { labeled: p.labeled, mean, std };
  });
}

/**
 * Win-tie-loss counts between every pair of strategies, as in the survey's Table 3: "a 'win' is
 * counted for method A if it outperforms method B by [the margin] in pairwise comparison", over
 * the datasets. The paper reports each strategy on each dataset by its mean AUBC over 3 trials
 * (Table 1, Figure 2), so by default one comparison is one dataset, on mean AUBC over the repeats
 * each strategy has there (see WinTieLossOptions.unit for per-repeat counting).
 *
 * A wins a comparison when its AUBC exceeds B's by MORE than `margin`, loses when it is lower by
 * more, and ties otherwise (a difference of exactly the margin is a tie). `margin` is in AUBC
 * units: the default 0.005 is the paper's 0.5 percentage points. Ranking: score = win - loss,
 * equal scores broken by strategy name, so the order is deterministic.
 */
export function winTieLoss(
  results: readonly AubcResult[],
  margin = 0.005,
  options: WinTieLossOptions = {},
): WinTieLossResult {
  if (!Number.isFinite(margin) || margin < 0) {
    throw new Error(`winTieLoss: margin ${describe(margin)} must be a finite number >= 0`);
  }
  const unit = options.unit ?? 'dataset';
  const missing = options.missing ?? 'skip';

  // strategy -> comparison key -> AUBC values (several per key when averaging repeats).
  const byStrategy = new Map<string, Map<string, number[]>>();
  const keys = new Set<string>();
  const seen = new Set<string>();
  results.forEach((r, i) => {
    checkAccuracy(
      r.aubc,
      `winTieLoss: result ${i} (${r.strategy} on ${r.dataset}, repeat ${r.repeat})`,
    );
    const id = JSON.stringify([r.strategy, r.dataset, r.repeat]);
    if (seen.has(id)) {
      throw new Error(
        `winTieLoss: result ${i} repeats ${r.strategy} on ${r.dataset}, repeat ${r.repeat}; each run must appear once`,
      );
    }
    seen.add(id);
    const key =
      unit === 'dataset' ? JSON.stringify([r.dataset]) : JSON.stringify([r.dataset, r.repeat]);
    keys.add(key);
    let perKey = byStrategy.get(r.strategy);
    if (!perKey) byStrategy.set(r.strategy, (perKey = new Map()));
    const list = perKey.get(key);
    if (list) list.push(r.aubc);
    else perKey.set(key, [r.aubc]);
  });

  const strategies = [...byStrategy.keys()].sort(compareNames);
  const sortedKeys = [...keys].sort();
  const value = (strategy: string, key: string): number | undefined => {
    const list = byStrategy.get(strategy)?.get(key);
    return list ? meanStd(list).mean : undefined;
  };

  const pairs: WinTieLossPair[] = [];
  const totals = new Map<string, WinTieLossTotal>(
    strategies.map((s) => [s, { strategy: s, win: 0, tie: 0, loss: 0, score: 0 }]),
  );
  for (const a of strategies) {
    for (const b of strategies) {
      if (a === b) continue;
      const pair: WinTieLossPair = { a, b, win: 0, tie: 0, loss: 0 };
      for (const key of sortedKeys) {
        const va = value(a, key);
        const vb = value(b, key);
        if (va === undefined && vb === undefined) continue;
        if (va === undefined || vb === undefined) {
          if (missing === 'skip') continue;
          if (va === undefined) pair.loss++;
          else pair.win++;
          continue;
        }
        const diff = va - vb;
        if (diff > margin + MARGIN_EPS) pair.win++;
        else if (diff < -margin - MARGIN_EPS) pair.loss++;
        else pair.tie++;
      }
      pairs.push(pair);
      const t = totals.get(a)!;
      t.win += pair.win;
      t.tie += pair.tie;
      t.loss += pair.loss;
    }
  }
  const ranking = [...totals.values()].map((t) => ({ ...t, score: t.win - t.loss }));
  ranking.sort((x, y) => y.score - x.score || compareNames(x.strategy, y.strategy));
  return { pairs, ranking };
}

/** Code-unit order: unlike localeCompare it is the same on every machine and locale. */
function compareNames(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Total time of a run: training and query (selection) milliseconds summed separately over its
 * rounds, and their sum. An empty run totals 0.
 */
export function timeTotals(rounds: readonly { trainMs: number; queryMs: number }[]): {
  trainMs: number;
  queryMs: number;
  totalMs: number;
} {
  let trainMs = 0;
  let queryMs = 0;
  rounds.forEach((r, i) => {
    if (
      !Number.isFinite(r.trainMs) ||
      r.trainMs < 0 ||
      !Number.isFinite(r.queryMs) ||
      r.queryMs < 0
    ) {
      throw new Error(
        `timeTotals: round ${i} has trainMs ${describe(r.trainMs)}, queryMs ${describe(r.queryMs)}; both must be finite and >= 0`,
      );
    }
    trainMs += r.trainMs;
    queryMs += r.queryMs;
  });
  return { trainMs, queryMs, totalMs: trainMs + queryMs };
}

// ---------------------------------------------------------------------------------------------
// Per-class metrics from a confusion matrix. Where classes are imbalanced, accuracy mostly
// measures the large classes: a model that never finds a defect class of 30 images out of 1,500
// loses 2 points of accuracy but a whole class of recall. These functions follow scikit-learn's
// definitions (balanced_accuracy_score, f1_score(average='macro'), recall_score(average=None)).

/**
 * A confusion matrix of counts: `m[t][p]` is the number of samples of true class `t` that the model
 * predicted as class `p`. Square, one row and one column per class of the model.
 */
export type ConfusionMatrix = readonly (readonly number[])[];

/**
 * Check a confusion matrix: square (at least one class), every cell a non-negative integer. Throws
 * an error naming the offending cell. Zero counts everywhere are allowed here; the metrics below
 * refuse a matrix with no samples.
 */
export function validateConfusion(m: ConfusionMatrix, what = 'confusion matrix'): void {
  if (!Array.isArray(m) || m.length === 0) {
    throw new Error(`The ${what} has no rows; it needs one row and one column per class`);
  }
  const C = m.length;
  m.forEach((row, t) => {
    if (!Array.isArray(row) || row.length !== C) {
      throw new Error(
        `The ${what}, row ${t}: it has ${Array.isArray(row) ? row.length : 'no'} columns, expected ${C} (the matrix is classes x classes)`,
      );
    }
    row.forEach((v, p) => {
      if (!Number.isInteger(v) || v < 0) {
        throw new Error(
          `The ${what}, row ${t} (true class), column ${p} (predicted class): ${describe(v)} is not a count (an integer >= 0)`,
        );
      }
    });
  });
}

/**
 * Count a confusion matrix from true and predicted class indices (both in [0, classes)). Throws on
 * a length mismatch or an index outside the classes, naming the position.
 */
export function confusionMatrix(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
): number[][] {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new Error(`confusionMatrix: ${describe(classes)} classes; expected an integer >= 1`);
  }
  if (truth.length !== predicted.length) {
    throw new Error(
      `confusionMatrix: ${truth.length} true classes but ${predicted.length} predictions; they must pair up`,
    );
  }
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = predicted[i]!;
    for (const [v, kind] of [
      [t, 'true class'],
      [p, 'predicted class'],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= classes) {
        throw new Error(
          `confusionMatrix: sample ${i}'s ${kind} ${describe(v)} is not a class index in [0, ${classes})`,
        );
      }
    }
    m[t]![p]!++;
  }
  return m;
}

/** Samples per true class: the row sums (the test or held-out labels each class has). */
export function classSupport(m: ConfusionMatrix): number[] {
  validateConfusion(m);
  return m.map((row) => row.reduce((a, b) => a + b, 0));
}

function totalOf(m: ConfusionMatrix, what: string): number {
  validateConfusion(m);
  let n = 0;
  for (const row of m) for (const v of row) n += v;
  if (n === 0) throw new Error(`${what}: the confusion matrix counts no samples`);
  return n;
}

/** Accuracy from a confusion matrix: the diagonal over the total. */
export function confusionAccuracy(m: ConfusionMatrix): number {
  const n = totalOf(m, 'confusionAccuracy');
  let hits = 0;
  m.forEach((row, c) => (hits += row[c]!));
  return hits / n;
}

/**
 * Recall of each class: correct predictions of class c over the samples of class c. A class with
 * no samples has no recall: null, not 0 (scikit-learn's recall_score returns 0 with a warning),
 * because 0 would read as "the model misses every one of them" and a dashboard would show it as
 * the worst class when nothing was measured.
 */
export function perClassRecall(m: ConfusionMatrix): (number | null)[] {
  totalOf(m, 'perClassRecall');
  return m.map((row, c) => {
    const support = row.reduce((a, b) => a + b, 0);
    return support === 0 ? null : row[c]! / support;
  });
}

/**
 * Balanced accuracy: the mean recall over the classes that have samples. Classes without samples
 * are left out of the mean, as scikit-learn's balanced_accuracy_score does ("y_pred contains
 * classes not in y_true"): counting them as 0 would punish a model for a class the test set does
 * not contain. With equally many samples per class it equals accuracy.
 */
export function balancedAccuracy(m: ConfusionMatrix): number {
  let sum = 0;
  let k = 0;
  for (const r of perClassRecall(m)) {
    if (r === null) continue;
    sum += r;
    k++;
  }
  return sum / k;
}

/**
 * Macro-averaged F1: the unweighted mean over classes of F1 = 2 TP / (2 TP + FP + FN), as
 * scikit-learn's f1_score(average='macro') with its default labels (the classes that occur as a
 * true class or as a prediction). So a class with samples that the model never predicts counts
 * with F1 0; so does a class the model predicts that has no samples (those predictions are all
 * false positives); a class that occurs in neither is left out (there is nothing to score).
 */
export function macroF1(m: ConfusionMatrix): number {
  totalOf(m, 'macroF1');
  const C = m.length;
  let sum = 0;
  let k = 0;
  for (let c = 0; c < C; c++) {
    const tp = m[c]![c]!;
    let fn = 0;
    let fp = 0;
    for (let j = 0; j < C; j++) {
      if (j === c) continue;
      fn += m[c]![j]!;
      fp += m[j]![c]!;
    }
    const denominator = 2 * tp + fp + fn;
    if (denominator === 0) continue;
    sum += (2 * tp) / denominator;
    k++;
  }
  return sum / k;
}
