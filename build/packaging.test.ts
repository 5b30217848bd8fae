import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The electron-builder configuration as electron-builder itself loads it (electron-builder.yml and
 * the machine-dependent part it extends, build/packaging/config.mjs): its own schema validation
 * accepts it, the four installers are configured, the icons exist at usable sizes, the paths it
 * packages are the ones the build scripts write, and its hooks load. Packaging itself is run by
 * build/packaging.smoke.test.ts.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const builderLog: string[] = [];

type Config = Record<string, unknown> & {
  /** After loading, electron-builder wraps the patterns: `[{ filter: [...] }]`. */
  files?: (string | { filter?: string[] })[];
  extraResources?: { from?: string; to?: string; filter?: string[] }[];
  extraMetadata?: { main?: string };
  npmRebuild?: boolean;
  beforePack?: string;
  beforeBuild?: string;
  afterPack?: string;
  linux?: { target?: (string | { target: string })[]; icon?: string; maintainer?: string };
  win?: { target?: (string | { target: string })[]; icon?: string };
  mac?: { target?: (string | { target: string })[]; icon?: string };
};

interface ConfigModule {
  getConfig(projectDir: string, configPath: string | null, fromOptions: null): Promise<Config>;
  validateConfiguration(config: Config, logger: unknown): Promise<void>;
}

/** electron-builder's own config loading and validation (against app-builder-lib/scheme.json). */
function electronBuilder(): { config: ConfigModule; logger: () => unknown } {
  const config = require('app-builder-lib/out/util/config/config.js') as ConfigModule;
  const { DebugLogger, log } = require('builder-util') as {
    DebugLogger: new (on: boolean) => unknown;
    log: { stream: { write(s: string): boolean } };
  };
  // Its log goes to stdout, which the test runner reads as its own protocol: keep it aside.
  log.stream = { write: (s: string) => (builderLog.push(s), true) };
  return { config, logger: () => new DebugLogger(false) };
}

let loaded: Promise<Config> | null = null;
/** Loaded once: loading runs config.mjs, which asks a child Node whether tfjs-node-gpu loads. */
function loadConfig(): Promise<Config> {
  loaded ??= electronBuilder().config.getConfig(root, null, null);
  return loaded;
}

const targets = (t: (string | { target: string })[] | undefined): string[] =>
  (t ?? []).map((x) => (typeof x === 'string' ? x : x.target));

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], file);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('electron-builder.yml', () => {
  test('electron-builder loads it and its schema validation accepts it', async () => {
    const { config, logger } = electronBuilder();
    const cfg = structuredClone(await loadConfig());
    await config.validateConfiguration(cfg, logger());
    // The same validation refuses a misspelt option, so the check above is a real one.
    await assert.rejects(
      config.validateConfiguration(
        { ...cfg, linux: { ...cfg.linux, tagret: ['deb'] } } as Config,
        logger(),
      ),
      /does not match the API schema/,
    );
  });

  test('Linux AppImage and deb, Windows NSIS, macOS dmg', async () => {
    const cfg = await loadConfig();
    assert.deepEqual(targets(cfg.linux?.target).sort(), ['AppImage', 'deb']);
    assert.deepEqual(targets(cfg.win?.target), ['nsis']);
    assert.deepEqual(targets(cfg.mac?.target), ['dmg']);
    // A .deb names its maintainer; electron-builder refuses to build one without.
    assert.match(cfg.linux?.maintainer ?? '', /^.+ <[^@\s]+@[^@\s]+>$/);
    // ...and a project URL, from package.json.
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      homepage?: string;
    };
    assert.match(pkg.homepage ?? '', /^https:\/\/[^/\s]+\.[^/\s]+/);
  });

  test('the icons exist in resources/icons at sizes every platform accepts', async () => {
    const cfg = await loadConfig();
    for (const icon of [cfg.win?.icon, cfg.mac?.icon]) {
      assert.ok(icon, 'win and mac name an icon');
      const { width, height } = pngSize(join(root, icon));
      // macOS needs 512x512 or more to make its icns; Windows 256x256.
      assert.ok(width >= 512 && width === height, `${icon} is ${width}x${height}`);
    }
    const linuxDir = join(root, cfg.linux?.icon ?? 'missing');
    const sized = readdirSync(linuxDir).filter((f) => /^\d+x\d+\.png$/.test(f));
    assert.ok(sized.length > 0, `${linuxDir} has NxN.png icons`);
    for (const f of sized) {
      const [w, h] = f.replace('.png', '').split('x').map(Number);
      assert.deepEqual(pngSize(join(linuxDir, f)), { width: w, height: h }, f);
    }
  });

  test('it packages what the build scripts write and package.json starts', async () => {
    const cfg = await loadConfig();
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      main: string;
      scripts: Record<string, string>;
    };
    const main = cfg.extraMetadata?.main ?? pkg.main;
    assert.equal(pkg.main, main, 'package.json main and the packaged main agree');
    // electron/main/build.ts writes dist-electron/main.mjs, preload.cjs and ml.worker.mjs, the
    // worker unpacked from the archive.
    const buildSource = readFileSync(join(root, 'electron', 'main', 'build.ts'), 'utf8');
    assert.match(main, /^dist-electron\//);
    for (const f of [main, 'dist-electron/preload.cjs', 'dist-electron/ml.worker.mjs'])
      assert.ok(buildSource.includes(`'${f.replace('dist-electron/', '')}'`), f);
    assert.ok((cfg.asarUnpack as string[]).includes('dist-electron/ml.worker.mjs'));
    assert.match(pkg.scripts.dist ?? '', /build:renderer.*build:electron.*electron-builder/);
    // Every packaged source folder exists; dist/ and dist-electron/ are the build's outputs.
    const patterns = (cfg.files ?? []).flatMap((f) =>
      typeof f === 'string' ? [f] : (f.filter ?? []),
    );
    assert.ok(patterns.includes('dist/renderer/**') && patterns.includes('dist-electron/**'));
    for (const pattern of patterns) {
      if (pattern.startsWith('!')) continue;
      const base = pattern.split('/')[0]!;
      if (base === 'dist' || base === 'dist-electron') continue;
      assert.ok(existsSync(join(root, base)), `files: ${pattern} (${base} is missing)`);
    }
    // No sources: the app is the build's output and the packages it loads.
    assert.ok(!patterns.some((p) => /^(electron|shared|renderer)\//.test(p)), patterns.join(' '));
    assert.ok(!patterns.some((p) => /^node_modules\/(tsx|esbuild|typescript|vite)\//.test(p)));
  });

  test("the app's runtime resources ship from resources/", async () => {
    const cfg = await loadConfig();
    assert.deepEqual(
      (cfg.extraResources ?? []).map((r) => [r.from, r.to]),
      // `to: .` (beside app.asar), which electron-builder stores as no `to`.
      [['resources', undefined]],
    );
    assert.ok(existsSync(join(root, 'resources', 'icons', '512x512.png')));
  });

  test('its hooks load: the native rebuild, the package check and the fuses', async () => {
    const cfg = await loadConfig();
    // beforeBuild is only called while npmRebuild is on; it hands node_modules to config.mjs.
    assert.notEqual(cfg.npmRebuild, false);
    for (const hook of ['beforePack', 'beforeBuild', 'afterPack'] as const) {
      const file = cfg[hook];
      assert.ok(file, hook);
      const mod = (await import(join(root, file))) as Record<string, unknown>;
      assert.equal(typeof mod[hook], 'function', `${file} exports ${hook}`);
    }
    const { beforeBuild } = (await import(join(root, cfg.beforeBuild!))) as {
      beforeBuild(): Promise<boolean>;
    };
    assert.equal(await beforeBuild(), false);
  });
});
