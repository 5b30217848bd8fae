import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./run.ts', import.meta.url));

/** Runs bench/run.ts with a tiny pool; smoke only: no speed is asserted. */
function runBench(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    encoding: 'utf8',
    env,
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `bench/run.ts exited ${r.status}: ${r.stderr}`);
  return r;
}

/** The parts of the JSON report this test reads. */
interface QuickReport {
  quick: boolean;
  backend: { backend: string; threads: number };
  machine: { cpu: string; cores: number; node: string };
  train?: unknown;
  select?: unknown;
  infer: {
    pool: number;
    probs: { samplesPerSec: number };
    probsEmbeddings: { samplesPerSec: number; embeddingDim: number };
    mc: { passes: number; sampleForwardsPerSec: number; poolSamplesPerSec: number };
  };
  reference: { pytorch: { status: string; reason: string }[] };
}

const positive = (v: unknown, what: string): void => {
  assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${what} = ${String(v)}`);
};

test('--quick --json --only infer prints one JSON report with positive throughputs', () => {
  // A Python that does not exist: the reference must say "not installed", not fail the run.
  const r = runBench(['--quick', '--json', '--only', 'infer', '--pool', '300'], {
    ...process.env,
    DEEPAL_BENCH_PYTHON: '/nonexistent/python3',
  });
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'stdout is exactly one JSON line');
  const j = JSON.parse(lines[0]!) as QuickReport;
  assert.equal(j.quick, true);
  assert.ok(['wasm', 'cpu', 'node', 'node-gpu'].includes(j.backend.backend));
  positive(j.backend.threads, 'threads');
  positive(j.machine.cores, 'cores');
  assert.ok(typeof j.machine.cpu === 'string' && j.machine.cpu.length > 0);
  assert.equal(j.machine.node, process.version);
  assert.equal(j.infer.pool, 300);
  positive(j.infer.probs.samplesPerSec, 'probs samples/s');
  positive(j.infer.probsEmbeddings.samplesPerSec, 'probs+embeddings samples/s');
  positive(j.infer.probsEmbeddings.embeddingDim, 'embeddingDim');
  assert.equal(j.infer.mc.passes, 10);
  positive(j.infer.mc.sampleForwardsPerSec, 'MC sample-passes/s');
  assert.ok(
    Math.abs(j.infer.mc.sampleForwardsPerSec - 10 * j.infer.mc.poolSamplesPerSec) <
      1e-6 * j.infer.mc.sampleForwardsPerSec,
    'MC sample-passes/s = passes x pool samples/s',
  );
  // Sections not asked for are absent.
  assert.equal(j.train, undefined);
  assert.equal(j.select, undefined);
  assert.equal(j.reference.pytorch.length, 1);
  const torch = j.reference.pytorch[0]!;
  assert.equal(torch.status, 'not installed');
  assert.match(torch.reason, /nonexistent/);
});

test('rejects an unknown section with a usable message', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--only', 'trian'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--only trian: expected a comma list of train, infer, select/);
});
