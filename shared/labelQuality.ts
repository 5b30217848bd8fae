import { z } from 'zod';
import { channel } from './channel.ts';
import { AnnotatorSchema, projectIdArgs } from './annotation.ts';

/**
 * Trust in labels, in the contract: suspect labels found by confident learning (Northcutt, Jiang
 * & Chuang 2021) and annotator weights by Dawid & Skene (1979). Channels are spread into the one
 * contract map in contract.ts. Pure TypeScript: no Node, no DOM.
 */

/** Fewest current labels (over two classes or more) before suspects are looked for. */
export const MIN_LABELS_FOR_SUSPECTS = 20;

/** How a review settles a suspect: keep the label, give another, or ask someone else. */
export const SUSPECT_DECISIONS = ['keep', 'relabel', 'second'] as const;
export type SuspectDecision = (typeof SUSPECT_DECISIONS)[number];

/** One label that is probably wrong, as the Suspects queue shows it. */
export interface SuspectItem {
  sampleId: number;
  /** The file (relative to the dataset folder) or `split #index`. */
  path: string;
  /** The label event under suspicion (the sample's current label when the suspects were found). */
  eventId: number;
  /** The class it gives (after merges) and who gave it. */
  given: number;
  annotator: string;
  /** The class the model suggests instead (its most likely class out of fold). */
  suggested: number;
  /** The model's out-of-fold probability of the suggestion, and of the given class. */
  suggestedP: number;
  givenP: number;
  /** Normalised margin: (p(given) - max p(other) + 1) / 2, 0..1; low = probably wrong. */
  margin: number;
  /** 1 = most likely wrong. */
  rank: number;
}

/** A computation of the suspects: what it looked at and what it found. */
export interface SuspectRunSummary {
  id: number;
  trainingId: number | null;
  /** Current labels when it ran. */
  labels: number;
  /** Labels with an out-of-fold prediction (a class needs 2 labels to be held out). */
  judged: number;
  /** Labels confident learning flagged. */
  flagged: number;
  /** Estimated share of wrong labels (off-diagonal share of the calibrated confident joint). */
  estimatedNoise: number;
  /** The model whose out-of-fold probabilities were used, one sentence. */
  model: string;
  ms: number;
  createdAt: string;
}

export interface SuspectList {
  projectId: number;
  run: SuspectRunSummary | null;
  /** Suspects still waiting for a review, most likely wrong first (cut to the limit). */
  items: SuspectItem[];
  /** All suspects still waiting for a review. */
  total: number;
  /** Suspects of this run settled by a review (kept or relabeled), or changed since. */
  settled: number;
  /** Suspects sent for a second opinion that nobody has given yet. */
  awaitingSecond: number;
  /** A computation is running now. */
  computing: boolean;
  /** How the list is made, in one sentence. */
  method: string;
  /** Why there is no list yet, or what the list leaves out; empty when nothing to say. */
  note: string;
}

export interface SuspectReviewResult {
  reviewId: number;
  /** The label event the review appended (keep and relabel), or null (second opinion). */
  labelEventId: number | null;
  labeled: number;
}

/** One annotator as Dawid-Skene sees them. */
export interface AnnotatorQuality {
  name: string;
  /** Samples whose current label from them counts. */
  labels: number;
  /** Of those, samples someone else labeled too (what the estimate rests on). */
  shared: number;
  /** Estimated share of their labels that are right, or null without shared samples. */
  accuracy: number | null;
  /** Their most frequent estimated confusion: true class labeled as another, expected count. */
  confusion: { trueClass: number; labeledAs: number; count: number } | null;
}

export interface AnnotatorQualityView {
  projectId: number;
  /** How the numbers are made, one sentence. */
  method: string;
  annotators: AnnotatorQuality[];
  /** Samples labeled by two people or more (the estimate is fitted on them). */
  multiLabeled: number;
  /** Multi-labeled samples whose consensus differs from their majority vote. */
  differsFromMajority: number;
  iterations: number;
  converged: boolean;
}

/** Events about suspects. */
export type LabelQualityEvent = {
  kind: 'project-suspects';
  projectId: number;
  phase: 'started' | 'done' | 'skipped' | 'failed' | 'cancelled';
  runId?: number;
  flagged?: number;
  message?: string;
};

// ---------------------------------------------------------------------------------------------
// Channels

const id = z.number().int().positive();
const listArgs = z
  .object({ projectId: id, limit: z.number().int().min(1).max(5000).default(200) })
  .strict();
const reviewArgs = z
  .object({
    projectId: id,
    sampleId: id,
    /** The label event the reviewer saw; a review of a label changed since is refused. */
    eventId: id,
    decision: z.enum(SUSPECT_DECISIONS),
    /** The new class of a relabel. */
    classIdx: z.number().int().min(0).optional(),
    reviewer: AnnotatorSchema,
    durationMs: z.number().min(0).max(86_400_000).optional(),
  })
  .strict()
  .refine((a) => (a.decision === 'relabel') === (a.classIdx !== undefined), {
    error: 'a relabel needs classIdx; keep and second take none',
  });

export const labelQualityChannels = {
  'suspects:list': channel<typeof listArgs, SuspectList>(
    listArgs,
    'Labels that are probably wrong (confident learning on out-of-fold probabilities), waiting for a review.',
  ),
  'suspects:review': channel<typeof reviewArgs, SuspectReviewResult>(
    reviewArgs,
    'Keep a suspect label, relabel it, or send it for a second opinion (appended events; nothing is overwritten).',
  ),
  'suspects:find': channel<typeof projectIdArgs, { started: boolean; reason: string }>(
    projectIdArgs,
    'Look for suspect labels now, in the background.',
  ),
  'suspects:cancel': channel<typeof projectIdArgs, { cancelled: boolean; reason: string }>(
    projectIdArgs,
    'Stop looking for suspect labels; the previous list stays.',
  ),
  'projects:annotators': channel<typeof projectIdArgs, AnnotatorQualityView>(
    projectIdArgs,
    "Each annotator's estimated accuracy and most frequent confusion (Dawid-Skene).",
  ),
} as const;

export const LABEL_QUALITY_CAPABILITIES = {
  listSuspects: 'suspects:list',
  reviewSuspect: 'suspects:review',
  findSuspects: 'suspects:find',
  cancelSuspects: 'suspects:cancel',
  annotatorQuality: 'projects:annotators',
} as const;

// ---------------------------------------------------------------------------------------------
// Studies with a noisy oracle

/** What a study round recorded about its noisy oracle (engine.ts, `details.labelNoise`). */
export interface RoundLabelNoise {
  rate: number;
  kind: 'uniform' | 'confusable';
  /** Labels acquired so far, and how many of them the oracle got wrong. */
  labeled: number;
  flipped: number;
  /** Final round only: the suspect finder on the acquired labels. */
  suspects?: {
    /** Labels it flagged, and flipped ones among them. */
    listed: number;
    caught: number;
    /** Flipped ones among its first `flipped` (precision and recall at k = flipped). */
    caughtAtK: number;
    /** Labels with an out-of-fold probability, and the head that gave it. */
    judged: number;
    head: string;
  };
}

/** Per strategy, means over its complete runs. */
export interface LabelNoiseSummary {
  rate: number;
  kind: 'uniform' | 'confusable';
  strategies: {
    strategy: string;
    runs: number;
    flipped: number;
    listed: number;
    caught: number;
    caughtAtK: number;
  }[];
}

/** The noisy-oracle summary of a study's runs (their last rounds), or null without one. */
export function labelNoiseSummary(
  runs: readonly { strategy: string; complete: boolean; labelNoise?: RoundLabelNoise | null }[],
): LabelNoiseSummary | null {
  const withNoise = runs.filter((r) => r.complete && r.labelNoise?.suspects);
  const first = withNoise[0]?.labelNoise;
  if (!first) return null;
  const strategies: LabelNoiseSummary['strategies'] = [];
  for (const strategy of [...new Set(withNoise.map((r) => r.strategy))]) {
    const mine = withNoise.filter((r) => r.strategy === strategy).map((r) => r.labelNoise!);
    const mean = (f: (n: RoundLabelNoise) => number) =>
      mine.reduce((a, n) => a + f(n), 0) / mine.length;
    strategies.push({
      strategy,
      runs: mine.length,
      flipped: mean((n) => n.flipped),
      listed: mean((n) => n.suspects!.listed),
      caught: mean((n) => n.suspects!.caught),
      caughtAtK: mean((n) => n.suspects!.caughtAtK),
    });
  }
  return { rate: first.rate, kind: first.kind, strategies };
}

/** The noisy-oracle lines of a study's text summary ('' without one). */
export function describeLabelNoise(s: LabelNoiseSummary | null | undefined): string {
  if (!s) return '';
  const f = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
  const lines = [
    `Noisy oracle: ${Math.round(s.rate * 100)}% of its answers flipped (${s.kind === 'uniform' ? 'to another class at random' : 'to the most confusable class'}). Suspect finder (confident learning) on each run's acquired labels, means over runs:`,
  ];
  for (const r of s.strategies) {
    lines.push(
      `  ${r.strategy}: ${f(r.flipped)} wrong labels acquired; ${f(r.listed)} flagged, ${f(r.caught)} of them wrong (caught ${r.flipped > 0 ? Math.round((100 * r.caught) / r.flipped) : 0}%); in the first ${f(r.flipped)} flagged: ${f(r.caughtAtK)}`,
    );
  }
  return lines.join('\n');
}
