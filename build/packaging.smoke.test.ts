import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { detectElectron } from '../electron/main/electronBinary.ts';
import type { SmokeReport } from '../electron/main/smoke.ts';
import { localElectronDist } from './packaging/config.ts';

/**
 * Packaging, run for real: `electron-builder --dir` for this platform.
 *
 * - Offline (always): with every download pointed at a closed loopback port and empty caches, it
 *   gets through configuration and the choice of native modules, and stops where it must
 *   download Electron, saying so, without touching node_modules.
 * - With an Electron binary (ELECTRON_OVERRIDE_DIST_PATH, or the one `npm install` downloaded):
 *   it builds the folder target, starts the packaged app (under Xvfb on Linux without a display)
 *   and waits for the home screen and the ML worker's backend (electron/main/smoke.ts).
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'node_modules', 'electron-builder', 'cli.js');
const platformFlag =
  process.platform === 'darwin' ? '--mac' : process.platform === 'win32' ? '--win' : '--linux';
const electronVersion = (
  JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;
/** Nothing listens on the discard port on loopback: downloads from here fail at once. */
const OFFLINE = 'http://127.0.0.1:9';
const PROXY_VARS = [
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'ALL_PROXY',
  'all_proxy',
];

const tmp = mkdtempSync(join(tmpdir(), 'deepal-pack-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const sqliteBuild = join(
  root,
  'node_modules',
  'better-sqlite3',
  'build',
  'Release',
  'better_sqlite3.node',
);

function electronBuilder(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number) {
  const r = spawnSync(process.execPath, [cli, platformFlag, 'dir', ...args], {
    cwd: root,
    env: { ...env, NO_UPDATE_NOTIFIER: '1' },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    status: r.status,
    output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`,
  };
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

describe('packaging smoke test', () => {
  test('offline, electron-builder --dir stops only where it must download Electron, and says so', () => {
    const before = sha(sqliteBuild);
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const v of [...PROXY_VARS, 'ELECTRON_OVERRIDE_DIST_PATH']) delete env[v];
    const dir = (name: string) => {
      const d = join(tmp, 'offline', name);
      mkdirSync(d, { recursive: true });
      return d;
    };
    Object.assign(env, {
      ELECTRON_MIRROR: `${OFFLINE}/`,
      ELECTRON_CACHE: dir('electron-cache'),
      DEEPAL_ELECTRON_HEADERS_URL: OFFLINE,
      DEEPAL_ELECTRON_GYP_DIR: dir('electron-gyp'),
      DEEPAL_NATIVE_CACHE: dir('native'),
    });
    const r = electronBuilder([`-c.directories.output=${dir('release')}`], env, 180_000);
    const out = r.output;
    assert.equal(r.status, 1, out);
    // Configuration, the machine-dependent part included, loaded and passed validation.
    assert.match(out, /loaded configuration/);
    assert.match(out, /loaded parent configuration .*build\/packaging\/config\.mjs/);
    // The stop: what must be downloaded, from where, and why it could not be.
    assert.match(
      out,
      /Packaging stops here: it must download Electron and cannot reach the download server\./,
    );
    const escaped = electronVersion.replace(/\./g, '\\.');
    assert.match(out, new RegExp(`Electron ${escaped}'s headers, to rebuild better-sqlite3`));
    assert.match(out, /from http:\/\/127\.0\.0\.1:9\//);
    assert.match(out, /ECONNREFUSED 127\.0\.0\.1:9/);
    if (!localElectronDist(root, env))
      assert.match(
        out,
        new RegExp(`- Electron ${escaped} for ${process.platform}-${process.arch}`),
      );
    // Nothing else failed first: no native rebuild of tfjs-node-gpu, no stack trace.
    assert.doesNotMatch(out, /node-gyp failed|tfjs-node-gpu'|stackTrace=/);
    // The CLI's native build in node_modules is left as it was.
    assert.equal(sha(sqliteBuild), before);
  });

  const dist = localElectronDist(root);
  const needsXvfb = process.platform === 'linux' && !process.env.DISPLAY;
  let skip: string | false = false;
  if (!dist)
    skip = `no Electron binary to package: ${detectElectron().reason ?? 'not installed'}, and ELECTRON_OVERRIDE_DIST_PATH is not set`;
  else if (needsXvfb && !which('xvfb-run')) {
    const why = 'no display and no xvfb-run to start the packaged app (apt-get install xvfb xauth)';
    if (process.env.CI) throw new Error(`CI is set and there is ${why}`);
    skip = why;
  }

  test(
    'with an Electron binary: the folder target builds, starts and reaches the home screen',
    { skip, timeout: 15 * 60_000 },
    async (t) => {
      const { ensureRendererBuilt } = await import('../e2e/helpers.ts');
      const { buildElectronBundles } = await import('../electron/main/build.ts');
      await ensureRendererBuilt();
      await buildElectronBundles(root);
      const release = join(tmp, 'release');
      const r = electronBuilder(
        [`-c.directories.output=${release}`, `-c.electronDist=${dist}`],
        process.env,
        12 * 60_000,
      );
      if (
        r.status !== 0 &&
        /Packaging stops here|must download Electron's headers/.test(r.output)
      ) {
        t.skip(
          `packaging needs a download this machine cannot make: ${r.output
            .split('\n')
            .find((l) => /⨯/.test(l))
            ?.trim()}`,
        );
        return;
      }
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, /the ML worker starts \(backend: \w+/);
      assert.match(r.output, /fuses set/);

      const folder = readdirSync(release).find((d) => d.endsWith('-unpacked') || /^mac/.test(d));
      assert.ok(folder, `no unpacked app in ${release}: ${readdirSync(release).join(', ')}`);
      const exe =
        process.platform === 'darwin'
          ? join(release, folder, 'DeepAL Studio.app', 'Contents', 'MacOS', 'DeepAL Studio')
          : process.platform === 'win32'
            ? join(release, folder, 'DeepAL Studio.exe')
            : join(release, folder, 'deepal-studio');
      assert.ok(existsSync(exe), exe);

      const report = join(tmp, 'smoke.json');
      const data = join(tmp, 'data');
      const appArgs = [`--data-dir=${data}`, `--smoke-report=${report}`];
      // Chromium's sandbox refuses to run as root (CI containers).
      if (process.platform === 'linux' && process.getuid?.() === 0) appArgs.push('--no-sandbox');
      const [cmd, args] = needsXvfb ? ['xvfb-run', ['-a', exe, ...appArgs]] : [exe, appArgs];
      const run = spawnSync(cmd, args as string[], { encoding: 'utf8', timeout: 180_000 });
      assert.ok(
        existsSync(report),
        `no report from the app (exit ${run.status ?? run.signal}): ${run.stderr}`,
      );
      const seen = JSON.parse(readFileSync(report, 'utf8')) as SmokeReport;
      assert.equal(seen.ok, true, JSON.stringify(seen));
      assert.equal(seen.packaged, true);
      assert.equal(seen.home, true);
      assert.ok(seen.backend, 'the ML worker named its backend');
      assert.ok(existsSync(join(data, 'workspace.db')), 'the workspace is in the data folder');
    },
  );
});
