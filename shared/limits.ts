/**
 * Upper bounds on a study's settings, each with its reason. The schema (shared/study.ts) says what
 * a setting may be; these say how much of it one machine can do: `repeats: 1e15` passes a schema of
 * positive integers and then keeps the ML worker busy forever. Checked at every door before any
 * work starts (the services, the worker's jobs, the command line), and before a stored study is
 * run, so a study saved before the bounds existed is refused too rather than run without end.
 */

export const STUDY_LIMITS = {
  /** Each repeat runs every strategy again; the survey uses 3 to 5. */
  repeats: 100,
  /** More than the catalog holds, with room for new ones. */
  strategies: 64,
  /** Query rounds (budget / batch): every round retrains the model. */
  rounds: 10_000,
  /** Epochs per round. */
  epochs: 1_000,
  trainBatchSize: 65_536,
  /** The pool is held in memory; no dataset this app reads is larger. */
  poolSize: 2_000_000,
  testSize: 1_000_000,
} as const;

/** The settings the limits look at (any object with them: a parsed config or raw input). */
export interface LimitedSettings {
  strategies?: unknown;
  repeats?: unknown;
  initial?: unknown;
  batch?: unknown;
  budget?: unknown;
  epochs?: unknown;
  trainBatchSize?: unknown;
  poolSize?: unknown;
  testSize?: unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/**
 * What in `cfg` is over a limit, as sentences that name the setting, the limit and why (empty
 * when nothing is). Values the schema refuses anyway (not numbers) are left to the schema.
 */
export function studyLimitProblems(cfg: LimitedSettings): string[] {
  const out: string[] = [];
  const over = (what: string, v: number | undefined, max: number, why: string) => {
    if (v !== undefined && v > max) out.push(`${what} ${v} is over the limit of ${max}: ${why}`);
  };
  const L = STUDY_LIMITS;
  over(
    'repeats',
    num(cfg.repeats),
    L.repeats,
    'each repeat runs every strategy again (the survey uses 3 to 5)',
  );
  if (Array.isArray(cfg.strategies))
    over(
      'the number of strategies',
      cfg.strategies.length,
      L.strategies,
      'the catalog has fewer; list each strategy once',
    );
  over('epochs', num(cfg.epochs), L.epochs, 'every round trains this many epochs');
  over(
    'the train batch size',
    num(cfg.trainBatchSize),
    L.trainBatchSize,
    'a larger batch does not fit in memory',
  );
  over(
    'the pool size',
    num(cfg.poolSize),
    L.poolSize,
    'the pool is held in memory, and no dataset this app reads is larger',
  );
  over(
    'the test size',
    num(cfg.testSize),
    L.testSize,
    'the test set is held in memory and evaluated every round',
  );
  for (const [what, v] of [
    ['the initial seed', num(cfg.initial)],
    ['the budget', num(cfg.budget)],
    ['the batch', num(cfg.batch)],
  ] as const)
    over(what, v, L.poolSize, 'it cannot exceed the largest pool');
  const budget = num(cfg.budget);
  const batch = num(cfg.batch);
  if (budget !== undefined && batch !== undefined && batch > 0) {
    const rounds = Math.ceil(budget / batch);
    if (rounds > L.rounds)
      out.push(
        `budget ${budget} / batch ${batch} gives ${rounds} query rounds, over the limit of ${L.rounds}: every round retrains the model; raise the batch or lower the budget`,
      );
  }
  return out;
}

/** The problems as one sentence for an error message, or null when there are none. */
export function studyLimitMessage(cfg: LimitedSettings): string | null {
  const problems = studyLimitProblems(cfg);
  return problems.length > 0 ? `Invalid study settings: ${problems.join('; ')}.` : null;
}

/** Dataset specs that are names, not paths (the dataset registry resolves them). */
export const NAMED_DATASET_SPECS: readonly string[] = ['demo', 'fashion-mnist', 'mnist'];
