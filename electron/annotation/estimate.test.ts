/**
 * The honest estimate's parts: the audit share (random, never the strategy's), how it is mixed
 * into batches, and stopping advice that waits for every class to be seen and evaluated.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../../shared/random.ts';
import { restEstimate, stoppingAdvice, t975, wilson } from './stopping.ts';
import { auditPlan, evalFolds, withAudit } from './train.ts';

describe('audit share', () => {
  const ids = Int32Array.from({ length: 1000 }, (_, i) => 100 + i);

  test('a fixed, seeded fifth of the pool in a fixed random order', () => {
    const plan = auditPlan(ids, 7, 0.2);
    assert.ok(plan.order.length > 150 && plan.order.length < 250, `${plan.order.length} of 1000`);
    assert.deepEqual(auditPlan(ids, 7, 0.2).order, plan.order, 'deterministic');
    assert.notDeepEqual(auditPlan(ids, 8, 0.2).order, plan.order, 'another seed, another share');
    const sorted = [...plan.order].sort((a, b) => a - b);
    assert.notDeepEqual(plan.order, sorted, 'not in pool order');
    for (const r of plan.order) assert.equal(plan.isAudit[r], 1);
  });

  test('batches mix in the next unlabeled audit rows at the share, spread through the batch', () => {
    const plan = auditPlan(ids, 7, 0.2);
    const picks = Array.from({ length: 10 }, (_, i) => 5000 + i);
    const labeled = new Set([plan.order[0]!]);
    const b = withAudit(picks, plan, (r) => labeled.has(r), 10, 0.2);
    assert.equal(b.rows.length, 10);
    assert.equal(b.audit, 2);
    const audit = b.rows.filter((r) => r < 5000);
    assert.deepEqual(audit, [plan.order[1], plan.order[2]], 'the next unlabeled audit rows');
    assert.ok(b.rows.indexOf(audit[0]!) < 5 && b.rows.indexOf(audit[1]!) >= 5, 'one per half');
    assert.deepEqual(
      b.rows.filter((r) => r >= 5000),
      picks.slice(0, 8),
      'the strategy keeps its order',
    );
    // A batch of one holds no audit row; with none left, the strategy fills the batch.
    assert.equal(withAudit(picks, plan, () => false, 1, 0.2).audit, 0);
    assert.equal(withAudit(picks, plan, () => true, 10, 0.2).rows.length, 10);
  });
});

describe('stopping advice with the estimate', () => {
  const opts = { threshold: 0.99, window: 3, stopSet: 500 };
  const stable = [0.995, 0.999, 1];
  const facts = {
    unseen: [] as string[],
    withheldFor: [] as string[],
    accuracy: 0.93,
    low: 0.85,
    high: 0.97,
    evaluated: 48,
  };

  test('stable predictions and a standing estimate: stop, quoting the estimate', () => {
    const a = stoppingAdvice(stable, opts, facts);
    assert.equal(a.stop, true);
    assert.match(
      a.message,
      /estimated 93% of the pool \(95%: 85%–97%, from 48 random evaluation labels\)/,
    );
  });

  test('never while a class is unseen or has no evaluation labels', () => {
    const unseen = stoppingAdvice(stable, opts, { ...facts, unseen: ['scratches'] });
    assert.equal(unseen.stop, false);
    assert.match(unseen.message, /never seen scratches/);
    const withheld = stoppingAdvice(stable, opts, { ...facts, withheldFor: ['crazing'] });
    assert.equal(withheld.stop, false);
    assert.match(withheld.message, /crazing has no evaluation labels yet/);
  });

  test('unstable predictions: keep labeling whatever the estimate says', () => {
    assert.equal(stoppingAdvice([0.9, 0.95, 0.97], opts, facts).stop, false);
  });
});

describe('accuracy on the images not yet labeled', () => {
  /**
   * A pool of 1,000 images whose correctness under the model is fixed (90% right). A strategy
   * labels 160 of the hardest (hardness plus noise) outside the audit share, which gives 40 labels
   * at random. The true
   * accuracy on the other 800 is known; the estimator sees only the 40 audit labels and the
   * labeled images' correctness.
   */
  function draw(seed: number) {
    const rng = new Rng(seed);
    const n = 1000;
    const hard = Array.from({ length: n }, () => rng.next());
    const correct = hard.map((h) => h < 0.9);
    // As in a project: a random fifth of the pool is the audit share, which the strategy never
    // picks; 40 of it are labeled, in random order.
    const share = new Set(rng.sample([...hard.keys()], 200));
    const order = [...hard.keys()]
      .filter((i) => !share.has(i))
      .map((i) => [i, hard[i]! + rng.normal() * 0.2] as const)
      .sort((a, b) => b[1] - a[1])
      .map(([i]) => i);
    const picked = new Set(order.slice(0, 160));
    const audit = rng.sample([...share], 40);
    const labeled = new Set([...picked, ...audit]);
    const unlabeled = [...hard.keys()].filter((i) => !labeled.has(i));
    const truth = unlabeled.filter((i) => correct[i]).length / unlabeled.length;
    const evalCorrect = [...audit].filter((i) => correct[i]).length;
    const labeledCorrect = [...labeled].filter((i) => correct[i]).length;
    return { truth, evalCorrect, labeledCorrect, labeled: labeled.size };
  }

  test('its 95% interval covers the true accuracy of the rest; the pool figure errs low', (t) => {
    let covered = 0;
    let poolCovered = 0;
    let bias = 0;
    const runs = 300;
    for (let s = 0; s < runs; s++) {
      const d = draw(s);
      const est = restEstimate({
        pool: 1000,
        labeled: d.labeled,
        labeledCorrect: d.labeledCorrect,
        evalCorrect: d.evalCorrect,
        evalCount: 40,
      });
      if (est.low <= d.truth && d.truth <= est.high) covered++;
      const w = wilson(d.evalCorrect, 40);
      if (w.low <= d.truth && d.truth <= w.high) poolCovered++;
      bias += est.accuracy - d.truth;
    }
    t.diagnostic(
      `corrected covered ${covered}/${runs}, pool covered ${poolCovered}/${runs}, mean error ${(bias / runs).toFixed(4)}`,
    );
    assert.ok(covered / runs >= 0.9, `covered ${covered} of ${runs}`);
    assert.ok(Math.abs(bias / runs) < 0.02, `mean error ${bias / runs}`);
    assert.ok(poolCovered < covered, `pool interval covered ${poolCovered}, corrected ${covered}`);
  });

  test('with nothing labeled it is the pool estimate', () => {
    const e = restEstimate({
      pool: 100,
      labeled: 0,
      labeledCorrect: 0,
      evalCorrect: 8,
      evalCount: 10,
    });
    assert.equal(e.accuracy, 0.8);
    assert.deepEqual([e.low, e.high], [wilson(8, 10).low, wilson(8, 10).high]);
  });
});

describe('prediction-powered estimate of the rest', () => {
  /**
   * A pool of 1,000 images, each with the model's confidence h (mostly high) and right with
   * probability h (`calibrated`) or with probability 0.9 whatever h says (confidence that tells
   * nothing). A strategy labels the 160 least confident outside the audit share; 40 audit labels
   * are random.
   */
  function draw(seed: number, calibrated: boolean) {
    const rng = new Rng(seed);
    const n = 1000;
    const h = Array.from({ length: n }, () => 1 - 0.5 * rng.next() ** 4);
    const right = h.map((p) => (rng.next() < (calibrated ? p : 0.9) ? 1 : 0));
    const share = new Set(rng.sample([...h.keys()], 200));
    const picked = [...h.keys()]
      .filter((i) => !share.has(i))
      .sort((a, b) => h[a]! - h[b]!)
      .slice(0, 160);
    const audit = Array.from(rng.sample([...share], 40));
    const labeled = new Set([...picked, ...audit]);
    const rest = [...h.keys()].filter((i) => !labeled.has(i));
    const sum = (xs: number[], f: (i: number) => number) => xs.reduce((a, i) => a + f(i), 0);
    return {
      truth: sum(rest, (i) => right[i]!) / rest.length,
      args: {
        pool: n,
        labeled: labeled.size,
        labeledCorrect: sum([...labeled], (i) => right[i]!),
        evalCorrect: sum(audit, (i) => right[i]!),
        evalCount: audit.length,
      },
      confidence: {
        evalRight: audit.map((i) => right[i]!),
        evalConfidence: audit.map((i) => h[i]!),
        labeledConfidence: sum([...labeled], (i) => h[i]!),
        restConfidence: sum(rest, (i) => h[i]!),
      },
    };
  }

  for (const calibrated of [true, false]) {
    test(`covers the rest's accuracy${calibrated ? ', narrower than counting when the confidence tracks correctness' : ' when the confidence says nothing'}`, (t) => {
      const runs = 300;
      let covered = 0;
      let bias = 0;
      let width = 0;
      let countedWidth = 0;
      for (let s = 0; s < runs; s++) {
        const d = draw(s, calibrated);
        const e = restEstimate({ ...d.args, confidence: d.confidence });
        assert.equal(e.method, 'prediction-powered');
        if (e.low <= d.truth && d.truth <= e.high) covered++;
        bias += e.accuracy - d.truth;
        width += e.high - e.low;
        const counted = restEstimate(d.args);
        assert.equal(counted.method, 'counted');
        countedWidth += counted.high - counted.low;
      }
      t.diagnostic(
        `covered ${covered}/${runs}, mean error ${(bias / runs).toFixed(4)}, width ${(width / runs).toFixed(3)} (counted ${(countedWidth / runs).toFixed(3)})`,
      );
      assert.ok(covered / runs >= 0.9, `covered ${covered} of ${runs}`);
      assert.ok(Math.abs(bias / runs) < 0.02, `mean error ${bias / runs}`);
      if (calibrated) assert.ok(width < 0.9 * countedWidth, `width ${width} vs ${countedWidth}`);
    });
  }

  test('no error among few evaluation labels still leaves an interval, not a point', () => {
    const e = restEstimate({
      pool: 1000,
      labeled: 60,
      labeledCorrect: 55,
      evalCorrect: 12,
      evalCount: 12,
      confidence: {
        evalRight: Array(12).fill(1),
        evalConfidence: Array(12).fill(0.99),
        labeledConfidence: 59,
        restConfidence: 0.99 * 940,
      },
    });
    assert.ok(e.high - e.low > 0.05, `${e.low}-${e.high}`);
  });

  test("Student's t quantiles", () => {
    // scipy.stats.t.ppf(0.975, df)
    for (const [df, q] of [
      [1, 12.706],
      [11, 2.201],
      [30, 2.042],
      [40, 2.0211],
      [60, 2.0003],
      [120, 1.9799],
      [1000, 1.9623],
    ] as const) {
      assert.ok(Math.abs(t975(df) - q) < 1e-3, `df ${df}: ${t975(df)} vs ${q}`);
    }
  });
});

describe('out-of-fold guesses for the estimate', () => {
  test('each logistic-regression fold sees at least 95% of the labels up to 500 labels, then 90%', () => {
    // The estimate is of the head fitted on every label; with 5 folds (80% each) it was a few
    // points pessimistic on NEU at 120 labels, where accuracy still climbs steeply.
    for (const n of [5, 19, 20, 60, 120, 240, 500]) {
      const k = evalFolds(n);
      assert.ok(k <= n, `${k} folds for ${n} labels`);
      assert.ok((k - 1) / k >= 0.95 || k === n, `${n} labels: ${k} folds`);
    }
    for (const n of [501, 2000, 100_000]) assert.equal(evalFolds(n), 10);
    // The MLP head costs 100 Adam steps per fit: it keeps 5 folds.
    assert.equal(evalFolds(200, 'mlp'), 5);
    assert.equal(evalFolds(3, 'mlp'), 3);
  });
});
