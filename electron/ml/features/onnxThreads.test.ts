import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeOnnxEncoder } from '../../../build/scripts/makeTestEncoders.ts';
import { tempDir } from './fixtures/modelFiles.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const tmp = tempDir();
after(tmp.cleanup);
const model = join(tmp.dir, 'encoder.onnx');
before(() => writeOnnxEncoder(model));

function run(mode: 'preload' | 'no-preload'): { ok: boolean; first?: number; message?: string }[] {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(here, 'fixtures', 'onnxThreadsChild.ts'), model, mode],
    { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { ok: boolean; first?: number; message?: string });
}

describe('onnxruntime-node in the ML worker threads', () => {
  test('loaded by the main thread first, it serves a new worker thread after the last one ended', () => {
    const [a, b] = run('preload');
    assert.equal(a?.ok, true, a?.message);
    assert.equal(b?.ok, true, b?.message);
    assert.equal(a.first, b.first);
  });

  test('loaded by a worker thread that ended, it cannot load again, and the error says why', () => {
    const [a, b] = run('no-preload');
    assert.equal(a?.ok, true, a?.message);
    assert.equal(b?.ok, false);
    assert.match(b.message ?? '', /another thread.*main thread/);
  });
});
