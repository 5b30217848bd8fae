import { writeFileSync } from 'node:fs';
import type { BrowserWindow } from 'electron';
import type { Services } from '../services/services.ts';

/**
 * `--smoke-report=FILE`: the packaging smoke test (build/packaging.smoke.test.ts) starts the
 * packaged app with it. Playwright cannot drive a packaged build (the fuses turn off the Node
 * inspector it connects through), so the app reports for itself: once its home screen is ready
 * and the ML worker has named its backend, or the time is up, it writes what it saw and quits.
 */
export function smokeReportPath(argv: readonly string[]): string | null {
  const arg = argv.find((a) => a.startsWith('--smoke-report='));
  return arg ? arg.slice('--smoke-report='.length) : null;
}

export interface SmokeReport {
  ok: boolean;
  /** The home view rendered and marked itself ready. */
  home: boolean;
  heading: string | null;
  /** The ML worker's backend, as app:info gives it (proves the bundled worker started). */
  backend: string | null;
  packaged: boolean;
  waitedMs: number;
  problem?: string;
}

const HOME_STATE = `(() => ({
  home: !!document.querySelector('.shell[data-ready="true"]') &&
    !!document.querySelector('[data-view="home"][data-state="ready"]'),
  heading: document.querySelector('h1, h2')?.textContent?.trim() ?? null,
}))()`;

export async function writeSmokeReport(
  win: BrowserWindow,
  services: Services,
  file: string,
  packaged: boolean,
  timeoutMs = 120_000,
): Promise<SmokeReport> {
  const started = Date.now();
  let report: SmokeReport = {
    ok: false,
    home: false,
    heading: null,
    backend: null,
    packaged,
    waitedMs: 0,
  };
  while (Date.now() - started < timeoutMs && !win.isDestroyed()) {
    try {
      const page = (await win.webContents.executeJavaScript(HOME_STATE)) as {
        home: boolean;
        heading: string | null;
      };
      const info = await services.invoke('app:info', {});
      const backend =
        info.ok && info.value && typeof info.value === 'object' && 'backend' in info.value
          ? ((info.value as { backend: string | null }).backend ?? null)
          : null;
      report = { ...report, ...page, backend };
      if (page.home && backend) break;
    } catch (err) {
      report.problem = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  report.waitedMs = Date.now() - started;
  report.ok = report.home && report.backend !== null;
  if (!report.ok && !report.problem)
    report.problem = report.home
      ? 'the ML worker named no backend in time'
      : 'the home screen did not become ready in time';
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
