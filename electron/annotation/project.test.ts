import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { tempDir } from '../store/fixtures/helpers.ts';
import { openStore, type Store } from '../store/store.ts';
import {
  changeClasses,
  datasetSamples,
  labeledCount,
  listBatches,
  listTrainings,
  predictions,
} from '../store/annotation.ts';
import { importPath, writePngFolder } from './fixtures.ts';
import {
  createAnnotationProject,
  projectStatus,
  queueView,
  submitEvent,
  undoLatest,
} from './projects.ts';
import { confusionAccuracy } from '../../shared/metrics.ts';
import { readProjectSettings } from '../../shared/annotation.ts';
import { isHoldout } from './stopping.ts';
import { runProjectTraining } from './train.ts';
import { enterJob } from '../ml/training/tensorLeaks.ts';
import type { PoolData } from './data.ts';

const tmp = tempDir();
after(tmp.cleanup);

describe('an annotation project with the model in the loop', { timeout: 120_000 }, () => {
  let store: Store;
  let datasetId: number;
  let projectId: number;
  /** Sample id -> true class, from the generated file names. */
  const truth = new Map<number, number>();
  const cache = new Map<string, PoolData>();
  const idle = { running: false, phase: null, error: null, cancelled: false };

  before(async () => {
    const folder = join(tmp.dir, 'flat');
    const byFile = await writePngFolder(folder, 90, { classes: 3, side: 16 });
    const dbPath = join(tmp.dir, 'w.db');
    datasetId = await importPath(dbPath, folder);
    store = openStore(dbPath);
    for (const s of datasetSamples(store, datasetId)) truth.set(s.id, byFile.get(s.sourcePath!)!);
  });
  after(() => store?.close());

  test('an unlabeled folder needs a class list; settings are validated', () => {
    assert.throws(
      () => createAnnotationProject(store, { name: 'x', datasetId, createdBy: 'ann' }),
      /no classes \(an unlabeled folder\): list the classes/,
    );
    assert.throws(
      () =>
        createAnnotationProject(store, {
          name: 'x',
          datasetId,
          classNames: ['a'],
          settings: { batchSize: 0 },
          createdBy: 'ann',
        }),
      /batchSize/,
    );
    projectId = createAnnotationProject(store, {
      name: 'shapes',
      datasetId,
      classNames: ['top', 'middle', 'bottom'],
      settings: { model: 'mlp', epochs: 4, batchSize: 15, retrainEvery: 10, modelSide: 16 },
      createdBy: 'ann',
    });
    assert.equal(projectStatus(store, projectId, idle).poolSize, 90);
  });

  test('cold start: TypiClust on label-free features, deterministic, no labels needed', async () => {
    const r = await runProjectTraining(store, projectId, { cache });
    assert.equal(r.coldStart, true);
    const [batch] = listBatches(store, projectId);
    assert.equal(batch!.strategy, 'TypiClust (label-free)');
    assert.equal(batch!.sampleIds.length, 15);
    assert.equal(new Set(batch!.sampleIds).size, 15);
    // The same state gives the same batch.
    await runProjectTraining(store, projectId, { cache });
    assert.deepEqual(listBatches(store, projectId)[0]!.sampleIds, batch!.sampleIds);
    // Diversity: the farthest-first batch covers all three classes.
    assert.equal(new Set(batch!.sampleIds.map((id) => truth.get(id))).size, 3);
    const q = queueView(store, { projectId, annotator: 'ann', mode: 'queue', limit: 100 }, false);
    assert.deepEqual(
      q.items.map((i) => i.sampleId),
      batch!.sampleIds,
    );
  });

  test('labels, skip, unsure and undo move samples through the queues', () => {
    const q = queueView(store, { projectId, annotator: 'ann', mode: 'queue', limit: 100 }, false);
    const [a, b, c, d] = q.items.map((i) => i.sampleId) as [number, number, number, number];
    submitEvent(store, {
      projectId,
      sampleId: a,
      annotator: 'ann',
      kind: 'label',
      classIdx: truth.get(a)!,
      durationMs: 900,
      via: 'queue',
    });
    submitEvent(store, { projectId, sampleId: b, annotator: 'ann', kind: 'skip', via: 'queue' });
    submitEvent(store, { projectId, sampleId: c, annotator: 'ann', kind: 'unsure', via: 'queue' });
    submitEvent(store, {
      projectId,
      sampleId: d,
      annotator: 'ann',
      kind: 'label',
      classIdx: 0,
      via: 'queue',
    });
    let after = queueView(store, { projectId, annotator: 'ann', mode: 'queue', limit: 100 }, false);
    assert.equal(after.items.at(-1)!.sampleId, b);
    assert.ok(!after.items.some((i) => [a, c, d].includes(i.sampleId)));
    assert.deepEqual(
      queueView(store, { projectId, annotator: 'rev', mode: 'review', limit: 100 }, false).items,
      [{ sampleId: c, reason: 'unsure' }],
    );
    assert.equal(labeledCount(store, projectId), 2);
    // Undo walks back: d's label, then c's unsure mark.
    const dLabel = store.labelHistory(d).find((e) => e.kind === 'label')!;
    assert.deepEqual(undoLatest(store, projectId, 'ann'), {
      eventId: dLabel.id,
      sampleId: d,
      kind: 'label',
      classIdx: 0,
    });
    assert.equal(undoLatest(store, projectId, 'ann')!.sampleId, c);
    assert.equal(labeledCount(store, projectId), 1);
    after = queueView(store, { projectId, annotator: 'ann', mode: 'queue', limit: 100 }, false);
    assert.ok(
      after.items.some((i) => i.sampleId === c) && after.items.some((i) => i.sampleId === d),
    );
    // Nothing was deleted: the undone events are still in the log.
    assert.equal(store.labelHistory(d).filter((e) => e.projectId === projectId).length, 2);
    // Bad input is refused with a reason.
    assert.throws(
      () =>
        submitEvent(store, {
          projectId,
          sampleId: a,
          annotator: 'ann',
          kind: 'label',
          classIdx: 7,
          via: 'queue',
        }),
      /Class 7 is not a class of project/,
    );
    assert.throws(
      () =>
        submitEvent(store, {
          projectId,
          sampleId: 999_999,
          annotator: 'ann',
          kind: 'skip',
          via: 'queue',
        }),
      /is not in project/,
    );
  });

  test('retrain: held-out accuracy, guesses for every sample, a new batch, stability', async () => {
    // Label 45 samples with their true classes.
    for (const [id, k] of [...truth.entries()].slice(0, 45))
      submitEvent(store, {
        projectId,
        sampleId: id,
        annotator: 'ann',
        kind: 'label',
        classIdx: k,
        durationMs: 500,
        via: 'queue',
      });
    const before = listBatches(store, projectId)[0]!;
    const tensors = tf.memory().numTensors;
    const r = await runProjectTraining(store, projectId, { cache });
    assert.equal(r.coldStart, false);
    assert.ok(tf.memory().numTensors <= tensors, 'the retrain leaked tensors');
    const [t] = listTrainings(store, projectId);
    assert.equal(t!.labels, labeledCount(store, projectId));
    assert.equal(t!.trainCount + t!.holdoutCount, t!.labels);
    assert.ok(t!.holdoutCount >= 5, `holdout ${t!.holdoutCount}`);
    assert.ok(
      t!.accuracy !== null && t!.accuracyLow! <= t!.accuracy && t!.accuracy <= t!.accuracyHigh!,
    );
    assert.equal(t!.stopKappa, null, 'no previous model to compare with');
    // The held-out labels' confusion matrix, behind per-class recall on the Project tab.
    const m = t!.details.confusion as number[][];
    assert.equal(
      m.flat().reduce((a, b) => a + b, 0),
      t!.holdoutCount,
    );
    assert.equal(confusionAccuracy(m), t!.accuracy);
    assert.equal(predictions(store, projectId).size, 90);
    const next = listBatches(store, projectId)[0]!;
    assert.notEqual(next.id, before.id);
    assert.equal(next.strategy, 'Entropy');
    // A fifth of the batch is the random audit share, never chosen by the strategy; the strategy
    // picks none of it.
    const seed = readProjectSettings(store.getProject(projectId)!.settings).seed;
    const audit = next.sampleIds.filter((id) => isHoldout(id, seed, 0.2));
    assert.equal(audit.length, 3, `audit samples in a batch of 15: ${audit.length}`);
    assert.match(next.note ?? '', /3 random evaluation samples mixed in/);
    const labeled = new Set(store.currentLabels({ projectId }).map((l) => l.sampleId));
    assert.ok(
      next.sampleIds.every((id) => !labeled.has(id)),
      'the batch proposes labeled samples',
    );
    await runProjectTraining(store, projectId, { cache });
    const status = projectStatus(store, projectId, idle);
    assert.equal(status.trainings.length, 2);
    assert.notEqual(status.trainings[1]!.stopKappa, null);
    assert.equal(status.stopping.stop, false);
    assert.match(
      status.accuracyMethod,
      /evaluation labels: 20% of the pool is set aside at random/,
    );
    const last = status.lastTraining!;
    assert.equal(last.perClass!.length, status.classes.length);
    assert.equal(
      last.perClass!.reduce((n, c) => n + c.support, 0),
      last.holdoutCount,
    );
    assert.ok(last.balancedAccuracy! >= 0 && last.balancedAccuracy! <= 1);
  });

  test("a retrain beside another job is not blamed for that job's tensors", async () => {
    // The worker runs the suspect search of one retrain while the next retrain trains; tensors the
    // search holds were reported as "Project 1's retrain left N tensors".
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    let other: { tensor: tf.Tensor; leave: () => void } | null = null;
    try {
      await runProjectTraining(store, projectId, {
        cache,
        progress: () => {
          other ??= { leave: enterJob(), tensor: tf.zeros([4]) };
        },
      });
      await new Promise((r) => setImmediate(r));
      assert.ok(other, 'the other job started during the retrain');
      assert.deepEqual(
        warnings.filter((w) => /left \d+ tensors/.test(w)),
        [],
      );
    } finally {
      process.off('warning', onWarning);
      const o = other as { tensor: tf.Tensor; leave: () => void } | null;
      o?.tensor.dispose();
      o?.leave();
    }
  });
  test('classes: add, rename and merge keep history and labels', () => {
    changeClasses(store, projectId, { op: 'add', name: 'blank' }, 'ann');
    changeClasses(store, projectId, { op: 'rename', classIdx: 0, name: 'upper' }, 'ann');
    assert.throws(
      () => changeClasses(store, projectId, { op: 'rename', classIdx: 1, name: 'upper' }, 'ann'),
      /already a class named/,
    );
    const before = projectStatus(store, projectId, idle).classes;
    changeClasses(store, projectId, { op: 'merge', from: 2, into: 1 }, 'bob');
    const s = projectStatus(store, projectId, idle);
    assert.deepEqual(
      s.classes.map((c) => [c.name, c.mergedInto, c.count]),
      [
        ['upper', null, before[0]!.count],
        ['middle', null, before[1]!.count + before[2]!.count],
        ['bottom', 1, 0],
        ['blank', null, 0],
      ],
    );
    assert.deepEqual(
      s.classHistory.map((h) => (h.change as { op: string }).op),
      ['create', 'add', 'rename', 'merge'],
    );
    assert.equal(s.classHistory.at(-1)!.changedBy, 'bob');
    const sample = [...truth.keys()][60]!;
    assert.throws(
      () =>
        submitEvent(store, {
          projectId,
          sampleId: sample,
          annotator: 'ann',
          kind: 'label',
          classIdx: 2,
          via: 'queue',
        }),
      /was merged into "middle"/,
    );
  });
});
