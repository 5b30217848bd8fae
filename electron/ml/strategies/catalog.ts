/**
 * The strategy catalog: every query strategy the product offers, by stable id, in the order the
 * UI and CLI list them, plus parameter resolution (defaults and validation) for studies.
 */
import { strategies as adversarial } from './adversarial.ts';
import { strategies as baseline } from './baseline.ts';
import { strategies as bayesian } from './bayesian.ts';
import { strategies as diversity } from './diversity.ts';
import { strategies as enhanced } from './enhanced.ts';
import { strategies as hybrid } from './hybrid.ts';
import { strategies as uncertainty } from './uncertainty.ts';
import type { ParamSpec, ParamValue, Strategy } from './types.ts';

/** Stable ids, in display order (survey's 17 first in the paper's order, then the extensions). */
export const STRATEGY_IDS = [
  'Random',
  'Entropy',
  'Margin',
  'LeastConf',
  'VarRatio',
  'EntropyD',
  'MarginD',
  'LeastConfD',
  'BALD',
  'MeanSTD',
  'KMeans',
  'KCenter',
  'BADGE',
  'CEAL',
  'AdversarialBIM',
  'AdversarialDeepFool',
  'LPL',
  'WAAL',
  'VAAL',
  'ClusterMargin',
  'DBAL',
  'BatchBALD',
] as const;

export type StrategyId = (typeof STRATEGY_IDS)[number];

function buildRegistry(): Map<string, Strategy> {
  const byId = new Map<string, Strategy>();
  for (const s of [
    baseline,
    uncertainty,
    bayesian,
    adversarial,
    diversity,
    hybrid,
    enhanced,
  ].flat()) {
    if (byId.has(s.id)) throw new Error(`strategy id "${s.id}" is defined twice`);
    byId.set(s.id, s);
  }
  return byId;
}

const registry = buildRegistry();

/** Ids of STRATEGY_IDS that no module defines (empty when the catalog is complete). */
export function missingStrategyIds(): string[] {
  return STRATEGY_IDS.filter((id) => !registry.has(id));
}

/** Every available strategy, in STRATEGY_IDS order (then any extra ids, alphabetically). */
export function listStrategies(): Strategy[] {
  const known = new Set<string>(STRATEGY_IDS);
  const out: Strategy[] = [];
  for (const id of STRATEGY_IDS) {
    const s = registry.get(id);
    if (s) out.push(s);
  }
  const extra = [...registry.keys()].filter((id) => !known.has(id)).sort();
  for (const id of extra) out.push(registry.get(id)!);
  return out;
}

/** True when `id` names an available strategy (case-sensitive). */
export function isStrategyId(id: string): boolean {
  return registry.has(id);
}

/**
 * The strategy with this id. Ids are case-sensitive (they are stored in studies); an id that
 * differs only in case gets a "did you mean" hint.
 */
export function getStrategy(id: string): Strategy {
  const s = registry.get(id);
  if (s) return s;
  const ids = listStrategies().map((x) => x.id);
  const sameCase = ids.find((x) => x.toLowerCase() === id.toLowerCase());
  const hint = sameCase ? ` Did you mean "${sameCase}"? (ids are case-sensitive)` : '';
  throw new Error(`unknown strategy "${id}".${hint} Valid ids: ${ids.join(', ')}`);
}

function checkValue(strategyId: string, spec: ParamSpec, v: unknown): ParamValue {
  const where = `${strategyId} parameter "${spec.name}"`;
  switch (spec.type) {
    case 'boolean':
      if (typeof v !== 'boolean')
        throw new TypeError(`${where} must be true or false, got ${JSON.stringify(v)}`);
      return v;
    case 'string':
      if (typeof v !== 'string')
        throw new TypeError(`${where} must be a string, got ${JSON.stringify(v)}`);
      return v;
    case 'number':
    case 'integer': {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new TypeError(`${where} must be a finite number, got ${JSON.stringify(v)}`);
      }
      if (spec.type === 'integer' && !Number.isInteger(v)) {
        throw new TypeError(`${where} must be a whole number, got ${v}`);
      }
      if (spec.min !== undefined && v < spec.min) {
        throw new RangeError(`${where} must be at least ${spec.min}, got ${v}`);
      }
      if (spec.max !== undefined && v > spec.max) {
        throw new RangeError(`${where} must be at most ${spec.max}, got ${v}`);
      }
      return v;
    }
  }
}

/**
 * Fills defaults into `given` and validates every value against the strategy's ParamSpecs (type,
 * whole number, min, max). Unknown names are refused with the list of valid ones, so a typo in a
 * study file does not silently fall back to a default.
 */
export function resolveParams(
  strategy: Strategy,
  given: Record<string, unknown> = {},
): Record<string, ParamValue> {
  const names = new Set(strategy.params.map((p) => p.name));
  for (const name of Object.keys(given)) {
    if (!names.has(name)) {
      const valid = strategy.params.map((p) => p.name);
      throw new Error(
        `${strategy.id} has no parameter "${name}"; ` +
          (valid.length ? `valid parameters: ${valid.join(', ')}` : 'it takes no parameters'),
      );
    }
  }
  const out: Record<string, ParamValue> = {};
  for (const spec of strategy.params) {
    const v = given[spec.name];
    out[spec.name] = v === undefined ? spec.default : checkValue(strategy.id, spec, v);
  }
  return out;
}
