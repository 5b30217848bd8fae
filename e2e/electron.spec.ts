import { test } from 'node:test';
import { detectElectron } from '../electron/main/electronBinary.ts';

/**
 * The same flow through the desktop shell with Playwright's Electron support needs the Electron
 * binary, which is downloaded at install time and absent on offline machines.
 */
const electron = detectElectron();
test(
  'desktop shell end to end (Playwright _electron)',
  { skip: electron.available ? false : `no Electron binary: ${electron.reason}` },
  async () => {
    const { _electron } = await import('playwright-core');
    const { buildElectron } = await import('../electron/main/build.ts');
    const { ensureRendererBuilt, ROOT } = await import('./helpers.ts');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    await ensureRendererBuilt();
    const main = await buildElectron(ROOT);
    const dir = mkdtempSync(join(tmpdir(), 'deepal-electron-'));
    const app = await _electron.launch({
      executablePath: electron.path!,
      args: [main, `--data-dir=${dir}`],
      env: { ...process.env, DEEPAL_ROOT: ROOT },
    });
    try {
      const page = await app.firstWindow();
      await page.locator('.shell[data-ready="true"]').waitFor();
      await page.locator('[data-view="home"][data-state="ready"]').waitFor();
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
