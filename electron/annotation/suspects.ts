/**
 * Suspect labels: labels a person probably got wrong, found by confident learning (Northcutt,
 * Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021) on
 * out-of-fold predicted probabilities.
 *
 * 1. Out-of-fold probabilities: the labeled set is cut into k stratified folds; each fold is
 *    predicted by a model fitted on the other folds, so no label judges itself.
 * 2. Per-class thresholds: t_j = the mean probability of class j over the samples labeled j (the
 *    model's average self-confidence in that class).
 * 3. The confident joint C[i][j]: samples labeled i whose probability of j reaches t_j (with
 *    several such classes, the most probable one). It is calibrated so that its rows sum to the
 *    label counts and its total to n.
 * 4. Prune by noise rate: for each off-diagonal cell (i, j), the C[i][j] samples labeled i with the
 *    largest margin p(j) - p(i) are flagged. Samples whose most probable class is their label are
 *    never flagged.
 * 5. Rank the flagged labels by self-confidence p(given) (or the normalised margin), lowest first.
 *
 * Steps 2-5 are pure functions of labels and probabilities, tested on hand-computed cases. The
 * worker job (findProjectSuspects) reads a project's labels, computes 1-5 with the project's
 * feature model and records the result.
 */
import { keepFeaturesOf, poolFeatureKey, workerFeatures } from './featureMemo.ts';
import {
  MIN_LABELS_FOR_SUSPECTS,
  type SuspectItem,
  type SuspectList,
} from '../../shared/labelQuality.ts';
import { readProjectSettings } from '../../shared/annotation.ts';
import { deriveSeed, Rng } from '../../shared/random.ts';
import type { FeatureView, HeadCandidate } from '../ml/heads/featureModel.ts';
import {
  classState,
  effectiveClass,
  labeledCount,
  listTrainings,
  projectEvents,
  sampleById,
  type ProjectEvent,
} from '../store/annotation.ts';
import type { Store } from '../store/store.ts';
import {
  latestSuspectRun,
  recordSuspectRun,
  storedSuspects,
  suspectReviews,
  type ReviewRow,
  type SuspectInput,
} from '../store/suspects.ts';
import type { PoolFeatures } from './features.ts';
import { sampleStates } from './queue.ts';

/** Row-major n x K probabilities. */
export type Probs = ArrayLike<number>;

/** cleanlab's tolerance for "reaches the threshold" and its lower bound on thresholds. */
const EPS = 1e-6;
const THRESHOLD_FLOOR = 2 * EPS;
/** The threshold of a class nobody labeled: no probability reaches it. */
const NEVER = 2;

/** t_j: mean probability of class j over the samples labeled j (NEVER for classes with none). */
export function confidentThresholds(labels: ArrayLike<number>, probs: Probs, K: number): number[] {
  const sum = new Array<number>(K).fill(0);
  const count = new Array<number>(K).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    sum[y] = sum[y]! + probs[i * K + y]!;
    count[y] = count[y]! + 1;
  }
  return sum.map((s, k) => (count[k]! > 0 ? Math.max(THRESHOLD_FLOOR, s / count[k]!) : NEVER));
}

/**
 * The class a sample is confidently counted as, or -1 when no class reaches its threshold: the one
 * class that does, or with several, the most probable class overall (as cleanlab does).
 */
export function confidentClass(row: ArrayLike<number>, thresholds: readonly number[]): number {
  let n = 0;
  let only = -1;
  let best = 0;
  for (let k = 0; k < thresholds.length; k++) {
    if (row[k]! >= thresholds[k]! - EPS) {
      n++;
      if (only < 0) only = k;
    }
    if (row[k]! > row[best]!) best = k;
  }
  if (n === 0) return -1;
  return n === 1 ? only : best;
}

/** Round to whole numbers keeping the (rounded) sum: the largest remainders go up (cleanlab's way). */
export function roundPreservingSum(values: readonly number[]): number[] {
  const ints = values.map((v) => Math.round(v));
  const target = Math.round(values.reduce((a, b) => a + b, 0));
  let diff = target - ints.reduce((a, b) => a + b, 0);
  while (diff !== 0) {
    const step = diff > 0 ? 1 : -1;
    // Those rounded furthest in the other direction move first.
    const order = values
      .map((v, i) => [v - ints[i]!, i] as const)
      .sort((a, b) => (step > 0 ? b[0] - a[0] : a[0] - b[0]) || a[1] - b[1]);
    const changes = Math.min(Math.abs(diff), values.length);
    for (let c = 0; c < changes; c++) ints[order[c]![1]] = ints[order[c]![1]]! + step;
    diff = target - ints.reduce((a, b) => a + b, 0);
  }
  return ints;
}

/**
 * Scale the confident joint so each row (given label i) sums to the number of labels i and the
 * whole to n, then round keeping the row totals.
 */
export function calibrateJoint(
  joint: readonly number[][],
  labelCounts: readonly number[],
): number[][] {
  const K = joint.length;
  const scaled = joint.map((row, i) => {
    const s = Math.max(
      1e-100,
      row.reduce((a, b) => a + b, 0),
    );
    return row.map((v) => (v / s) * labelCounts[i]!);
  });
  const total = scaled.reduce((a, r) => a + r.reduce((x, y) => x + y, 0), 0);
  const n = labelCounts.reduce((a, b) => a + b, 0);
  const f = n / Math.max(1e-100, total);
  return scaled.map((row) => roundPreservingSum(row.map((v) => v * f))).slice(0, K);
}

export interface ConfidentJoint {
  thresholds: number[];
  /** Counts before calibration, [given][counted as] (diagonal at least 1). */
  raw: number[][];
  /** Calibrated counts, [given][estimated true]. */
  calibrated: number[][];
  labelCounts: number[];
}

export function confidentJoint(labels: ArrayLike<number>, probs: Probs, K: number): ConfidentJoint {
  const thresholds = confidentThresholds(labels, probs, K);
  const raw = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  const labelCounts = new Array<number>(K).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    labelCounts[y] = labelCounts[y]! + 1;
    const c = confidentClass(rowOf(probs, i, K), thresholds);
    if (c >= 0) raw[y]![c] = raw[y]![c]! + 1;
  }
  for (let k = 0; k < K; k++) raw[k]![k] = Math.max(1, raw[k]![k]!);
  return { thresholds, raw, calibrated: calibrateJoint(raw, labelCounts), labelCounts };
}

function rowOf(probs: Probs, i: number, K: number): number[] {
  const out = new Array<number>(K);
  for (let k = 0; k < K; k++) out[k] = probs[i * K + k]!;
  return out;
}

/**
 * cleanlab's `_keep_at_least_n_per_class` on the calibrated joint: each given class keeps at least
 * `n` samples it is not flagged for, taken evenly from its non-zero noise counts. Returns the
 * counts to prune, [given][true] (diagonal: kept), as whole numbers.
 */
export function pruneCounts(calibrated: readonly number[][], n: number): number[][] {
  const K = calibrated.length;
  // Work on the transpose as cleanlab does ([true][given]), then round each true-class row.
  const t = Array.from({ length: K }, (_, j) => calibrated.map((row) => row[j]!));
  for (let k = 0; k < K; k++) {
    const diag = t[k]![k]!;
    const diff = Math.max(diag, n) - diag;
    let nonZero = 0;
    for (let j = 0; j < K; j++) if (t[j]![k]! !== 0) nonZero++;
    const per = diff / Math.max(nonZero - 1, 1);
    for (let j = 0; j < K; j++) t[j]![k] = Math.max(0, t[j]![k]! - per);
    t[k]![k] = Math.max(diag, n);
  }
  // cleanlab truncates here (its later rounding then has nothing left to round).
  return Array.from({ length: K }, (_, i) => t.map((row) => Math.trunc(row[i]!)));
}

/** p(given) per sample: the self-confidence. */
export function selfConfidence(labels: ArrayLike<number>, probs: Probs, K: number): Float64Array {
  const out = new Float64Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = probs[i * K + labels[i]!]!;
  return out;
}

/** (p(given) - max p(other) + 1) / 2 per sample, in [0, 1]: the normalised margin. */
export function normalizedMargin(labels: ArrayLike<number>, probs: Probs, K: number): Float64Array {
  const out = new Float64Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    let other = 0;
    for (let k = 0; k < K; k++) if (k !== y) other = Math.max(other, probs[i * K + k]!);
    out[i] = (probs[i * K + y]! - other + 1) / 2;
  }
  return out;
}

function argmax(probs: Probs, i: number, K: number, bonus = -1): number {
  let best = 0;
  let bestP = -Infinity;
  for (let k = 0; k < K; k++) {
    const p = probs[i * K + k]! + (k === bonus ? EPS : 0);
    if (p > bestP) {
      bestP = p;
      best = k;
    }
  }
  return best;
}

export type FilterBy = 'prune_by_noise_rate' | 'prune_by_class' | 'both';
export type RankBy = 'self_confidence' | 'normalized_margin';

export interface LabelIssues {
  /** Flagged sample positions, most likely wrong first. */
  ranked: number[];
  joint: ConfidentJoint;
  /** Estimated share of wrong labels: off-diagonal share of the calibrated confident joint. */
  estimatedNoise: number;
}

/**
 * Confident learning's label issues (cleanlab's `find_label_issues` with its defaults:
 * prune_by_noise_rate, at least one sample kept per class, ranked by self-confidence).
 */
export function findLabelIssues(
  labels: ArrayLike<number>,
  probs: Probs,
  K: number,
  opts: { filterBy?: FilterBy; rankBy?: RankBy; minPerClass?: number } = {},
): LabelIssues {
  const n = labels.length;
  if (probs.length !== n * K) {
    throw new Error(`Label issues: ${probs.length} probabilities for ${n} labels x ${K} classes`);
  }
  const filterBy = opts.filterBy ?? 'prune_by_noise_rate';
  const joint = confidentJoint(labels, probs, K);
  const prune = pruneCounts(joint.calibrated, opts.minPerClass ?? 1);
  const byClass: number[][] = Array.from({ length: K }, () => []);
  for (let i = 0; i < n; i++) byClass[labels[i]!]!.push(i);

  const byNoise = new Uint8Array(n);
  const byCls = new Uint8Array(n);
  for (let k = 0; k < K; k++) {
    const rows = byClass[k]!;
    if (rows.length <= (opts.minPerClass ?? 1)) continue;
    // Noise rate: the prune[k][j] samples labeled k with the largest p(j) - p(k).
    for (let j = 0; j < K; j++) {
      const m = prune[k]![j]!;
      if (j === k || m <= 0) continue;
      const order = [...rows].sort(
        (a, b) =>
          probs[b * K + j]! - probs[b * K + k]! - (probs[a * K + j]! - probs[a * K + k]!) || a - b,
      );
      for (const r of order.slice(0, m)) byNoise[r] = 1;
    }
    // By class: the (count - kept) samples labeled k least confident in k.
    const issues = rows.length - prune[k]![k]!;
    if (issues > 0) {
      const order = [...rows].sort((a, b) => probs[a * K + k]! - probs[b * K + k]! || a - b);
      for (const r of order.slice(0, issues)) byCls[r] = 1;
    }
  }
  const flagged: number[] = [];
  for (let i = 0; i < n; i++) {
    const on =
      filterBy === 'prune_by_noise_rate'
        ? byNoise[i]
        : filterBy === 'prune_by_class'
          ? byCls[i]
          : byNoise[i]! & byCls[i]!;
    // A label the model's most probable class agrees with is never an issue.
    if (on && argmax(probs, i, K, labels[i]!) !== labels[i]) flagged.push(i);
  }
  const score =
    (opts.rankBy ?? 'self_confidence') === 'self_confidence'
      ? selfConfidence(labels, probs, K)
      : normalizedMargin(labels, probs, K);
  flagged.sort((a, b) => score[a]! - score[b]! || a - b);
  let diag = 0;
  let total = 0;
  joint.calibrated.forEach((row, i) =>
    row.forEach((v, j) => {
      total += v;
      if (i === j) diag += v;
    }),
  );
  return { ranked: flagged, joint, estimatedNoise: total > 0 ? 1 - diag / total : 0 };
}

/**
 * The simple baseline: labels the model's most probable class disagrees with, the most confident
 * disagreements first.
 */
export function disagreements(labels: ArrayLike<number>, probs: Probs, K: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) if (argmax(probs, i, K) !== labels[i]) out.push(i);
  const top = (i: number) => probs[i * K + argmax(probs, i, K)]!;
  return out.sort((a, b) => top(b) - top(a) || a - b);
}

// ---------------------------------------------------------------------------------- out of fold

export interface OutOfFold {
  /** n x K; rows of unjudged samples are zero. */
  probs: Float32Array;
  /** 1 where the sample was predicted out of fold. */
  judged: Uint8Array;
  folds: number;
}

/** Folds used for out-of-fold probabilities (cleanlab's default). */
export const SUSPECT_FOLDS = 5;

/**
 * Out-of-fold probabilities of labeled pool rows: stratified folds, a head fitted on the other
 * folds predicts each. Rows of classes with fewer than 2 labels always train and are not judged.
 */
export async function outOfFoldProbs(
  view: FeatureView,
  candidate: HeadCandidate,
  rows: Int32Array,
  labels: Int32Array,
  K: number,
  seed: number,
  opts: {
    folds?: number;
    signal?: AbortSignal;
    onFold?: (done: number, total: number) => void;
  } = {},
): Promise<OutOfFold> {
  const [{ fitHead, stratifiedFolds }, { predict }] = await Promise.all([
    import('../ml/heads/featureModel.ts'),
    import('../ml/training/predict.ts'),
  ]);
  const k = Math.max(2, opts.folds ?? SUSPECT_FOLDS);
  const fold = stratifiedFolds(labels, k, new Rng(deriveSeed(seed, 'suspect-folds')));
  const probs = new Float32Array(rows.length * K);
  const judged = new Uint8Array(rows.length);
  for (let f = 0; f < k; f++) {
    opts.onFold?.(f, k);
    const train: number[] = [];
    const test: number[] = [];
    fold.forEach((g, i) => (g === f ? test : train).push(i));
    const trLabels = Int32Array.from(train, (i) => labels[i]!);
    if (test.length === 0 || new Set(trLabels).size < 2) continue;
    const { net } = await fitHead(
      view,
      candidate,
      Int32Array.from(train, (i) => rows[i]!),
      trLabels,
      K,
      deriveSeed(seed, 'suspect-fold', f),
      opts.signal,
    );
    try {
      const out = await predict(
        net,
        view.pool,
        Int32Array.from(test, (i) => rows[i]!),
        view.norm,
        { signal: opts.signal },
      );
      test.forEach((i, t) => {
        probs.set(out.probs.subarray(t * K, (t + 1) * K), i * K);
        judged[i] = 1;
      });
    } finally {
      net.dispose();
    }
  }
  opts.onFold?.(k, k);
  return { probs, judged, folds: k };
}

// ---------------------------------------------------------------------------------- projects

/** How the suspect list is made, in one sentence for the screens and the CLI. */
export const SUSPECT_METHOD =
  'Confident learning (Northcutt, Jiang & Chuang 2021): each label is predicted by a model that did not see it (5-fold out-of-fold probabilities); per-class thresholds (the mean probability of each class over its own labels) give the confident joint, and the labels in its off-diagonal cells with the largest margins are flagged, ranked by the probability of the given label (lowest first).';

export interface SuspectJobResult {
  projectId: number;
  runId: number | null;
  flagged: number;
  /** Why nothing was computed, when nothing was. */
  skipped?: string;
}

/**
 * The head the suspects use. Feature models use the project's own (the head `auto` chose at the
 * latest retrain); a CNN or MLP on pixels would need k trainings from scratch, so those projects
 * use logistic regression on the project's features (the built-in descriptors by default).
 */
async function suspectHead(
  store: Store,
  projectId: number,
  model: string,
  feats: PoolFeatures,
): Promise<{ candidate: HeadCandidate; note: string }> {
  const { autoCandidates, LOGREG } = await import('../ml/heads/featureModel.ts');
  if (model === 'auto') {
    const head = (listTrainings(store, projectId).at(-1)?.details as { head?: string } | undefined)
      ?.head;
    const c = autoCandidates(feats.data.blocks).find((x) => x.id === head) ?? LOGREG;
    return { candidate: c, note: `${c.id} on the ${feats.data.description} (the project's model)` };
  }
  if (model === 'linear') {
    return {
      candidate: LOGREG,
      note: `${LOGREG.id} on the ${feats.data.description} (the project's model)`,
    };
  }
  return {
    candidate: LOGREG,
    note: `${LOGREG.id} on the ${feats.data.description}: the project's ${model.toUpperCase()} trains on pixels, and ${SUSPECT_FOLDS} trainings of it per check would take minutes, so the suspects use a head on features instead`,
  };
}

/**
 * Whether a new computation is due: the first with enough labels, or when a twentieth of the
 * label events (at least 5) are new since the last one.
 */
export function suspectsDue(
  last: { lastEventId: number; labels: number } | undefined,
  events: readonly ProjectEvent[],
  labels: number,
): boolean {
  if (labels < MIN_LABELS_FOR_SUSPECTS) return false;
  if (!last) return true;
  let fresh = 0;
  for (const e of events) if (e.id > last.lastEventId && e.kind !== 'skip') fresh++;
  return fresh >= Math.max(5, Math.ceil(0.05 * last.labels));
}

/**
 * Find a project's suspect labels and record them (the ML worker runs this after retrains).
 * Labels a reviewer settled (entered via review) are judged with the rest but never listed, and
 * neither are labels waiting for a second opinion. Cancelling stops between folds; nothing is
 * recorded then.
 */
export async function findProjectSuspects(
  store: Store,
  projectId: number,
  opts: {
    signal?: AbortSignal;
    force?: boolean;
    featureCache?: Map<string, PoolFeatures>;
    progress?: (done: number, total: number) => void;
  } = {},
): Promise<SuspectJobResult> {
  const started = performance.now();
  const project = store.getProject(projectId);
  if (!project) throw new Error(`There is no project ${projectId}`);
  const settings = readProjectSettings(project.settings);
  const { classNames, merges } = classState(store, projectId);
  const events = projectEvents(store, projectId);
  const states = sampleStates(events);
  const current: { sampleId: number; event: ProjectEvent; cls: number }[] = [];
  for (const [sampleId, s] of states)
    if (s.current)
      current.push({
        sampleId,
        event: s.current,
        cls: effectiveClass(merges, s.current.classIdx!),
      });
  const skip = (why: string): SuspectJobResult => ({
    projectId,
    runId: null,
    flagged: 0,
    skipped: why,
  });
  const distinct = new Set(current.map((c) => c.cls));
  if (current.length < MIN_LABELS_FOR_SUSPECTS || distinct.size < 2) {
    return skip(
      `Suspects are looked for from ${MIN_LABELS_FOR_SUSPECTS} labels over two classes on (${current.length} now).`,
    );
  }
  const last = latestSuspectRun(store, projectId);
  if (!opts.force && !suspectsDue(last, events, current.length)) {
    return skip('Few labels changed since the suspects were last looked for.');
  }

  const { loadPoolFeatures } = await import('./features.ts');
  const key = poolFeatureKey(store, project.datasetId, settings.features);
  let feats = opts.featureCache?.get(key);
  if (!feats) {
    feats = await loadPoolFeatures(store, project.datasetId, settings.features, {
      signal: opts.signal,
    });
    opts.featureCache?.set(key, feats);
  }
  if (opts.signal?.aborted) throw new SuspectsCancelled();
  const { viewFor } = await import('../ml/heads/featureModel.ts');
  const { initBackend } = await import('../ml/backend.ts');
  await initBackend();
  const active = classNames.map((_, i) => i).filter((i) => !merges.has(i));
  const compact = new Map(active.map((c, k) => [c, k]));
  const usable = current.filter((c) => feats.rowOf.has(c.sampleId) && compact.has(c.cls));
  const rows = Int32Array.from(usable, (c) => feats.rowOf.get(c.sampleId)!);
  const labels = Int32Array.from(usable, (c) => compact.get(c.cls)!);
  const K = active.length;
  const head = await suspectHead(store, projectId, settings.model, feats);
  const oof = await outOfFoldProbs(
    viewFor(feats.data, head.candidate),
    head.candidate,
    rows,
    labels,
    K,
    deriveSeed(settings.seed, 'suspects', events.at(-1)?.id ?? 0),
    { signal: opts.signal, onFold: opts.progress },
  );
  const judgedAt: number[] = [];
  for (let i = 0; i < usable.length; i++) if (oof.judged[i]) judgedAt.push(i);
  const jl = Int32Array.from(judgedAt, (i) => labels[i]!);
  const jp = new Float32Array(judgedAt.length * K);
  judgedAt.forEach((i, t) => jp.set(oof.probs.subarray(i * K, (i + 1) * K), t * K));
  const issues = findLabelIssues(jl, jp, K);
  const margins = normalizedMargin(jl, jp, K);

  const awaitingSecond = new Set<number>();
  for (const r of reviewsOf(store, projectId))
    if (r.decision === 'second') awaitingSecond.add(r.judgedEventId);
  const suspects: SuspectInput[] = [];
  let reviewed = 0;
  for (const t of issues.ranked) {
    const u = usable[judgedAt[t]!]!;
    if (u.event.via === 'review' || awaitingSecond.has(u.event.id)) {
      reviewed++;
      continue;
    }
    let best = 0;
    for (let k = 1; k < K; k++) if (jp[t * K + k]! > jp[t * K + best]!) best = k;
    suspects.push({
      sampleId: u.sampleId,
      eventId: u.event.id,
      rank: suspects.length + 1,
      given: u.cls,
      suggested: active[best]!,
      givenP: jp[t * K + jl[t]!]!,
      suggestedP: jp[t * K + best]!,
      margin: margins[t]!,
    });
  }
  if (opts.signal?.aborted) throw new SuspectsCancelled();
  const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const runId = recordSuspectRun(
    store,
    {
      projectId,
      trainingId: listTrainings(store, projectId).at(-1)?.id ?? null,
      labels: current.length,
      judged: judgedAt.length,
      flagged: issues.ranked.length,
      lastEventId: events.at(-1)?.id ?? 0,
      details: {
        method: 'confident learning, prune by noise rate, ranked by self-confidence',
        model: head.note,
        head: head.candidate.id,
        folds: oof.folds,
        classes: active,
        thresholds: issues.joint.thresholds.map(round4),
        confidentJoint: issues.joint.calibrated,
        estimatedNoise: round4(issues.estimatedNoise),
        reviewedLeftOut: reviewed,
        notJudged: current.length - judgedAt.length,
      },
      ms: performance.now() - started,
    },
    suspects,
  );
  return { projectId, runId, flagged: suspects.length };
}

function reviewsOf(
  store: Store,
  projectId: number,
): Pick<ReviewRow, 'judgedEventId' | 'decision'>[] {
  return store
    .prepared(
      `SELECT judged_event_id AS judgedEventId, decision FROM suspect_reviews WHERE project_id = ?`,
    )
    .all(projectId) as Pick<ReviewRow, 'judgedEventId' | 'decision'>[];
}

export class SuspectsCancelled extends Error {
  constructor() {
    super('Looking for suspect labels was cancelled; the previous list stays.');
    this.name = 'SuspectsCancelled';
  }
}

/**
 * The stored suspects still waiting for a review: the sample's current label is still the one
 * judged, and nobody sent it for a second opinion. Returns them in rank order with counts of the
 * rest.
 */
export function pendingSuspects(
  stored: readonly SuspectInput[],
  events: readonly ProjectEvent[],
  reviews: readonly Pick<ReviewRow, 'judgedEventId' | 'decision'>[],
): { pending: SuspectInput[]; settled: number; awaitingSecond: number } {
  const states = sampleStates(events);
  const second = new Set(
    reviews.filter((r) => r.decision === 'second').map((r) => r.judgedEventId),
  );
  const pending: SuspectInput[] = [];
  let settled = 0;
  let awaitingSecond = 0;
  for (const s of stored) {
    const cur = states.get(s.sampleId)?.current;
    if (!cur || cur.id !== s.eventId) settled++;
    else if (second.has(s.eventId)) awaitingSecond++;
    else pending.push(s);
  }
  return { pending, settled, awaitingSecond };
}

/** A stored suspect as the queue shows it. */
export function suspectItem(s: SuspectInput, path: string, annotator: string): SuspectItem {
  return {
    sampleId: s.sampleId,
    path,
    eventId: s.eventId,
    given: s.given,
    annotator,
    suggested: s.suggested,
    suggestedP: s.suggestedP,
    givenP: s.givenP,
    margin: s.margin,
    rank: s.rank,
  };
}

/**
 * The Suspects queue of a project from what the store holds: the latest computation's suspects
 * still waiting for a review, most likely wrong first, with who gave each label.
 */
export function suspectList(
  store: Store,
  projectId: number,
  opts: { limit?: number; computing?: boolean } = {},
): SuspectList {
  const run = latestSuspectRun(store, projectId);
  const base = {
    projectId,
    computing: opts.computing ?? false,
    method: SUSPECT_METHOD,
  };
  if (!run) {
    const labeled = labeledCount(store, projectId);
    return {
      ...base,
      run: null,
      items: [],
      total: 0,
      settled: 0,
      awaitingSecond: 0,
      note:
        labeled < MIN_LABELS_FOR_SUSPECTS
          ? `Suspects are looked for after a retrain once there are ${MIN_LABELS_FOR_SUSPECTS} labels over two classes (${labeled} now).`
          : 'Suspects have not been looked for yet; they are after the next retrain, or now with Find suspects.',
    };
  }
  const events = projectEvents(store, projectId);
  const { pending, settled, awaitingSecond } = pendingSuspects(
    storedSuspects(store, run.id),
    events,
    suspectReviews(store, projectId),
  );
  const byId = new Map(events.map((e) => [e.id, e]));
  const d = run.details as { model?: string; estimatedNoise?: number; notJudged?: number };
  const items = pending.slice(0, opts.limit ?? 200).map((s) => {
    const sample = sampleById(store, s.sampleId);
    const path = sample
      ? (sample.sourcePath ?? `${sample.split} #${sample.idx}`)
      : `sample ${s.sampleId}`;
    return suspectItem(s, path, byId.get(s.eventId)?.annotator ?? '?');
  });
  const notJudged = d.notJudged ?? 0;
  return {
    ...base,
    run: {
      id: run.id,
      trainingId: run.trainingId,
      labels: run.labels,
      judged: run.judged,
      flagged: run.flagged,
      estimatedNoise: d.estimatedNoise ?? 0,
      model: d.model ?? '',
      ms: run.ms,
      createdAt: run.createdAt,
    },
    items,
    total: pending.length,
    settled,
    awaitingSecond,
    note:
      notJudged > 0
        ? `${notJudged} labels of classes with a single label could not be judged (a class needs two labels to be held out).`
        : '',
  };
}

/**
 * The ML worker's job: find a project's suspects on the worker's own connection (WAL lets the
 * main thread record labels meanwhile). The pool features of the last dataset stay in memory for
 * the next run.
 */
export async function suspectsJob(
  dbPath: string,
  projectId: number,
  force: boolean,
  ctx: { signal: AbortSignal },
): Promise<SuspectJobResult> {
  const [{ openStore }, { JobCancelled }, { TrainingCancelled }] = await Promise.all([
    import('../store/store.ts'),
    import('../worker/jobs.ts'),
    import('../ml/training/train.ts'),
  ]);
  const store = openStore(dbPath);
  try {
    keepFeaturesOf(store, store.getProject(projectId)?.datasetId);
    return await findProjectSuspects(store, projectId, {
      signal: ctx.signal,
      force,
      featureCache: workerFeatures,
    });
  } catch (err) {
    if (err instanceof SuspectsCancelled || err instanceof TrainingCancelled || ctx.signal.aborted)
      throw new JobCancelled();
    throw err;
  } finally {
    store.close();
  }
}
