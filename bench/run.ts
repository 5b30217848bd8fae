/**
 * `npm run bench`: training, inference and selection throughput of the product's own code paths,
 * with PyTorch and scikit-learn side by side where they are installed. One table, or one JSON
 * object with --json. See bench/README.md.
 *
 *   npm run bench -- [--backend wasm|cpu|node|node-gpu] [--only train,infer,select] [--quick]
 *                    [--json] [--pool N] [--no-reference]
 *   npm run bench -- --only scale [--data DIR] [--steps preview,import,...] [--json FILE]
 *
 * --pool N overrides the inference pool size (the test uses a tiny one); --no-reference skips
 * PyTorch and scikit-learn. DEEPAL_BENCH_PYTHON names the Python with torch (default
 * /usr/bin/python3, Debian's).
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../shared/random.ts';
import { BACKEND_ORDER, initBackend, isBackendChoice } from '../electron/ml/backend.ts';
import type { BackendInfo } from '../electron/ml/backend.ts';
import { createNetwork } from '../electron/ml/models/index.ts';
import type { ModelKind } from '../electron/ml/models/network.ts';
import { computeNormalization } from '../electron/ml/training/normalization.ts';
import { mcPredict, predict } from '../electron/ml/training/predict.ts';
import { trainNetwork } from '../electron/ml/training/train.ts';
import type { Dataset } from '../electron/ml/types.ts';

const SECTIONS = ['train', 'infer', 'select'] as const;
type Section = (typeof SECTIONS)[number];

interface Options {
  backend?: (typeof BACKEND_ORDER)[number];
  only: Section[];
  quick: boolean;
  json: boolean;
  pool: number;
  reference: boolean;
}

function usage(msg: string): never {
  process.stderr.write(
    `bench/run.ts: ${msg}\nusage: npm run bench -- [--backend ${BACKEND_ORDER.join('|')}] ` +
      `[--only ${SECTIONS.join(',')}] [--quick] [--json] [--pool N] [--no-reference]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    only: [...SECTIONS],
    quick: false,
    json: false,
    pool: 0,
    reference: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--json') o.json = true;
    else if (a === '--no-reference') o.reference = false;
    else if (a === '--backend') {
      const v = value();
      if (!isBackendChoice(v)) usage(`--backend ${v} is not one of ${BACKEND_ORDER.join(', ')}`);
      o.backend = v;
    } else if (a === '--only') {
      const parts = value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const p of parts) {
        if (!(SECTIONS as readonly string[]).includes(p)) {
          usage(`--only ${p}: expected a comma list of ${SECTIONS.join(', ')}`);
        }
      }
      o.only = parts as Section[];
    } else if (a === '--pool') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) usage('--pool must be a positive integer');
      o.pool = n;
    } else usage(`unknown argument ${a}`);
  }
  if (o.pool === 0) o.pool = o.quick ? 5000 : 50000;
  return o;
}

/** Sizes of one run: --quick shrinks everything for a smoke run. */
function sizes(o: Options) {
  return {
    trainBatch: 64,
    /** Timed training samples (whole batches of 64) per model. */
    trainSamples: o.quick ? 64 * 5 : 64 * 40,
    warmupSamples: 64 * 3,
    pool: o.pool,
    mcPasses: 10,
    select: o.quick
      ? { n: 5000, dim: 512, budget: 100, labeled: 100 }
      : { n: 50000, dim: 512, budget: 1000, labeled: 1000 },
    /** Our KMeans default (maxIter param), also given to scikit-learn. */
    kmeansMaxIter: 10,
    pcaDims: 32,
  };
}

/** Random uint8 28x28x1 images with random labels: enough for timing, nothing to learn. */
function randomImages(n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const x = new Uint8Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = rng.int(256);
  return {
    name: `bench/random-${n}`,
    x,
    y: Int32Array.from({ length: n }, () => rng.int(10)),
    sampleShape: [28, 28, 1],
    classNames: Array.from({ length: 10 }, (_, k) => String(k)),
  };
}

const range = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

interface TrainRow {
  model: ModelKind;
  params: number;
  batchSize: number;
  samples: number;
  seconds: number;
  samplesPerSec: number;
}

/** createNetwork + trainNetwork (Adam 1e-3, batch 64, no augmentation), after a warm-up call. */
async function benchTrain(kind: ModelKind, s: ReturnType<typeof sizes>): Promise<TrainRow> {
  const data = randomImages(s.trainSamples, 11);
  const norm = computeNormalization(data);
  const net = createNetwork({ kind, inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  try {
    const common = { epochs: 1, batchSize: s.trainBatch, learningRate: 1e-3, norm };
    const warm = range(s.warmupSamples);
    await trainNetwork(net, data, {
      ...common,
      indices: warm,
      labels: data.y.slice(0, warm.length),
      seed: 1,
    });
    const t0 = performance.now();
    await trainNetwork(net, data, {
      ...common,
      indices: range(s.trainSamples),
      labels: data.y,
      seed: 2,
    });
    const seconds = (performance.now() - t0) / 1000;
    const params = net.trainableVariables().reduce((a, v) => a + v.size, 0);
    return {
      model: kind,
      params,
      batchSize: s.trainBatch,
      samples: s.trainSamples,
      seconds,
      samplesPerSec: s.trainSamples / seconds,
    };
  } finally {
    net.dispose();
  }
}

interface InferResult {
  model: 'cnn';
  pool: number;
  batchSize: string;
  probs: { seconds: number; samplesPerSec: number };
  probsEmbeddings: { seconds: number; samplesPerSec: number; embeddingDim: number };
  mc: {
    passes: number;
    seconds: number;
    /** Pool samples x passes per second. */
    sampleForwardsPerSec: number;
    /** Pool samples per second (all passes of a sample counted once). */
    poolSamplesPerSec: number;
  };
}

/** predict() / mcPredict() of a freshly initialised CNN over a random pool. */
async function benchInfer(s: ReturnType<typeof sizes>): Promise<InferResult> {
  const data = randomImages(s.pool, 12);
  const norm = computeNormalization(data);
  const net = createNetwork({ kind: 'cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const all = range(s.pool);
  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    await fn();
    return (performance.now() - t0) / 1000;
  };
  try {
    const warm = all.subarray(0, Math.min(s.pool, 1000));
    await predict(net, data, warm, norm, { embeddings: true });
    await mcPredict(net, data, warm.subarray(0, Math.min(warm.length, 200)), norm, s.mcPasses);
    const tp = await time(() => predict(net, data, all, norm));
    const te = await time(() => predict(net, data, all, norm, { embeddings: true }));
    const tm = await time(() => mcPredict(net, data, all, norm, s.mcPasses));
    return {
      model: 'cnn',
      pool: s.pool,
      batchSize: 'product default (500 for the CNN)',
      probs: { seconds: tp, samplesPerSec: s.pool / tp },
      probsEmbeddings: { seconds: te, samplesPerSec: s.pool / te, embeddingDim: net.embeddingDim },
      mc: {
        passes: s.mcPasses,
        seconds: tm,
        sampleForwardsPerSec: (s.pool * s.mcPasses) / tm,
        poolSamplesPerSec: s.pool / tm,
      },
    };
  } finally {
    net.dispose();
  }
}

interface SelectRow {
  strategy: string;
  seconds: number;
  cpuSeconds: number;
  peakRssMB: number;
  rssBeforeMB: number;
  selected: number;
}

type Ref<T> = ({ status: 'ok' } & T) | { status: 'not installed' | 'failed'; reason: string };

function lastJsonLine(stdout: string): unknown {
  const line = stdout.trim().split('\n').pop() ?? '';
  return line.startsWith('{') ? JSON.parse(line) : null;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const python = process.env.DEEPAL_BENCH_PYTHON ?? '/usr/bin/python3';
/** One BLAS/OpenMP thread, so scikit-learn runs on the cores we do (one). */
const oneThreadEnv = {
  ...process.env,
  OMP_NUM_THREADS: '1',
  OPENBLAS_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
};

/** Checks a Python module imports; the reason when it does not. */
function pythonHas(module: string): string | null {
  const r = spawnSync(python, ['-c', `import ${module}`], { encoding: 'utf8' });
  if (r.error) return `${python}: ${r.error.message}`;
  if (r.status !== 0) return `${python} cannot import ${module}`;
  return null;
}

function runPython<T>(module: string, args: string[], env = process.env): Ref<T> {
  const missing = pythonHas(module);
  if (missing) return { status: 'not installed', reason: missing };
  const r = spawnSync(python, args, { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  const parsed = r.status === 0 ? lastJsonLine(r.stdout) : null;
  if (!parsed) {
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
    return { status: 'failed', reason: `${args[0]} exited ${r.status}: ${tail}` };
  }
  return { status: 'ok', ...(parsed as T) };
}

interface TorchResult {
  threads: number;
  trainSamplesPerSec: number;
  poolInferSamplesPerSec?: number;
  pool?: number;
  version: string;
}

function benchTorch(threads: number, pool: number, quick: boolean): Ref<TorchResult> {
  const args = [
    `${here}pytorch_cnn.py`,
    '--json',
    '--threads',
    String(threads),
    ...(quick ? ['--steps', '5', '--repeats', '1'] : []),
    ...(pool > 0 ? ['--pool', String(pool)] : []),
  ];
  const r = runPython<{
    backend: string;
    trainSamplesPerSec: { median: number };
    poolInferSamplesPerSec?: number;
  }>('torch', args);
  if (r.status !== 'ok') return r;
  return {
    status: 'ok',
    threads,
    version: r.backend,
    // Median of the repeats: the same statistic our single timed run is closest to.
    trainSamplesPerSec: r.trainSamplesPerSec.median,
    ...(r.poolInferSamplesPerSec !== undefined
      ? { poolInferSamplesPerSec: r.poolInferSamplesPerSec, pool }
      : {}),
  };
}

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One timed pass of PyTorch's CNN training at PyTorch's default thread count. */
function benchTorchTrain(steps: number): Ref<{ trainSamplesPerSec: number; threads: number }> {
  const r = runPython<{ trainSamplesPerSec: { median: number }; threads: number }>('torch', [
    `${here}pytorch_cnn.py`,
    '--json',
    '--threads',
    '0',
    '--steps',
    String(steps),
    '--repeats',
    '1',
  ]);
  if (r.status !== 'ok') return r;
  return { status: 'ok', trainSamplesPerSec: r.trainSamplesPerSec.median, threads: r.threads };
}

interface SklearnRow {
  method: string;
  seconds: number;
  cpuSeconds: number;
  peakRssMB: number;
  selected: number;
  iterations: number | null;
  maxIter: number;
  pca: number;
}

function benchSklearn(method: 'kmeans' | 'kcenter', s: ReturnType<typeof sizes>): Ref<SklearnRow> {
  const { n, dim, budget, labeled } = s.select;
  return runPython<SklearnRow>(
    'sklearn',
    [
      `${here}sklearn_select.py`,
      '--method',
      method,
      ...['--n', String(n), '--dim', String(dim), '--budget', String(budget)],
      ...['--labeled', String(labeled), '--pca', String(s.pcaDims)],
      ...['--max-iter', String(s.kmeansMaxIter)],
    ],
    oneThreadEnv,
  );
}

/** Each strategy in its own process (benchSelection.ts --only), so each peak RSS is its own. */
function benchSelect(s: ReturnType<typeof sizes>, backend: string): SelectRow[] {
  const script = fileURLToPath(
    new URL('../electron/ml/strategies/benchSelection.ts', import.meta.url),
  );
  const { n, dim, budget, labeled } = s.select;
  return ['KCenter', 'BADGE', 'KMeans'].map((id) => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        script,
        ...['--n', String(n), '--dim', String(dim), '--budget', String(budget)],
        ...['--labeled', String(labeled), '--only', id],
      ],
      { encoding: 'utf8', env: { ...process.env, DEEPAL_BACKEND: backend }, maxBuffer: 1 << 24 },
    );
    const row = r.status === 0 ? (lastJsonLine(r.stdout) as SelectRow | null) : null;
    if (!row) {
      throw new Error(`benchSelection ${id} failed (exit ${r.status}): ${r.stderr.slice(-1500)}`);
    }
    return row;
  });
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) return m[1].trim();
  } catch {
    // Not Linux: fall back to what Node reports.
  }
  return cpus()[0]?.model ?? 'unknown';
}

interface Report {
  date: string;
  machine: { cpu: string; cores: number; loadavg: number[]; node: string };
  backend: Pick<BackendInfo, 'backend' | 'tfBackend' | 'threads' | 'versions'>;
  quick: boolean;
  sizes: ReturnType<typeof sizes>;
  train?: {
    cnn: TrainRow;
    mlp: TrainRow;
    /**
     * The CNN against PyTorch at its default thread count, in alternating rounds (ours, then
     * PyTorch, 3 times): on a shared machine both then see the same load. Medians.
     */
    paired?: {
      rounds: number;
      ours: number[];
      pytorch: number[];
      pytorchThreads: number;
      loadavg: number[];
    };
  };
  infer?: InferResult;
  select?: SelectRow[];
  reference: {
    pytorch?: Ref<TorchResult>[];
    sklearn?: { kmeans: Ref<SklearnRow>; kcenter: Ref<SklearnRow> };
  };
  loadavgAfter: number[];
}

const f0 = (v: number): string => Math.round(v).toLocaleString('en');
const f2 = (v: number): string => v.toFixed(2);
const ratio = (ours: number, theirs: number): string => `${(ours / theirs).toFixed(2)}x`;

/** A reference cell: the value, or why there is none. */
function refCell<T>(r: Ref<T> | undefined, show: (v: T) => string): string {
  if (!r) return 'skipped';
  return r.status === 'ok' ? show(r) : r.status;
}

function table(r: Report): string {
  const s = r.sizes;
  const lines: string[] = [];
  const b = r.backend;
  lines.push(`DeepAL Studio benchmark, ${r.date}${r.quick ? ' (--quick)' : ''}`);
  lines.push(
    `CPU ${r.machine.cpu}, ${r.machine.cores} cores, load ${r.machine.loadavg.map(f2).join(' ')} ` +
      `(after: ${r.loadavgAfter.map(f2).join(' ')})`,
  );
  lines.push(
    `backend ${b.backend} (tf.js "${b.tfBackend}" ${b.versions.tfjs ?? ''}), ${b.threads} thread(s), node ${r.machine.node}`,
  );
  lines.push('');
  const rows: [string, string, string, string][] = [
    ['benchmark', 'ours', 'reference', 'speed ours/ref'],
  ];
  const torch1 = r.reference.pytorch?.find((t) => t.status !== 'ok' || t.threads === 1);
  const torch2 = r.reference.pytorch?.find((t) => t.status === 'ok' && t.threads === 2);
  const torchOk = (t: Ref<TorchResult> | undefined): TorchResult | undefined =>
    t?.status === 'ok' ? t : undefined;
  if (r.train?.paired) {
    const p = r.train.paired;
    const ours = median(p.ours);
    const ref = median(p.pytorch);
    rows.push([
      `train CNN, alternating rounds (median of ${p.rounds}), samples/s`,
      f0(ours),
      `${f0(ref)} PyTorch default (${p.pytorchThreads} thr)`,
      ratio(ours, ref),
    ]);
  }
  if (r.train) {
    const c = r.train.cnn;
    const t1 = torchOk(torch1);
    rows.push([
      `train CNN (trainNetwork, batch 64), samples/s`,
      f0(c.samplesPerSec),
      refCell(torch1, (t) => `${f0(t.trainSamplesPerSec)} PyTorch 1 thr`),
      t1 ? ratio(c.samplesPerSec, t1.trainSamplesPerSec) : '-',
    ]);
    const t2 = torchOk(torch2);
    if (t2) {
      rows.push([
        '  vs PyTorch 2 threads',
        '',
        `${f0(t2.trainSamplesPerSec)} PyTorch 2 thr`,
        ratio(c.samplesPerSec, t2.trainSamplesPerSec),
      ]);
    }
    rows.push([`train MLP 256-128 (batch 64), samples/s`, f0(r.train.mlp.samplesPerSec), '', '']);
  }
  if (r.infer) {
    const i = r.infer;
    const t1 = torchOk(torch1);
    const tp = t1?.poolInferSamplesPerSec;
    rows.push([
      `infer CNN probs, pool ${f0(i.pool)}, samples/s`,
      f0(i.probs.samplesPerSec),
      refCell(torch1, (t) =>
        t.poolInferSamplesPerSec ? `${f0(t.poolInferSamplesPerSec)} PyTorch 1 thr` : 'skipped',
      ),
      tp ? ratio(i.probs.samplesPerSec, tp) : '-',
    ]);
    const tp2 = torchOk(torch2)?.poolInferSamplesPerSec;
    if (tp2) {
      rows.push([
        '  vs PyTorch 2 threads',
        '',
        `${f0(tp2)} PyTorch 2 thr`,
        ratio(i.probs.samplesPerSec, tp2),
      ]);
    }
    rows.push([
      `infer CNN probs+embeddings (${i.probsEmbeddings.embeddingDim}-d), samples/s`,
      f0(i.probsEmbeddings.samplesPerSec),
      '',
      '',
    ]);
    rows.push([
      `infer CNN MC dropout ${i.mc.passes} passes, sample-passes/s`,
      f0(i.mc.sampleForwardsPerSec),
      '',
      '',
    ]);
    rows.push([
      `  (= pool samples/s, all ${i.mc.passes} passes)`,
      f0(i.mc.poolSamplesPerSec),
      '',
      '',
    ]);
  }
  if (r.select) {
    const { n, dim, budget } = s.select;
    const sk = r.reference.sklearn;
    for (const row of r.select) {
      const ref =
        row.strategy === 'KMeans'
          ? sk?.kmeans
          : row.strategy === 'KCenter'
            ? sk?.kcenter
            : undefined;
      const refOk = ref?.status === 'ok' ? ref : undefined;
      rows.push([
        `select ${row.strategy} ${f0(n)}x${dim} b=${f0(budget)}, s (peak RSS)`,
        `${f2(row.seconds)} s (${f0(row.peakRssMB)} MB)`,
        row.strategy === 'BADGE'
          ? ''
          : refCell(ref, (v) => `${f2(v.seconds)} s (${f0(v.peakRssMB)} MB) sklearn`),
        refOk ? ratio(refOk.seconds, row.seconds) : '-',
      ]);
    }
  }
  const w = [0, 1, 2, 3].map((k) => Math.max(...rows.map((row) => row[k]!.length)));
  for (const [k, row] of rows.entries()) {
    lines.push(row.map((c, j) => (j === 0 ? c.padEnd(w[j]!) : c.padStart(w[j]!))).join('  '));
    if (k === 0) lines.push(w.map((n) => '-'.repeat(n)).join('  '));
  }
  lines.push('');
  const notes = [
    `Random data, timed after a warm-up. Training: ${f0(s.trainSamples)} samples (1 epoch of ` +
      `createNetwork + trainNetwork, Adam 1e-3, no augmentation) after ${s.warmupSamples} warm-up samples.`,
    `Inference: predict()/mcPredict() of the CNN over ${f0(s.pool)} random 28x28x1 images, ` +
      `product batch size (500); MC = ${s.mcPasses} dropout passes.`,
    `Selection: benchSelection.ts, one process per strategy, ${f0(s.select.n)} x ${s.select.dim} ` +
      `synthetic embeddings (20 blobs), ${f0(s.select.labeled)} labeled, b = ${f0(s.select.budget)}; ` +
      `peak RSS includes the pool.`,
    ...(r.train?.paired
      ? [
          `Alternating rounds: ${r.train.paired.rounds} x (our CNN epoch, then PyTorch at its default ` +
            `thread count on the same ${f0(s.trainSamples)} samples), so both see the same load; ` +
            `load after: ${r.train.paired.loadavg.map(f2).join(' ')}. This is the row to compare.`,
        ]
      : []),
    `PyTorch: bench/pytorch_cnn.py, same CNN, median of ${r.quick ? '1 repeat of 5' : '3 repeats of 20'} ` +
      `batches of 64; pool inference ` +
      `in chunks of 500 with softmax. scikit-learn: bench/sklearn_select.py, 1 BLAS thread, same ` +
      `PCA to ${s.pcaDims} dims as ours, KMeans k=b n_init=1 max_iter=${s.kmeansMaxIter} ` +
      `(our maxIter default), greedy k-center with pairwise_distances_argmin_min.`,
    'speed ours/ref > 1 means ours is faster (for seconds: ref seconds / our seconds).',
    'Timings on a shared machine are noisy; compare runs taken under the same load.',
  ];
  lines.push(...notes.map((n) => `* ${n}`));
  for (const t of r.reference.pytorch ?? []) {
    if (t.status !== 'ok') lines.push(`* PyTorch ${t.status}: ${t.reason}`);
  }
  for (const t of Object.values(r.reference.sklearn ?? {})) {
    if (t.status !== 'ok') lines.push(`* scikit-learn ${t.status}: ${t.reason}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  // `--only scale`: issue 21's targets on image folders of 20,000-100,000 files, through the
  // app's services (bench/scale.ts, with its own options: --data, --datasets, --steps, --json).
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--only');
  if (at >= 0 && argv[at + 1] === 'scale') {
    const { runScale } = await import('./scale.ts');
    await runScale([...argv.slice(0, at), ...argv.slice(at + 2)]);
    return;
  }
  const o = parseArgs(argv);
  const s = sizes(o);
  const info = await initBackend(o.backend);
  const log = (msg: string): void => {
    if (!o.json) process.stderr.write(`${msg}\n`);
  };
  const report: Report = {
    date: new Date().toISOString(),
    machine: { cpu: cpuModel(), cores: cpus().length, loadavg: loadavg(), node: process.version },
    backend: {
      backend: info.backend,
      tfBackend: info.tfBackend,
      threads: info.threads,
      versions: info.versions,
    },
    quick: o.quick,
    sizes: s,
    reference: {},
    loadavgAfter: [],
  };
  if (o.only.includes('train')) {
    log('training: CNN...');
    const cnn = await benchTrain('cnn', s);
    log('training: MLP...');
    const mlp = await benchTrain('mlp', s);
    report.train = { cnn, mlp };
    if (o.reference) {
      const rounds = o.quick ? 1 : 3;
      const ours: number[] = [];
      const pytorch: number[] = [];
      let pytorchThreads = 0;
      for (let k = 0; k < rounds; k++) {
        log(`training: CNN and PyTorch (default threads), round ${k + 1} of ${rounds}...`);
        ours.push((await benchTrain('cnn', s)).samplesPerSec);
        const t = benchTorchTrain(s.trainSamples / s.trainBatch);
        if (t.status !== 'ok') break;
        pytorch.push(t.trainSamplesPerSec);
        pytorchThreads = t.threads;
      }
      if (pytorch.length === rounds) {
        report.train.paired = { rounds, ours, pytorch, pytorchThreads, loadavg: loadavg() };
      }
    }
  }
  if (o.only.includes('infer')) {
    log(`inference over ${s.pool} images...`);
    report.infer = await benchInfer(s);
  }
  if (o.only.includes('select')) {
    log('selection (one process per strategy)...');
    report.select = benchSelect(s, info.backend);
  }
  if (o.reference) {
    const wantsTorch = o.only.includes('train') || o.only.includes('infer');
    if (wantsTorch) {
      log('PyTorch...');
      const pool = o.only.includes('infer') ? s.pool : 0;
      const threads = o.quick ? [1] : [1, 2];
      report.reference.pytorch = [];
      for (const t of threads) {
        const r = benchTorch(t, pool, o.quick);
        report.reference.pytorch.push(r);
        if (r.status !== 'ok') break;
      }
    }
    if (o.only.includes('select')) {
      log('scikit-learn...');
      const kcenter = benchSklearn('kcenter', s);
      const kmeans = kcenter.status === 'not installed' ? kcenter : benchSklearn('kmeans', s);
      report.reference.sklearn = { kmeans, kcenter };
    }
  }
  report.loadavgAfter = loadavg();
  process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${table(report)}\n`);
  tf.disposeVariables();
}

await main();
