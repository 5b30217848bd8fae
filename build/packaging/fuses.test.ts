import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FuseV1Options } from '@electron/fuses';
import { fusedBinary, FUSES, hardenBinary } from './fuses.ts';

/** Electron's fuse wire marker (@electron/fuses' constants, not exported by its index). */
const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A stand-in executable carrying Electron's fuse wire: version 1, 8 fuses, all on. */
function fakeElectron(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deepal-fuses-'));
  dirs.push(dir);
  const file = join(dir, 'deepal-studio');
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from('\x7fELF...code...'),
      Buffer.from(SENTINEL),
      Buffer.from([1, 8]),
      Buffer.from('11111111'),
      Buffer.from('...more code'),
    ]),
  );
  return file;
}

const wire = (file: string) => {
  const b = readFileSync(file);
  const at = b.indexOf(SENTINEL) + SENTINEL.length + 2;
  return b.subarray(at, at + 8).toString();
};

test('the packaged binary gets RunAsNode, NODE_OPTIONS and inspect off, asar-only and cookie encryption on', async () => {
  const exe = fakeElectron();
  await hardenBinary(exe, 'linux');
  // Wire order: RunAsNode, CookieEncryption, NodeOptions, NodeCliInspect, AsarIntegrity,
  // OnlyLoadAppFromAsar, BrowserV8Snapshot, GrantFileProtocolExtraPrivileges.
  assert.equal(wire(exe), '01001111');
  assert.deepEqual(
    Object.keys(FUSES)
      .map((k) => FuseV1Options[Number(k)])
      .sort(),
    [
      'EnableCookieEncryption',
      'EnableNodeCliInspectArguments',
      'EnableNodeOptionsEnvironmentVariable',
      'OnlyLoadAppFromAsar',
      'RunAsNode',
    ],
  );
});

test('a binary without a fuse wire is an error, not a silent pass', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepal-fuses-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'x'), 'no wire here');
  await assert.rejects(hardenBinary(join(dir, 'x'), 'linux'), /Could not find sentinel/);
});

test('which file holds the fuses on each platform', () => {
  const names = { productFilename: 'DeepAL Studio', executableName: 'deepal-studio' };
  assert.equal(fusedBinary('/o', 'linux', names), join('/o', 'deepal-studio'));
  assert.equal(fusedBinary('/o', 'win32', names), join('/o', 'DeepAL Studio.exe'));
  assert.equal(fusedBinary('/o', 'darwin', names), join('/o', 'DeepAL Studio.app'));
});
