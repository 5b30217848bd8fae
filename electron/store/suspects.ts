/**
 * The label-quality part of the store layer (migration 005): computations of a project's suspect
 * labels, the ranked suspects of the latest one, and reviewers' decisions about them. It runs on
 * the Store's one connection (store.ts opens SQLite; this module never does), each write in one
 * transaction.
 */
import type { SuspectDecision } from '../../shared/labelQuality.ts';
import { classState, effectiveClass } from './annotation.ts';
import { StoreInputError, type Store } from './store.ts';

export interface SuspectInput {
  sampleId: number;
  eventId: number;
  rank: number;
  given: number;
  suggested: number;
  givenP: number;
  suggestedP: number;
  margin: number;
}

export interface SuspectRunInput {
  projectId: number;
  trainingId: number | null;
  labels: number;
  judged: number;
  flagged: number;
  lastEventId: number;
  details: Record<string, unknown>;
  ms: number;
}

export interface SuspectRunRow extends SuspectRunInput {
  id: number;
  createdAt: string;
}

export interface ReviewRow {
  id: number;
  projectId: number;
  sampleId: number;
  runId: number | null;
  judgedEventId: number;
  decision: SuspectDecision;
  labelEventId: number | null;
  reviewer: string;
  createdAt: string;
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/**
 * Record a computation and its suspects in ONE transaction; the previous computations' suspects of
 * the project are dropped (their runs stay, with their counts). Returns the run id.
 */
export function recordSuspectRun(
  store: Store,
  run: SuspectRunInput,
  suspects: readonly SuspectInput[],
): number {
  return store.inTransaction(() => {
    if (!store.getProject(run.projectId)) throw new Error(`There is no project ${run.projectId}`);
    const runId = Number(
      store
        .prepared(
          `INSERT INTO suspect_runs (project_id, training_id, labels, judged, flagged, last_event_id, details, ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          run.projectId,
          run.trainingId,
          run.labels,
          run.judged,
          run.flagged,
          run.lastEventId,
          JSON.stringify(run.details),
          run.ms,
        ).lastInsertRowid,
    );
    store
      .prepared(
        `DELETE FROM suspects WHERE run_id IN
           (SELECT id FROM suspect_runs WHERE project_id = ? AND id <> ?)`,
      )
      .run(run.projectId, runId);
    const ins = store.prepared(
      `INSERT INTO suspects (run_id, sample_id, event_id, rank, given, suggested, given_p, suggested_p, margin)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const s of suspects) {
      ins.run(
        runId,
        s.sampleId,
        s.eventId,
        s.rank,
        s.given,
        s.suggested,
        clamp01(s.givenP),
        clamp01(s.suggestedP),
        clamp01(s.margin),
      );
    }
    return runId;
  });
}

function toRun(r: Record<string, unknown>): SuspectRunRow {
  return {
    id: r.id as number,
    projectId: r.project_id as number,
    trainingId: r.training_id as number | null,
    labels: r.labels as number,
    judged: r.judged as number,
    flagged: r.flagged as number,
    lastEventId: r.last_event_id as number,
    details: JSON.parse(r.details as string) as Record<string, unknown>,
    ms: r.ms as number,
    createdAt: r.created_at as string,
  };
}

/** The project's latest computation of suspects, or undefined. */
export function latestSuspectRun(store: Store, projectId: number): SuspectRunRow | undefined {
  const r = store
    .prepared('SELECT * FROM suspect_runs WHERE project_id = ? ORDER BY id DESC LIMIT 1')
    .get(projectId) as Record<string, unknown> | undefined;
  return r ? toRun(r) : undefined;
}

/** Every computation of the project's suspects, oldest first. */
export function listSuspectRuns(store: Store, projectId: number): SuspectRunRow[] {
  return (
    store
      .prepared('SELECT * FROM suspect_runs WHERE project_id = ? ORDER BY id')
      .all(projectId) as Record<string, unknown>[]
  ).map(toRun);
}

/** A run's suspects in rank order (only the latest run of a project keeps them). */
export function storedSuspects(store: Store, runId: number): SuspectInput[] {
  const rows = store
    .prepared(
      `SELECT sample_id, event_id, rank, given, suggested, given_p, suggested_p, margin
       FROM suspects WHERE run_id = ? ORDER BY rank`,
    )
    .raw()
    .all(runId) as [number, number, number, number, number, number, number, number][];
  return rows.map(([sampleId, eventId, rank, given, suggested, givenP, suggestedP, margin]) => ({
    sampleId,
    eventId,
    rank,
    given,
    suggested,
    givenP,
    suggestedP,
    margin,
  }));
}

function toReview(r: Record<string, unknown>): ReviewRow {
  return {
    id: r.id as number,
    projectId: r.project_id as number,
    sampleId: r.sample_id as number,
    runId: r.run_id as number | null,
    judgedEventId: r.judged_event_id as number,
    decision: r.decision as SuspectDecision,
    labelEventId: r.label_event_id as number | null,
    reviewer: r.reviewer as string,
    createdAt: r.created_at as string,
  };
}

/** Every review of the project's suspects, oldest first. */
export function suspectReviews(store: Store, projectId: number): ReviewRow[] {
  return (
    store
      .prepared('SELECT * FROM suspect_reviews WHERE project_id = ? ORDER BY id')
      .all(projectId) as Record<string, unknown>[]
  ).map(toReview);
}

/**
 * Samples sent for a second opinion whose label has not changed since: the second-opinion queue
 * shows them first.
 */
export function secondOpinionRequests(store: Store, projectId: number): Set<number> {
  const rows = store
    .prepared(
      `SELECT r.sample_id FROM suspect_reviews r
       JOIN current_labels c ON c.project_id = r.project_id AND c.sample_id = r.sample_id
       WHERE r.project_id = ? AND r.decision = 'second' AND c.event_id = r.judged_event_id`,
    )
    .raw()
    .all(projectId) as [number][];
  return new Set(rows.map(([s]) => s));
}

export interface ReviewInput {
  projectId: number;
  sampleId: number;
  /** The label event the reviewer judged: it must still be the sample's current label. */
  judgedEventId: number;
  decision: SuspectDecision;
  /** The new class of a relabel. */
  classIdx?: number;
  reviewer: string;
  durationMs?: number | null;
  runId?: number | null;
}

/**
 * Record a review in ONE transaction: for keep and relabel, the reviewer's label event (via
 * 'review': keep repeats the judged class, relabel gives the new one), then the review naming it.
 * Nothing is overwritten. Refused when the judged label is no longer the sample's current label
 * (someone changed it meanwhile), or for a class that is not in use.
 */
export function recordSuspectReview(
  store: Store,
  r: ReviewInput,
): { reviewId: number; labelEventId: number | null } {
  if (typeof r.reviewer !== 'string' || r.reviewer.trim() === '') {
    throw new StoreInputError('Review: say who reviews (a non-empty name)');
  }
  return store.inTransaction(() => {
    const current = store
      .prepared(
        `SELECT event_id, class_idx FROM current_labels WHERE project_id = ? AND sample_id = ?`,
      )
      .get(r.projectId, r.sampleId) as { event_id: number; class_idx: number } | undefined;
    if (!current) {
      throw new StoreInputError(
        `Review: sample ${r.sampleId} has no label in project ${r.projectId} now (it was undone); nothing to review`,
      );
    }
    if (current.event_id !== r.judgedEventId) {
      throw new StoreInputError(
        `Review: the label of sample ${r.sampleId} changed since the suspects were found (label event ${current.event_id}, not ${r.judgedEventId}); reload the suspects`,
      );
    }
    const { classNames, merges } = classState(store, r.projectId);
    let labelEventId: number | null = null;
    if (r.decision !== 'second') {
      const c = r.decision === 'keep' ? effectiveClass(merges, current.class_idx) : r.classIdx!;
      if (!Number.isInteger(c) || c < 0 || c >= classNames.length) {
        throw new StoreInputError(
          `Review: class ${c} is not a class of this project (0..${classNames.length - 1})`,
        );
      }
      if (merges.has(c)) {
        throw new StoreInputError(
          `Review: class "${classNames[c]}" was merged into "${classNames[merges.get(c)!]}"; relabel with that one`,
        );
      }
      labelEventId = store.appendLabelEvent({
        sampleId: r.sampleId,
        kind: 'label',
        classIdx: c,
        annotator: r.reviewer,
        projectId: r.projectId,
        durationMs: r.durationMs ?? null,
        via: 'review',
      });
    }
    const reviewId = Number(
      store
        .prepared(
          `INSERT INTO suspect_reviews (project_id, sample_id, run_id, judged_event_id, decision, label_event_id, reviewer)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          r.projectId,
          r.sampleId,
          r.runId ?? null,
          r.judgedEventId,
          r.decision,
          labelEventId,
          r.reviewer,
        ).lastInsertRowid,
    );
    return { reviewId, labelEventId };
  });
}
