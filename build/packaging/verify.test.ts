import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { packageProblems } from './verify.ts';

const require = createRequire(import.meta.url);
const asar = createRequire(require.resolve('app-builder-lib/package.json'))('@electron/asar') as {
  createPackage(src: string, dest: string): Promise<unknown>;
};

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function put(base: string, rel: string): void {
  mkdirSync(dirname(join(base, rel)), { recursive: true });
  writeFileSync(join(base, rel), rel);
}

/** A packaged app's resources folder as the packaging makes it, plus `extra` files. */
async function resources(extra: { packed?: string[]; unpacked?: string[]; omit?: string[] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'deepal-verify-'));
  dirs.push(dir);
  const app = join(dir, 'app-src');
  const packed = [
    'package.json',
    'dist-electron/main.mjs',
    'dist-electron/preload.cjs',
    'dist/renderer/index.html',
    ...(extra.packed ?? []),
  ];
  for (const f of packed) if (!extra.omit?.includes(f)) put(app, f);
  const res = join(dir, 'resources');
  mkdirSync(res);
  await asar.createPackage(app, join(res, 'app.asar'));
  const unpacked = [
    'dist-electron/ml.worker.mjs',
    'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
    'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
    ...(extra.unpacked ?? []),
  ];
  for (const f of unpacked) if (!extra.omit?.includes(f)) put(join(res, 'app.asar.unpacked'), f);
  if (!extra.omit?.includes('icons')) put(res, 'icons/512x512.png');
  return res;
}

test('a package as the packaging makes it has no problems', async () => {
  assert.deepEqual(packageProblems(await resources()), []);
});

test('a TypeScript toolchain or TypeScript sources in the package are problems', async () => {
  const res = await resources({
    packed: ['electron/worker/ml.worker.ts', 'shared/types.d.ts'],
    unpacked: ['node_modules/tsx/dist/cli.mjs', 'node_modules/@esbuild/linux-x64/bin/esbuild'],
  });
  const problems = packageProblems(res);
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(
    problems[0]!,
    /build tools the app never runs: node_modules\/@esbuild\/linux-x64, node_modules\/tsx$/,
  );
  assert.match(problems[1]!, /TypeScript\/Vue sources: electron\/worker\/ml\.worker\.ts$/);
});

test('a missing worker, wasm, native module, main or icon is named', async () => {
  const res = await resources({
    omit: [
      'dist-electron/ml.worker.mjs',
      'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'dist-electron/main.mjs',
      'icons',
    ],
  });
  assert.deepEqual(packageProblems(res), [
    'app.asar has no dist-electron/main.mjs',
    'the ML worker dist-electron/ml.worker.mjs is not unpacked',
    "tfjs' wasm files are not unpacked",
    'the native module node_modules/better-sqlite3/build/Release/better_sqlite3.node is not unpacked',
    "resources/icons/512x512.png (from the repository's resources/) is missing",
  ]);
});
