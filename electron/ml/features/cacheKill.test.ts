import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeOnnxEncoder } from '../../../build/scripts/makeTestEncoders.ts';
import { Rng } from '../../../shared/random.ts';
import { readCached } from './cache.ts';
import { computeFeatures } from './compute.ts';
import { memorySource, tempDir, testImages } from './fixtures/modelFiles.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const child = join(here, 'fixtures', 'cacheKillChild.ts');
const tmp = tempDir();
after(tmp.cleanup);
const model = join(tmp.dir, 'encoder.onnx');
const IMAGES = 64;
let expected: Float32Array;

before(async () => {
  await writeOnnxEncoder(model);
  const px = testImages(IMAGES, 16, 16, 3, 21); // the child's images
  expected = (
    await computeFeatures(memorySource(px, IMAGES, [16, 16], 3), { kind: 'onnx', path: model })
  ).data;
});

/** Run the child until it has printed `killAfter` lines, SIGKILL it, return the lines it printed. */
function runAndKill(args: string[], killAfter: number): Promise<string[]> {
  return new Promise((done, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killed = false;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!killed && out.split('\n').length - 1 >= killAfter) {
        killed = true;
        proc.kill('SIGKILL');
      }
    });
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`child exited with code ${code} before it was killed:\n${err}`));
        return;
      }
      const lines = out.split('\n');
      lines.pop();
      done(lines);
    });
  });
}

/** Every entry of the cache folder readCached returns, checked complete and right. */
async function readableEntries(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const keys: string[] = [];
  for (const name of names) {
    if (name.startsWith('.') || !name.endsWith('.json')) continue;
    const key = name.slice(0, -'.json'.length);
    const hit = await readCached(dir, key);
    assert.ok(hit, `${name} is in the cache folder but its matrix cannot be read`);
    assert.equal(hit.meta.n, IMAGES);
    assert.equal(hit.meta.dim, 3);
    assert.deepEqual([...hit.data], [...expected], `${key} holds other numbers than computed`);
    keys.push(key);
  }
  return keys;
}

describe('a feature job killed mid-way (SIGKILL)', () => {
  const seed = Number(process.env.DEEPAL_CRASH_SEED ?? Date.now() % 1_000_000);
  const rng = new Rng(seed);

  test(`killed between cache writes: every entry readCached returns is complete (seed ${seed})`, async () => {
    const dir = join(tmp.dir, 'loop');
    const killAfter = 2 + rng.int(6);
    const reported = await runAndKill([model, dir, 'loop'], killAfter);
    const keys = await readableEntries(dir);
    for (const k of reported) assert.ok(keys.includes(k), `reported entry ${k} was lost`);
  });

  test('killed while embedding: nothing readable is left', async () => {
    const dir = join(tmp.dir, 'long');
    const lines = await runAndKill([model, dir, 'long'], 3);
    assert.ok(!lines.includes('done'));
    assert.deepEqual(await readableEntries(dir), []);
  });
});
