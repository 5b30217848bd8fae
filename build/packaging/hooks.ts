import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Arch } from 'electron-builder';
import type { AfterPackContext, BeforePackContext } from 'app-builder-lib';
import {
  cachedBuild,
  defaultDevDir,
  ELECTRON_HEADERS_URL,
  NeedsDownloadError,
  rebuildForElectron,
  type ElectronBuildTarget,
} from './electronNative.ts';
import { fusedBinary, hardenBinary } from './fuses.ts';
import { checkElectronDist, pendingDownloads, stopIfOffline } from './preflight.ts';
import { ELECTRON_REBUILD, WORKER_BUNDLE } from './runtime.ts';
import { packageProblems } from './verify.ts';

/**
 * electron-builder's hooks (electron-builder.yml: beforePack, afterPack; loaded through
 * hooks.mjs). electron-builder's own native rebuild is off (npmRebuild: false): it rebuilds every
 * native module in place, in the project's node_modules, so it failed on tfjs-node-gpu wherever
 * libtensorflow was not downloaded, and it would have switched better-sqlite3 to Electron's ABI
 * under the CLI and the tests. Here:
 *
 * - beforePack: stop at once, with what and from where, when Electron or its headers must be
 *   downloaded and cannot be; then build better-sqlite3 for Electron in a copy (cached).
 * - afterPack: put that build into the package, check the package's contents, load the native
 *   modules with the packaged Electron, then switch its fuses off (fuses.ts).
 */

/** Built modules per `${platform}-${arch}`, from beforePack to afterPack. */
const builtModules = new Map<string, Record<string, string>>();

function targetOf(ctx: BeforePackContext): ElectronBuildTarget & { projectDir: string } {
  const { packager } = ctx;
  const electronVersion = packager.config.electronVersion || packager.info.framework.version;
  const platform = (
    ctx.electronPlatformName === 'mas' ? 'darwin' : ctx.electronPlatformName
  ) as NodeJS.Platform;
  return { electronVersion, platform, arch: Arch[ctx.arch], projectDir: packager.projectDir };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * electron-builder prints an InvalidConfigurationError as its message alone; anything else gets
 * the message again inside a stack trace. A stop for a download is a sentence for a person.
 */
function asPlainStop(err: unknown): unknown {
  if (!(err instanceof NeedsDownloadError)) return err;
  const require = createRequire(import.meta.url);
  const fromBuilder = createRequire(require.resolve('electron-builder'));
  const { InvalidConfigurationError } = fromBuilder('builder-util') as {
    InvalidConfigurationError: new (message: string) => Error;
  };
  return new InvalidConfigurationError(err.message);
}

export async function beforePack(ctx: BeforePackContext): Promise<void> {
  try {
    await prepareNative(ctx);
  } catch (err) {
    throw asPlainStop(err);
  }
}

/**
 * electron-builder's dependency step: resolving false tells it node_modules is handled here (no
 * in-place rebuild, no copy by its own collector; config.ts lists the packages in `files`).
 */
export async function beforeBuild(): Promise<boolean> {
  return false;
}

async function prepareNative(ctx: BeforePackContext): Promise<void> {
  const target = targetOf(ctx);
  const env = process.env;
  const config = ctx.packager.config;
  const dist =
    typeof config.electronDist === 'string'
      ? isAbsolute(config.electronDist)
        ? config.electronDist
        : resolve(target.projectDir, config.electronDist)
      : undefined;
  if (dist) checkElectronDist(dist, target.electronVersion);

  const cacheDir =
    env.DEEPAL_NATIVE_CACHE ??
    join(target.projectDir, 'node_modules', '.cache', 'deepal-electron-native');
  const devDir = defaultDevDir(env);
  const headersUrl = env.DEEPAL_ELECTRON_HEADERS_URL ?? ELECTRON_HEADERS_URL;

  sharpBinaryInstalled(target);

  const rebuildOptions = (moduleName: string, binary: string) => ({
    ...target,
    moduleName,
    binary,
    cacheDir,
    devDir,
    headersUrl,
    log,
  });
  await stopIfOffline(
    pendingDownloads({
      target,
      electronDist: dist ?? (typeof config.electronDist === 'function' ? 'custom' : undefined),
      download: config.electronDownload ?? undefined,
      nativeCached: Object.entries(ELECTRON_REBUILD).every(
        ([moduleName, binary]) => cachedBuild(rebuildOptions(moduleName, binary)) !== null,
      ),
      devDir,
      headersUrl,
    }),
  );
  const built: Record<string, string> = {};
  for (const [moduleName, binary] of Object.entries(ELECTRON_REBUILD))
    built[moduleName] = await rebuildForElectron(rebuildOptions(moduleName, binary));
  builtModules.set(`${target.platform}-${target.arch}`, built);
}

/** sharp loads a prebuilt binary for the platform; it must be installed for the target. */
function sharpBinaryInstalled(t: ElectronBuildTarget & { projectDir: string }): void {
  const variants = t.platform === 'linux' ? ['linux', 'linuxmusl'] : [t.platform];
  const found = variants.some((v) =>
    existsSync(join(t.projectDir, 'node_modules', '@img', `sharp-${v}-${t.arch}`, 'package.json')),
  );
  if (!found)
    throw new Error(
      `sharp has no binary for ${t.platform}-${t.arch} installed (@img/sharp-${t.platform}-${t.arch}); on the packaging machine run: npm install --os=${t.platform} --cpu=${t.arch} sharp`,
    );
}

export async function afterPack(ctx: AfterPackContext): Promise<void> {
  const target = targetOf(ctx);
  const { packager, appOutDir } = ctx;
  const productFilename = packager.appInfo.productFilename;
  const mac = target.platform === 'darwin';
  const resources = mac
    ? join(appOutDir, `${productFilename}.app`, 'Contents', 'Resources')
    : join(appOutDir, 'resources');

  const built = builtModules.get(`${target.platform}-${target.arch}`);
  if (!built) throw new Error('afterPack ran without beforePack: no native modules were built');
  for (const [moduleName, binary] of Object.entries(ELECTRON_REBUILD)) {
    const dest = join(
      resources,
      'app.asar.unpacked',
      'node_modules',
      moduleName,
      ...binary.split('/'),
    );
    if (!existsSync(dirname(dest)))
      throw new Error(`${moduleName} is not unpacked in ${resources} (asarUnpack)`);
    copyFileSync(built[moduleName]!, dest);
  }

  const problems = packageProblems(resources);
  if (problems.length > 0)
    throw new Error(
      `The packaged app in ${appOutDir} is not right:\n  - ${problems.join('\n  - ')}`,
    );

  const executableName =
    'executableName' in packager
      ? String((packager as { executableName: string }).executableName)
      : productFilename;
  const names = { productFilename, executableName };
  const exe = mac
    ? join(appOutDir, `${productFilename}.app`, 'Contents', 'MacOS', productFilename)
    : fusedBinary(appOutDir, target.platform, names);
  // The native modules must load in this Electron; checked through its Node mode, so before the
  // fuses turn that mode off. Only where this machine can run the target's binary.
  if (target.platform === process.platform && target.arch === process.arch) {
    const unpacked = join(resources, 'app.asar.unpacked');
    const modules = join(unpacked, 'node_modules');
    // The ML worker as the app starts it (from the unpacked bundle), asked for its backend: it
    // loads tfjs and the wasm backend from the package alone.
    const script = [
      `const D = require(${JSON.stringify(join(modules, 'better-sqlite3'))});`,
      `if (new D(':memory:').prepare('select 41 + 1 as x').get().x !== 42) throw new Error('better-sqlite3 answered wrong');`,
      `require(${JSON.stringify(join(modules, 'sharp'))});`,
      `const w = new (require('node:worker_threads').Worker)(${JSON.stringify(join(unpacked, ...WORKER_BUNDLE.split('/')))});`,
      `const fail = (why) => { console.error(why); process.exit(1); };`,
      `w.on('error', (e) => fail(e.stack || String(e)));`,
      `w.on('message', (m) => { if (m.type === 'done') { console.log(m.value.backend); process.exit(0); } if (m.type === 'error') fail(m.message); });`,
      `w.postMessage({ type: 'start', jobId: 1, job: { kind: 'backend' } });`,
      `setTimeout(() => fail('the ML worker did not answer in 60 s'), 60000).unref();`,
    ].join('\n');
    const r = spawnSync(exe, ['-e', script], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      encoding: 'utf8',
      timeout: 90_000,
    });
    if (r.status !== 0)
      throw new Error(
        `The packaged app's native modules or ML worker do not load in its Electron (${exe}): ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(0, 6).join(' | ')}`,
      );
    log(
      `  • deepal: in the packaged Electron, better-sqlite3 and sharp load and the ML worker starts (backend: ${r.stdout.trim()})`,
    );
  } else {
    log(
      `  • deepal: not loading the native modules here (this machine is ${process.platform}-${process.arch})`,
    );
  }

  await hardenBinary(fusedBinary(appOutDir, target.platform, names), target.platform);
  log(
    '  • deepal: fuses set: RunAsNode, NODE_OPTIONS and inspect arguments off; app only from app.asar; cookies encrypted',
  );
}
