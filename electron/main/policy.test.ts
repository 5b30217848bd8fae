import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { appResourcesDir, workerEntry } from './paths.ts';
import { EXTERNAL_LINKS, externalLinkAllowed, requestAllowed } from './policy.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (/\.(vue|ts)$/.test(e.name)) out.push(p);
  }
  return out;
}

describe('external links', () => {
  test('the allowed links are exactly the https links the renderer shows', () => {
    const shown = new Set<string>();
    for (const f of files(join(root, 'renderer', 'src')))
      for (const m of readFileSync(f, 'utf8').matchAll(/https:\/\/[^\s'"`<>)]+/g))
        shown.add(new URL(m[0]).href);
    assert.deepEqual([...EXTERNAL_LINKS].sort(), [...shown].sort());
  });

  test('nothing else is handed to the operating system', () => {
    for (const url of [
      'https://example.com/',
      'http://example.com/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'smb://host/share',
      'ms-settings:',
      'not a url',
    ])
      assert.equal(externalLinkAllowed(url), false, url);
    for (const url of EXTERNAL_LINKS) assert.equal(externalLinkAllowed(url), true, url);
  });
});

describe('requests the window may make', () => {
  const app = 'file:///opt/DeepAL/resources/app.asar/dist/renderer/';
  test("the app's own files and the data:/blob: URLs it makes; DevTools only unpackaged", () => {
    for (const packaged of [true, false]) {
      assert.equal(requestAllowed(`${app}assets/index.js`, app, packaged), true);
      assert.equal(requestAllowed('data:image/png;base64,AAAA', app, packaged), true);
      assert.equal(requestAllowed('blob:null/6f1c', app, packaged), true);
      assert.equal(requestAllowed('https://example.com/x.js', app, packaged), false);
      assert.equal(requestAllowed('file:///etc/passwd', app, packaged), false);
      assert.equal(
        requestAllowed('file:///opt/DeepAL/resources/app.asar/dist/x', app, packaged),
        false,
      );
    }
    assert.equal(requestAllowed('devtools://devtools/bundled/x.html', app, false), true);
    assert.equal(requestAllowed('devtools://devtools/bundled/x.html', app, true), false);
  });
});

describe('paths in a packaged app', () => {
  test('the ML worker is the unpacked copy beside the main bundle', () => {
    const packaged = [
      '',
      'opt',
      'DeepAL',
      'resources',
      'app.asar',
      'dist-electron',
      'main.mjs',
    ].join(sep);
    assert.equal(
      workerEntry(packaged),
      [
        '',
        'opt',
        'DeepAL',
        'resources',
        'app.asar.unpacked',
        'dist-electron',
        'ml.worker.mjs',
      ].join(sep),
    );
    assert.equal(
      workerEntry(join(root, 'dist-electron', 'main.mjs')),
      join(root, 'dist-electron', 'ml.worker.mjs'),
    );
  });

  test('runtime resources: beside app.asar when packaged, resources/ in a checkout', () => {
    assert.equal(appResourcesDir(true, '/opt/DeepAL/resources', root), '/opt/DeepAL/resources');
    assert.equal(
      appResourcesDir(false, '/usr/lib/electron/resources', root),
      join(root, 'resources'),
    );
  });
});
