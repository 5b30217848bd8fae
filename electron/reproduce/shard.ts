/**
 * Splitting a reproduction across machines: `deepal reproduce --shard i/n` runs only the i-th of
 * n shares of the selected studies' runs that are not complete yet. Each machine writes its own
 * databases and report folders; `deepal reproduce --merge <folder>` on one machine then carries
 * the complete runs of the others' reports into its own studies (committed.ts).
 *
 * The runs are dealt out dearest first, each to the share with the least work so far (the
 * longest-processing-time rule), priced with the same cost model as `--dry-run`, so the shares
 * take about equally long. A run is never split: its rounds depend on each other.
 */
import { roundCount } from '../../shared/study.ts';
import { runMs, type Calibration, type PlannedStudy } from './plan.ts';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** Parse "2/8" into { index: 2, count: 8 }. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count)
    throw new Error(
      `--shard: expected i/n with 1 <= i <= n (for example 2/8, the second of 8 machines), got "${text}"`,
    );
  return { index, count };
}

/** "key/strategy/repeat": one run of one study. */
export const runKey = (study: string, strategy: string, repeat: number): string =>
  `${study}/${strategy}/${repeat}`;

/**
 * The runs (runKey) of shard `shard`: every run of `plan` with fewer than all of its rounds in
 * `done` (recorded rounds per study, strategy and repeat), dealt out as described above.
 * Deterministic, so n machines given the same plan and records agree on who runs what.
 */
export function shardRuns(
  plan: readonly PlannedStudy[],
  cal: Calibration,
  done: Record<string, Record<string, number[]>>,
  shard: Shard,
): Set<string> {
  const runs: { key: string; ms: number; order: number }[] = [];
  for (const s of plan) {
    const cfg = s.config;
    const rounds = roundCount(cfg);
    for (let repeat = 0; repeat < cfg.repeats; repeat++) {
      for (const strategy of cfg.strategies) {
        const recorded = done[s.key]?.[strategy]?.[repeat] ?? 0;
        if (recorded >= rounds + 1) continue;
        const ms = runMs(cfg, strategy, cal, recorded);
        runs.push({ key: runKey(s.key, strategy, repeat), ms, order: runs.length });
      }
    }
  }
  runs.sort((a, b) => b.ms - a.ms || a.order - b.order);
  const load = new Array<number>(shard.count).fill(0);
  const mine = new Set<string>();
  for (const run of runs) {
    let least = 0;
    for (let k = 1; k < shard.count; k++) if (load[k]! < load[least]!) least = k;
    load[least]! += run.ms;
    if (least === shard.index - 1) mine.add(run.key);
  }
  return mine;
}
