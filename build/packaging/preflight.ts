import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { headersCached, NeedsDownloadError, type ElectronBuildTarget } from './electronNative.ts';

/** Something packaging is about to download, and where from. */
export interface Download {
  what: string;
  url: string;
  /** Where a copy would have been found instead. */
  lookedIn: string;
}

/** The fields of electron-builder's `electronDownload` that decide where the zip comes from. */
export interface ElectronDownloadConfig {
  mirror?: string | null;
  customDir?: string | null;
  cache?: string | null;
}

/** The Electron zip's name, as electron-builder (app-builder) downloads and caches it. */
export const electronZipName = (t: ElectronBuildTarget) =>
  `electron-v${t.electronVersion}-${t.platform}-${t.arch}.zip`;

/** app-builder's download cache for Electron zips (ELECTRON_CACHE, else the per-user cache). */
export function electronCacheDir(
  config: ElectronDownloadConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (config?.cache) return config.cache;
  if (env.ELECTRON_CACHE) return env.ELECTRON_CACHE;
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'electron');
  if (platform === 'win32')
    return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'electron', 'Cache');
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'electron');
}

/** Is the zip in the cache folder, or one level down (@electron/get keeps one folder per URL)? */
export function zipCached(cacheDir: string, zip: string): boolean {
  if (existsSync(join(cacheDir, zip))) return true;
  try {
    return readdirSync(cacheDir).some((d) => existsSync(join(cacheDir, d, zip)));
  } catch {
    return false;
  }
}

export function electronZipUrl(
  t: ElectronBuildTarget,
  config: ElectronDownloadConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const mirror =
    config?.mirror ??
    env.ELECTRON_MIRROR ??
    env.NPM_CONFIG_ELECTRON_MIRROR ??
    env.npm_config_electron_mirror ??
    'https://github.com/electron/electron/releases/download/';
  const dir = config?.customDir ?? `v${t.electronVersion}`;
  return `${mirror.endsWith('/') ? mirror : `${mirror}/`}${dir}/${electronZipName(t)}`;
}

/**
 * Check an `electronDist` folder: the Electron inside must be the version installed, or every
 * native module would be built for the wrong one.
 */
export function checkElectronDist(dist: string, electronVersion: string): void {
  if (!existsSync(dist) || !statSync(dist).isDirectory())
    throw new Error(`electronDist ${dist} is not a folder`);
  const versionFile = join(dist, 'version');
  if (!existsSync(versionFile)) return; // a folder of Electron zips: electron-builder picks by name
  const found = readFileSync(versionFile, 'utf8').trim().replace(/^v/, '');
  if (found !== electronVersion)
    throw new Error(
      `electronDist ${dist} holds Electron ${found}, but node_modules has Electron ${electronVersion}: use a matching Electron, or install electron@${found}`,
    );
}

/** What packaging would download for this target, given what is already here. */
export function pendingDownloads(o: {
  target: ElectronBuildTarget;
  electronDist: string | undefined;
  download: ElectronDownloadConfig | undefined;
  /** Is the natively rebuilt module already cached (then no headers are needed)? */
  nativeCached: boolean;
  devDir: string;
  headersUrl: string;
  env?: NodeJS.ProcessEnv;
}): Download[] {
  const out: Download[] = [];
  const env = o.env ?? process.env;
  if (!o.electronDist) {
    const cache = electronCacheDir(o.download, env);
    if (!zipCached(cache, electronZipName(o.target)))
      out.push({
        what: `Electron ${o.target.electronVersion} for ${o.target.platform}-${o.target.arch}`,
        url: electronZipUrl(o.target, o.download, env),
        lookedIn: `not in the download cache ${cache}, and electronDist / ELECTRON_OVERRIDE_DIST_PATH is not set`,
      });
  }
  if (!o.nativeCached && !headersCached(o.devDir, o.target.electronVersion))
    out.push({
      what: `Electron ${o.target.electronVersion}'s headers, to rebuild better-sqlite3 for Electron (or a prebuilt better-sqlite3 from GitHub)`,
      url: `${o.headersUrl.replace(/\/$/, '')}/v${o.target.electronVersion}/node-v${o.target.electronVersion}-headers.tar.gz`,
      lookedIn: `not in ${o.devDir}`,
    });
  return out;
}

/** Can a TCP connection to the URL's host be opened? Resolves to the error text when not. */
export function reach(url: string, timeoutMs = 5000): Promise<string | null> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      resolve(`not a URL: ${url}`);
      return;
    }
    const port = Number(u.port) || (u.protocol === 'http:' ? 80 : 443);
    const socket = connect({ host: u.hostname, port });
    const done = (why: string | null) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () =>
      done(`no answer from ${u.hostname}:${port} in ${timeoutMs / 1000} s`),
    );
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(`${err.code ?? 'error'} ${u.hostname}:${port}`),
    );
  });
}

const PROXY_VARS = [
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'ALL_PROXY',
  'all_proxy',
];

/**
 * Stop before any work when packaging must download something and cannot: the message says what,
 * from where, and what to do. Behind a proxy the direct probe would say nothing useful, so the
 * downloads are left to try (and fail with their own message).
 */
export async function stopIfOffline(
  downloads: Download[],
  env: NodeJS.ProcessEnv = process.env,
  probe: (url: string) => Promise<string | null> = reach,
): Promise<void> {
  if (downloads.length === 0 || PROXY_VARS.some((v) => env[v])) return;
  const failures: string[] = [];
  for (const d of downloads) {
    const why = await probe(d.url);
    if (why) failures.push(`- ${d.what}\n      from ${d.url}\n      (${d.lookedIn}; ${why})`);
  }
  if (failures.length === 0) return;
  throw new NeedsDownloadError(
    [
      'Packaging stops here: it must download Electron and cannot reach the download server.',
      ...failures.map((f) => `  ${f}`),
      '  Everything before this step is done (configuration, the choice of native modules).',
      '  Connect this machine to the internet once (both downloads are cached afterwards), or',
      '  set electronDist (or ELECTRON_OVERRIDE_DIST_PATH) to an unpacked Electron of this version',
      '  and put its headers in the folder named above.',
    ].join('\n'),
  );
}
