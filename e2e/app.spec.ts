import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { DatasetSummary } from '../shared/contract.ts';
import {
  aubc,
  balancedAccuracy,
  finalAccuracy,
  macroF1,
  meanStd,
  perClassRecall,
} from '../shared/metrics.ts';
import { startBrowserMode } from '../electron/browser/serve.ts';
import { writeCifarFolder, writeClassFolders, writeCsv, writeFlatFolder } from './fixtures.ts';
import {
  chromiumMissing,
  ensureRendererBuilt,
  guardPage,
  launchChromium,
  screenshot,
  writeIdxDataset,
} from './helpers.ts';

const skip = chromiumMissing();

/**
 * The whole browser-mode flow a person follows: import a dataset from files, run a short study,
 * watch it finish, compare the strategies, and export. Each test has its own data folder.
 */
describe('browser mode end to end', { skip: skip ?? false, timeout: 240_000 }, () => {
  let dir: string;
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startBrowserMode>>;
  /** Back-end events, printed when a test fails. */
  const events: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-e2e-'));
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
    const context = await browser.newContext({
      viewport: { width: 1360, height: 900 },
      acceptDownloads: true,
    });
    const page = await context.newPage();
    const { problems } = guardPage(page);
    await page.goto(server.host.url);
    await page.locator('.shell[data-ready="true"]').waitFor();
    // The token left the address bar once read.
    assert.doesNotMatch(page.url(), /token=/);
    return { page, problems };
  }

  /** The new-study form for a tiny study on `data`: MLP, Random and Entropy, 1 repeat, 2 rounds. */
  async function fillTinyStudy(page: Page, data: string, name: string, epochs: number) {
    await page.locator('[data-view="new-study"]').waitFor();
    await page.getByLabel('Dataset', { exact: true }).selectOption(data);
    await page.getByLabel('Model', { exact: true }).selectOption('mlp');
    await page.getByLabel('Study name', { exact: true }).fill(name);
    const numbers: [string, string][] = [
      ['Initial labeled seed (M)', '20'],
      ['Query batch size (b)', '20'],
      ['Budget (Q)', '40'],
      ['Repeats', '1'],
      ['Epochs per round', String(epochs)],
      ['Training batch size', '16'],
      ['Pool size', '300'],
      ['Test size', '200'],
    ];
    for (const [label, value] of numbers) await page.getByLabel(label, { exact: true }).fill(value);
    await page.locator('.strategy input[type="checkbox"]').first().waitFor();
    for (const box of await page.locator('.strategy-head input[type="checkbox"]').all()) {
      const id = await box.getAttribute('value');
      const want = id === 'Random' || id === 'Entropy';
      if ((await box.isChecked()) !== want) await box.setChecked(want);
    }
  }

  /** Wait for the monitor to show the study finished; the back-end events explain a failure. */
  async function waitForStudyDone(page: Page): Promise<number> {
    const monitor = page.locator('[data-view="monitor"]');
    await page
      .locator('[data-view="monitor"][data-state="done"]')
      .waitFor({ timeout: 40_000 })
      .catch(async (err: unknown) => {
        await screenshot(page, 'failed-monitor');
        throw new Error(`The study did not finish. Back-end events:\n${events.join('\n')}`, {
          cause: err,
        });
      });
    return Number(await monitor.getAttribute('data-study-id'));
  }

  test('refuses to work without the token', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${server.host.port}/`);
    await page.getByRole('alert').filter({ hasText: 'access token' }).waitFor();
    await context.close();
  });

  test('import, study, monitor, compare, export', async () => {
    const { page, problems } = await openApp();
    await page.locator('[data-view="home"][data-state="ready"]').waitFor();
    await screenshot(page, '01-home');

    // Import a small IDX dataset written to the temp folder.
    const data = join(dir, 'idx');
    writeIdxDataset(data, 400, 200);
    await page.getByRole('button', { name: 'Datasets' }).click();
    await page.getByLabel('Dataset path').fill(data);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.locator('[data-testid="preview"][data-state="ready"]').waitFor();
    assert.equal(await page.getByTestId('preview-train').textContent(), '400');
    assert.equal(await page.getByTestId('preview-test').textContent(), '200');
    assert.ok((await page.locator('[data-testid="thumbs"] canvas').count()) > 0);
    await screenshot(page, '02-datasets-preview');
    await page.getByRole('button', { name: 'Import into workspace' }).click();
    await page.getByTestId('import-done').waitFor({ timeout: 60_000 });
    await page.getByTestId('dataset-row').first().waitFor();
    await screenshot(page, '03-datasets-imported');

    // A tiny study on it: MLP, 2 strategies, 1 repeat, 2 rounds.
    await page
      .getByRole('button', { name: /^New study on/ })
      .first()
      .click();
    await fillTinyStudy(page, data, 'E2E study', 2);
    // Schema validation is shown next to the field.
    await page.getByLabel('Repeats', { exact: true }).fill('0');
    await page.getByText('repeats must be at least 1').waitFor();
    await page.getByLabel('Repeats', { exact: true }).fill('1');
    // The duration estimate is measured on this machine's backend.
    await page.getByRole('button', { name: 'Estimate duration' }).click();
    await page.getByTestId('estimate').waitFor({ timeout: 60_000 });
    assert.match((await page.getByTestId('estimate').textContent()) ?? '', /Estimated .+ on \w+/);
    await screenshot(page, '04-new-study');
    await page.getByRole('button', { name: 'Create and run' }).click();

    const monitor = page.locator('[data-view="monitor"]');
    await monitor.waitFor();
    await page
      .locator(
        '[data-view="monitor"][data-state="running"], [data-view="monitor"][data-state="done"]',
      )
      .waitFor();
    await screenshot(page, '05-monitor-running');
    const studyId = await waitForStudyDone(page);
    assert.equal(await page.locator('[data-testid="run-row"][data-run-state="done"]').count(), 2);
    await screenshot(page, '06-monitor-done');
    assert.ok(studyId > 0);

    await page.getByRole('button', { name: 'Open comparison' }).click();
    await page.locator('[data-view="dashboard"][data-state="ready"]').waitFor();
    await screenshot(page, '07-dashboard');

    // The numbers shown are the store's, through shared/metrics.
    const { openStore } = await import('../electron/store/store.ts');
    const store = openStore(join(dir, 'home', 'workspace.db'), { readonly: true });
    try {
      const runs = store.listRuns(studyId);
      assert.equal(runs.length, 2);
      for (const run of runs) {
        const curve = store
          .listRounds(run.id)
          .map((r) => ({ labeled: r.labeled, accuracy: r.accuracy }));
        assert.deepEqual(
          curve.map((p) => p.labeled),
          [20, 40, 60],
        );
        const row = page.locator(
          `[data-testid="summary-table"] tr[data-strategy="${run.strategy}"]`,
        );
        const shownAubc = Number(
          await row.locator('[data-metric="aubc"]').getAttribute('data-value'),
        );
        const shownFacc = Number(
          await row.locator('[data-metric="facc"]').getAttribute('data-value'),
        );
        assert.ok(
          Math.abs(shownAubc - aubc(curve)) < 1e-12,
          `${run.strategy} AUBC ${shownAubc} vs ${aubc(curve)}`,
        );
        assert.ok(Math.abs(shownFacc - finalAccuracy(curve)) < 1e-12);
        const text = await row.locator('[data-metric="aubc"]').textContent();
        assert.ok(text?.startsWith((aubc(curve) * 100).toFixed(2)), `shown "${text}"`);
        // Balanced accuracy and per-class recall from each round's stored confusion matrix.
        const matrices = store.listRounds(run.id).map((r) => r.details.confusion!);
        const balanced = curve.map((p, i) => ({
          labeled: p.labeled,
          accuracy: balancedAccuracy(matrices[i]!),
        }));
        const shown = async (metric: string) =>
          Number(await row.locator(`[data-metric="${metric}"]`).getAttribute('data-value'));
        assert.ok(Math.abs((await shown('balanced-aubc')) - aubc(balanced)) < 1e-12);
        assert.ok(Math.abs((await shown('balanced-facc')) - finalAccuracy(balanced)) < 1e-12);
        assert.ok(Math.abs((await shown('macro-f1')) - macroF1(matrices.at(-1)!)) < 1e-12);
        const recall = await page
          .locator(`[data-testid="recall-table"] tr[data-strategy="${run.strategy}"] td`)
          .evaluateAll((cells) => cells.map((c) => c.getAttribute('data-value')));
        assert.deepEqual(
          recall,
          perClassRecall(matrices.at(-1)!).map((r) => (r === null ? '' : String(r))),
        );
      }
    } finally {
      store.close();
    }

    // Exports: the summary table as CSV, the curves as PNG.
    const [csv] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export summary table as CSV' }).click(),
    ]);
    const csvPath = join(dir, 'summary.csv');
    await csv.saveAs(csvPath);
    const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
    assert.match(lines[0]!, /^strategy,repeats,aubc_mean,aubc_std,facc_mean/);
    assert.equal(lines.length, 3);
    const [png] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export accuracy-budget chart as PNG' }).click(),
    ]);
    const pngPath = join(dir, 'curves.png');
    await png.saveAs(pngPath);
    const bytes = readFileSync(pngPath);
    assert.deepEqual([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.ok(bytes.length > 2000, `PNG of ${bytes.length} bytes`);

    await page.getByRole('button', { name: 'Label' }).click();
    await page.locator('[data-view="label"]').waitFor();
    await screenshot(page, '08-label-coming');
    await page.getByRole('button', { name: 'Home' }).click();
    await page.locator('[data-view="home"][data-state="ready"]').waitFor();
    await page.getByRole('button', { name: `Compare study ${studyId}` }).waitFor();
    await screenshot(page, '09-home-with-study');
    // Narrow window: the layout reflows to one column and stays usable.
    await page.setViewportSize({ width: 720, height: 900 });
    await page.getByRole('button', { name: 'Comparison' }).click();
    await page.locator('[data-view="dashboard"][data-state="ready"]').waitFor();
    await screenshot(page, '10-dashboard-narrow');
    await page.setViewportSize({ width: 1360, height: 900 });

    // Ablation across studies (the survey's Figures 3 and 4). One finished study is not enough.
    await page.getByRole('button', { name: 'Ablation', exact: true }).click();
    await page.locator('[data-view="ablation"][data-state="problem"]').waitFor();
    assert.equal(
      (await page.getByTestId('ablation-problem').textContent())?.trim(),
      'Choose at least two finished studies to compare.',
    );
    // The same tiny study with 3 epochs instead of 2.
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('button', { name: 'New study' })
      .click();
    await fillTinyStudy(page, data, 'E2E study, 3 epochs', 3);
    await page.getByRole('button', { name: 'Create and run' }).click();
    const secondId = await waitForStudyDone(page);
    assert.ok(secondId > studyId);
    await page.getByRole('button', { name: 'Ablation', exact: true }).click();
    await page.locator('[data-view="ablation"][data-state="ready"]').waitFor();
    assert.equal(await page.getByTestId('ablation-study').count(), 2);
    await page.getByRole('heading', { name: 'AUBC against epochs' }).waitFor();
    await screenshot(page, '11-ablation');

    // Each cell is the mean AUBC / F-acc of that strategy's runs at that number of epochs, from
    // the stored rounds through shared/metrics.
    const check = openStore(join(dir, 'home', 'workspace.db'), { readonly: true });
    try {
      for (const [id, epochs] of [
        [studyId, 2],
        [secondId, 3],
      ] as const) {
        for (const run of check.listRuns(id)) {
          const curve = check
            .listRounds(run.id)
            .map((r) => ({ labeled: r.labeled, accuracy: r.accuracy }));
          const td = page.locator(
            `[data-testid="ablation-table"] tr[data-strategy="${run.strategy}"] td[data-value="${epochs}"]`,
          );
          const a = meanStd([aubc(curve)]).mean;
          const shown = Number(await td.getAttribute('data-aubc'));
          assert.ok(Math.abs(shown - a) < 1e-12, `${run.strategy} @${epochs}: ${shown} vs ${a}`);
          const f = Number(await td.getAttribute('data-facc'));
          assert.ok(Math.abs(f - finalAccuracy(curve)) < 1e-12);
          assert.ok((await td.textContent())?.trim().startsWith((a * 100).toFixed(2)));
        }
      }
    } finally {
      check.close();
    }
    const [ablCsv] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export ablation table as CSV' }).click(),
    ]);
    const ablCsvPath = join(dir, 'ablation.csv');
    await ablCsv.saveAs(ablCsvPath);
    const ablLines = readFileSync(ablCsvPath, 'utf8').trim().split('\n');
    assert.match(ablLines[0]!, /^strategy,epochs,runs,studies,aubc_mean,aubc_std,facc_mean/);
    assert.equal(ablLines.length, 5);
    const [ablPng] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export AUBC against epochs chart as PNG' }).click(),
    ]);
    const ablPngPath = join(dir, 'ablation.png');
    await ablPng.saveAs(ablPngPath);
    const ablBytes = readFileSync(ablPngPath);
    assert.deepEqual([...ablBytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.ok(ablBytes.length > 2000, `PNG of ${ablBytes.length} bytes`);
    assert.deepEqual(problems, []);
  });

  test('monitor: live progress, cancel after a few rounds, resume to the end', async () => {
    const { page, problems } = await openApp();
    const data = join(dir, 'idx-monitor');
    writeIdxDataset(data, 400, 200);
    const imported = await server.services.invoke('datasets:import', { path: data });
    assert.ok(imported.ok, imported.ok ? '' : imported.error.message);
    // The same data imported before keeps its first source: the store knows it by its content.
    const source = (imported.value as DatasetSummary).source;
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('button', { name: 'New study' })
      .click();
    await fillTinyStudy(page, source, 'Cancel and resume', 2);
    // 40 rounds per strategy, so there is time to cancel mid-study.
    await page.getByLabel('Query batch size (b)', { exact: true }).fill('5');
    await page.getByLabel('Budget (Q)', { exact: true }).fill('200');
    await page.getByRole('button', { name: 'Create and run' }).click();
    await page.locator('[data-view="monitor"][data-state="running"]').waitFor();

    const overall = page.getByTestId('overall');
    const roundsDone = async () =>
      Number(/^(\d+) \//.exec((await overall.textContent()) ?? '')?.[1]);
    // The live view advances as rounds finish.
    await overall.filter({ hasText: /^(?:[4-9]|[1-9]\d+) \// }).waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page
      .locator('[data-view="monitor"][data-state="cancelled"]')
      .waitFor({ timeout: 30_000 });
    const atCancel = await roundsDone();
    assert.ok(atCancel >= 4 && atCancel < 82, `cancelled at ${atCancel} of 82 rounds`);
    await screenshot(page, '05b-monitor-cancelled');

    await page.getByRole('button', { name: 'Resume' }).click();
    await waitForStudyDone(page);
    assert.equal(await roundsDone(), 82);
    assert.equal(await page.locator('[data-testid="run-row"][data-run-state="done"]').count(), 2);
    assert.deepEqual(problems, []);
  });

  test('previews CIFAR binary, image folders (by class and flat) and CSV; imports a folder', async () => {
    const { page, problems } = await openApp();
    const root = join(dir, 'formats');
    const cifar = join(root, 'cifar-10-batches-bin');
    const pets = join(root, 'pets');
    const flat = join(root, 'unlabeled');
    const csv = join(root, 'table.csv');
    writeCifarFolder(cifar, 10, 10);
    await writeClassFolders(pets, ['cat', 'dog', 'fox'], 6);
    await writeFlatFolder(flat, 8);
    writeCsv(csv, 30, ['setosa', 'versicolor', 'virginica']);
    await page.getByRole('button', { name: 'Datasets' }).click();

    const preview = page.getByTestId('preview');
    async function previewOf(path: string): Promise<void> {
      await page.getByLabel('Dataset path').fill(path);
      await page.getByRole('button', { name: 'Preview' }).click();
      await page
        .locator(`[data-testid="preview"][data-state="ready"][data-path=${JSON.stringify(path)}]`)
        .waitFor();
    }
    const classRows = () =>
      preview.getByRole('table', { name: 'Class counts' }).locator('tbody tr');
    const thumbs = () => preview.locator('[data-testid="thumbs"] canvas');

    await previewOf(cifar);
    assert.equal(await preview.locator('.pill').first().textContent(), 'cifar-10');
    assert.equal(await page.getByTestId('preview-train').textContent(), '50');
    assert.equal(await page.getByTestId('preview-test').textContent(), '10');
    assert.equal(await classRows().count(), 10);
    assert.equal(await classRows().first().locator('td').first().textContent(), 'airplane');
    assert.ok((await thumbs().count()) >= 10);
    await screenshot(page, '02b-preview-cifar');

    await previewOf(pets);
    assert.equal(await preview.locator('.pill').first().textContent(), 'image-folder');
    assert.deepEqual(await classRows().locator('td:first-child').allTextContents(), [
      'cat',
      'dog',
      'fox',
    ]);
    const train = Number(await page.getByTestId('preview-train').textContent());
    const test = Number(await page.getByTestId('preview-test').textContent());
    assert.equal(train + test, 18);
    // What was skipped, and why.
    const skipped = preview.locator('.skipped li');
    assert.equal(await skipped.count(), 2);
    for (const text of await skipped.allTextContents()) {
      assert.match(text, /cat\/(broken\.png|readme\.txt).*: not an image/);
    }
    assert.ok((await thumbs().count()) >= 3);
    await screenshot(page, '02c-preview-image-folder');

    await previewOf(flat);
    assert.match((await page.getByTestId('no-classes').textContent()) ?? '', /8 unlabeled images/);
    assert.equal(await thumbs().count(), 8);
    assert.match((await preview.locator('.notes').textContent()) ?? '', /flat folder/);
    await screenshot(page, '02d-preview-flat');

    await previewOf(csv);
    assert.equal(await preview.locator('.pill').first().textContent(), 'csv');
    assert.equal(await classRows().count(), 3);
    await preview.getByText('No images to show (tabular data).').waitFor();

    // Import the labeled image folder; it joins the workspace list.
    await previewOf(pets);
    await page.getByLabel('Name in the workspace (optional)').fill('Pets folder');
    await page.getByRole('button', { name: 'Import into workspace' }).click();
    await page.getByTestId('import-done').waitFor({ timeout: 60_000 });
    await page.getByTestId('dataset-row').filter({ hasText: 'Pets folder' }).waitFor();
    assert.deepEqual(problems, []);
  });
});
