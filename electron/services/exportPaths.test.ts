import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ExportSummary, ExportTarget } from '../../shared/annotation.ts';
import type { Result } from '../../shared/contract.ts';
import { resolveExportPath } from '../annotation/exporter.ts';
import { importPath, writePngFolder } from '../annotation/fixtures.ts';
import { PREFERENCES_FILE } from '../annotation/preferences.ts';
import { createAnnotationProject, submitEvent } from '../annotation/projects.ts';
import { datasetSamples } from '../store/annotation.ts';
import { openStore } from '../store/store.ts';
import type { SavePathRequest } from './annotationServices.ts';
import { createServices, type Services } from './services.ts';

function value<T>(r: Result<unknown>): T {
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

/**
 * Where an export goes (issue 23 item 4): "~/neu-labels.csv" typed in the app once made a folder
 * named "~" in the app's working folder and reported success. `~` is the home folder (injected
 * here), a relative path is refused naming the full path it may have meant, the screen can ask
 * where a path leads before writing, and the desktop app asks with the native save dialog.
 */
describe('export paths through the services', { timeout: 60_000 }, () => {
  let dir: string;
  let home: string;
  let dbPath: string;
  let projectId: number;
  let services: Services;
  const asked: SavePathRequest[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-exportpaths-'));
    home = join(dir, 'home');
    mkdirSync(home);
    mkdirSync(join(dir, 'data'));
    dbPath = join(dir, 'data', 'workspace.db');
    const datasetId = await importPath(dbPath, await folder());
    const s = openStore(dbPath);
    projectId = createAnnotationProject(s, {
      name: 'NEU photos',
      datasetId,
      classNames: ['a', 'b'],
      createdBy: 'ann',
    });
    for (const [k, sample] of datasetSamples(s, datasetId).slice(0, 3).entries())
      submitEvent(s, {
        projectId,
        sampleId: sample.id,
        annotator: 'ann',
        kind: 'label',
        classIdx: k % 2,
        via: 'queue',
      });
    s.close();
    services = createServices({
      dataDir: join(dir, 'data'),
      dbPath,
      mode: 'electron',
      version: 'test',
      backups: false,
      homeDir: home,
      chooseSavePath: async (request) => {
        asked.push(request);
        return join(home, 'chosen.csv');
      },
    });
  });

  async function folder(): Promise<string> {
    const f = join(dir, 'imgs');
    await writePngFolder(f, 6, { classes: 2, side: 8 });
    return f;
  }

  after(async () => {
    await services?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('~/… is written in the home folder, and the answer names the full path', async () => {
    const r = value<ExportSummary>(
      await services.invoke('projects:export', {
        projectId,
        format: 'csv',
        out: '~/exports/neu-labels.csv',
      }),
    );
    assert.equal(r.out, join(home, 'exports', 'neu-labels.csv'));
    assert.equal(r.labels, 3);
    assert.ok(existsSync(r.out));
    assert.equal(existsSync(join(process.cwd(), '~')), false, 'no folder named ~ here');
  });

  test('a relative path is refused, naming the home-folder path it may have meant', async () => {
    const before = readdirSync(process.cwd());
    const r = await services.invoke('projects:export', {
      projectId,
      format: 'csv',
      out: 'neu-labels.csv',
    });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.code, 'invalid-argument');
    assert.match(r.error.message, /is a relative path/);
    assert.ok(r.error.message.includes(join(home, 'neu-labels.csv')), r.error.message);
    assert.deepEqual(readdirSync(process.cwd()), before);
    assert.equal(existsSync(join(home, 'neu-labels.csv')), false);
  });

  test('where a typed path leads, and what is there, before anything is written', async () => {
    const fresh = value<ExportTarget>(
      await services.invoke('projects:exportTarget', { out: ' ~/new/labels.json ' }),
    );
    assert.deepEqual(fresh, {
      path: join(home, 'new', 'labels.json'),
      problem: null,
      exists: null,
    });
    assert.equal(existsSync(join(home, 'new')), false, 'asking writes nothing');
    const taken = value<ExportTarget>(
      await services.invoke('projects:exportTarget', { out: '~/exports/neu-labels.csv' }),
    );
    assert.equal(taken.exists, 'file');
    assert.equal(
      value<ExportTarget>(await services.invoke('projects:exportTarget', { out: '~' })).exists,
      'folder',
    );
    const relative = value<ExportTarget>(
      await services.invoke('projects:exportTarget', { out: 'labels.csv' }),
    );
    assert.equal(relative.path, null);
    assert.match(relative.problem ?? '', /relative path.*give the full path/);
    const other = value<ExportTarget>(
      await services.invoke('projects:exportTarget', { out: '~bob/labels.csv' }),
    );
    assert.match(other.problem ?? '', /another user's home folder/);
  });

  test('the desktop app asks with the save dialog, starting in the home folder', async () => {
    const r = value<{ supported: boolean; path: string | null }>(
      await services.invoke('projects:chooseExport', { projectId, format: 'csv' }),
    );
    assert.deepEqual(r, { supported: true, path: join(home, 'chosen.csv') });
    assert.equal(asked.at(-1)!.defaultPath, join(home, 'NEU photos-labels.csv'));
    assert.deepEqual(asked.at(-1)!.filters, [{ name: 'CSV', extensions: ['csv'] }]);
    await services.invoke('projects:chooseExport', { projectId, format: 'folders' });
    assert.equal(asked.at(-1)!.defaultPath, join(home, 'NEU photos-labels'));
    assert.deepEqual(asked.at(-1)!.filters, []);
  });

  test('browser mode has no save dialog and says so', async () => {
    const browser = createServices({
      dataDir: join(dir, 'data'),
      dbPath,
      mode: 'browser',
      version: 'test',
      backups: false,
      homeDir: home,
    });
    try {
      assert.deepEqual(
        value(await browser.invoke('projects:chooseExport', { projectId, format: 'json' })),
        { supported: false, path: null },
      );
    } finally {
      await browser.close();
    }
  });

  test('the annotator name is remembered in the data folder for the next session', async () => {
    const data = join(dir, 'prefs');
    const open = () =>
      createServices({
        dataDir: data,
        dbPath: join(data, 'workspace.db'),
        mode: 'browser',
        version: 'test',
        backups: false,
      });
    const first = open();
    try {
      assert.deepEqual(value(await first.invoke('labels:annotator', {})), { annotator: null });
      value(await first.invoke('labels:setAnnotator', { annotator: '  alice ' }));
    } finally {
      await first.close();
    }
    const second = open();
    try {
      assert.deepEqual(value(await second.invoke('labels:annotator', {})), { annotator: 'alice' });
      // A hand-edited or damaged file reads as no name, never as an error.
      writeFileSync(join(data, PREFERENCES_FILE), '{"annotator": "bad\\u0000name"');
      assert.deepEqual(value(await second.invoke('labels:annotator', {})), { annotator: null });
      const bad = await second.invoke('labels:setAnnotator', { annotator: '' });
      assert.equal(bad.ok, false);
    } finally {
      await second.close();
    }
  });
});

test('resolveExportPath: ~, absolute, relative with and without a base', () => {
  const home = join(tmpdir(), 'someone');
  assert.equal(resolveExportPath('~', { home }), home);
  assert.equal(resolveExportPath('~/a/b.csv', { home }), join(home, 'a', 'b.csv'));
  assert.equal(resolveExportPath(join(home, 'x', '..', 'y.csv'), { home }), join(home, 'y.csv'));
  assert.equal(resolveExportPath('y.csv', { home, base: tmpdir() }), join(tmpdir(), 'y.csv'));
  assert.throws(() => resolveExportPath('y.csv', { home }), /relative path/);
  assert.throws(() => resolveExportPath('~bob/y.csv', { home, base: tmpdir() }), /another user/);
  assert.throws(() => resolveExportPath('   ', { home }), /Type where to export/);
});
