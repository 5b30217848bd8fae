/**
 * The self-supervised encoder on real images: pretraining budgets against the linear-probe
 * accuracy of its embedding, next to the built-in descriptors and both together. A benchmark, not
 * a test; the numbers go to docs/features.md ("Self-supervised encoder").
 *
 *   node --import tsx bench/ssl.ts [--data DIR] [--budgets 120,600] [--side 64] [--test 270]
 *        [--labels 60,120,240] [--seeds 5] [--work DIR] [--keep-state] [--config JSON] [--C 1]
 *
 * Protocol: the dataset (default NEU surface defects) is split once (seed 0) into a stratified
 * test set of `--test` images and the pool (the rest). The encoder pretrains on the pool only, one
 * run resumed from budget to budget (so the 600 s encoder is the 120 s one trained 480 s more),
 * and embeds pool and test (computeFeatureSets, as a study does). For each feature set, label count k and seed s, bench/ssl_probe.py
 * fits a class-balanced logistic regression (scikit-learn, standardised columns, C = 1) on k pool
 * images drawn at random and scores the test set; the table shows the mean over seeds.
 * `--config` overrides the training settings (e.g. '{"batchSize":32}'). DEEPAL_BENCH_PYTHON names
 * the Python with scikit-learn (default /usr/bin/python3).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../electron/ml/backend.ts';
import { loadDataset } from '../electron/ml/datasets/index.ts';
import { computeFeatures, computeFeatureSets } from '../electron/ml/features/compute.ts';
import { datasetSource } from '../electron/ml/features/source.ts';
import { sslExtractor, type SslTrainConfig } from '../electron/ml/features/ssl.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const data = arg('data', '/work/shared/datasets/neu-surface-defects/images');
const budgets = arg('budgets', '120,600').split(',').map(Number);
const side = Number(arg('side', '64'));
const testSize = Number(arg('test', '270'));
const labels = arg('labels', '60,120,240');
const seeds = arg('seeds', '5');
const work = arg('work', '/tmp/deepal-bench-ssl');
const config = JSON.parse(arg('config', '{}')) as Partial<SslTrainConfig>;
const C = arg('C', '1');
const python = process.env.DEEPAL_BENCH_PYTHON ?? '/usr/bin/python3';
const probeScript = fileURLToPath(new URL('./ssl_probe.py', import.meta.url));

const load = (): string =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)} load ${load()}] ${msg}\n`);
};

async function dump(name: string, pool: Float32Array, test: Float32Array, dim: number) {
  await writeFile(join(work, `${name}.pool.f32`), new Uint8Array(pool.buffer, 0, pool.byteLength));
  await writeFile(join(work, `${name}.test.f32`), new Uint8Array(test.buffer, 0, test.byteLength));
  await writeFile(join(work, `${name}.json`), JSON.stringify({ dim }));
}

const backend = await initBackend('wasm');
const startLoad = load();
log(`backend ${backend.tfBackend}, ${backend.threads} thread(s); CPU ${cpus()[0]?.model}`);
await mkdir(work, { recursive: true });
const stateDir = join(work, 'state');
if (!flag('keep-state')) await rm(stateDir, { recursive: true, force: true });

const ds = await loadDataset(data, { testSize, seed: 0 });
log(ds.description);
const pool = datasetSource(ds.train);
const test = datasetSource(ds.test);
await writeFile(join(work, 'y.pool.i32'), new Uint8Array(Int32Array.from(ds.train.y).buffer));
await writeFile(join(work, 'y.test.i32'), new Uint8Array(Int32Array.from(ds.test.y).buffer));

const cacheDir = join(work, 'cache');
const dp = await computeFeatures(pool, { kind: 'descriptors' }, { cacheDir });
const dt = await computeFeatures(test, { kind: 'descriptors' }, { cacheDir });
await dump('desc', dp.data, dt.data, dp.dim);
log(`descriptors: ${dp.dim} values per image`);

const runs: {
  budget: number;
  steps: number;
  elapsed: number;
  stepsThisRun: number;
  loss: number | null;
  embedSec: number;
}[] = [];
for (const budget of budgets) {
  const losses: number[] = [];
  let steps = 0;
  let elapsed = 0;
  const ex = sslExtractor(
    { kind: 'ssl', budgetSec: budget, side, seed: 0 },
    {
      config,
      onStep: (s) => {
        losses.push(s.loss);
        if (s.step % 50 === 0) {
          log(
            `budget ${budget}: step ${s.step}, ${s.elapsedSec.toFixed(0)} s, loss ${s.loss.toFixed(3)}`,
          );
        }
      },
    },
  );
  // The product's path: pretrain on the pool, embed pool and test with that encoder (no cache
  // folder, so every budget embeds afresh).
  const [ep, et] = await computeFeatureSets(pool, [pool, test], ex.spec, {
    stateDir,
    extractor: ex,
  });
  // Cumulative over resumed runs (a spent budget trains no more and calls no onStep).
  ({ step: steps, elapsedSec: elapsed } = ex.trained()!);
  const embedSec = (ep!.ms + et!.ms) / 1000;
  await dump(`ssl${budget}`, ep!.data, et!.data, ep!.dim);
  const tail = losses.slice(-20);
  const loss = tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : null;
  runs.push({ budget, steps, elapsed, stepsThisRun: losses.length, loss, embedSec });
  log(
    `budget ${budget}: ${steps} steps in ${elapsed.toFixed(0)} s in all, ${losses.length} this run, key ${ex.cacheKeyExtra!()}`,
  );
}

const sets = ['desc', ...budgets.map((b) => `ssl${b}`), ...budgets.map((b) => `desc+ssl${b}`)].join(
  ',',
);
const r = spawnSync(python, [probeScript, work, sets, labels, seeds, C], {
  encoding: 'utf8',
  env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
  maxBuffer: 1 << 24,
});
if (r.status !== 0) {
  process.stderr.write(r.stderr || String(r.error));
  process.exit(1);
}
const acc = JSON.parse(r.stdout) as Record<string, Record<string, number[]>>;
const ks = labels.split(',');
const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
console.log(
  `\nSSL benchmark ${new Date().toISOString()}, ${data}: pool ${pool.count}, test ${test.count}, side ${side}`,
);
console.log(`load average at start ${startLoad}, at end ${load()}; ${cpus().length} cores`);
for (const x of runs) {
  console.log(
    `budget ${x.budget} s: ${x.steps} steps in ${x.elapsed.toFixed(0)} s of training in all runs (${x.stepsThisRun} in this one), loss over the last 20 steps ${x.loss === null ? 'n/a' : x.loss.toFixed(3)}, embedding pool + test ${x.embedSec.toFixed(1)} s`,
  );
}
console.log(
  `\nlinear probe (logistic regression, class-balanced, C ${C}), mean of ${seeds} seeds:`,
);
console.log(['features'.padEnd(18), ...ks.map((k) => `${k} labels`.padStart(10))].join(' '));
for (const [name, byK] of Object.entries(acc)) {
  console.log(
    [name.padEnd(18), ...ks.map((k) => `${(100 * mean(byK[k]!)).toFixed(1)}%`.padStart(10))].join(
      ' ',
    ),
  );
}
console.log(`\n${JSON.stringify({ runs, acc })}`);
