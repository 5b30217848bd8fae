import { homedir } from 'node:os';
import { join } from 'node:path';

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
