/**
 * Times the geometry-heavy strategies (KCenter, BADGE, KMeans) on a synthetic pool of 50,000
 * embeddings of width 512 (20 Gaussian blobs), b = 1,000, on the backend initBackend() picks
 * (DEEPAL_BACKEND overrides). Each strategy runs in its own child process so its peak RSS is its
 * own.
 *
 *   node --import tsx electron/ml/strategies/benchSelection.ts [--json] [--n 50000] [--dim 512]
 *        [--budget 1000] [--labeled 1000]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend.ts';
import { Rng } from '../../../shared/random.ts';
import type { Network } from '../models/network.ts';
import type { Dataset } from '../types.ts';
import { kcenter, kmeans } from './diversity.ts';
import { badge } from './hybrid.ts';
import type { ModelView, Strategy } from './types.ts';

const STRATEGIES: Record<string, Strategy> = { KCenter: kcenter, BADGE: badge, KMeans: kmeans };

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

interface Row {
  strategy: string;
  seconds: number;
  /** CPU time of this process during the query (less sensitive to other load than wall time). */
  cpuSeconds: number;
  peakRssMB: number;
  rssBeforeMB: number;
  backend: string;
  selected: number;
}

/** A model view over fixed arrays: what a trained network would return, without the network. */
function syntheticView(n: number, D: number, C: number, seed: number): ModelView {
  const rng = new Rng(seed);
  const blobs = 20;
  const centres = new Float32Array(blobs * D);
  for (let i = 0; i < centres.length; i++) centres[i] = rng.normal() * 3;
  const emb = new Float32Array(n * D);
  const probs = new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    const b = rng.int(blobs);
    for (let j = 0; j < D; j++) emb[i * D + j] = Math.max(0, centres[b * D + j]! + rng.normal());
    let z = 0;
    for (let c = 0; c < C; c++) {
      const v = Math.exp(rng.normal() * 2 + (c === b % C ? 3 : 0));
      probs[i * C + c] = v;
      z += v;
    }
    for (let c = 0; c < C; c++) probs[i * C + c]! /= z;
  }
  const rows = (src: Float32Array, w: number, idx: Int32Array): Float32Array => {
    const out = new Float32Array(idx.length * w);
    idx.forEach((p, r) => out.set(src.subarray(p * w, p * w + w), r * w));
    return out;
  };
  return {
    numClasses: C,
    embeddingDim: D,
    probs: (idx) => Promise.resolve(rows(probs, C, idx)),
    probsAndEmbeddings: (idx) =>
      Promise.resolve({ probs: rows(probs, C, idx), embeddings: rows(emb, D, idx) }),
    mcProbs: () => Promise.reject(new Error('not used by the benchmark')),
    get net(): Network {
      throw new Error('not used by the benchmark');
    },
    inputs: () => tf.zeros([0]),
  };
}

async function runOne(id: string): Promise<Row> {
  const info = await initBackend();
  const n = arg('--n', 50000);
  const D = arg('--dim', 512);
  const b = arg('--budget', 1000);
  const nl = arg('--labeled', 1000);
  const C = 10;
  const model = syntheticView(n, D, C, 7);
  const pool: Dataset = {
    name: 'bench',
    x: new Float32Array(0),
    y: new Int32Array(n).fill(-1),
    sampleShape: [1],
    classNames: Array.from({ length: C }, (_, i) => String(i)),
  };
  const labeled = Int32Array.from({ length: nl }, (_, i) => i);
  const unlabeled = Int32Array.from({ length: n - nl }, (_, i) => i + nl);
  const strategy = STRATEGIES[id]!;
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await strategy.query({
    pool,
    labeled,
    labels: new Int32Array(nl),
    unlabeled,
    budget: b,
    seed: 1,
    round: 1,
    model,
    params: Object.fromEntries(strategy.params.map((p) => [p.name, p.default])),
  });
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  const cpuSeconds = (cu.user + cu.system) / 1e6;
  return {
    strategy: id,
    seconds,
    cpuSeconds,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    rssBeforeMB: rssBefore / 2 ** 20,
    backend: info.backend,
    selected: r.selected.length,
  };
}

async function main(): Promise<void> {
  const only = process.argv.indexOf('--only');
  if (only >= 0) {
    process.stdout.write(JSON.stringify(await runOne(process.argv[only + 1]!)) + '\n');
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const rest = process.argv.slice(2).filter((a) => a !== '--json');
  const rows: Row[] = [];
  for (const id of Object.keys(STRATEGIES)) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, ...rest, '--only', id], {
      encoding: 'utf8',
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      throw new Error(`benchSelection: ${id} failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
    }
    rows.push(JSON.parse(line) as Row);
  }
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  console.log(`pool ${arg('--n', 50000)} x ${arg('--dim', 512)}, b = ${arg('--budget', 1000)}`);
  for (const r of rows) {
    console.log(
      `${r.strategy.padEnd(8)} ${r.seconds.toFixed(2).padStart(7)} s wall, ${r.cpuSeconds.toFixed(2).padStart(6)} s CPU  peak RSS ${r.peakRssMB.toFixed(0)} MB ` +
        `(before query ${r.rssBeforeMB.toFixed(0)} MB, pool data included)  backend ${r.backend}`,
    );
  }
}

await main();
