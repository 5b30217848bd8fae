import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dynamicConfig, localElectronDist } from './config.ts';
import { findPackageDir, runtimeClosure } from './dependencies.ts';
import type { OptionalNativeStatus } from './optionalNative.ts';
import { RUNTIME_PACKAGES } from './runtime.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deepal-pkg-'));
  dirs.push(dir);
  return dir;
}

function pkg(dir: string, json: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(json));
}

/** The project's own packages, without spawning Node to load tfjs-node-gpu. */
const notLoading = (name: string): OptionalNativeStatus => ({
  name,
  include: false,
  reason: 'installed but does not load: Error: libtensorflow.so: cannot open shared object file',
});

describe('runtimeClosure', () => {
  test('follows dependencies the way Node finds them: nested copies, peers, installed optionals', () => {
    const p = tempProject();
    const nm = join(p, 'node_modules');
    pkg(join(nm, 'app-lib'), {
      dependencies: { shared: '^1' },
      optionalDependencies: { 'native-linux': '1', 'native-win32': '1' },
      peerDependencies: { core: '1' },
    });
    // app-lib needs shared@1, nested under it; the top-level shared@2 is someone else's.
    pkg(join(nm, 'app-lib', 'node_modules', 'shared'), { version: '1.0.0' });
    pkg(join(nm, 'shared'), { version: '2.0.0', dependencies: { unrelated: '1' } });
    pkg(join(nm, 'unrelated'), {});
    pkg(join(nm, 'native-linux'), {});
    pkg(join(nm, 'core'), {});
    pkg(join(nm, '@scope', 'tool'), { dependencies: { core: '1' } });
    const rel = runtimeClosure(p, ['app-lib', '@scope/tool']).map((x) => x.rel);
    assert.deepEqual(rel, [
      'node_modules/@scope/tool',
      'node_modules/app-lib',
      'node_modules/app-lib/node_modules/shared',
      'node_modules/core',
      'node_modules/native-linux',
    ]);
  });

  test('a missing required dependency is an error naming who needs it', () => {
    const p = tempProject();
    pkg(join(p, 'node_modules', 'a'), { dependencies: { b: '1' } });
    assert.throws(() => runtimeClosure(p, ['a']), /b \(needed by a\) is not installed/);
  });

  test("this project's runtime packages are installed with everything they need", () => {
    const closure = runtimeClosure(root, RUNTIME_PACKAGES);
    const names = new Set(closure.map((c) => c.name));
    for (const p of [...RUNTIME_PACKAGES, '@tensorflow/tfjs-core', 'bindings'])
      assert.ok(names.has(p), p);
    // The TypeScript toolchain is not something the app loads.
    for (const p of ['tsx', 'esbuild', 'typescript', 'vite', 'electron'])
      assert.ok(!names.has(p), `${p} must not be needed at run time`);
  });
});

describe('dynamicConfig', () => {
  test('packages exactly the runtime closure, unpacked, in the project layout', () => {
    const lines: string[] = [];
    const cfg = dynamicConfig({
      projectDir: root,
      env: {},
      probe: notLoading,
      log: (l) => lines.push(l),
    });
    const included = cfg.files.filter((f) => !f.startsWith('!'));
    assert.ok(included.includes('node_modules/@tensorflow/tfjs-core/**/*'));
    assert.ok(included.includes('node_modules/better-sqlite3/**/*'));
    for (const tool of ['tsx', 'esbuild', 'vite', 'vue', 'electron', '@tensorflow/tfjs-node-gpu'])
      assert.ok(!included.includes(`node_modules/${tool}/**/*`), tool);
    assert.deepEqual(cfg.asarUnpack, ['dist-electron/ml.worker.mjs', 'node_modules/**/*']);
    // A backend that does not load is left out, and the packager says so and why.
    if (findPackageDir('@tensorflow/tfjs-node-gpu', root, root))
      assert.ok(
        lines.some((l) => /leaving out @tensorflow\/tfjs-node-gpu.*libtensorflow.*wasm/.test(l)),
        lines.join('\n'),
      );
  });

  test('an optional backend that loads is packaged with what it needs', () => {
    const p = tempProject();
    const nm = join(p, 'node_modules');
    for (const name of RUNTIME_PACKAGES) pkg(join(nm, ...name.split('/')), {});
    pkg(join(nm, '@tensorflow', 'tfjs-node-gpu'), { dependencies: { tar: '6' } });
    pkg(join(nm, 'tar'), {});
    const loads = (name: string): OptionalNativeStatus =>
      name === '@tensorflow/tfjs-node-gpu' ? { name, include: true } : notLoading(name);
    const cfg = dynamicConfig({ projectDir: p, env: {}, probe: loads, log: () => {} });
    assert.ok(cfg.files.includes('node_modules/@tensorflow/tfjs-node-gpu/**/*'));
    assert.ok(cfg.files.includes('node_modules/tar/**/*'));
    const without = dynamicConfig({ projectDir: p, env: {}, probe: notLoading, log: () => {} });
    assert.ok(!without.files.some((f) => f.includes('tfjs-node-gpu') || f.includes('tar/')));
  });

  test('only the target platform keeps its onnxruntime binaries', () => {
    const p = tempProject();
    const nm = join(p, 'node_modules');
    for (const name of RUNTIME_PACKAGES) pkg(join(nm, ...name.split('/')), {});
    pkg(join(nm, 'onnxruntime-node'), {});
    const cfg = dynamicConfig({ projectDir: p, env: {}, probe: notLoading, log: () => {} });
    assert.ok(cfg.files.includes('node_modules/onnxruntime-node/**/*'));
    assert.ok(
      cfg.files.includes('!node_modules/onnxruntime-node/bin/napi-v*/!(${platform}){,/**/*}'),
    );
    assert.ok(
      cfg.files.includes(
        '!node_modules/onnxruntime-node/bin/napi-v*/${platform}/!(${arch}){,/**/*}',
      ),
    );
  });
});

describe('localElectronDist', () => {
  test('ELECTRON_OVERRIDE_DIST_PATH first, else the downloaded binary of the installed version', () => {
    const p = tempProject();
    assert.equal(localElectronDist(p, { ELECTRON_OVERRIDE_DIST_PATH: '/opt/e' }), '/opt/e');
    pkg(join(p, 'node_modules', 'electron'), { version: '40.10.2' });
    assert.equal(localElectronDist(p, {}), undefined, 'no binary downloaded');
    mkdirSync(join(p, 'node_modules', 'electron', 'dist'));
    writeFileSync(join(p, 'node_modules', 'electron', 'dist', 'version'), '40.9.0');
    assert.equal(localElectronDist(p, {}), undefined, 'another version');
    writeFileSync(join(p, 'node_modules', 'electron', 'dist', 'version'), 'v40.10.2\n');
    assert.equal(localElectronDist(p, {}), join(p, 'node_modules', 'electron', 'dist'));
  });

  test('an ELECTRON_OVERRIDE_DIST_PATH that does not exist is refused', () => {
    const p = tempProject();
    for (const name of RUNTIME_PACKAGES) pkg(join(p, 'node_modules', ...name.split('/')), {});
    assert.throws(
      () =>
        dynamicConfig({
          projectDir: p,
          env: { ELECTRON_OVERRIDE_DIST_PATH: join(p, 'nope') },
          probe: notLoading,
          log: () => {},
        }),
      /ELECTRON_OVERRIDE_DIST_PATH=.*nope does not exist/,
    );
  });
});
