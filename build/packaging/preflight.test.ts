import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { NeedsDownloadError } from './electronNative.ts';
import {
  checkElectronDist,
  electronZipUrl,
  pendingDownloads,
  reach,
  stopIfOffline,
  type Download,
} from './preflight.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'deepal-preflight-'));
  dirs.push(d);
  return d;
};
const target = { electronVersion: '40.10.2', platform: 'linux' as const, arch: 'x64' };

describe('what packaging must download', () => {
  test('the Electron zip unless electronDist is set or the cache has it; headers unless cached', () => {
    const cache = temp();
    const devDir = temp();
    const base = {
      target,
      electronDist: undefined,
      download: { cache },
      nativeCached: false,
      devDir,
      headersUrl: 'https://electronjs.org/headers',
      env: {},
    };
    assert.deepEqual(
      pendingDownloads(base).map((d) => d.url),
      [
        'https://github.com/electron/electron/releases/download/v40.10.2/electron-v40.10.2-linux-x64.zip',
        'https://electronjs.org/headers/v40.10.2/node-v40.10.2-headers.tar.gz',
      ],
    );
    assert.equal(pendingDownloads({ ...base, electronDist: '/opt/electron' }).length, 1);
    assert.equal(pendingDownloads({ ...base, nativeCached: true }).length, 1);
    // @electron/get keeps one folder per URL; app-builder the zip itself.
    mkdirSync(join(cache, 'abc123'));
    writeFileSync(join(cache, 'abc123', 'electron-v40.10.2-linux-x64.zip'), '');
    mkdirSync(join(devDir, '40.10.2', 'include', 'node'), { recursive: true });
    writeFileSync(join(devDir, '40.10.2', 'include', 'node', 'node_version.h'), '');
    assert.deepEqual(pendingDownloads(base), []);
  });

  test('a mirror replaces the download host', () => {
    assert.equal(
      electronZipUrl(target, undefined, { ELECTRON_MIRROR: 'http://127.0.0.1:9' }),
      'http://127.0.0.1:9/v40.10.2/electron-v40.10.2-linux-x64.zip',
    );
  });

  test('an electronDist of another Electron version is refused', () => {
    const dist = temp();
    writeFileSync(join(dist, 'version'), '39.0.0');
    assert.throws(
      () => checkElectronDist(dist, '40.10.2'),
      /holds Electron 39\.0\.0.*has Electron 40\.10\.2/,
    );
    writeFileSync(join(dist, 'version'), 'v40.10.2');
    checkElectronDist(dist, '40.10.2');
    assert.throws(() => checkElectronDist(join(dist, 'none'), '40.10.2'), /is not a folder/);
  });
});

describe('stopping before work when offline', () => {
  const downloads: Download[] = [
    {
      what: 'Electron 40.10.2 for linux-x64',
      url: 'http://127.0.0.1:9/e.zip',
      lookedIn: 'not in the cache /c',
    },
  ];

  test('an unreachable server stops packaging with what, from where and what to do', async () => {
    await assert.rejects(
      stopIfOffline(downloads, {}, async () => 'ECONNREFUSED 127.0.0.1:9'),
      (err) => {
        assert.ok(err instanceof NeedsDownloadError);
        assert.match(err.message, /^Packaging stops here: it must download Electron/);
        assert.match(
          err.message,
          /Electron 40\.10\.2 for linux-x64\n\s+from http:\/\/127\.0\.0\.1:9\/e\.zip/,
        );
        assert.match(err.message, /not in the cache \/c; ECONNREFUSED/);
        assert.match(err.message, /ELECTRON_OVERRIDE_DIST_PATH/);
        return true;
      },
    );
  });

  test('reachable, nothing to download, or behind a proxy: no stop', async () => {
    await stopIfOffline(downloads, {}, async () => null);
    await stopIfOffline([], {}, async () => 'down');
    await stopIfOffline(downloads, { HTTPS_PROXY: 'http://proxy:3128' }, async () => 'down');
  });

  test('reach() tells a listening port from a closed one', async () => {
    const server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      assert.equal(await reach(`http://127.0.0.1:${port}/x`), null);
    } finally {
      server.close();
    }
    assert.match((await reach('http://127.0.0.1:9/x')) ?? '', /ECONNREFUSED 127\.0\.0\.1:9/);
    assert.match((await reach('not a url')) ?? '', /not a URL/);
  });
});
