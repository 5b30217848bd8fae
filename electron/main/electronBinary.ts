import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface ElectronAvailability {
  available: boolean;
  /** Path of the Electron executable when available. */
  path?: string;
  version?: string;
  /** Why not, when unavailable. */
  reason?: string;
}

const require = createRequire(import.meta.url);

/**
 * Is a runnable Electron binary installed? The npm package can be absent (its optional install
 * failed offline) or present without its downloaded binary; both mean browser mode.
 */
export function detectElectron(): ElectronAvailability {
  let version: string | undefined;
  try {
    version = (require('electron/package.json') as { version: string }).version;
  } catch {
    return {
      available: false,
      reason: 'the electron package is not installed (its download needs the internet)',
    };
  }
  const missing = {
    available: false,
    version,
    reason:
      'the Electron binary was not downloaded (it needs the internet; run `node node_modules/electron/install.js` when online)',
  };
  try {
    // The package's main export is the binary's path, and throws when the download never happened.
    const path = require('electron') as unknown;
    if (typeof path === 'string' && existsSync(path)) return { available: true, path, version };
    return missing;
  } catch {
    return missing;
  }
}
