import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

/** The few DOM calls the checks make inside the page (this Node project has no DOM types). */
interface PageWindow {
  getComputedStyle(el: unknown): { [property: string]: string };
  document: {
    createElement(tag: 'canvas'): {
      getContext(kind: '2d'): { font: string; measureText(text: string): { width: number } };
    };
  };
}
interface SelectElement {
  clientWidth: number;
  options: ArrayLike<{ text: string }>;
}
const CLASSES = ['top', 'middle', 'bottom'];

/**
 * A person labels a folder of unlabeled images with the keyboard: a project over a flat folder of
 * generated PNGs, a cold-start batch, labels with digit keys, a deliberate mistake undone with Z,
 * a skip and two unsure, a retrain that changes the queue, the model's guesses on demand, review,
 * and an export checked against what was typed and against the store. Then a newcomer's first
 * steps with photos (issue 23): import an unlabeled folder, be pointed to Label, label 200x200
 * photos, export to ~/…
 */
describe('annotation end to end', { skip: skip ?? false, timeout: 240_000 }, () => {
  let dir: string;
  /** What `~` names for the app under test (never the real home folder). */
  let home: string;
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startBrowserMode>>;
  const events: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-e2e-label-'));
    home = join(dir, 'user-home');
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

  async function openApp(): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const { problems } = guardPage(page);
    await page.goto(server.host.url);
    await page.locator('.shell[data-ready="true"]').waitFor();
    return { page, problems };
  }

  const screen = (page: Page) => page.getByTestId('label-screen');
  /** "Queue: N left" as a number (the count the queue bar shows). */
  const left = async (page: Page) =>
    Number(await page.getByTestId('queue-source').getAttribute('data-left'));
  /** The number on the Review tab's badge (0 when there is none). */
  const reviewBadge = async (page: Page) => {
    const badge = page.getByRole('tab', { name: /Review/ }).locator('.count');
    return (await badge.count()) === 0 ? 0 : Number(await badge.textContent());
  };

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
    // Asked once: the form gives way to the name and a way to change it, also after a reload.
    assert.equal(await page.getByLabel('Annotator', { exact: true }).count(), 0);
    await page.reload();
    await page.locator('[data-view="label"][data-state="ready"]').waitFor();
    assert.equal((await page.getByTestId('annotator').textContent())?.trim(), 'alice');
    await page.getByLabel('Project name', { exact: true }).fill('Bars');
    await page.getByLabel('Classes (one per line)').fill(CLASSES.join('\n'));
    await page.getByLabel('Model', { exact: true }).selectOption('mlp');
    await page.getByLabel('Batch size').fill('20');
    await page.getByLabel('Retrain every N labels').fill('10');
    await page.getByLabel('Epochs per retrain').fill('4');
    await screenshot(page, 'label-01-new-project');
    await page.getByRole('button', { name: 'Create project' }).click();

    await page.locator('[data-view="label-project"]').waitFor();
    // The project does not ask for the name again: labeling starts at once, as alice.
    let at = await current(page);
    assert.equal(await page.getByRole('button', { name: 'Start labeling' }).count(), 0);
    assert.match((await page.getByTestId('labeling-as').textContent()) ?? '', /Labeling as alice/);
    assert.match(
      (await page.getByTestId('queue-source').textContent()) ?? '',
      /proposed by TypiClust \(label-free\)/,
    );
    const firstBatch = await screen(page).getAttribute('data-batch-id');
    await screenshot(page, 'label-02-cold-start');

    // Label 12 with the right class; the 5th one wrong first, then Z and the right key. "Queue: N
    // left" counts down with each key, not only after a retrain or a tab switch.
    const typed = new Map<string, string>();
    for (let n = 0; n < 12; n++) {
      const before = n < 3 ? await left(page) : 0;
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
      if (n < 3) {
        assert.equal(await left(page), before - 1, `queue count after label ${n + 1}`);
        assert.match(
          (await page.getByTestId('queue-source').textContent()) ?? '',
          new RegExp(`^Queue: ${before - 1} left`),
        );
      }
    }
    // S skips (the sample goes to the end), U marks unsure (it goes to review): twice.
    const skipped = at;
    await page.keyboard.press('s');
    at = await current(page, skipped.id);
    const unsure: { id: string; path: string }[] = [];
    for (let n = 0; n < 2; n++) {
      unsure.push(at);
      await page.keyboard.press('u');
      at = await current(page, at.id);
    }
    await page.getByRole('tab', { name: /Review\s*2/ }).waitFor();
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
    // The retrain shows in the header while it runs, not in a toast that outlives it and covers
    // the chart.
    await page
      .locator(
        '[data-testid="training-state"][data-state="training"], [data-testid="retrain-duration"]',
      )
      .first()
      .waitFor();
    const toasts = page.locator('.toast');
    assert.equal(await toasts.filter({ hasText: /Retrain/ }).count(), 0);
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
    assert.equal(await toasts.count(), 0, 'no toast left over the chart after the retrain');
    // One model, its numbers said once, with what each is; how long its retrain took.
    const modelPill = (await page.getByTestId('training-state').textContent())?.trim() ?? '';
    const duration = (await page.getByTestId('retrain-duration').textContent())?.trim() ?? '';
    // After the first retrain the chart no longer promises itself "after the first retrain".
    const curveNote = page.getByTestId('curve-empty');
    if ((await curveNote.count()) > 0)
      assert.doesNotMatch((await curveNote.textContent()) ?? '', /after the first retrain/);
    // The Classes table numbers classes as the keys do: 1, 2, 3.
    assert.deepEqual(await page.getByTestId('class-key').allTextContents(), ['1', '2', '3']);
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
    // The model and its image features can change too, and the history says from what.
    await page.getByRole('button', { name: 'Edit settings' }).click();
    await page.locator('#s-model').selectOption('auto');
    await page.getByLabel('Image features').selectOption('ssl');
    await page.getByLabel('Pretraining time (seconds, resumable)').fill('30');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page
      .getByTestId('setting-features')
      .filter({ hasText: 'self-supervised encoder pretrained on the pool (30 s budget)' })
      .waitFor();
    // Back to the MLP on pixels (and the built-in descriptors) before any retrain uses them.
    await page.getByRole('button', { name: 'Edit settings' }).click();
    await page.getByLabel('Image features').selectOption('descriptors');
    await page.locator('#s-model').selectOption('mlp');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByTestId('setting-model').filter({ hasText: 'mlp' }).waitFor();
    await page
      .getByTestId('setting-features')
      .filter({ hasText: 'built-in descriptors' })
      .waitFor();
    await page
      .getByTestId('settings-history')
      .filter({
        hasText:
          'Model mlp → auto, Image features built-in descriptors (HOG, multi-scale LBP, histograms) → self-supervised encoder pretrained on the pool (30 s budget)',
      })
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

    // Review holds the two unsure samples; the bar says why they are there (not "proposed by
    // Entropy"), and the badge counts down as they are resolved.
    assert.equal(await reviewBadge(page), 2);
    await page.getByRole('tab', { name: /Review/ }).click();
    let review = await current(page);
    const source = (await page.getByTestId('queue-source').textContent()) ?? '';
    assert.match(source, /^Review: 2 left · marked unsure/);
    assert.doesNotMatch(source, /proposed by/);
    await screenshot(page, 'label-06-review');
    const resolved = new Set<string>();
    for (let n = 0; n < 2; n++) {
      assert.ok(
        unsure.some((u) => u.id === review.id),
        `review shows an unsure sample (${review.id})`,
      );
      const kr = truth.get(review.path)!;
      await page.keyboard.press(String(kr + 1));
      typed.set(review.path, CLASSES[kr]!);
      resolved.add(review.id);
      await page
        .getByRole('tab', { name: n === 0 ? /^\s*Review\s*1\s*$/ : /^\s*Review\s*$/ })
        .waitFor();
      if (n === 0) review = await current(page, review.id);
    }
    assert.equal(resolved.size, 2);
    assert.equal(await reviewBadge(page), 0);
    await page.getByTestId('queue-empty').waitFor();

    // Export as CSV and as class folders, from the app.
    await page.getByRole('tab', { name: 'Project' }).click();
    const csvPath = join(dir, 'exports', 'bars.csv');
    await page.getByLabel('Format').selectOption('csv');
    await page.getByLabel(/Export to/).fill(csvPath);
    await page.getByTestId('export-target').filter({ hasText: csvPath }).waitFor();
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page
      .getByTestId('export-done')
      .filter({ hasText: `Exported ${typed.size} labels` })
      .filter({ hasText: csvPath })
      .waitFor();
    // Again without "Overwrite": said before the click, refused at it, the file unchanged.
    await page.getByTestId('export-target').filter({ hasText: 'tick “Overwrite”' }).waitFor();
    const before = readFileSync(csvPath, 'utf8');
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page.getByTestId('export-error').filter({ hasText: 'already exists' }).waitFor();
    assert.equal(readFileSync(csvPath, 'utf8'), before);
    const foldersPath = join(dir, 'exports', 'folders');
    await page.getByLabel('Format').selectOption('folders');
    await page.getByLabel(/Export to/).fill(foldersPath);
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page
      .getByTestId('export-done')
      .filter({ hasText: `Exported ${typed.size} labels` })
      .waitFor();
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
      assert.equal(labels.length, typed.size);
      assert.equal(typed.size, 15);
      // The header's model numbers and retrain time are the latest retrain's.
      const { listTrainings } = await import('../electron/store/annotation.ts');
      const last = listTrainings(store, project.id).at(-1)!;
      assert.equal(
        modelPill,
        last.holdoutCount > 0
          ? `Model: ${last.labels} labels (${last.trainCount} train, ${last.holdoutCount} evaluation)`
          : `Model: ${last.labels} labels`,
      );
      assert.equal(last.labels, 12);
      const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      assert.equal(
        duration.replace(/\s+/g, ' '),
        `Last retrain: ${secs(last.trainMs)} training, ${secs(last.queryMs)} choosing the batch`,
      );
      const events = labels.flatMap((l) => store.labelHistory(l.sampleId));
      assert.equal(events.filter((e) => e.kind === 'undo').length, 1);
      assert.ok(labels.every((l) => l.annotator === 'alice'));
      assert.equal(project.settings.batchSize, 25);
      const { settingsHistory } = await import('../electron/store/annotation.ts');
      assert.deepEqual(
        settingsHistory(store, project.id).map((h) => [h.changedBy, h.changes]),
        [
          ['alice', [{ field: 'batchSize', from: 20, to: 25 }]],
          [
            'alice',
            [
              { field: 'model', from: 'mlp', to: 'auto' },
              {
                field: 'features',
                from: { kind: 'descriptors' },
                to: { kind: 'ssl', side: 64, seed: 0, budgetSec: 30 },
              },
            ],
          ],
          [
            'alice',
            [
              { field: 'model', from: 'auto', to: 'mlp' },
              {
                field: 'features',
                from: { kind: 'ssl', side: 64, seed: 0, budgetSec: 30 },
                to: { kind: 'descriptors' },
              },
            ],
          ],
        ],
      );
      assert.deepEqual(project.settings.features, { kind: 'descriptors' });
    } finally {
      store.close();
    }
    assert.deepEqual(problems, [], events.slice(-20).join('\n'));
  });

  test("a newcomer's first photos: Label suggested, name remembered, smooth photos, ~ export", async () => {
    const folder = join(dir, 'neu-like');
    const truth = await writePngFolder(folder, 24, { classes: 3, side: 200, seed: 3 });
    // A new browser profile (empty localStorage), as after a relaunch: browser mode comes back on
    // another port, so another origin.
    const { page, problems } = await openApp();
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('button', { name: 'Datasets' })
      .click();
    await page.getByLabel('Dataset path').fill(folder);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.locator('[data-testid="preview"][data-state="ready"]').waitFor();
    // The name's placeholder is the folder's name, and that is the name it gets.
    const nameField = page.getByLabel('Name in the workspace (optional)');
    assert.equal(await nameField.getAttribute('placeholder'), 'neu-like');
    await page.getByRole('button', { name: 'Import into workspace' }).click();
    await page.getByTestId('import-done').waitFor({ timeout: 60_000 });
    // Unlabeled images: the next step offered is Label, not a study (which needs labels).
    assert.match(
      (await page.getByTestId('import-done').textContent()) ?? '',
      /24 unlabeled images as “neu-like”/,
    );
    const row = page.getByTestId('dataset-row').filter({ hasText: 'neu-like' });
    await row.getByRole('button', { name: 'Label neu-like' }).waitFor();
    assert.equal(await row.getByRole('button', { name: /^New study on/ }).count(), 0);
    await screenshot(page, 'label-10-imported-unlabeled');
    await page.getByTestId('suggest-label').click();
    await page.locator('[data-view="label"][data-state="ready"]').waitFor();

    // The name given in the first test is known without asking; the new dataset is chosen.
    await page.getByTestId('annotator').filter({ hasText: 'alice' }).waitFor();
    assert.equal(await page.getByLabel('Annotator', { exact: true }).count(), 0);
    assert.match(
      (await page.getByLabel('Dataset', { exact: true }).locator('option:checked').textContent()) ??
        '',
      /^neu-like \(24 images\)/,
    );
    await page.getByLabel('Project name', { exact: true }).fill('Photos');
    await page.getByLabel('Classes (one per line)').fill(CLASSES.join('\n'));
    await screenshot(page, 'label-11-new-project');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.locator('[data-view="label-project"]').waitFor();
    let at = await current(page);
    assert.equal(await page.getByRole('button', { name: 'Start labeling' }).count(), 0);

    // A 200x200 photo is enlarged smoothly to fit; zoomed in past the fit, pixel by pixel.
    const img = screen(page).locator('img.sample');
    assert.equal(await img.getAttribute('data-rendering'), 'smooth');
    assert.equal(
      await img.evaluate(
        (el) => (globalThis as unknown as PageWindow).getComputedStyle(el).imageRendering,
      ),
      'auto',
    );
    const shown = await img.evaluate((el) => el.getBoundingClientRect().width);
    assert.ok(shown > 400, `the photo is enlarged to fit (${shown} px wide)`);
    // The keys help keeps each key combination on one line.
    await page.getByTestId('keys-help').locator('summary').click();
    const combos = page.getByTestId('keys-help').locator('.key-combo');
    assert.equal(await combos.filter({ hasText: '←' }).filter({ hasText: '→' }).count(), 1);
    for (const combo of await combos.all()) {
      const tops = await combo
        .locator('kbd')
        .evaluateAll((ks) => ks.map((k) => Math.round(k.getBoundingClientRect().top)));
      assert.equal(new Set(tops).size, 1, `${await combo.textContent()} breaks across lines`);
    }
    await screenshot(page, 'label-12-photo-smooth');
    for (let i = 0; i < 4; i++) await page.keyboard.press('+');
    await page.locator('img.sample[data-rendering="pixelated"]').waitFor();
    assert.equal(
      await img.evaluate(
        (el) => (globalThis as unknown as PageWindow).getComputedStyle(el).imageRendering,
      ),
      'pixelated',
    );
    await screenshot(page, 'label-13-photo-zoomed');
    await page.keyboard.press('0');
    await page.locator('img.sample[data-rendering="smooth"]').waitFor();

    for (let n = 0; n < 3; n++) {
      await page.keyboard.press(String(truth.get(at.path)! + 1));
      at = await current(page, at.id);
    }

    // Export: the Format list shows its options whole; a typed path is shown in full before
    // anything is written; ~ is the home folder; a relative path is refused with a sentence.
    await page.getByRole('tab', { name: 'Project' }).click();
    await page.getByTestId('project-panel').waitFor();
    const format = page.getByLabel('Format');
    const fit = await format.evaluate((el) => {
      const w = globalThis as unknown as PageWindow;
      const select = el as unknown as SelectElement;
      const cs = w.getComputedStyle(select);
      const ctx = w.document.createElement('canvas').getContext('2d');
      ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      const texts = Array.from(select.options, (o) => o.text);
      const widest = Math.max(...texts.map((t) => ctx.measureText(t).width));
      const room =
        select.clientWidth - parseFloat(cs.paddingLeft ?? '0') - parseFloat(cs.paddingRight ?? '0');
      return { widest, room };
    });
    // The room beside the text holds the drop-down arrow too.
    assert.ok(fit.room >= fit.widest + 12, `Format is cut: ${JSON.stringify(fit)}`);
    assert.equal(await page.getByRole('button', { name: 'Choose…' }).count(), 0, 'browser mode');
    const out = page.getByLabel(/Export to/);
    const file = join(home, 'neu-labels.csv');
    await out.fill('neu-labels.csv');
    await page
      .getByTestId('export-target')
      .filter({ hasText: 'is a relative path' })
      .filter({ hasText: file })
      .waitFor();
    assert.ok(await page.getByRole('button', { name: 'Export', exact: true }).isDisabled());
    await out.fill('~/neu-labels.csv');
    await page.locator(`[data-testid="export-target"][data-path="${file}"]`).waitFor();
    assert.equal(existsSync(file), false, 'nothing is written before the click');
    await screenshot(page, 'label-14-export-path');
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page
      .getByTestId('export-done')
      .filter({ hasText: `Exported 3 labels` })
      .filter({ hasText: file })
      .waitFor();
    assert.equal(parseCsv(readFileSync(file, 'utf8')).length, 4);
    assert.equal(existsSync(join(process.cwd(), '~')), false, 'no folder named ~');
    await screenshot(page, 'label-15-exported-home');
    assert.deepEqual(problems, [], events.slice(-20).join('\n'));
  });
});
