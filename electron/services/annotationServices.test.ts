import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ProjectStatus, ProjectSummary, QueueView } from '../../shared/annotation.ts';
import type { AppEvent, DatasetSummary, Result } from '../../shared/contract.ts';
import { writePngFolder } from '../annotation/fixtures.ts';
import { listTrainings } from '../store/annotation.ts';
import { openStore } from '../store/store.ts';
import { createServices, type Services } from './services.ts';

type TrainingEvent = Extract<AppEvent, { kind: 'project-training' }>;

function waitFor(services: Services, pred: (e: AppEvent) => boolean, timeoutMs = 90_000) {
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
 * Project settings edits and retrain cancellation through the services, over the real ML worker:
 * what the Project tab's "Edit settings" form and the Cancel button next to the retrain call.
 */
describe('annotation project settings and retrain cancel', { timeout: 180_000 }, () => {
  let dir: string;
  let dbPath: string;
  let services: Services;
  let projectId: number;
  const events: TrainingEvent[] = [];
  const training = (phase: TrainingEvent['phase']) => (e: AppEvent) =>
    e.kind === 'project-training' && e.projectId === projectId && e.phase === phase;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-annsvc-'));
    dbPath = join(dir, 'workspace.db');
    await writePngFolder(join(dir, 'flat'), 120, { classes: 3, side: 16 });
    services = createServices({ dataDir: dir, dbPath, mode: 'browser', version: 'test' });
    services.onEvent((e) => {
      if (e.kind === 'project-training' && e.projectId === projectId) events.push(e);
    });
    const dataset = value<DatasetSummary>(
      await services.invoke('datasets:import', { path: join(dir, 'flat') }),
    );
    const firstBatch = waitFor(services, (e) => e.kind === 'project-queue');
    projectId = value<ProjectSummary>(
      await services.invoke('projects:create', {
        name: 'shapes',
        datasetId: dataset.id,
        classNames: ['top', 'middle', 'bottom'],
        settings: { model: 'mlp', epochs: 2, batchSize: 20, retrainEvery: 100, modelSide: 16 },
        createdBy: 'ann',
      }),
    ).id;
    await firstBatch;
    // 12 labels over three classes: enough for a real retrain (not a cold start).
    const queue = value<QueueView>(
      await services.invoke('labels:queue', { projectId, annotator: 'ann' }),
    );
    for (const [i, item] of queue.items.slice(0, 12).entries()) {
      value(
        await services.invoke('labels:submit', {
          projectId,
          sampleId: item.sampleId,
          annotator: 'ann',
          kind: 'label',
          classIdx: i % 3,
        }),
      );
    }
    // A first model, so a cancelled retrain has a previous model and queue to keep.
    const trained = waitFor(services, training('done'));
    value(await services.invoke('projects:retrain', { projectId }));
    await trained;
  });

  after(async () => {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const status = async () =>
    value<ProjectStatus>(await services.invoke('projects:status', { projectId }));

  test('refuses bad settings with the reason and changes nothing', async () => {
    const before = await status();
    const cases: [unknown, RegExp][] = [
      [{ batchSize: 0 }, /batchSize/],
      [{ batchSize: 'ten' }, /batchSize/],
      [{ colour: 'red' }, /colour/],
      [{ batchSize: 500 }, /batch of 500 is larger than the pool of 120 images/],
      [{ strategy: 'LPL' }, /LPL changes how the model trains/],
      [{ strategy: 'Bogus' }, /there is no strategy "Bogus"; choose one of Random, Entropy/],
      [{ seed: 9 }, /seed cannot change after the project is created/],
      [{ budget: 5 }, /below the 12 already made/],
      [{}, /nothing to change/],
    ];
    for (const [settings, message] of cases) {
      const r = await services.invoke('projects:settings', {
        projectId,
        settings,
        changedBy: 'ann',
      });
      assert.equal(r.ok, false, JSON.stringify(settings));
      if (r.ok) continue;
      assert.equal(r.error.code, 'invalid-argument', JSON.stringify(settings));
      assert.match(r.error.message, message);
    }
    const noAuthor = await services.invoke('projects:settings', {
      projectId,
      settings: { epochs: 3 },
      changedBy: '',
    });
    assert.equal(noAuthor.ok, false);
    const after = await status();
    assert.deepEqual(after.settings, before.settings);
    assert.deepEqual(after.settingsHistory, []);
  });

  test('a change is merged, validated, kept in the history and answered with the status', async () => {
    const s = value<ProjectStatus>(
      await services.invoke('projects:settings', {
        projectId,
        settings: { strategy: 'Margin', batchSize: 15 },
        changedBy: 'bob',
      }),
    );
    assert.equal(s.settings.strategy, 'Margin');
    assert.equal(s.settings.batchSize, 15);
    assert.equal(s.settings.model, 'mlp', 'fields not named stay as they were');
    assert.equal(s.settingsHistory.length, 1);
    assert.equal(s.settingsHistory[0]!.changedBy, 'bob');
    assert.deepEqual(s.settingsHistory[0]!.changes, [
      { field: 'batchSize', from: 20, to: 15 },
      { field: 'strategy', from: 'Entropy', to: 'Margin' },
    ]);
    assert.deepEqual(
      s.classHistory.map((h) => (h.change as { op: string }).op),
      ['create'],
    );
  });

  test('cancel with no retrain running says so', async () => {
    const r = value<{ cancelled: boolean; reason: string }>(
      await services.invoke('projects:cancelRetrain', { projectId }),
    );
    assert.deepEqual(r, { cancelled: false, reason: 'No retrain is running.' });
  });

  test('a retrain cancelled mid-training leaves the previous model and queue, shown as cancelled', async () => {
    // A long retrain (the next one reads the new settings): 200 CNN epochs.
    value(
      await services.invoke('projects:settings', {
        projectId,
        settings: { model: 'cnn', epochs: 200 },
        changedBy: 'ann',
      }),
    );
    const before = await status();
    const queueBefore = value<QueueView>(
      await services.invoke('labels:queue', { projectId, annotator: 'ann' }),
    );
    const trainingsBefore = before.trainings.length;
    assert.ok(before.lastTraining !== null && queueBefore.items.length > 0);
    events.length = 0;

    const firstEpoch = waitFor(services, training('training'));
    const started = value<{ started: boolean }>(
      await services.invoke('projects:retrain', { projectId }),
    );
    assert.equal(started.started, true);
    const epoch = (await firstEpoch) as TrainingEvent;
    assert.equal(epoch.total, 200, 'the retrain runs with the edited epochs');
    assert.ok((epoch.done ?? 0) < 200);

    const r = value<{ cancelled: boolean; reason: string }>(
      await services.invoke('projects:cancelRetrain', { projectId }),
    );
    assert.equal(r.cancelled, true, r.reason);
    assert.match(r.reason, /previous model and queue are kept/);

    const phases = events.map((e) => e.phase);
    assert.equal(phases.at(-1), 'cancelled');
    assert.ok(!phases.includes('done') && !phases.includes('failed'), phases.join(','));
    const s = await status();
    assert.deepEqual(s.training, { running: false, phase: null, error: null, cancelled: true });
    assert.equal(s.trainings.length, trainingsBefore);
    assert.deepEqual(s.lastTraining, before.lastTraining);
    const queueAfter = value<QueueView>(
      await services.invoke('labels:queue', { projectId, annotator: 'ann' }),
    );
    assert.equal(queueAfter.batchId, queueBefore.batchId);
    assert.deepEqual(queueAfter.items, queueBefore.items);
    assert.equal(queueAfter.preparing, false, 'a cancelled retrain is not restarted by the queue');
  });

  test('the next retrain uses the settings as they are then, and clears "cancelled"', async () => {
    value(
      await services.invoke('projects:settings', {
        projectId,
        settings: { model: 'mlp', epochs: 3 },
        changedBy: 'ann',
      }),
    );
    const done = waitFor(services, training('done'));
    value(await services.invoke('projects:retrain', { projectId }));
    await done;
    const s = await status();
    assert.equal(s.training.cancelled, false);
    const store = openStore(dbPath, { readonly: true });
    try {
      const last = listTrainings(store, projectId).at(-1)!;
      assert.equal(last.details.model, 'mlp');
      assert.equal(last.details.epochs, 3);
      assert.equal(last.details.strategy, 'Margin');
    } finally {
      store.close();
    }
    const queue = value<QueueView>(
      await services.invoke('labels:queue', { projectId, annotator: 'ann' }),
    );
    assert.equal(queue.batchStrategy, 'Margin');
    assert.equal(queue.items.filter((i) => i.reason === 'proposed').length >= 15, true);
  });
});
