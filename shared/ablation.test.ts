import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ablationCsv, buildAblation, varyingFields, type AblationStudy } from './ablation.ts';
import type { RunReport } from './report.ts';
import { DEFAULT_STUDY, type StudyConfig } from './study.ts';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: expected ${expected}, got ${actual}`);

/** A run whose curve has the given accuracies at labeled 100, 200, 300... (or `labeled`). */
function run(
  strategy: string,
  repeat: number,
  accuracies: number[],
  opts: { seed?: number; complete?: boolean; labeled?: number[] } = {},
): RunReport {
  const labeled = opts.labeled ?? accuracies.map((_, i) => 100 + 100 * i);
  return {
    strategy,
    repeat,
    seed: opts.seed ?? 1000 + repeat,
    status: opts.complete === false ? 'cancelled' : 'done',
    complete: opts.complete ?? true,
    curve: accuracies.map((accuracy, i) => ({
      round: i,
      labeled: labeled[i]!,
      accuracy,
      loss: 0,
      trainMs: 10,
      queryMs: 1,
    })),
    // Deliberately wrong: the ablation must compute AUBC and F-acc from the curve itself.
    aubc: 0,
    facc: 0,
    trainMs: 0,
    queryMs: 0,
  };
}

function study(
  id: number,
  changes: Partial<StudyConfig>,
  runs: RunReport[],
  name = `Study ${id}`,
): AblationStudy {
  return {
    id,
    name,
    config: {
      ...DEFAULT_STUDY,
      strategies: ['Random', 'Entropy'],
      initial: 100,
      batch: 100,
      budget: 200,
      epochs: 5,
      ...changes,
    },
    runs,
  };
}

/** Two studies on the demo data, 5 and 10 epochs, two repeats each (one left incomplete). */
function epochStudies(): AblationStudy[] {
  return [
    // Listed out of order on purpose: values come out ascending.
    study(2, { epochs: 10 }, [
      run('Random', 0, [0.6, 0.7, 0.8]),
      run('Entropy', 0, [0.6, 0.8, 1.0]),
      run('Random', 1, [0.6, 0.8, 0.8]),
      run('Entropy', 1, [0.6, 0.8], { complete: false }),
    ]),
    study(1, { epochs: 5 }, [
      run('Random', 0, [0.5, 0.6, 0.7]),
      run('Entropy', 0, [0.5, 0.7, 0.9]),
      run('Random', 1, [0.5, 0.7, 0.8]),
      run('Entropy', 1, [0.5, 0.8, 0.9]),
    ]),
  ];
}

describe('buildAblation over epochs', () => {
  test('AUBC and F-acc mean and sample std per strategy and epochs, by hand', () => {
    const r = buildAblation(epochStudies());
    assert.ok(r.ok, r.ok ? '' : r.problem);
    const a = r.ablation;
    assert.equal(a.field, 'epochs');
    assert.equal(a.dataset, 'demo');
    assert.deepEqual(a.values, [5, 10]);
    assert.deepEqual(
      a.series.map((s) => s.strategy),
      ['Random', 'Entropy'],
    );
    const [random, entropy] = a.series;

    // Random, 5 epochs: AUBC of [0.5, 0.6, 0.7] = (55 + 65) / 200 = 0.6, of [0.5, 0.7, 0.8] =
    // (60 + 75) / 200 = 0.675; mean 0.6375, sample std |0.675 - 0.6| / sqrt(2).
    const r5 = random!.cells[0]!;
    assert.equal(r5.value, 5);
    assert.equal(r5.runs, 2);
    assert.deepEqual(r5.studies, [1]);
    close(r5.aubcMean, 0.6375, 'Random@5 AUBC mean');
    close(r5.aubcStd, 0.075 / Math.SQRT2, 'Random@5 AUBC std');
    close(r5.faccMean, 0.75, 'Random@5 F-acc mean');
    close(r5.faccStd, 0.1 / Math.SQRT2, 'Random@5 F-acc std');
    // Random, 10 epochs: (65 + 75) / 200 = 0.7 and (70 + 80) / 200 = 0.75.
    const r10 = random!.cells[1]!;
    close(r10.aubcMean, 0.725, 'Random@10 AUBC mean');
    close(r10.aubcStd, 0.05 / Math.SQRT2, 'Random@10 AUBC std');
    close(r10.faccMean, 0.8, 'Random@10 F-acc mean');
    close(r10.faccStd, 0, 'Random@10 F-acc std');

    // Entropy, 5 epochs: (60 + 80) / 200 = 0.7 and (65 + 85) / 200 = 0.75.
    close(entropy!.cells[0]!.aubcMean, 0.725, 'Entropy@5 AUBC mean');
    close(entropy!.cells[0]!.aubcStd, 0.05 / Math.SQRT2, 'Entropy@5 AUBC std');
    close(entropy!.cells[0]!.faccMean, 0.9, 'Entropy@5 F-acc mean');
    // Entropy, 10 epochs: only repeat 0 is complete: (70 + 90) / 200 = 0.8, std 0 for one run.
    const e10 = entropy!.cells[1]!;
    assert.equal(e10.runs, 1);
    close(e10.aubcMean, 0.8, 'Entropy@10 AUBC mean');
    close(e10.aubcStd, 0, 'Entropy@10 AUBC std');
    close(e10.faccMean, 1, 'Entropy@10 F-acc');

    assert.deepEqual(a.notes, ['1 incomplete run(s) are left out of the statistics.']);
    assert.deepEqual(a.confounders, []);
  });

  test('mean curves per value, for the side-by-side accuracy-budget panels', () => {
    const r = buildAblation(epochStudies());
    assert.ok(r.ok);
    const [at5, at10] = r.ablation.curves;
    assert.equal(at5!.value, 5);
    assert.deepEqual(at5!.studies, [1]);
    const random5 = at5!.series.find((s) => s.strategy === 'Random')!.points;
    assert.deepEqual(
      random5.map((p) => p.labeled),
      [100, 200, 300],
    );
    // Labeled 200: accuracies 0.6 and 0.7; labeled 300: 0.7 and 0.8.
    close(random5[1]!.mean, 0.65, 'mean at 200');
    close(random5[1]!.std, 0.1 / Math.SQRT2, 'std at 200');
    close(random5[2]!.mean, 0.75, 'mean at 300');
    const entropy10 = at10!.series.find((s) => s.strategy === 'Entropy')!.points;
    assert.deepEqual(
      entropy10.map((p) => [p.labeled, p.mean, p.std]),
      [
        [100, 0.6, 0],
        [200, 0.8, 0],
        [300, 1, 0],
      ],
    );
  });

  test('a strategy missing at a value has no cell there, and a note says so', () => {
    const studies = epochStudies();
    studies[0] = study(2, { epochs: 10, strategies: ['Random'] }, [
      run('Random', 0, [0.6, 0.7, 0.8]),
    ]);
    const r = buildAblation(studies);
    assert.ok(r.ok);
    const entropy = r.ablation.series.find((s) => s.strategy === 'Entropy')!;
    assert.deepEqual(
      entropy.cells.map((c) => c.value),
      [5],
    );
    assert.ok(r.ablation.notes.includes('Entropy has no complete run at epochs 10.'));
  });

  test('two studies at the same value pool their runs, with a note', () => {
    const studies = [
      ...epochStudies(),
      study(3, { epochs: 5, seed: 7 }, [run('Random', 0, [0.5, 0.5, 0.5], { seed: 77 })]),
    ];
    const r = buildAblation(studies);
    assert.ok(r.ok, r.ok ? '' : r.problem);
    const r5 = r.ablation.series[0]!.cells[0]!;
    assert.equal(r5.runs, 3);
    assert.deepEqual(r5.studies, [1, 3]);
    // AUBCs 0.6, 0.675, 0.5: mean 0.591666...; deviations 0.008333, 0.083333, -0.091666.
    close(r5.aubcMean, 1.775 / 3, 'pooled mean');
    const m = 1.775 / 3;
    const ss = (0.6 - m) ** 2 + (0.675 - m) ** 2 + (0.5 - m) ** 2;
    close(r5.aubcStd, Math.sqrt(ss / 2), 'pooled sample std');
    assert.ok(r.ablation.notes.includes('epochs 5: the runs of studies #1, #3 are pooled.'));
  });

  test('the same run twice at one value (same seed) is refused', () => {
    const studies = [...epochStudies(), study(3, { epochs: 5 }, [run('Random', 0, [0.5, 0.5])])];
    const r = buildAblation(studies);
    assert.ok(!r.ok);
    assert.match(
      r.problem,
      /Studies #1 and #3 both ran Random at epochs 5 from the same seed \(1000\)/,
    );
  });
});

describe('buildAblation over the batch size', () => {
  test('curves on different labeled grids compare by normalised AUBC', () => {
    const r = buildAblation([
      study(1, { batch: 100, budget: 200 }, [run('Random', 0, [0.5, 0.7, 0.8])]),
      study(2, { batch: 200, budget: 200 }, [
        run('Random', 0, [0.5, 0.8], { labeled: [100, 300] }),
      ]),
    ]);
    assert.ok(r.ok, r.ok ? '' : r.problem);
    assert.equal(r.ablation.field, 'batch');
    assert.deepEqual(r.ablation.values, [100, 200]);
    const [b100, b200] = r.ablation.series[0]!.cells;
    // (60 + 75) / 200 = 0.675; one trapezoid (0.5 + 0.8) / 2 = 0.65.
    close(b100!.aubcMean, 0.675, 'b=100');
    close(b200!.aubcMean, 0.65, 'b=200');
    close(b200!.faccMean, 0.8, 'b=200 F-acc');
    assert.deepEqual(
      r.ablation.curves[1]!.series[0]!.points.map((p) => p.labeled),
      [100, 300],
    );
  });
});

describe('what buildAblation refuses or flags', () => {
  test('fewer than two studies', () => {
    const r = buildAblation(epochStudies().slice(0, 1));
    assert.deepEqual(r, { ok: false, problem: 'Choose at least two finished studies to compare.' });
  });

  test('studies on different datasets', () => {
    const r = buildAblation([
      study(1, { epochs: 5 }, [run('Random', 0, [0.5, 0.6])]),
      study(2, { epochs: 10, dataset: '/data/pets' }, [run('Random', 0, [0.5, 0.6])]),
    ]);
    assert.ok(!r.ok);
    assert.equal(
      r.problem,
      'An ablation compares one dataset, but these studies use 2: #1 on demo; #2 on /data/pets.',
    );
  });

  test('studies that differ in neither field, or in both', () => {
    const same = buildAblation([
      study(1, {}, [run('Random', 0, [0.5, 0.6])]),
      study(2, { seed: 2 }, [run('Random', 0, [0.5, 0.6])]),
    ]);
    assert.ok(!same.ok);
    assert.match(same.problem, /all train 5 epochs per round with batch size 100/);
    const both = buildAblation([
      study(1, { epochs: 5, batch: 100 }, [run('Random', 0, [0.5, 0.6])]),
      study(2, { epochs: 10, batch: 50 }, [run('Random', 0, [0.5, 0.6])]),
    ]);
    assert.ok(!both.ok);
    assert.match(both.problem, /Both the epochs \(5, 10\) and the batch size \(50, 100\) differ/);
  });

  test('no complete run at all', () => {
    const r = buildAblation([
      study(1, { epochs: 5 }, [run('Random', 0, [0.5], { complete: false })]),
      study(2, { epochs: 10 }, []),
    ]);
    assert.deepEqual(r, { ok: false, problem: 'None of these studies has a complete run yet.' });
  });

  test('other settings that differ are listed as confounders, with their studies', () => {
    const r = buildAblation([
      study(1, { epochs: 5, model: 'mlp', poolSize: 3000 }, [run('Random', 0, [0.5, 0.6])]),
      study(2, { epochs: 10, model: 'cnn', poolSize: undefined }, [run('Random', 0, [0.5, 0.6])]),
      study(3, { epochs: 20, model: 'cnn', poolSize: 3000 }, [run('Random', 0, [0.5, 0.6])]),
    ]);
    assert.ok(r.ok, r.ok ? '' : r.problem);
    assert.deepEqual(r.ablation.confounders, [
      {
        setting: 'model',
        values: [
          { value: 'mlp', studies: [1] },
          { value: 'cnn', studies: [2, 3] },
        ],
      },
      {
        setting: 'poolSize',
        values: [
          { value: '3000', studies: [1, 3] },
          { value: 'all', studies: [2] },
        ],
      },
    ]);
  });

  test('varyingFields names the fields with more than one value', () => {
    assert.deepEqual(
      varyingFields([
        { epochs: 5, batch: 100 },
        { epochs: 5, batch: 100 },
      ]),
      [],
    );
    assert.deepEqual(
      varyingFields([
        { epochs: 5, batch: 100 },
        { epochs: 5, batch: 200 },
      ]),
      ['batch'],
    );
  });
});

describe('ablationCsv', () => {
  test('one row per strategy and value, full precision, quoted where needed', () => {
    const r = buildAblation([
      study(1, { epochs: 5, strategies: ['Random', 'A,B'] }, [
        run('Random', 0, [0.5, 0.7]),
        run('A,B', 0, [0.5, 0.9]),
      ]),
      study(2, { epochs: 10, strategies: ['Random'] }, [run('Random', 0, [0.5, 0.8])]),
    ]);
    assert.ok(r.ok, r.ok ? '' : r.problem);
    assert.equal(
      ablationCsv(r.ablation),
      [
        'strategy,epochs,runs,studies,aubc_mean,aubc_std,facc_mean,facc_std',
        'Random,5,1,1,0.6,0,0.7,0',
        'Random,10,1,2,0.65,0,0.8,0',
        '"A,B",5,1,1,0.7,0,0.9,0',
        '',
      ].join('\n'),
    );
  });
});
