/**
 * Implementation versions of the strategies, for results that outlive the code that made them: a
 * committed reproduction report records the version of each strategy it ran, and a run made by
 * another version is not carried over as if the current code had made it (it is trained again).
 *
 * Bump a strategy's number, with a line saying why, whenever a change can alter its picks or its
 * training; a strategy not listed is at version 1 (the code of the first published reproduction).
 * Pure data, so the reproduction plan can read it without loading TensorFlow.js.
 */
export const STRATEGY_VERSIONS: Readonly<Record<string, number>> = {
  // Issue 18. Consistent MC dropout: a pass is one dropout mask for the whole pool (it was a mask
  // per element, a different parameter sample for every sample).
  VarRatio: 2,
  EntropyD: 2,
  MarginD: 2,
  LeastConfD: 2,
  BALD: 2,
  MeanSTD: 2,
  // Also 100 passes by default (was 10) and at least 2b candidates.
  BatchBALD: 2,
  // Clusters once per run (it clustered again every round).
  ClusterMargin: 2,
  // Gradient penalty's gradient right; epochs of max(|L|, |U|); gamma 1; critic on train-mode
  // embeddings of the same step.
  WAAL: 2,
  // 30 epochs of max(|L|, |U|) pairs with 2 VAE and discriminator steps each (was at most 300
  // steps); the KL term summed, as the authors' loss.
  VAAL: 2,
  // Detached after 60% of training (was the last epoch only).
  LPL: 2,
};

/** The implementation version of strategy `id` (1 when never changed). */
export function strategyVersion(id: string): number {
  return STRATEGY_VERSIONS[id] ?? 1;
}

/** The versions of `ids`, as a report records them. */
export function strategyVersionsOf(ids: readonly string[]): Record<string, number> {
  return Object.fromEntries(ids.map((id) => [id, strategyVersion(id)]));
}
