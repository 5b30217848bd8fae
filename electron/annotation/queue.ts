/**
 * Queue, review and agreement logic of annotation projects, as pure functions over a project's
 * event log (oldest first) and its proposed batches. Nothing here reads the database, so the
 * rules are tested on hand-written logs.
 *
 * Terms: an event is *active* when it is not an undo and no undo retracted it. A sample's current
 * label is its latest active label (anyone's); an annotator's own label is their latest active
 * label. Pseudo-labels never count.
 */
import type { AgreementView, QueueItem, QueueMode } from '../../shared/annotation.ts';
import { effectiveClass, type Merges, type ProjectEvent } from '../store/annotation.ts';
import { cohenKappa } from './stopping.ts';

interface SampleInfo {
  /** Latest active human/simulated label event. */
  current: ProjectEvent | null;
  /** Each annotator's latest active label event. */
  byAnnotator: Map<string, ProjectEvent>;
  /** Each annotator's latest active event of any kind. */
  lastOf: Map<string, ProjectEvent>;
  /** Latest active 'unsure' event. */
  unsure: ProjectEvent | null;
}

export function isActive(e: ProjectEvent): boolean {
  return e.kind !== 'undo' && e.undoneBy === null && e.source !== 'pseudo';
}

/** Per sample: current label, each annotator's label and latest event, open unsure mark. */
export function sampleStates(events: readonly ProjectEvent[]): Map<number, SampleInfo> {
  const out = new Map<number, SampleInfo>();
  for (const e of events) {
    if (!isActive(e)) continue;
    let s = out.get(e.sampleId);
    if (!s) {
      s = { current: null, byAnnotator: new Map(), lastOf: new Map(), unsure: null };
      out.set(e.sampleId, s);
    }
    s.lastOf.set(e.annotator, e);
    if (e.kind === 'label') {
      s.current = e;
      s.byAnnotator.set(e.annotator, e);
    } else if (e.kind === 'unsure') {
      s.unsure = e;
    }
  }
  return out;
}

/** An unsure mark is open until someone labels the sample after it. */
function openUnsure(s: SampleInfo): boolean {
  return s.unsure !== null && (s.current === null || s.current.id < s.unsure.id);
}

/** Two or more people's current labels differ (after merges). */
function disagreed(s: SampleInfo, merges: Merges): boolean {
  const classes = new Set<number>();
  for (const e of s.byAnnotator.values()) classes.add(effectiveClass(merges, e.classIdx!));
  return classes.size > 1;
}

/** A disagreement is settled once the sample's latest label was entered in the review queue. */
function settled(s: SampleInfo): boolean {
  return s.current?.via === 'review';
}

export interface QueueInput {
  mode: QueueMode;
  annotator: string;
  /** Proposed batches, newest first, each in the strategy's rank order. */
  batches: readonly (readonly number[])[];
  events: readonly ProjectEvent[];
  merges: Merges;
  /** Samples a reviewer sent for a second opinion (suspect labels): first in that queue. */
  requested?: ReadonlySet<number>;
}

/**
 * The samples to show, in order.
 * - queue: the newest batch first, then older batches' leftovers; samples labeled by anyone or
 *   marked unsure are left out; samples this annotator skipped go to the end.
 * - review: open unsure marks (oldest first), then unsettled disagreements.
 * - second: samples someone else labeled and this annotator has not (for agreement); those a
 *   reviewer sent for a second opinion first.
 */
export function buildQueue(q: QueueInput): QueueItem[] {
  const states = sampleStates(q.events);
  const skippedByMe = (id: number) => states.get(id)?.lastOf.get(q.annotator)?.kind === 'skip';
  const main: QueueItem[] = [];
  const later: QueueItem[] = [];
  const push = (item: QueueItem) => (skippedByMe(item.sampleId) ? later : main).push(item);

  if (q.mode === 'queue') {
    const seen = new Set<number>();
    for (const batch of q.batches) {
      for (const id of batch) {
        if (seen.has(id)) continue;
        seen.add(id);
        const s = states.get(id);
        if (s && (s.current !== null || openUnsure(s))) continue;
        push({ sampleId: id, reason: skippedByMe(id) ? 'skipped' : 'proposed' });
      }
    }
  } else if (q.mode === 'review') {
    const unsure: [number, QueueItem][] = [];
    const disagreements: [number, QueueItem][] = [];
    for (const [id, s] of states) {
      if (openUnsure(s)) unsure.push([s.unsure!.id, { sampleId: id, reason: 'unsure' }]);
      else if (disagreed(s, q.merges) && !settled(s))
        disagreements.push([s.current!.id, { sampleId: id, reason: 'disagreement' }]);
    }
    for (const [, item] of [
      ...unsure.sort((a, b) => a[0] - b[0]),
      ...disagreements.sort((a, b) => a[0] - b[0]),
    ])
      push(item);
  } else {
    const others: [number, QueueItem][] = [];
    for (const [id, s] of states) {
      if (s.current === null || s.byAnnotator.has(q.annotator) || openUnsure(s)) continue;
      // Requested ones sort before the rest, oldest first within each.
      const first = q.requested?.has(id) ? -Number.MAX_SAFE_INTEGER : 0;
      others.push([first + s.current.id, { sampleId: id, reason: 'second' }]);
    }
    for (const [, item] of others.sort((a, b) => a[0] - b[0])) push(item);
  }
  return [...main, ...later];
}

/** Open unsure marks and unsettled disagreements, for the counters. */
export function reviewCounts(
  events: readonly ProjectEvent[],
  merges: Merges,
): { unsure: number; disagreements: number } {
  let unsure = 0;
  let disagreements = 0;
  for (const s of sampleStates(events).values()) {
    if (openUnsure(s)) unsure++;
    else if (disagreed(s, merges) && !settled(s)) disagreements++;
  }
  return { unsure, disagreements };
}

/** Pairwise agreement between annotators over the samples both labeled, and the disagreements. */
export function agreement(events: readonly ProjectEvent[], merges: Merges): AgreementView {
  const states = sampleStates(events);
  const names = new Set<string>();
  for (const s of states.values()) for (const a of s.byAnnotator.keys()) names.add(a);
  const annotators = [...names].sort();
  const pairs: AgreementView['pairs'] = [];
  for (let i = 0; i < annotators.length; i++) {
    for (let j = i + 1; j < annotators.length; j++) {
      const a = annotators[i]!;
      const b = annotators[j]!;
      const la: number[] = [];
      const lb: number[] = [];
      for (const s of states.values()) {
        const ea = s.byAnnotator.get(a);
        const eb = s.byAnnotator.get(b);
        if (!ea || !eb) continue;
        la.push(effectiveClass(merges, ea.classIdx!));
        lb.push(effectiveClass(merges, eb.classIdx!));
      }
      if (la.length === 0) continue;
      const agree = la.filter((c, k) => c === lb[k]).length;
      pairs.push({ a, b, common: la.length, agree, kappa: cohenKappa(la, lb) });
    }
  }
  const disagreements: AgreementView['disagreements'] = [];
  let multiLabeled = 0;
  for (const [id, s] of states) {
    if (s.byAnnotator.size >= 2) multiLabeled++;
    if (!disagreed(s, merges)) continue;
    disagreements.push({
      sampleId: id,
      labels: [...s.byAnnotator.entries()]
        .sort((x, y) => x[1].id - y[1].id)
        .map(([annotator, e]) => ({ annotator, classIdx: effectiveClass(merges, e.classIdx!) })),
      resolved: settled(s),
    });
  }
  disagreements.sort((x, y) => x.sampleId - y.sampleId);
  return { pairs, disagreements, multiLabeled };
}

/** Per annotator: samples whose label is theirs now, and mean seconds per label event. */
export function annotatorStats(
  events: readonly ProjectEvent[],
): { name: string; labels: number; meanMs: number | null }[] {
  const states = sampleStates(events);
  const labels = new Map<string, number>();
  for (const s of states.values())
    for (const a of s.byAnnotator.keys()) labels.set(a, (labels.get(a) ?? 0) + 1);
  const time = new Map<string, { sum: number; n: number }>();
  for (const e of events) {
    if (e.kind !== 'label' || e.durationMs === null || e.source !== 'human') continue;
    const t = time.get(e.annotator) ?? { sum: 0, n: 0 };
    t.sum += e.durationMs;
    t.n++;
    time.set(e.annotator, t);
  }
  const names = new Set([...labels.keys(), ...time.keys()]);
  return [...names].sort().map((name) => {
    const t = time.get(name);
    return { name, labels: labels.get(name) ?? 0, meanMs: t && t.n > 0 ? t.sum / t.n : null };
  });
}
