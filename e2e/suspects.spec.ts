import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { ProjectSummary } from '../shared/annotation.ts';
import type { AppEvent, DatasetSummary, Result } from '../shared/contract.ts';
import { startBrowserMode } from '../electron/browser/serve.ts';
import { writePngFolder } from '../electron/annotation/fixtures.ts';
import { parseCsv } from '../electron/annotation/importer.ts';
import { datasetSamples } from '../electron/store/annotation.ts';
import { openStore } from '../electron/store/store.ts';
import { suspectReviews } from '../electron/store/suspects.ts';
import {
  chromiumMissing,
  ensureRendererBuilt,
  guardPage,
  launchChromium,
  screenshot,
} from './helpers.ts';

const skip = chromiumMissing();
const CLASSES = ['top', 'middle', 'bottom'];

function value<T>(r: Result<unknown>): T {
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

/**
 * Suspect labels in Review: ann labeled 36 images, 3 of them wrong; the suspects are found in
 * the background; a reviewer opens Review > Suspect labels, accepts the model's suggestion for
 * the first suspect (a relabel) and keeps the next one. Both reviews are events in the store,
 * with the reviewer's name, the old labels still in the history, and both are in the export of
 * every label.
 */
describe('suspect labels end to end', { skip: skip ?? false, timeout: 300_000 }, () => {
  let dir: string;
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startBrowserMode>>;
  const events: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-e2e-suspects-'));
    const home = join(dir, 'user-home');
    mkdirSync(home);
    const rendererDir = await ensureRendererBuilt();
    server = await startBrowserMode({
      dataDir: join(dir, 'home'),
      rendererDir,
      reason: 'e2e test',
      homeDir: home,
    });
    browser = await launchChromium();
    server.services.onEvent((e) => events.push(JSON.stringify(e).slice(0, 300)));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a reviewer relabels one suspect and keeps another; both are in the store and the export', async () => {
    const services = server.services;
    const folder = join(dir, 'bars');
    const truthByFile = await writePngFolder(folder, 60, { classes: 3, side: 16 });
    const dataset = value<DatasetSummary>(
      await services.invoke('datasets:import', { path: folder }),
    );
    const firstBatch = new Promise<void>((resolve) => {
      const off = services.onEvent((e) => {
        if (e.kind === 'project-queue') {
          off();
          resolve();
        }
      });
    });
    const project = value<ProjectSummary>(
      await services.invoke('projects:create', {
        name: 'Bars',
        datasetId: dataset.id,
        classNames: CLASSES,
        settings: { model: 'linear', retrainEvery: 1000 },
        createdBy: 'ann',
      }),
    );
    await firstBatch;
    const dbPath = join(dir, 'home', 'workspace.db');
    const read = openStore(dbPath, { readonly: true });
    const samples = datasetSamples(read, dataset.id).slice(0, 36);
    read.close();
    // ann labels 36 images; 3 of them (one per class) wrongly.
    const given = new Map<number, number>();
    for (const [k, s] of samples.entries()) {
      const t = truthByFile.get(s.sourcePath!)!;
      const c = [4, 17, 30].includes(k) ? (t + 1) % 3 : t;
      given.set(s.id, c);
      value(
        await services.invoke('labels:submit', {
          projectId: project.id,
          sampleId: s.id,
          annotator: 'ann',
          kind: 'label',
          classIdx: c,
        }),
      );
    }
    const found = new Promise<AppEvent>((resolve) => {
      const off = services.onEvent((e) => {
        if (e.kind === 'project-suspects' && e.phase === 'done') {
          off();
          resolve(e);
        }
      });
    });
    // A search may already run (the cold start's end asks for one): Find waits its turn.
    value(await services.invoke('suspects:find', { projectId: project.id }));
    await found;
    value(await services.invoke('labels:setAnnotator', { annotator: 'rev' }));

    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const { problems } = guardPage(page);
    await page.goto(server.host.url);
    await page.locator('.shell[data-ready="true"]').waitFor();
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('button', { name: 'Label' })
      .click();
    await page.getByRole('button', { name: 'Open Bars' }).click();
    await page.locator('[data-view="label-project"]').waitFor();
    await page.getByRole('tab', { name: /Review/ }).click();
    await page.getByTestId('review-suspects').click();
    const panel = page.locator('[data-testid="suspects"][data-state="ready"]');
    await panel.waitFor({ timeout: 60_000 });
    assert.ok(Number(await panel.getAttribute('data-count')) >= 3);
    await page.locator('[data-testid="suspects"] .suspect-stage img').waitFor();
    await screenshot(page, 'suspects-01-queue');

    // The first suspect: ann's label, the model's suggestion; A accepts the suggestion.
    const first = Number(await panel.getAttribute('data-sample-id'));
    assert.match((await page.getByTestId('suspect-given').textContent()) ?? '', /by ann/);
    const suggested = (await page
      .getByTestId('suspect-suggested')
      .locator('strong')
      .textContent())!;
    await page.keyboard.press('a');
    await page
      .getByTestId('suspect-last-action')
      .filter({ hasText: `Relabeled ${suggested}` })
      .waitFor();
    await page.locator(`[data-testid="suspects"]:not([data-sample-id="${first}"])`).waitFor();
    // The next one is kept.
    const second = Number(await page.getByTestId('suspects').getAttribute('data-sample-id'));
    assert.ok(second > 0 && second !== first);
    const kept = (await page.getByTestId('suspect-given').locator('strong').textContent())!;
    await page.getByTestId('suspect-keep').click();
    await page
      .getByTestId('suspect-last-action')
      .filter({ hasText: `Kept ${kept}` })
      .waitFor();
    assert.equal(
      await page.locator(`[data-testid="suspect-row"][data-sample-id="${first}"]`).count(),
      0,
    );
    await screenshot(page, 'suspects-02-reviewed');

    // In the store: two reviews by rev, each with its label event; the old labels stay.
    const store = openStore(dbPath, { readonly: true });
    try {
      const reviews = suspectReviews(store, project.id);
      assert.deepEqual(
        reviews.map((r) => [r.sampleId, r.decision, r.reviewer]),
        [
          [first, 'relabel', 'rev'],
          [second, 'keep', 'rev'],
        ],
      );
      const history = (id: number) =>
        store
          .labelHistory(id)
          .filter((e) => e.projectId === project.id)
          .map((e) => [e.annotator, CLASSES[e.classIdx!], e.via]);
      assert.deepEqual(history(first), [
        ['ann', CLASSES[given.get(first)!], 'queue'],
        ['rev', suggested, 'review'],
      ]);
      assert.deepEqual(history(second), [
        ['ann', kept, 'queue'],
        ['rev', kept, 'review'],
      ]);
      assert.equal(reviews[0]!.labelEventId, store.labelHistory(first).at(-1)!.id);
    } finally {
      store.close();
    }

    // The export of every label holds both reviews beside the labels they judged.
    await page.getByRole('tab', { name: 'Project' }).click();
    await page.getByTestId('annotator-quality').waitFor();
    const out = join(dir, 'exports', 'all.csv');
    await page.getByLabel('Labels', { exact: true }).selectOption('all');
    await page.getByLabel(/Export to/).fill(out);
    await page.getByTestId('export-target').filter({ hasText: out }).waitFor();
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page.getByTestId('export-done').waitFor({ timeout: 60_000 });
    const rows = parseCsv(readFileSync(out, 'utf8'));
    const head = rows[0]!;
    const col = (name: string) => head.indexOf(name);
    const of = (id: number) =>
      rows
        .slice(1)
        .filter((r) => Number(r[col('sample_id')]) === id)
        .map((r) => [r[col('annotator')], r[col('class')]]);
    assert.deepEqual(of(first), [
      ['ann', CLASSES[given.get(first)!]],
      ['rev', suggested],
    ]);
    assert.deepEqual(of(second), [
      ['ann', kept],
      ['rev', kept],
    ]);
    await screenshot(page, 'suspects-03-exported');
    assert.deepEqual(problems, [], events.slice(-20).join('\n'));
  });
});
