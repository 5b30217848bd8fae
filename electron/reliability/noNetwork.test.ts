import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * No outbound network: the app's main flows (fixtures/mainFlows.ts) run in a child process with
 * every network door of Node watched (fixtures/netGuard.mjs, preloaded in the main thread and in
 * the ML worker). Any non-loopback connection or name lookup fails the test. The browser side is
 * watched by the end-to-end specs (e2e/helpers.ts guardPage fails on any non-loopback request).
 */
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'deepal-nonet-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Entry {
  thread?: string;
  kind?: string;
  target?: string;
  verdict?: 'allowed' | 'blocked' | 'active';
  marker?: string;
}

describe('no outbound network', { timeout: 180_000 }, () => {
  test('browser mode, import, a study in the worker and a backup talk to loopback only', async () => {
    const log = join(tmp, 'net.jsonl');
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>(
      (done, fail) => {
        const p = spawn(
          process.execPath,
          [
            '--import',
            join(here, 'fixtures', 'netGuard.mjs'),
            '--import',
            'tsx',
            join(here, 'fixtures', 'mainFlows.ts'),
            tmp,
          ],
          {
            cwd: repoRoot,
            stdio: ['ignore', 'ignore', 'pipe'],
            env: { ...process.env, DEEPAL_NET_LOG: log, DEEPAL_BACKEND: 'wasm' },
          },
        );
        let err = '';
        p.stderr.on('data', (c: Buffer) => (err += c.toString()));
        p.on('error', fail);
        p.on('close', (c) => done({ code: c, stderr: err }));
      },
    );
    const entries = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Entry);
    const flowsEnd = entries.findIndex((e) => e.marker === 'FLOWS DONE');
    assert.ok(flowsEnd > 0, `the flows did not finish (exit ${code}):\n${stderr}`);
    const flows = entries.slice(0, flowsEnd);
    const canaries = entries.slice(flowsEnd);

    // The guard was active where the work happened: the main thread and the ML worker.
    const guarded = new Set(flows.filter((e) => e.kind === 'guard').map((e) => e.thread));
    assert.ok(guarded.has('main'), 'guard active in the main thread');
    assert.ok(
      [...guarded].some((t) => t?.startsWith('worker')),
      `guard active in the ML worker (threads: ${[...guarded].join(', ')})`,
    );
    // It saw the flows' own traffic (the UI's HTTP calls and the WebSocket on loopback)...
    // (fetch keeps connections alive, so a handful carries every call.)
    const allowed = flows.filter((e) => e.verdict === 'allowed');
    assert.ok(
      allowed.filter((e) => e.kind === 'tcp' && /^127\.0\.0\.1:\d+$/.test(e.target ?? '')).length >=
        2,
      `loopback connections seen: ${JSON.stringify(allowed)}`,
    );
    // ...and nothing else.
    const outbound = flows.filter((e) => e.verdict === 'blocked');
    assert.deepEqual(outbound, [], 'non-loopback network attempts during the main flows');

    // The canaries prove the watch works: each was seen and refused.
    assert.equal(code, 0, `a canary got through:\n${stderr}`);
    const refused = new Set(canaries.filter((e) => e.verdict === 'blocked').map((e) => e.kind));
    for (const kind of ['fetch', 'tcp', 'dns', 'https']) {
      assert.ok(
        refused.has(kind),
        `canary ${kind} refused and logged (${[...refused].join(', ')})`,
      );
    }
    process.stdout.write(
      `# no-network: ${allowed.length} loopback connections in the flows, 0 outbound; ${refused.size} canary kinds refused\n`,
    );
  });
});
