import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Rng } from '../../shared/random.ts';
import { annotatorStats, buildQueue, reviewCounts, sampleStates } from '../annotation/queue.ts';
import {
  annotatorSummary,
  changeClasses,
  classState,
  effectiveClass,
  labelCountsByClass,
  labeledCount,
  listBatches,
  openQueue,
  projectEvents,
  recordBatch,
  reviewCountsOf,
} from './annotation.ts';
import { importTiny, tempDir } from './fixtures/helpers.ts';
import { MIGRATIONS } from './migrations/index.ts';
import { openStore, type Store } from './store.ts';

const tmp = tempDir();
after(tmp.cleanup);

const ANNOTATORS = ['ann', 'bob', 'cy'];

/**
 * What the maintained label state says, next to what queue.ts's pure functions compute from the
 * whole event log: they must agree on every count and on the queue of every annotator.
 */
function compare(s: Store, projectId: number, where: string): void {
  const events = projectEvents(s, projectId);
  const { merges } = classState(s, projectId);
  const states = sampleStates(events);
  let labeled = 0;
  const byClass = new Map<number, number>();
  for (const st of states.values()) {
    if (!st.current) continue;
    labeled++;
    const c = effectiveClass(merges, st.current.classIdx!);
    byClass.set(c, (byClass.get(c) ?? 0) + 1);
  }
  assert.equal(labeledCount(s, projectId), labeled, `${where}: labeled`);
  const kept = new Map<number, number>();
  for (const [c, n] of labelCountsByClass(s, projectId)) {
    const k = effectiveClass(merges, c);
    kept.set(k, (kept.get(k) ?? 0) + n);
  }
  assert.deepEqual(
    [...kept].sort((a, b) => a[0] - b[0]),
    [...byClass].sort((a, b) => a[0] - b[0]),
    `${where}: per class`,
  );
  assert.deepEqual(reviewCountsOf(s, projectId, merges), reviewCounts(events, merges), where);
  assert.deepEqual(annotatorSummary(s, projectId), annotatorStats(events), `${where}: annotators`);
  const batches = listBatches(s, projectId).map((b) => b.sampleIds);
  for (const annotator of ANNOTATORS) {
    const expected = buildQueue({ mode: 'queue', annotator, batches, events, merges });
    const got = openQueue(s, projectId, annotator, 1000);
    assert.deepEqual(got.items, expected, `${where}: queue of ${annotator}`);
    assert.equal(got.total, expected.length);
  }
}

/** Random labels, skips, unsure marks, undos, batches and merges by three annotators. */
function randomHistory(s: Store, projectId: number, steps: number, seed: number): void {
  const rng = new Rng(seed);
  const ids = Array.from(s.sampleIds(s.getProject(projectId)!.datasetId, 'train'));
  for (let step = 0; step < steps; step++) {
    const annotator = ANNOTATORS[rng.int(ANNOTATORS.length)]!;
    const sampleId = ids[rng.int(ids.length)]!;
    const r = rng.int(100);
    const { merges, classNames } = classState(s, projectId);
    const live = classNames.map((_, i) => i).filter((i) => !merges.has(i));
    if (r < 45) {
      s.appendLabelEvent({
        sampleId,
        classIdx: live[rng.int(live.length)]!,
        annotator,
        projectId,
        via: rng.int(4) === 0 ? 'review' : 'queue',
        ...(rng.int(3) > 0 ? { durationMs: 100 + rng.int(3000) } : {}),
      });
    } else if (r < 55) {
      s.appendLabelEvent({ sampleId, kind: 'skip', annotator, projectId, via: 'queue' });
    } else if (r < 65) {
      s.appendLabelEvent({ sampleId, kind: 'unsure', annotator, projectId, via: 'queue' });
    } else if (r < 85) {
      // Undo one of the events still in force.
      const active = projectEvents(s, projectId).filter(
        (e) => e.kind !== 'undo' && e.undoneBy === null,
      );
      if (active.length > 0) s.undoLabelEvent(active[rng.int(active.length)]!.id, annotator);
    } else if (r < 97) {
      const k = 1 + rng.int(4);
      recordBatch(s, {
        projectId,
        trainingId: null,
        strategy: 'Random',
        note: '',
        sampleIds: Array.from(rng.sample(ids, k)),
      });
    } else if (live.length > 2) {
      changeClasses(s, projectId, { op: 'merge', from: live[1]!, into: live[0]! }, annotator);
    }
  }
}

function newProject(s: Store, fp: string): number {
  const datasetId = importTiny(s, fp, 12, 0);
  return s.createProject({ name: 'p', datasetId, classNames: ['a', 'b', 'c', 'd', 'e'] });
}

describe('migration 006_label_state', () => {
  test('upgrades a version-5 database: the state it builds agrees with the event log', () => {
    const file = join(tmp.dir, 'v5.sqlite');
    const v5 = openStore(file, { migrations: MIGRATIONS.slice(0, 5) });
    const projects: number[] = [];
    for (let k = 0; k < 3; k++) {
      const projectId = newProject(v5, `fp-${k}`);
      projects.push(projectId);
      // The history is written at version 5 (no triggers); only the pure functions are used.
      const rng = new Rng(k + 1);
      const ids = Array.from(v5.sampleIds(v5.getProject(projectId)!.datasetId, 'train'));
      for (let i = 0; i < 80; i++) {
        const annotator = ANNOTATORS[rng.int(3)]!;
        const sampleId = ids[rng.int(ids.length)]!;
        const r = rng.int(10);
        if (r < 5)
          v5.appendLabelEvent({
            sampleId,
            classIdx: rng.int(5),
            annotator,
            projectId,
            via: r === 0 ? 'review' : 'queue',
            durationMs: 500 + i,
          });
        else if (r < 6) v5.appendLabelEvent({ sampleId, kind: 'skip', annotator, projectId });
        else if (r < 7) v5.appendLabelEvent({ sampleId, kind: 'unsure', annotator, projectId });
        else if (r < 9) {
          const active = projectEvents(v5, projectId).filter(
            (e) => e.kind !== 'undo' && e.undoneBy === null,
          );
          if (active.length > 0) v5.undoLabelEvent(active[rng.int(active.length)]!.id, annotator);
        } else
          recordBatch(v5, {
            projectId,
            trainingId: null,
            strategy: 'Random',
            note: '',
            sampleIds: Array.from(rng.sample(ids, 3)),
          });
      }
    }
    v5.close();
    const s = openStore(file);
    try {
      assert.equal(s.schemaVersion, MIGRATIONS.length);
      for (const projectId of projects) compare(s, projectId, `project ${projectId}`);
      // And the triggers keep it so from here on.
      randomHistory(s, projects[0]!, 150, 99);
      compare(s, projects[0]!, 'after more events');
    } finally {
      s.close();
    }
  });

  test('the triggers keep the state equal to the event log through random histories', () => {
    const s = openStore(join(tmp.dir, 'fresh.sqlite'));
    try {
      for (let seed = 1; seed <= 3; seed++) {
        const projectId = newProject(s, `fresh-${seed}`);
        for (let chunk = 0; chunk < 5; chunk++) {
          randomHistory(s, projectId, 60, seed * 100 + chunk);
          compare(s, projectId, `seed ${seed}, step ${(chunk + 1) * 60}`);
        }
      }
    } finally {
      s.close();
    }
  });

  test('a study run’s events leave the project state alone', () => {
    const s = openStore(join(tmp.dir, 'study.sqlite'));
    try {
      const projectId = newProject(s, 'study');
      const datasetId = s.getProject(projectId)!.datasetId;
      const [first] = Array.from(s.sampleIds(datasetId, 'train'));
      s.appendLabelEvent({ sampleId: first!, classIdx: 1, annotator: 'ann' });
      assert.equal(labeledCount(s, projectId), 0);
      s.appendLabelEvent({ sampleId: first!, classIdx: 1, annotator: 'ann', projectId });
      assert.equal(labeledCount(s, projectId), 1);
      compare(s, projectId, 'study');
    } finally {
      s.close();
    }
  });
});
