/**
 * The results page's figures, exported by the product itself: the committed reports are loaded
 * into a throwaway workspace, the app is served in browser mode, and Debian's chromium (through
 * playwright-core) clicks the dashboards' own "Export PNG" buttons. So the figures are exactly
 * what a person sees in the app, from the same numbers as the tables.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { CHROMIUM, ensureRendererBuilt, launchChromium } from '../../e2e/helpers.ts';
import { startBrowserMode } from '../browser/serve.ts';
import { openStore } from '../store/store.ts';
import { inGroup } from './plan.ts';
import { ablationReport, type Figure, type StudyResult } from './results.ts';

/** Load reports into a new workspace database as finished studies; returns their ids by key. */
function seedWorkspace(dataDir: string, results: readonly StudyResult[]): Map<string, number> {
  mkdirSync(dataDir, { recursive: true });
  const store = openStore(join(dataDir, 'workspace.db'));
  const ids = new Map<string, number>();
  try {
    for (const r of results) {
      const report = r.report!;
      const id = store.createStudy({
        name: r.planned.title,
        datasetSpec: report.config.dataset,
        config: report.config,
      });
      for (const run of report.runs) {
        const row = store.ensureRun({
          studyId: id,
          strategy: run.strategy,
          repeat: run.repeat,
          seed: run.seed,
        });
        for (const p of run.curve)
          store.recordRound({ runId: row.id, ...p, loss: p.loss ?? Number.NaN, selected: [] });
        store.setRunStatus(row.id, run.complete ? 'done' : 'cancelled');
      }
      store.setStudyStatus(id, r.state === 'complete' ? 'done' : 'cancelled');
      ids.set(r.planned.key, id);
    }
  } finally {
    store.close();
  }
  return ids;
}

async function download(page: Page, button: string, file: string): Promise<void> {
  const [d] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: button, exact: true }).click(),
  ]);
  await d.saveAs(file);
}

/** One browser-mode server over a workspace holding `results`, and a page on it. */
async function withApp(
  results: readonly StudyResult[],
  fn: (page: Page, ids: Map<string, number>) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'deepal-figures-'));
  const ids = seedWorkspace(join(dir, 'home'), results);
  const server = await startBrowserMode({
    dataDir: join(dir, 'home'),
    rendererDir: await ensureRendererBuilt(),
    reason: 'exporting the results page figures',
  });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({
      viewport: { width: 1360, height: 900 },
      acceptDownloads: true,
    });
    const page = await context.newPage();
    await page.goto(server.host.url);
    await page.locator('.shell[data-ready="true"]').waitFor();
    await fn(page, ids);
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Export the accuracy-budget chart of every complete main study and the AUBC-against-setting
 * chart of each ablation whose studies are complete. Returns the files (relative to `dir`) and
 * notes on what could not be exported and why.
 */
export async function exportFigures(
  results: readonly StudyResult[],
  dir: string,
): Promise<{ figures: Figure[]; notes: string[] }> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  if (!existsSync(CHROMIUM)) {
    return {
      figures,
      notes: [`No figures: ${CHROMIUM} is missing (apt-get install chromium).`],
    };
  }
  mkdirSync(dir, { recursive: true });

  const main = results.filter((r) => r.planned.group === 'main' && r.state === 'complete');
  const notMain = results.filter((r) => r.planned.group === 'main' && r.state !== 'complete');
  if (notMain.length)
    notes.push(
      `No accuracy-budget figure yet for ${notMain.map((r) => r.planned.key).join(', ')} (not complete).`,
    );
  if (main.length) {
    await withApp(main, async (page, ids) => {
      for (const r of main) {
        await page.getByRole('button', { name: 'Home', exact: true }).click();
        await page.getByRole('button', { name: `Compare study ${ids.get(r.planned.key)}` }).click();
        await page.locator('[data-view="dashboard"][data-state="ready"]').waitFor();
        const file = `${r.planned.key}-accuracy-budget.png`;
        await download(page, 'Export accuracy-budget chart as PNG', join(dir, file));
        figures.push({
          file,
          caption: `${r.planned.title}: mean accuracy-budget curves (± std band)`,
          group: r.planned.key,
        });
      }
    });
  }

  for (const group of ['ablation-epochs', 'ablation-batch'] as const) {
    const all = results.filter((r) => inGroup(r.planned).includes(group));
    const done = all.filter((r) => r.state === 'complete');
    if (all.length === 0) continue;
    if (done.length < 2) {
      notes.push(
        `No ${group} figure yet: ${done.length} of ${all.length} studies complete (at least 2 needed).`,
      );
      continue;
    }
    const short = group === 'ablation-epochs' ? 'epochs' : 'batch size';
    // A main study serving as the ablations' point contributes only the ablation's strategies.
    const seen = done.map((r) => ({ ...r, report: ablationReport(r, group) }));
    await withApp(seen, async (page) => {
      await page.getByRole('button', { name: 'Ablation', exact: true }).click();
      await page.locator('[data-view="ablation"][data-state="ready"]').waitFor();
      for (const metric of ['AUBC', 'F-acc'] as const) {
        await page.getByRole('radio', { name: metric, exact: true }).check();
        await page.getByRole('heading', { name: `${metric} against ${short}` }).waitFor();
        const file = `${group}-${metric === 'AUBC' ? 'aubc' : 'facc'}.png`;
        await download(page, `Export ${metric} against ${short} chart as PNG`, join(dir, file));
        figures.push({
          file,
          caption: `${metric} against ${short} (mean ± std over repeats)${done.length < all.length ? `, ${done.length} of ${all.length} settings complete` : ''}`,
          group,
        });
      }
    });
  }
  return { figures, notes };
}
