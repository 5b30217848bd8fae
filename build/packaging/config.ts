import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPackageDir, runtimeClosure } from './dependencies.ts';
import { probeOptionalNative, type OptionalNativeStatus } from './optionalNative.ts';
import {
  LAZY_RUNTIME_PACKAGES,
  OPTIONAL_NATIVE_BACKENDS,
  PLATFORM_BINARIES,
  RUNTIME_PACKAGES,
  WORKER_BUNDLE,
} from './runtime.ts';

/**
 * The part of the electron-builder configuration that depends on the machine: which optional
 * native backends exist, which installed packages the app loads, and where a local Electron is.
 * electron-builder.yml `extends` it (build/packaging/config.mjs); everything static stays in the
 * YAML file.
 */
export interface DynamicConfig {
  /** The node_modules patterns, merged before the YAML's `files`. */
  files: string[];
  asarUnpack: string[];
  electronDist?: string;
}

export interface DynamicConfigInputs {
  projectDir: string;
  env?: NodeJS.ProcessEnv;
  probe?: (name: string, projectDir: string) => OptionalNativeStatus;
  log?: (line: string) => void;
}

/**
 * An unpacked Electron to package instead of downloading one: `ELECTRON_OVERRIDE_DIST_PATH` (as the
 * electron package and the e2e specs use it), else the binary `npm install` downloaded into
 * node_modules/electron/dist when its version is the one installed.
 */
export function localElectronDist(
  projectDir: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (env.ELECTRON_OVERRIDE_DIST_PATH) return env.ELECTRON_OVERRIDE_DIST_PATH;
  const dist = join(projectDir, 'node_modules', 'electron', 'dist');
  try {
    const installed = (
      JSON.parse(
        readFileSync(join(projectDir, 'node_modules', 'electron', 'package.json'), 'utf8'),
      ) as { version: string }
    ).version;
    const unpacked = readFileSync(join(dist, 'version'), 'utf8').trim().replace(/^v/, '');
    return unpacked === installed ? dist : undefined;
  } catch {
    return undefined;
  }
}

export function dynamicConfig({
  projectDir,
  env = process.env,
  probe = probeOptionalNative,
  log = (line) => process.stderr.write(`${line}\n`),
}: DynamicConfigInputs): DynamicConfig {
  const optional = OPTIONAL_NATIVE_BACKENDS.map((name) => probe(name, projectDir));
  for (const o of optional) {
    if (o.include) log(`  • deepal: packaging ${o.name} (it loads here)`);
    else if (o.reason !== 'not installed')
      log(`  • deepal: leaving out ${o.name}, ${o.reason}; the app will train on wasm`);
  }
  const lazy = LAZY_RUNTIME_PACKAGES.filter((name) => findPackageDir(name, projectDir, projectDir));
  const roots = [
    ...RUNTIME_PACKAGES,
    ...lazy,
    ...optional.filter((o) => o.include).map((o) => o.name),
  ];
  const closure = runtimeClosure(projectDir, roots);
  const kept = new Set(closure.map((p) => p.name));
  // Other platforms' and architectures' binaries: electron-builder expands ${platform} and ${arch}
  // to the target's (linux|darwin|win32, x64|arm64...).
  const otherTargets = Object.entries(PLATFORM_BINARIES)
    .filter(([name]) => kept.has(name))
    .flatMap(([name, folder]) => [
      `!node_modules/${name}/${folder}/!(\${platform}){,/**/*}`,
      `!node_modules/${name}/${folder}/\${platform}/!(\${arch}){,/**/*}`,
    ]);
  const electronDist = localElectronDist(projectDir, env);
  if (electronDist && !existsSync(electronDist))
    throw new Error(`ELECTRON_OVERRIDE_DIST_PATH=${electronDist} does not exist`);
  if (electronDist) log(`  • deepal: packaging the local Electron in ${electronDist}`);
  return {
    // node_modules is copied here, not by electron-builder (hooks.ts beforeBuild): exactly the
    // packages the bundles load and what they need, in the project's own layout, which is the
    // layout Node resolves. electron-builder 25's own collector moved @tensorflow/tfjs-core under
    // @tensorflow/tfjs/node_modules, out of reach of tfjs-backend-cpu and -wasm, whose peer it is.
    // Everything else stays out: the CLI's tsx and esbuild (no TypeScript compiler in an
    // installer), the renderer's libraries (vite bundled them), Electron's npm wrapper, and the
    // optional backends that do not load.
    files: [...closure.map((p) => `${p.rel}/**/*`), ...otherTargets],
    // The ML worker runs outside the asar archive and loads its packages with plain Node file
    // access, like the native modules and tfjs' wasm files that cannot load from inside it.
    asarUnpack: [WORKER_BUNDLE, 'node_modules/**/*'],
    ...(electronDist ? { electronDist } : {}),
  };
}
