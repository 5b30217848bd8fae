import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { AppEvent, DatasetSummary } from '../shared/contract.ts';
import { startBrowserMode } from '../electron/browser/serve.ts';
import { listBackups } from '../electron/store/backup.ts';
import { writeCsv } from './fixtures.ts';
import { chromiumMissing, ensureRendererBuilt, guardPage, launchChromium } from './helpers.ts';

const skip = chromiumMissing();

/**
 * The Backups card on Home: back up now, then restore that backup after a dataset was imported;
 * the confirmation says the current database is saved first, the app reloads its data (the
 * dataset imported after the backup is gone from the list) and the safety copy is listed.
 */
describe('backups in the browser', { skip: skip ?? false, timeout: 180_000 }, () => {
  let dir: string;
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startBrowserMode>>;
  const events: AppEvent[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-e2e-backups-'));
    const rendererDir = await ensureRendererBuilt();
    server = await startBrowserMode({ dataDir: join(dir, 'home'), rendererDir, reason: 'e2e' });
    server.services.onEvent((e) => events.push(e));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('back up now, import, restore: the import is undone and the current state kept', async () => {
    const page = await (await browser.newContext()).newPage();
    const { problems } = guardPage(page);
    await page.goto(server.host.url);
    await page.locator('.shell[data-ready="true"]').waitFor();
    const card = page.locator('[data-section="backups"]');
    // The on-open backup shows up once the store is opened by the Home view's calls.
    await card.getByRole('button', { name: 'Back up now' }).click();
    await page.locator('.toast', { hasText: /Backed up to/ }).waitFor();
    const items = card.locator('[data-backup]');
    await items.first().waitFor();
    const dbPath = join(dir, 'home', 'workspace.db');
    const manual = listBackups(dbPath).find((b) => b.reason === 'manual');
    assert.ok(manual, 'the manual backup is on disk');

    // A change after the backup: a dataset imported through the same services.
    const csv = join(dir, 'tab.csv');
    writeCsv(csv, 60, ['x', 'y']);
    const r = await server.services.invoke('datasets:import', { path: csv, name: 'after backup' });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal((r.value as DatasetSummary).name, 'after backup');
    await page.reload();
    await page.locator('.shell[data-ready="true"]').waitFor();
    await page.getByText('after backup').first().waitFor();

    const row = card.locator(`[data-backup="${manual.name}"]`);
    await row.getByRole('button', { name: /^Restore the backup of/ }).click();
    await row.getByText('The current one is saved as a backup first.').waitFor();
    await row.getByRole('button', { name: 'Restore', exact: true }).click();
    // The page reloads itself on backup-restored and says what happened.
    await page.locator('.toast', { hasText: `Restored ${manual.name}.` }).waitFor();
    await page.locator('.shell[data-ready="true"]').waitFor();
    assert.equal(await page.getByText('after backup').count(), 0, 'the later import is undone');
    await card.locator('[data-backup]', { hasText: 'saved before a restore' }).waitFor();
    const restored = events.find((e) => e.kind === 'backup-restored');
    assert.ok(restored && restored.kind === 'backup-restored' && restored.safetyCopy);
    assert.deepEqual(problems, []);
  });
});
