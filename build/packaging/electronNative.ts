import { spawn } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';

const require = createRequire(import.meta.url);

/** Where Electron's headers come from, as electron-builder and @electron/rebuild fetch them. */
export const ELECTRON_HEADERS_URL = 'https://electronjs.org/headers';

/** A step that needs the internet and could not reach it: packaging stops with this message. */
export class NeedsDownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NeedsDownloadError';
  }
}

export interface ElectronBuildTarget {
  electronVersion: string;
  platform: NodeJS.Platform;
  arch: string;
}

export interface RebuildOptions extends ElectronBuildTarget {
  projectDir: string;
  moduleName: string;
  /** The built file inside the module (`build/Release/better_sqlite3.node`). */
  binary: string;
  /** Keeps each built module per version, Electron, platform and arch. */
  cacheDir: string;
  /** node-gyp's header folder (electron-builder's default: ~/.electron-gyp). */
  devDir: string;
  headersUrl: string;
  log: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** node-gyp's default header folder for Electron builds, shared with electron-builder. */
export function defaultDevDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DEEPAL_ELECTRON_GYP_DIR ?? join(homedir(), '.electron-gyp');
}

/** Have Electron's headers for this version been downloaded into `devDir` before? */
export function headersCached(devDir: string, electronVersion: string): boolean {
  return existsSync(join(devDir, electronVersion, 'include', 'node', 'node_version.h'));
}

/** Electron's module ABI (NODE_MODULE_VERSION), from node-abi as @electron/rebuild uses it. */
export function electronAbi(electronVersion: string): string | null {
  try {
    const fromRebuild = createRequire(require.resolve('@electron/rebuild/package.json'));
    const nodeAbi = fromRebuild('node-abi') as {
      getAbi(target: string, runtime: string): string;
    };
    return nodeAbi.getAbi(electronVersion, 'electron');
  } catch {
    return null;
  }
}

/**
 * The ABI a V8 native module was built for, read from the registration symbol Node's module
 * macros export (`node_register_module_v143`): the same in ELF, PE and Mach-O files.
 */
export function moduleAbi(file: string): string | null {
  const m = /node_register_module_v(\d+)/.exec(readFileSync(file).toString('latin1'));
  return m ? m[1]! : null;
}

/**
 * The environment for building against Electron's headers. npm passes its configuration down as
 * `npm_config_*` variables, and a `nodedir` there (this machine's ~/.npmrc sets
 * `nodedir=/usr` for offline builds) makes node-gyp compile against the local Node.js headers
 * instead: the build "succeeds" offline and yields a module for Node's ABI (v115 for Node 20)
 * that Electron (v143 for Electron 40) refuses to load. So nodedir never reaches these builds.
 */
export function electronBuildEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env))
    if (!/^npm_config_(nodedir|node_gyp|target|runtime|disturl|devdir|build_from_source)$/i.test(k))
      out[k] = v;
  return out;
}

const NETWORK =
  /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|getaddrinfo|socket hang up|self[- ]signed certificate/i;

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ code: -1, output: `${output}\n${err.message}` }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The lines of a tool's output that say what went wrong (else its last lines). */
function keyLines(output: string, n = 4): string {
  const lines = output
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0);
  const telling = lines.filter(
    (l) =>
      (NETWORK.test(l) || /error|warn install|not found|fatal/i.test(l)) &&
      !/^gyp ERR! stack\s+at /.test(l),
  );
  return (telling.length > 0 ? telling.slice(0, n) : lines.slice(-n)).join('\n    ');
}

type CacheKey = Pick<
  RebuildOptions,
  'projectDir' | 'moduleName' | 'binary' | 'cacheDir' | 'electronVersion' | 'platform' | 'arch'
>;

function cacheEntry(o: CacheKey) {
  const moduleDir = join(o.projectDir, 'node_modules', ...o.moduleName.split('/'));
  const version = (
    JSON.parse(readFileSync(join(moduleDir, 'package.json'), 'utf8')) as { version: string }
  ).version;
  const key = `${o.moduleName.replace('/', '+')}@${version}-electron-${o.electronVersion}-${o.platform}-${o.arch}`;
  const cached = join(o.cacheDir, key, o.binary.split('/').at(-1)!);
  const abi = electronAbi(o.electronVersion);
  const abiProblem = (file: string): string | null => {
    if (!abi) return null;
    const built = moduleAbi(file);
    return built === abi
      ? null
      : `it was built for module ABI ${built ?? 'unknown'}, Electron ${o.electronVersion} needs ${abi}`;
  };
  return { moduleDir, version, key, cached, abiProblem };
}

/** The module already built for this Electron, platform and arch, if the cache has it. */
export function cachedBuild(o: CacheKey): string | null {
  const { cached, abiProblem } = cacheEntry(o);
  return existsSync(cached) && !abiProblem(cached) ? cached : null;
}

/**
 * Build `moduleName` for Electron in a copy of it, never in the project's node_modules: the CLI and
 * the tests keep using the Node.js build there while packaging runs. The result is cached per
 * module version, Electron version, platform and arch, and its ABI is checked. A prebuilt binary is
 * tried first (prebuild-install, as the module's own install does), then node-gyp against
 * Electron's headers. Returns the built file.
 */
export async function rebuildForElectron(o: RebuildOptions): Promise<string> {
  const { moduleDir, version, cached, abiProblem } = cacheEntry(o);
  if (existsSync(cached) && !abiProblem(cached)) {
    o.log(
      `  • deepal: ${o.moduleName} for Electron ${o.electronVersion} (${o.platform}-${o.arch}) from the cache ${cached}`,
    );
    return cached;
  }

  mkdirSync(o.cacheDir, { recursive: true });
  const stage = mkdtempSync(join(o.cacheDir, 'stage-'));
  try {
    const copy = join(stage, o.moduleName.replace('/', '+'));
    // The sources without the Node.js build.
    cpSync(moduleDir, copy, {
      recursive: true,
      filter: (src) => {
        const rel = relative(moduleDir, src).split(sep).join('/');
        return rel !== 'build' && !rel.startsWith('build/');
      },
    });
    const env = electronBuildEnv(o.env ?? process.env);
    const fromModule = createRequire(join(moduleDir, 'package.json'));
    const attempts: string[] = [];

    o.log(
      `  • deepal: rebuilding ${o.moduleName} ${version} for Electron ${o.electronVersion} (${o.platform}-${o.arch}) in ${copy}`,
    );
    let prebuild: string | null = null;
    try {
      prebuild = fromModule.resolve('prebuild-install/bin.js');
    } catch {
      attempts.push('prebuild-install is not installed');
    }
    if (prebuild) {
      const r = await run(
        process.execPath,
        [
          prebuild,
          '--runtime=electron',
          `--target=${o.electronVersion}`,
          `--arch=${o.arch}`,
          `--platform=${o.platform}`,
          '--tag-prefix=v',
          '--verbose',
        ],
        copy,
        env,
      );
      if (r.code !== 0)
        attempts.push(`prebuilt binary (prebuild-install): ${keyLines(r.output, 3)}`);
    }
    const built = join(copy, ...o.binary.split('/'));
    if (!existsSync(built)) {
      if (o.platform !== process.platform)
        throw new Error(
          `${o.moduleName} has no prebuilt binary for Electron ${o.electronVersion} on ${o.platform}-${o.arch}, and node-gyp cannot compile for another platform: build the ${o.platform} installer on ${o.platform}.\n    ${attempts.join('\n    ')}`,
        );
      const nodeGyp = createRequire(require.resolve('@electron/rebuild/package.json')).resolve(
        'node-gyp/bin/node-gyp.js',
      );
      const r = await run(
        process.execPath,
        [
          nodeGyp,
          'rebuild',
          '--release',
          '--runtime=electron',
          `--target=${o.electronVersion}`,
          `--arch=${o.arch}`,
          `--dist-url=${o.headersUrl}`,
          `--devdir=${o.devDir}`,
          '--jobs=max',
        ],
        copy,
        env,
      );
      if (r.code !== 0 || !existsSync(built)) {
        attempts.push(`node-gyp against Electron's headers: ${keyLines(r.output)}`);
        const detail = attempts.join('\n    ');
        if (!headersCached(o.devDir, o.electronVersion) && NETWORK.test(r.output))
          throw new NeedsDownloadError(
            `Rebuilding ${o.moduleName} for Electron ${o.electronVersion} must download Electron's headers (${o.headersUrl}/v${o.electronVersion}) or a prebuilt ${o.moduleName}, and could not reach them. Connect to the internet once: the headers are kept in ${o.devDir} and the build in ${o.cacheDir}.\n    ${detail}`,
          );
        throw new Error(
          `Rebuilding ${o.moduleName} for Electron ${o.electronVersion} failed (it needs Python 3 and a C++ compiler when no prebuilt binary is found).\n    ${detail}`,
        );
      }
    }
    const problem = abiProblem(built);
    if (problem) throw new Error(`The ${o.moduleName} built for Electron is unusable: ${problem}`);
    mkdirSync(dirname(cached), { recursive: true });
    copyFileSync(built, `${cached}.partial`);
    renameSync(`${cached}.partial`, cached);
    return cached;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
