import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LAZY_RUNTIME_PACKAGES, RUNTIME_PACKAGES } from '../../build/packaging/runtime.ts';
import { buildElectronBundles } from './build.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'deepal-bundles-'));
after(() => rmSync(dir, { recursive: true, force: true }));
// The bundles import their runtime packages from a node_modules above them, as in the package.
symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'junction');
const bundles = await buildElectronBundles(root, join(dir, 'dist-electron'));

test('the bundles load only the packages packaging keeps', () => {
  const allowed = new Set<string>(['electron', ...RUNTIME_PACKAGES, ...LAZY_RUNTIME_PACKAGES]);
  assert.deepEqual(
    bundles.externals.filter((p) => !allowed.has(p)),
    [],
    'add a new runtime package to build/packaging/runtime.ts',
  );
  for (const file of [bundles.main, bundles.worker, bundles.preload])
    assert.doesNotMatch(
      readFileSync(file, 'utf8'),
      /from ["']tsx|require\(["']tsx|\.ts["']\)/,
      file,
    );
});

test('the bundled ML worker trains a study under plain Node: no tsx, no TypeScript', () => {
  // A child Node with no loader at all (the test runner's tsx is not inherited).
  const script = join(dir, 'drive.mjs');
  writeFileSync(
    script,
    `import { Worker } from 'node:worker_threads';
const w = new Worker(process.argv[2]);
let next = 0;
const pending = new Map();
w.on('message', (m) => { if (m.type !== 'ready' && m.type !== 'progress') pending.get(m.jobId)?.(m); });
w.on('error', (e) => { console.error(e.stack); process.exit(2); });
const run = (job) => new Promise((r) => { const jobId = ++next; pending.set(jobId, r); w.postMessage({ type: 'start', jobId, job }); });
const out = { backend: await run({ kind: 'backend' }) };
const config = { dataset: 'demo', imbalanced: false, strategies: ['Random'], strategyParams: {}, repeats: 1, seed: 1,
  initial: 20, batch: 20, budget: 20, epochs: 1, model: 'mlp', trainBatchSize: 32, learningRate: 1e-3,
  warmStart: false, poolSize: 200, testSize: 100 };
out.create = await run({ kind: 'create', dbPath: process.argv[3], config });
out.study = await run({ kind: 'study', dbPath: process.argv[3], studyId: out.create.value?.studyId });
console.log(JSON.stringify(out));
await w.terminate();
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, DEEPAL_WASM_THREADS: '1' };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, [script, bundles.worker, join(dir, 'w.db')], {
    cwd: dir,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<
    string,
    { type: string; value?: Record<string, unknown> }
  >;
  assert.equal(out.backend?.type, 'done', JSON.stringify(out.backend));
  assert.equal(out.backend?.value?.backend, 'wasm');
  assert.equal(out.study?.type, 'done', JSON.stringify(out.study));
  assert.equal(out.study?.value?.studyId, out.create?.value?.studyId);
});
