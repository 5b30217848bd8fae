import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startBrowserMode } from '../electron/browser/serve.ts';
import { writePngFolder } from '../electron/annotation/fixtures.ts';
import { parseCsv } from '../electron/annotation/importer.ts';
import {
  chromiumMissing,
  ensureRendererBuilt,
  guardPage,
  launchChromium,
  screenshot,
} from './helpers.ts';

const skip = chromiumMissing();
const CLASSES = ['top', 'middle', 'bottom'];

/**
 * A person labels a folder of unlabeled images with the keyboard: a project over a flat folder of
 * generated PNGs, a cold-start batch, labels with digit keys, a deliberate mistake undone with Z,
 * a skip and an unsure, a retrain that changes the queue, the model's guesses on demand, and an
 * export checked against what was typed and against the store.
 */
describe('annotation end to end', { skip: skip ?? false, timeout: 240_000 }, () => {
  let dir: string;
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startBrowserMode>>;
  const events: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-e2e-label-'));
    const rendererDir = await ensureRendererBuilt();
    server = await startBrowserMode({
      dataDir: join(dir, 'home'),
      rendererDir,
      reason: 'e2e test',
    });
    browser = await launchChromium();
    server.services.onEvent((e) => events.push(JSON.stringify(e).slice(0, 300)));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openApp(): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const { problems } = guardPage(page);
    await page.goto(server.host.url);
    await page.locator('.shell[data-ready="true"]').waitFor();
    return { page, problems };
  }

  const screen = (page: Page) => page.getByTestId('label-screen');

  /** The sample on screen once it is ready, and its file name. */
  async function current(page: Page, not?: string): Promise<{ id: string; path: string }> {
    const sel = not
      ? `[data-testid="label-screen"][data-state="ready"]:not([data-sample-id="${not}"])`
      : '[data-testid="label-screen"][data-state="ready"]';
    await page.locator(sel).waitFor({ timeout: 60_000 });
    const id = (await screen(page).getAttribute('data-sample-id')) ?? '';
    const path = (await screen(page).locator('.queue-bar .mono').getAttribute('title')) ?? '';
    return { id, path };
  }

  test('label a folder with the keyboard, undo, retrain, export', async () => {
    const folder = join(dir, 'photos');
    const truth = await writePngFolder(folder, 120, { classes: 3, side: 28 });
    const imported = await server.services.invoke('datasets:import', { path: folder });
    assert.ok(imported.ok, imported.ok ? '' : imported.error.message);

    const { page, problems } = await openApp();
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('button', { name: 'Label' })
      .click();
    await page.locator('[data-view="label"][data-state="ready"]').waitFor();
    await page.getByLabel('Annotator', { exact: true }).fill('alice');
    await page.getByRole('button', { name: 'Use this name' }).click();
    await page.getByTestId('annotator').waitFor();
    await page.getByLabel('Project name', { exact: true }).fill('Bars');
    await page.getByLabel('Classes (one per line)').fill(CLASSES.join('\n'));
    await page.getByLabel('Model', { exact: true }).selectOption('mlp');
    await page.getByLabel('Batch size').fill('20');
    await page.getByLabel('Retrain every N labels').fill('10');
    await page.getByLabel('Epochs per retrain').fill('4');
    await screenshot(page, 'label-01-new-project');
    await page.getByRole('button', { name: 'Create project' }).click();

    await page.locator('[data-view="label-project"]').waitFor();
    await page.getByRole('button', { name: 'Start labeling' }).click();
    let at = await current(page);
    assert.match(
      (await page.getByTestId('queue-source').textContent()) ?? '',
      /proposed by TypiClust \(label-free\)/,
    );
    const firstBatch = await screen(page).getAttribute('data-batch-id');
    await screenshot(page, 'label-02-cold-start');

    // Label 12 with the right class; the 5th one wrong first, then Z and the right key.
    const typed = new Map<string, string>();
    for (let n = 0; n < 12; n++) {
      const k = truth.get(at.path);
      assert.notEqual(k, undefined, `unknown file ${at.path}`);
      if (n === 4) {
        await page.keyboard.press(String(((k! + 1) % 3) + 1));
        await current(page, at.id);
        await page.keyboard.press('z');
        // Undo must bring the undone sample back (wait for it: reading at once would race).
        await page
          .locator(`[data-testid="label-screen"][data-state="ready"][data-sample-id="${at.id}"]`)
          .waitFor({ timeout: 15_000 });
        const back = await current(page);
        assert.equal(back.id, at.id, 'undo shows the undone sample again');
        await page.getByTestId('last-action').filter({ hasText: 'Undone' }).waitFor();
      }
      await page.keyboard.press(String(k! + 1));
      typed.set(at.path, CLASSES[k!]!);
      at = await current(page, at.id);
    }
    // S skips (the sample goes to the end), U marks unsure (it goes to review).
    const skipped = at;
    await page.keyboard.press('s');
    at = await current(page, skipped.id);
    const unsure = at;
    await page.keyboard.press('u');
    at = await current(page, unsure.id);
    await page
      .getByTestId('counter')
      .filter({ hasText: /^\s*12 \/ 120 labeled/ })
      .waitFor();
    await screenshot(page, 'label-03-labeling');

    // Guesses only on demand.
    assert.equal(await page.getByTestId('guesses').count(), 0);

    // 10 labels started a retrain in the background; another, on demand, from the project tab.
    await page.getByRole('tab', { name: 'Project' }).click();
    await page.getByTestId('project-panel').waitFor();
    await page
      .locator('[data-testid="training-state"][data-state="idle"]')
      .waitFor({ timeout: 120_000 });
    await page.getByRole('button', { name: 'Retrain now' }).click();
    await page
      .locator('[data-testid="training-state"][data-state="idle"]')
      .waitFor({ timeout: 120_000 });
    // "Retrain now" during the automatic retrain runs after it: idle can show in between, so wait
    // for the model on all 12 labels rather than for idle alone.
    await page
      .getByTestId('trained-labels')
      .filter({ hasText: /^\s*12 labels/ })
      .waitFor({ timeout: 120_000 });
    assert.match(
      (await page.getByTestId('queue-method').textContent()) ?? '',
      /Proposed by Entropy/,
    );
    await screenshot(page, 'label-04-project');

    // Settings can change after creation: an impossible batch is refused with the reason, a
    // possible one is saved and shown with who changed it.
    await page.getByRole('button', { name: 'Edit settings' }).click();
    await page.getByLabel('Batch size', { exact: true }).fill('500');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByTestId('settings-error').filter({ hasText: 'larger than the pool' }).waitFor();
    await screenshot(page, 'label-04b-settings');
    await page.getByLabel('Batch size', { exact: true }).fill('25');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page
      .getByTestId('setting-batchSize')
      .filter({ hasText: /^\s*25\s*$/ })
      .waitFor();
    await page.getByTestId('settings-history').getByText('Settings history (1)').click();
    await page
      .getByTestId('settings-history')
      .filter({ hasText: 'alice: Batch size 20 → 25' })
      .waitFor();

    // Back to labeling: the queue now comes from the model.
    await page.getByRole('tab', { name: 'Label' }).click();
    at = await current(page);
    await page.getByTestId('queue-source').filter({ hasText: 'proposed by Entropy' }).waitFor();
    assert.notEqual(await screen(page).getAttribute('data-batch-id'), firstBatch);
    await page.keyboard.press('g');
    await page.getByTestId('guesses').filter({ hasText: '%' }).waitFor();
    await screenshot(page, 'label-05-guesses');
    const k = truth.get(at.path)!;
    await page.keyboard.press(String(k + 1));
    typed.set(at.path, CLASSES[k]!);
    await current(page, at.id);

    // Review holds the unsure sample.
    await page.getByRole('tab', { name: /Review/ }).click();
    const review = await current(page);
    assert.equal(review.id, unsure.id);
    await screenshot(page, 'label-06-review');

    // Export as CSV and as class folders, from the app.
    await page.getByRole('tab', { name: 'Project' }).click();
    const csvPath = join(dir, 'exports', 'bars.csv');
    await page.getByLabel('Format').selectOption('csv');
    await page.getByLabel(/Export to/).fill(csvPath);
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page.getByTestId('export-done').filter({ hasText: 'Exported 13 labels' }).waitFor();
    // Again without "Overwrite": refused, and the file is unchanged.
    const before = readFileSync(csvPath, 'utf8');
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page.getByTestId('export-error').filter({ hasText: 'already exists' }).waitFor();
    assert.equal(readFileSync(csvPath, 'utf8'), before);
    const foldersPath = join(dir, 'exports', 'folders');
    await page.getByLabel('Format').selectOption('folders');
    await page.getByLabel(/Export to/).fill(foldersPath);
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page.getByTestId('export-done').filter({ hasText: 'Exported 13 labels' }).waitFor();
    await screenshot(page, 'label-07-exported');

    // The exports hold exactly what was typed...
    const rows = parseCsv(before).slice(1);
    assert.deepEqual(new Map(rows.map((r) => [r[3]!, r[4]!])), typed);
    assert.ok(rows.every((r) => r[6] === 'alice' && r[7] === 'human' && Number(r[9]) >= 0));
    const inFolders = new Map<string, string>();
    for (const c of CLASSES) {
      if (!existsSync(join(foldersPath, c))) continue;
      for (const f of readdirSync(join(foldersPath, c))) inFolders.set(f, c);
    }
    assert.deepEqual(inFolders, typed);

    // ...and what the store holds: one undo event, the undone label kept in the log.
    const { openStore } = await import('../electron/store/store.ts');
    const store = openStore(join(dir, 'home', 'workspace.db'), { readonly: true });
    try {
      const project = store.listProjects().find((p) => p.name === 'Bars')!;
      const labels = store.currentLabels({ projectId: project.id });
      assert.equal(labels.length, 13);
      const events = labels.flatMap((l) => store.labelHistory(l.sampleId));
      assert.equal(events.filter((e) => e.kind === 'undo').length, 1);
      assert.ok(labels.every((l) => l.annotator === 'alice'));
      assert.equal(project.settings.batchSize, 25);
      const { settingsHistory } = await import('../electron/store/annotation.ts');
      assert.deepEqual(
        settingsHistory(store, project.id).map((h) => [h.changedBy, h.changes]),
        [['alice', [{ field: 'batchSize', from: 20, to: 25 }]]],
      );
    } finally {
      store.close();
    }
    assert.deepEqual(problems, [], events.slice(-20).join('\n'));
  });
});
