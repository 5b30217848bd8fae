import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ProjectSummary, QueueView } from '../../shared/annotation.ts';
import type { AppEvent, DatasetSummary, Result } from '../../shared/contract.ts';
import type {
  AnnotatorQualityView,
  SuspectList,
  SuspectReviewResult,
} from '../../shared/labelQuality.ts';
import { writePngFolder } from '../annotation/fixtures.ts';
import { datasetSamples } from '../store/annotation.ts';
import { openStore } from '../store/store.ts';
import { suspectReviews } from '../store/suspects.ts';
import { createServices, type Services } from './services.ts';

function waitFor(services: Services, pred: (e: AppEvent) => boolean, timeoutMs = 120_000) {
  return new Promise<AppEvent>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('timed out waiting for an event'));
    }, timeoutMs);
    const off = services.onEvent((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

function value<T>(r: Result<unknown>): T {
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

/**
 * Suspect labels through the services over the real ML worker (what the Suspects queue calls):
 * 36 labels of a learnable 3-class dataset with 3 of them wrong; the suspect finder ranks the
 * wrong ones, and reviews are appended events.
 */
describe('suspect labels and annotator weights', { timeout: 240_000 }, () => {
  let dir: string;
  let dbPath: string;
  let services: Services;
  let projectId: number;
  const truth = new Map<number, number>();
  const wrong = new Set<number>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-suspects-'));
    dbPath = join(dir, 'workspace.db');
    const byFile = await writePngFolder(join(dir, 'flat'), 60, { classes: 3, side: 16 });
    services = createServices({ dataDir: dir, dbPath, mode: 'browser', version: 'test' });
    const dataset = value<DatasetSummary>(
      await services.invoke('datasets:import', { path: join(dir, 'flat') }),
    );
    const firstBatch = waitFor(services, (e) => e.kind === 'project-queue');
    projectId = value<ProjectSummary>(
      await services.invoke('projects:create', {
        name: 'bars',
        datasetId: dataset.id,
        classNames: ['top', 'middle', 'bottom'],
        settings: { model: 'linear', retrainEvery: 1000, batchSize: 10 },
        createdBy: 'ann',
      }),
    ).id;
    await firstBatch;
    const store = openStore(dbPath, { readonly: true });
    try {
      for (const s of datasetSamples(store, dataset.id))
        truth.set(s.id, byFile.get(s.sourcePath!)!);
    } finally {
      store.close();
    }
    const ids = [...truth.keys()].sort((a, b) => a - b).slice(0, 36);
    for (const [i, sampleId] of ids.entries()) {
      const t = truth.get(sampleId)!;
      // 3 of 36 labels are wrong, one of each class.
      const given = [4, 17, 30].includes(i) ? (t + 1) % 3 : t;
      if (given !== t) wrong.add(sampleId);
      value(
        await services.invoke('labels:submit', {
          projectId,
          sampleId,
          annotator: 'ann',
          kind: 'label',
          classIdx: given,
        }),
      );
    }
  });

  after(async () => {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const list = async () =>
    value<SuspectList>(await services.invoke('suspects:list', { projectId, limit: 50 }));

  test('Find suspects ranks the wrong labels first, with the suggestion and who labeled them', async () => {
    // The cold start's end scheduled a search of its own; let it finish first.
    while ((await list()).computing) await new Promise((r) => setTimeout(r, 100));
    const done = waitFor(
      services,
      (e) => e.kind === 'project-suspects' && e.projectId === projectId && e.phase === 'done',
    );
    const r = value<{ started: boolean }>(await services.invoke('suspects:find', { projectId }));
    assert.equal(r.started, true);
    await done;
    const l = await list();
    assert.ok(l.run);
    assert.equal(l.run.labels, 36);
    assert.equal(l.run.judged, 36);
    assert.match(l.run.model, /logreg C=1 on the/);
    assert.ok(l.items.length >= 3 && l.items.length <= 6, `${l.items.length} suspects`);
    assert.deepEqual(new Set(l.items.slice(0, 3).map((i) => i.sampleId)), wrong);
    for (const item of l.items.slice(0, 3)) {
      assert.equal(item.suggested, truth.get(item.sampleId));
      assert.equal(item.annotator, 'ann');
      assert.ok(item.givenP < item.suggestedP);
    }
    assert.deepEqual(
      l.items.map((i) => i.rank),
      l.items.map((_, k) => k + 1),
    );
  });

  test('keep, relabel and second opinion are appended events; the queue moves on', async () => {
    const [a, b, c] = (await list()).items;
    const review = async (args: Record<string, unknown>) =>
      value<SuspectReviewResult>(
        await services.invoke('suspects:review', {
          projectId,
          reviewer: 'rev',
          ...args,
        } as never),
      );
    const kept = await review({ sampleId: a!.sampleId, eventId: a!.eventId, decision: 'keep' });
    const relabeled = await review({
      sampleId: b!.sampleId,
      eventId: b!.eventId,
      decision: 'relabel',
      classIdx: b!.suggested,
    });
    const second = await review({ sampleId: c!.sampleId, eventId: c!.eventId, decision: 'second' });
    assert.ok(kept.labelEventId && relabeled.labelEventId);
    assert.equal(second.labelEventId, null);
    assert.equal(relabeled.labeled, 36);

    const l = await list();
    assert.ok(!l.items.some((i) => [a, b, c].some((x) => x!.sampleId === i.sampleId)));
    assert.equal(l.settled, 2);
    assert.equal(l.awaitingSecond, 1);

    // The same label cannot be reviewed twice: it changed.
    const again = await services.invoke('suspects:review', {
      projectId,
      sampleId: b!.sampleId,
      eventId: b!.eventId,
      decision: 'keep',
      reviewer: 'rev',
    });
    assert.equal(again.ok, false);
    if (!again.ok) {
      assert.equal(again.error.code, 'invalid-argument');
      assert.match(again.error.message, /changed since the suspects were found/);
    }
    // The second-opinion queue of someone else starts with the one sent for it.
    const q = value<QueueView>(
      await services.invoke('labels:queue', { projectId, annotator: 'bob', mode: 'second' }),
    );
    assert.equal(q.items[0]!.sampleId, c!.sampleId);

    const store = openStore(dbPath, { readonly: true });
    try {
      assert.deepEqual(
        store
          .labelHistory(b!.sampleId)
          .filter((e) => e.projectId === projectId)
          .map((e) => [e.annotator, e.classIdx, e.via]),
        [
          ['ann', b!.given, 'queue'],
          ['rev', b!.suggested, 'review'],
        ],
      );
      assert.deepEqual(
        suspectReviews(store, projectId).map((r) => [r.sampleId, r.decision, r.reviewer]),
        [
          [a!.sampleId, 'keep', 'rev'],
          [b!.sampleId, 'relabel', 'rev'],
          [c!.sampleId, 'second', 'rev'],
        ],
      );
    } finally {
      store.close();
    }
  });

  test("Dawid-Skene: a third annotator's disagreements lower their estimated accuracy", async () => {
    const ids = [...truth.keys()].sort((x, y) => x - y).slice(12, 24);
    for (const [i, sampleId] of ids.entries()) {
      // cat labels right; bob gets a third wrong, always the same way.
      const t = truth.get(sampleId)!;
      for (const [annotator, classIdx] of [
        ['cat', t],
        ['bob', i % 3 === 0 ? (t + 2) % 3 : t],
      ] as const) {
        value(
          await services.invoke('labels:submit', {
            projectId,
            sampleId,
            annotator,
            kind: 'label',
            classIdx,
          }),
        );
      }
    }
    const v = value<AnnotatorQualityView>(
      await services.invoke('projects:annotators', { projectId }),
    );
    assert.ok(v.multiLabeled >= 12);
    const bob = v.annotators.find((x) => x.name === 'bob')!;
    const ann = v.annotators.find((x) => x.name === 'ann')!;
    assert.equal(bob.shared, 12);
    assert.ok(bob.accuracy! < ann.accuracy!, `bob ${bob.accuracy}, ann ${ann.accuracy}`);
    assert.ok(bob.confusion);
  });

  test('cancel with nothing running says so; bad arguments are refused with the reason', async () => {
    const c = value<{ cancelled: boolean; reason: string }>(
      await services.invoke('suspects:cancel', { projectId }),
    );
    assert.equal(c.cancelled, false);
    const bad = await services.invoke('suspects:review', {
      projectId,
      sampleId: 1,
      eventId: 1,
      decision: 'relabel',
      reviewer: 'rev',
    });
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.match(bad.error.message, /a relabel needs classIdx/);
    const none = await services.invoke('suspects:list', { projectId: 999 });
    assert.equal(none.ok, false);
    if (!none.ok) assert.match(none.error.message, /There is no project 999/);
  });
});
