import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { roundCount } from '../../shared/study.ts';
import { MEASURED } from './calibration.ts';
import { buildPlan, estimatePlan, FULL_PLAN, roundMs } from './plan.ts';
import { parseShard, runKey, shardRuns } from './shard.ts';

const plan = buildPlan(FULL_PLAN);

/** Estimated ms of the runs in `keys`. */
function cost(keys: Set<string>): number {
  let ms = 0;
  for (const key of keys) {
    const [study, strategy] = key.split('/');
    const cfg = plan.find((s) => s.key === study)!.config;
    for (let t = 0; t <= roundCount(cfg); t++) ms += roundMs(cfg, strategy!, t, MEASURED);
  }
  return ms;
}

describe('--shard', () => {
  test('parses i/n and refuses what is not a share', () => {
    assert.deepEqual(parseShard('3/16'), { index: 3, count: 16 });
    assert.deepEqual(parseShard(' 1 / 1 '), { index: 1, count: 1 });
    for (const bad of ['0/4', '5/4', '2', 'a/b', '1/0', '-1/2', '1.5/3'])
      assert.throws(() => parseShard(bad), /expected i\/n with 1 <= i <= n/, bad);
  });

  test('the shares are disjoint, cover every run not yet complete, and take about as long', () => {
    const total = plan.reduce((n, s) => n + s.config.strategies.length * s.config.repeats, 0);
    const shares = [1, 2, 3, 4, 5].map((index) =>
      shardRuns(plan, MEASURED, {}, { index, count: 5 }),
    );
    const all = shares.flatMap((s) => [...s]);
    assert.equal(all.length, total);
    assert.equal(new Set(all).size, total, 'no run in two shares');
    const costs = shares.map(cost);
    const whole = estimatePlan(plan, MEASURED).reduce((a, e) => a + e.totalMs, 0);
    assert.ok(
      Math.abs(costs.reduce((a, b) => a + b, 0) - whole) < 1,
      'the shares add up to the plan',
    );
    // Longest-processing-time: no share exceeds the mean by more than the dearest single run.
    const mean = whole / 5;
    const dearest = Math.max(...[...shares.flatMap((s) => [...s])].map((k) => cost(new Set([k]))));
    for (const c of costs) assert.ok(c <= mean + dearest, `${c} vs mean ${mean}`);
    assert.ok(Math.min(...costs) > mean * 0.9, `balanced: ${costs.map(Math.round).join(', ')}`);
  });

  test('complete runs are left out, cut runs are dealt out again, and 1/1 is everything left', () => {
    const done = {
      fmnist: { Random: [11, 11, 11], Entropy: [11, 4] },
      mnist: { BADGE: [11] },
    };
    const everything = shardRuns(plan, MEASURED, done, { index: 1, count: 1 });
    assert.ok(!everything.has(runKey('fmnist', 'Random', 0)));
    assert.ok(!everything.has(runKey('fmnist', 'Random', 2)));
    assert.ok(!everything.has(runKey('fmnist', 'Entropy', 0)));
    assert.ok(everything.has(runKey('fmnist', 'Entropy', 1)), 'a cut run is still to do');
    assert.ok(everything.has(runKey('fmnist', 'Entropy', 2)));
    assert.ok(!everything.has(runKey('mnist', 'BADGE', 0)));
    const total = plan.reduce((n, s) => n + s.config.strategies.length * s.config.repeats, 0);
    assert.equal(everything.size, total - 5);
    // The same inputs give the same shares: machines agree without talking to each other.
    assert.deepEqual(
      [...shardRuns(plan, MEASURED, done, { index: 2, count: 3 })],
      [...shardRuns(plan, MEASURED, done, { index: 2, count: 3 })],
    );
  });
});
