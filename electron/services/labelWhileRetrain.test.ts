import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ProjectSummary } from '../../shared/annotation.ts';
import type { AppEvent, DatasetSummary, Result } from '../../shared/contract.ts';
import { writePngFolder } from '../annotation/fixtures.ts';
import { datasetSamples, listTrainings } from '../store/annotation.ts';
import { openStore } from '../store/store.ts';
import { createServices, type Services } from './services.ts';

function value<T>(r: Result<unknown>): T {
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A person labels at 10 images a second while the project retrains back to back in the ML worker
 * (its own SQLite connection). Every label must be stored and every retrain must record its model:
 * a write transaction that read before it wrote ("deferred") used to fail at once with "database
 * is locked" when the other connection wrote in between, since SQLite cannot retry it.
 */
describe('labeling during back-to-back retrains', { timeout: 240_000 }, () => {
  let dir: string;
  let dbPath: string;
  let services: Services;
  let projectId: number;
  let sampleIds: number[];
  const failures: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-busy-'));
    dbPath = join(dir, 'workspace.db');
    await writePngFolder(join(dir, 'flat'), 600, { classes: 3, side: 12 });
    services = createServices({
      dataDir: dir,
      dbPath,
      mode: 'browser',
      version: 'test',
      backups: false,
    });
    services.onEvent((e: AppEvent) => {
      if (e.kind === 'project-training' && e.phase === 'failed') failures.push(e.message ?? '');
    });
    const dataset = value<DatasetSummary>(
      await services.invoke('datasets:import', { path: join(dir, 'flat') }),
    );
    const store = openStore(dbPath, { readonly: true });
    sampleIds = datasetSamples(store, dataset.id).map((s) => s.id);
    store.close();
    // The first batch (a cold start) is prepared when the project is created.
    const firstBatch = new Promise<void>((resolve) => {
      const off = services.onEvent((e) => {
        if (e.kind === 'project-training' && ['done', 'failed', 'cancelled'].includes(e.phase)) {
          off();
          resolve();
        }
      });
    });
    projectId = value<ProjectSummary>(
      await services.invoke('projects:create', {
        name: 'busy',
        datasetId: dataset.id,
        classNames: ['a', 'b', 'c'],
        // Retrains only when asked, so the test decides how many run.
        settings: { model: 'linear', retrainEvery: 100_000, batchSize: 20, stopSetSize: 20 },
        createdBy: 'ann',
      }),
    ).id;
    await firstBatch;
  });

  after(async () => {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('20 retrains while labeling at 10 images/s: every label and every retrain is stored', async () => {
    const retrains = 20;
    let submitted = 0;
    const labelErrors: string[] = [];
    let labeling = true;
    // Image i is of class i % 3 (writePngFolder), so the model has something to learn.
    const labeler = (async () => {
      let next = 0;
      while (labeling && next < sampleIds.length) {
        const r = await services.invoke('labels:submit', {
          projectId,
          sampleId: sampleIds[next]!,
          annotator: 'ann',
          kind: 'label',
          classIdx: next % 3,
          via: 'browse',
        });
        if (r.ok) submitted++;
        else labelErrors.push(r.error.message);
        next++;
        await sleep(100);
      }
    })();

    const outcomes: string[] = [];
    for (let i = 0; i < retrains; i++) {
      // Wait for the project's retrain (or cold start) to settle before asking for the next one.
      const settled = new Promise<string>((resolve) => {
        const off = services.onEvent((e) => {
          if (
            e.kind === 'project-training' &&
            e.projectId === projectId &&
            (e.phase === 'done' || e.phase === 'failed' || e.phase === 'cancelled')
          ) {
            off();
            resolve(e.phase === 'failed' ? `failed: ${e.message ?? ''}` : e.phase);
          }
        });
      });
      const started = value<{ started: boolean }>(
        await services.invoke('projects:retrain', { projectId }),
      );
      assert.ok(started.started, `retrain ${i} did not start`);
      outcomes.push(await settled);
    }
    labeling = false;
    await labeler;

    assert.deepEqual(labelErrors, [], 'every label submitted while retraining is stored');
    assert.deepEqual(
      outcomes.filter((o) => o !== 'done'),
      [],
      `every retrain finishes (${failures.length} failed)`,
    );
    const store = openStore(dbPath, { readonly: true });
    try {
      const labeled = store.currentLabels({ projectId }).length;
      assert.equal(labeled, submitted, 'the store holds every label that was acknowledged');
      assert.ok(submitted >= 5, `labels went on during the retrains (${submitted})`);
      // Retrains after the first few labels train a model (the first ones may be cold starts).
      assert.ok(listTrainings(store, projectId).length >= 1);
    } finally {
      store.close();
    }
  });
});
