import { homedir } from 'node:os';
import { dirname, join, sep } from 'node:path';

export const APP_NAME = 'DeepAL Studio';

/**
 * The app's user-data folder, the same one Electron's app.getPath('userData') gives, so the CLI and
 * the app share one workspace by default. DEEPAL_HOME overrides it (tests, portable installs).
 */
export function userDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DEEPAL_HOME) return env.DEEPAL_HOME;
  if (process.platform === 'win32')
    return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), APP_NAME);
  if (process.platform === 'darwin')
    return join(homedir(), 'Library', 'Application Support', APP_NAME);
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), APP_NAME);
}

/** The default workspace database. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(userDataDir(env), 'workspace.db');
}

/**
 * The ML worker bundle beside the main bundle. In a packaged app main sits inside app.asar and the
 * worker is unpacked next to it (it loads its packages with plain Node file access), so the path
 * moves from `app.asar` to `app.asar.unpacked`.
 */
export function workerEntry(mainBundle: string): string {
  const file = join(dirname(mainBundle), 'ml.worker.mjs');
  const asar = `${sep}app.asar${sep}`;
  return file.includes(asar) ? file.replace(asar, `${sep}app.asar.unpacked${sep}`) : file;
}

/**
 * The app's runtime resources (the repository's resources/ folder, shipped beside app.asar through
 * electron-builder's extraResources).
 */
export function appResourcesDir(packaged: boolean, resourcesPath: string, root: string): string {
  return packaged ? resourcesPath : join(root, 'resources');
}
