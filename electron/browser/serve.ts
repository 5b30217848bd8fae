import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServices, type Services } from '../services/services.ts';
import { startHost, type Host } from './host.ts';

export interface BrowserModeOptions {
  dataDir: string;
  rendererDir: string;
  /** Why not the desktop shell, shown in the app and printed. */
  reason: string;
  port?: number;
  /** What `~` in a typed path names (tests give a temporary folder). */
  homeDir?: string;
}

/** Start services and the loopback host; returns the host and a clean stop function. */
export async function startBrowserMode(
  opts: BrowserModeOptions,
): Promise<{ host: Host; services: Services; stop(): Promise<void> }> {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const services = createServices({
    dataDir: opts.dataDir,
    dbPath: join(opts.dataDir, 'workspace.db'),
    mode: 'browser',
    modeReason: opts.reason,
    version: pkg.version,
    ...(opts.homeDir ? { homeDir: opts.homeDir } : {}),
  });
  const host = await startHost({
    services,
    root: opts.rendererDir,
    ...(opts.port ? { port: opts.port } : {}),
  });
  let stopping: Promise<void> | null = null;
  return {
    host,
    services,
    stop() {
      stopping ??= (async () => {
        await host.close();
        await services.close();
      })();
      return stopping;
    },
  };
}
