import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { wasmThreadsWanted, MAX_WASM_THREADS } from '../wasmThreads.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function withoutTestContext(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.NODE_TEST_CONTEXT;
  return copy;
}

function runNode(args: string[], env: Record<string, string>, timeoutMs: number) {
  return spawnSync(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    // Without NODE_TEST_CONTEXT, a nested `node --test` reports for itself instead of to us.
    env: { ...withoutTestContext(process.env), ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
}

test('DEEPAL_WASM_THREADS is read, checked and defaults to the CPUs (at most 4)', () => {
  assert.equal(wasmThreadsWanted({ DEEPAL_WASM_THREADS: '3' }, 8), 3);
  assert.equal(wasmThreadsWanted({}, 2), 2);
  assert.equal(wasmThreadsWanted({}, 16), MAX_WASM_THREADS);
  assert.equal(wasmThreadsWanted({}, 1), 1);
  for (const bad of ['0', '5', '1.5', 'two']) {
    assert.throws(
      () => wasmThreadsWanted({ DEEPAL_WASM_THREADS: bad }, 8),
      /DEEPAL_WASM_THREADS=.* whole number from 1 to 4/,
    );
  }
});

test('the threaded wasm build starts under Node with 2 threads and the process exits by itself', () => {
  const r = runNode(
    ['electron/cli/bin.mjs', 'info', '--backend', 'wasm', '--json'],
    { DEEPAL_WASM_THREADS: '2' },
    60_000,
  );
  // A pthread that kept the event loop alive would hang here until the timeout kills it.
  assert.equal(r.signal, null, `deepal info did not exit by itself: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { backend: string; threads: number; note?: string };
  assert.equal(info.backend, 'wasm');
  assert.equal(info.threads, 2, `expected 2 threads (${info.note ?? 'no note'})`);
});

test(
  'our wasm kernels match the cpu backend, train, and share jobs with helper threads on the threaded build',
  { skip: cpus().length < 2 ? 'one CPU: the threaded build has nothing to share' : false },
  () => {
    const r = runNode(
      [
        '--test',
        '--test-reporter=tap',
        'electron/ml/kernels/kernels.test.ts',
        'electron/ml/kernels/training.test.ts',
        'electron/ml/kernels/parallel.test.ts',
      ],
      { DEEPAL_WASM_THREADS: '2' },
      300_000,
    );
    assert.equal(r.signal, null, 'the threaded kernel tests did not finish');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^# pass [1-9]\d*$/m);
    assert.match(r.stdout, /^# fail 0$/m);
  },
);
