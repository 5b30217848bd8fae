import { join } from 'node:path';
import {
  FuseV1Options,
  FuseVersion,
  flipFuses,
  getCurrentFuseWire,
  type FuseV1Config,
} from '@electron/fuses';

/** The fuse wire's bytes: '1' on, '0' off (@electron/fuses' FuseState, not exported by it). */
const ENABLE = 0x31;
const DISABLE = 0x30;

/**
 * Electron's fuses, switched in the packaged binary itself (so no argument or environment
 * variable turns them back on):
 * - RunAsNode off: `ELECTRON_RUN_AS_NODE=1 "DeepAL Studio" script.js` would run any script as a
 *   plain Node.js with the app's identity and signature.
 * - NODE_OPTIONS and `--inspect`-style arguments off: no code injected at start, no debugger
 *   attached to the main process.
 * - The app loads only from app.asar (a planted resources/app folder is not run instead).
 * - Cookies encrypted at rest with the OS keychain.
 */
export const FUSES: Readonly<Partial<Record<FuseV1Options, boolean>>> = {
  [FuseV1Options.RunAsNode]: false,
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  [FuseV1Options.EnableCookieEncryption]: true,
};

/**
 * The file whose fuses are flipped: the executable on Linux and Windows, the .app on macOS
 * (the fuses live in its Electron Framework).
 */
export function fusedBinary(
  appOutDir: string,
  platform: string,
  names: { productFilename: string; executableName: string },
): string {
  if (platform === 'darwin' || platform === 'mas')
    return join(appOutDir, `${names.productFilename}.app`);
  if (platform === 'win32') return join(appOutDir, `${names.productFilename}.exe`);
  return join(appOutDir, names.executableName);
}

/**
 * Flip the fuses and read them back; throws if any did not take. On macOS the ad-hoc signature is
 * renewed (arm64 refuses to run a modified unsigned binary); a real signature comes after this
 * step, when electron-builder signs.
 */
export async function hardenBinary(binary: string, platform: string): Promise<void> {
  const config = {
    version: FuseVersion.V1,
    resetAdHocDarwinSignature: platform === 'darwin' || platform === 'mas',
    ...FUSES,
  } as FuseV1Config;
  await flipFuses(binary, config);
  const wire = await getCurrentFuseWire(binary);
  const wrong = Object.entries(FUSES).filter(([option, on]) => {
    const state = (wire as unknown as Record<string, number | undefined>)[option];
    return state !== (on ? ENABLE : DISABLE);
  });
  if (wrong.length > 0)
    throw new Error(
      `The Electron fuses did not take in ${binary}: ${wrong.map(([o]) => FuseV1Options[Number(o)]).join(', ')}`,
    );
}
