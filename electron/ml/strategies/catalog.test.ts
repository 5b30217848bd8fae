import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  STRATEGY_IDS,
  getStrategy,
  isStrategyId,
  listStrategies,
  missingStrategyIds,
  resolveParams,
} from './catalog.ts';

const FAMILIES = new Set(['baseline', 'uncertainty', 'diversity', 'hybrid', 'enhanced']);

describe('catalog', () => {
  test('all 22 ids are present, in the documented order', () => {
    assert.equal(STRATEGY_IDS.length, 22);
    assert.deepEqual(missingStrategyIds(), []);
    assert.deepEqual(
      listStrategies().map((s) => s.id),
      [...STRATEGY_IDS],
    );
  });

  test('every strategy is fully described, with valid param defaults', () => {
    for (const s of listStrategies()) {
      assert.ok(FAMILIES.has(s.family), `${s.id}: family ${s.family}`);
      assert.ok(s.name.length > 0, `${s.id}: name`);
      assert.ok(s.description.length >= 60, `${s.id}: description too short`);
      const names = new Set<string>();
      for (const p of s.params) {
        assert.ok(!names.has(p.name), `${s.id}: parameter ${p.name} twice`);
        names.add(p.name);
        assert.ok(p.description.length > 0, `${s.id}.${p.name}: description`);
      }
      // Defaults must pass the catalog's own validation.
      assert.doesNotThrow(
        () => resolveParams(s, Object.fromEntries(s.params.map((p) => [p.name, p.default]))),
        s.id,
      );
    }
  });

  test('families follow the survey taxonomy for this half', () => {
    const fam = (id: string) => getStrategy(id).family;
    assert.equal(fam('Random'), 'baseline');
    for (const id of [
      'Entropy',
      'Margin',
      'LeastConf',
      'VarRatio',
      'EntropyD',
      'MarginD',
      'LeastConfD',
      'BALD',
      'MeanSTD',
      'AdversarialBIM',
      'AdversarialDeepFool',
    ]) {
      assert.equal(fam(id), 'uncertainty', id);
    }
    assert.equal(fam('CEAL'), 'enhanced');
    assert.equal(fam('BatchBALD'), 'hybrid');
  });

  test('an unknown id lists the valid ones; a wrong case suggests the right one', () => {
    assert.throws(
      () => getStrategy('Coreset'),
      /unknown strategy "Coreset"\. Valid ids: Random, Entropy,/,
    );
    assert.throws(() => getStrategy('entropy'), /Did you mean "Entropy"\?/);
    assert.throws(() => getStrategy('batchbald'), /Did you mean "BatchBALD"\?/);
    assert.equal(isStrategyId('entropy'), false);
    assert.equal(isStrategyId('Entropy'), true);
  });
});

describe('resolveParams', () => {
  test('fills defaults and keeps given values', () => {
    const s = getStrategy('CEAL');
    assert.deepEqual(resolveParams(s), { threshold: 1e-5, decay: 0 });
    assert.deepEqual(resolveParams(s, { threshold: 5e-5 }), { threshold: 5e-5, decay: 0 });
  });

  test('refuses wrong types, fractions for integers, out-of-range values and unknown names', () => {
    const s = getStrategy('BALD');
    assert.throws(
      () => resolveParams(s, { passes: '10' }),
      /BALD parameter "passes" must be a finite number, got "10"/,
    );
    assert.throws(() => resolveParams(s, { passes: 2.5 }), /must be a whole number, got 2\.5/);
    assert.throws(() => resolveParams(s, { passes: 0 }), /must be at least 1, got 0/);
    assert.throws(() => resolveParams(s, { passes: 1e6 }), /must be at most 1000/);
    assert.throws(
      () => resolveParams(s, { pases: 5 }),
      /BALD has no parameter "pases"; valid parameters: passes/,
    );
    assert.throws(
      () => resolveParams(getStrategy('Entropy'), { passes: 5 }),
      /it takes no parameters/,
    );
    assert.throws(() => resolveParams(s, { passes: NaN }), /finite number/);
  });
});
