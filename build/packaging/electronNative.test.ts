import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  cachedBuild,
  electronAbi,
  electronBuildEnv,
  moduleAbi,
  NeedsDownloadError,
  rebuildForElectron,
} from './electronNative.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const nodeBuild = join(
  root,
  'node_modules',
  'better-sqlite3',
  'build',
  'Release',
  'better_sqlite3.node',
);
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'deepal-native-'));
  dirs.push(d);
  return d;
};
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** No server listens on port 9 (discard) on loopback: a download that fails at once. */
const OFFLINE = 'http://127.0.0.1:9';

describe('building better-sqlite3 for Electron', () => {
  test("npm's nodedir never reaches the build (it would compile against Node's headers)", () => {
    const env = electronBuildEnv({
      PATH: '/bin',
      npm_config_nodedir: '/usr',
      NPM_CONFIG_NODEDIR: '/usr',
      npm_config_target: '20.0.0',
      npm_config_cache: '/tmp/c',
    });
    assert.deepEqual(env, { PATH: '/bin', npm_config_cache: '/tmp/c' });
  });

  test('the ABI a module was built for is read from the binary itself', () => {
    // The CLI's build in node_modules is for the Node.js running the tests.
    assert.equal(moduleAbi(nodeBuild), process.versions.modules);
    assert.equal(electronAbi('40.10.2'), '143');
  });

  test('a cached build for the wrong ABI is not used', () => {
    const cacheDir = temp();
    const o = {
      projectDir: root,
      moduleName: 'better-sqlite3',
      binary: 'build/Release/better_sqlite3.node',
      cacheDir,
      electronVersion: '40.10.2',
      platform: process.platform,
      arch: process.arch,
    };
    const version = (
      JSON.parse(
        readFileSync(join(root, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8'),
      ) as {
        version: string;
      }
    ).version;
    const dir = join(
      cacheDir,
      `better-sqlite3@${version}-electron-40.10.2-${process.platform}-${process.arch}`,
    );
    mkdirSync(dir, { recursive: true });
    // What an offline build against this machine's Node headers produces (nodedir=/usr).
    copyFileSync(nodeBuild, join(dir, 'better_sqlite3.node'));
    assert.equal(cachedBuild(o), null);
  });

  test('offline, the build stops on the download it needs and leaves node_modules alone', async () => {
    const before = sha(nodeBuild);
    const cacheDir = temp();
    const devDir = temp();
    const lines: string[] = [];
    await assert.rejects(
      rebuildForElectron({
        projectDir: root,
        moduleName: 'better-sqlite3',
        binary: 'build/Release/better_sqlite3.node',
        cacheDir,
        devDir,
        headersUrl: OFFLINE,
        electronVersion: '40.10.2',
        platform: process.platform,
        arch: process.arch,
        log: (l) => lines.push(l),
        env: {
          ...process.env,
          // Were nodedir honoured, node-gyp would build against local headers and not stop here.
          npm_config_nodedir: '/usr',
          // prebuild-install's download goes nowhere either.
          npm_config_better_sqlite3_binary_host: OFFLINE,
          npm_config_better_sqlite3_binary_host_mirror: OFFLINE,
          // Nor from prebuild-install's cache in the npm cache.
          npm_config_cache: temp(),
        },
      }),
      (err: unknown) => {
        assert.ok(err instanceof NeedsDownloadError, String(err));
        assert.match(
          err.message,
          /must download Electron's headers \(http:\/\/127\.0\.0\.1:9\/v40\.10\.2\)/,
        );
        assert.match(err.message, /ECONNREFUSED/);
        return true;
      },
    );
    assert.equal(sha(nodeBuild), before, "the CLI's better-sqlite3 build is untouched");
    assert.ok(lines.some((l) => l.includes('rebuilding better-sqlite3')));
  });
});
