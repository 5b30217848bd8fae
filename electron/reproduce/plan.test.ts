import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { STRATEGY_IDS } from '../ml/strategies/catalog.ts';
import { validateStudyConfig } from '../study/engine.ts';
import {
  buildPlan,
  CATALOG_IDS,
  estimatePlan,
  formatDuration,
  FULL_PLAN,
  selectStudies,
  SMOKE_PLAN,
  type Calibration,
  strategiesFor,
  type PlannedStudy,
} from './plan.ts';

describe('reproduction plan', () => {
  test('the plan lists every catalog strategy', () => {
    assert.deepEqual([...CATALOG_IDS], [...STRATEGY_IDS]);
  });

  test('full plan: three datasets with the whole catalog, then the ablations, valid settings', () => {
    const plan = buildPlan(FULL_PLAN);
    assert.deepEqual(
      plan.map((s) => s.key),
      [
        'fmnist',
        'fmnist-imb',
        'mnist',
        'ablation-epochs-5',
        'ablation-epochs-20',
        'ablation-epochs-30',
        'ablation-batch-50',
        'ablation-batch-200',
        'ablation-batch-500',
      ],
    );
    for (const s of plan) validateStudyConfig(s.config);
    const main = plan.filter((s) => s.group === 'main');
    assert.deepEqual(
      main.map((s) => [s.config.dataset, s.config.imbalanced]),
      [
        ['fashion-mnist', false],
        ['fashion-mnist', true],
        ['mnist', false],
      ],
    );
    for (const s of main) {
      assert.equal(s.config.strategies.length, 22);
      assert.equal(s.config.repeats, 3);
      assert.equal(s.config.model, 'cnn');
      assert.equal(s.config.poolSize, 5000);
      assert.equal(s.config.dataDir, undefined, 'no machine path in the settings');
    }
    // The Fashion-MNIST main study (10 epochs, batch 100, 3 repeats, every strategy) is the
    // ablations' point at 10 epochs and at batch 100: its runs of the 4 strategies are exactly a
    // 4-strategy study's, so they are not run a second time.
    const host = plan.find((s) => s.key === 'fmnist')!;
    assert.deepEqual(host.alsoIn, ['ablation-epochs', 'ablation-batch']);
    assert.deepEqual(host.ablationStrategies, ['Random', 'Entropy', 'BADGE', 'WAAL']);
    assert.deepEqual(strategiesFor(host, 'ablation-epochs'), [
      'Random',
      'Entropy',
      'BADGE',
      'WAAL',
    ]);
    assert.equal(strategiesFor(host, 'main').length, 22);
    assert.equal(plan.find((s) => s.key === 'fmnist-imb')!.alsoIn, undefined);
    assert.deepEqual(
      plan.filter((s) => s.group === 'ablation-epochs').map((s) => s.config.epochs),
      [5, 20, 30],
    );
    assert.deepEqual(
      plan.filter((s) => s.group === 'ablation-batch').map((s) => s.config.batch),
      [50, 200, 500],
    );
    for (const s of plan.filter((x) => x.group !== 'main'))
      assert.deepEqual(s.config.strategies, ['Random', 'Entropy', 'BADGE', 'WAAL']);
  });

  test('--only selects groups, keys, "ablations"; refuses unknown names', () => {
    const plan = buildPlan(FULL_PLAN);
    const keys = (only: string) => selectStudies(plan, only).map((s) => s.key);
    assert.deepEqual(keys('fmnist,mnist'), ['fmnist', 'mnist']);
    assert.deepEqual(keys('main'), ['fmnist', 'fmnist-imb', 'mnist']);
    assert.deepEqual(keys('ablation-batch'), [
      'fmnist',
      'ablation-batch-50',
      'ablation-batch-200',
      'ablation-batch-500',
    ]);
    assert.deepEqual(keys('ablations'), [
      'fmnist',
      'ablation-epochs-5',
      'ablation-epochs-20',
      'ablation-epochs-30',
      'ablation-batch-50',
      'ablation-batch-200',
      'ablation-batch-500',
    ]);
    assert.equal(selectStudies(plan, undefined).length, 9);
    assert.throws(() => selectStudies(plan, 'fmnist,cifar10'), /unknown cifar10; choose from/);
  });

  test('estimate: hand-computed costs, recorded rounds count as spent', () => {
    const study: PlannedStudy = {
      key: 's',
      group: 'main',
      title: 's',
      config: {
        dataset: 'demo',
        strategies: ['Random', 'Entropy'],
        repeats: 1,
        seed: 1,
        initial: 10,
        batch: 10,
        budget: 20,
        epochs: 2,
        model: 'mlp',
        trainBatchSize: 8,
        learningRate: 1e-3,
        poolSize: 100,
        testSize: 50,
      },
    };
    const cal: Calibration = {
      basis: 'test',
      trainMsPerSampleEpoch: 1,
      roundOverheadMsPerTestSample: 0.1,
      queryMsPerPoolSample: { default: 0.5, Random: 0 },
      trainFactor: {},
    };
    // Round 0: 10 x 2 + 5 = 25. Round 1: 20 x 2 + 5 + 90 x q. Round 2: 30 x 2 + 5 + 80 x q.
    // Random (q = 0): 25 + 45 + 65 = 135. Entropy (q = 0.5): 25 + 90 + 105 = 220.
    const [e] = estimatePlan([study], cal);
    assert.equal(e!.totalMs, 355);
    assert.equal(e!.remainingMs, 355);
    assert.equal(e!.rounds, 6);
    const [d] = estimatePlan([study], cal, { s: { Entropy: [2] } });
    assert.equal(d!.roundsDone, 2);
    assert.equal(d!.remainingMs, 135 + 105);
    assert.equal(formatDuration(355), '0 s');
    assert.equal(formatDuration(90_000), '2 min');
    assert.equal(formatDuration(3 * 3600_000 + 25 * 60_000), '3 h 25 min');
  });

  test('without a main study that ran its strategies, the ablation runs its own protocol point', () => {
    const spec = {
      ...FULL_PLAN,
      datasets: FULL_PLAN.datasets.filter((d) => d.key === 'mnist'),
    };
    const plan = buildPlan(spec);
    const point = plan.find((s) => s.key === 'ablation-epochs-10')!;
    assert.deepEqual(point.alsoIn, ['ablation-batch']);
    assert.equal(plan.find((s) => s.key === 'mnist')!.alsoIn, undefined);
    assert.equal(
      plan.filter((s) => s.config.batch === 100 && s.group === 'ablation-batch').length,
      0,
    );
    // Fewer repeats in the ablation than in the main protocol: the runs would differ in number.
    const fewer = buildPlan({ ...FULL_PLAN, ablation: { ...FULL_PLAN.ablation!, repeats: 2 } });
    assert.ok(fewer.some((s) => s.key === 'ablation-epochs-10'));
    assert.equal(fewer.find((s) => s.key === 'fmnist')!.alsoIn, undefined);
  });

  test('the smoke plan is tiny and valid', () => {
    const plan = buildPlan(SMOKE_PLAN);
    for (const s of plan) {
      validateStudyConfig(s.config);
      assert.equal(s.config.model, 'mlp');
      assert.ok((s.config.poolSize ?? Infinity) <= 200);
    }
  });
});
