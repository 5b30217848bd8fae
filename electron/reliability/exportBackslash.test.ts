import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { datasetSamples } from '../store/annotation.ts';
import { openStore, type Store } from '../store/store.ts';
import { exportProject, MANIFEST } from '../annotation/exporter.ts';
import { importPath, writePngFolder } from '../annotation/fixtures.ts';
import { sampleFile } from '../annotation/images.ts';
import { createAnnotationProject, submitEvent } from '../annotation/projects.ts';

/**
 * File names with backslashes are legal on Linux and macOS (`x\..\y.png` is one file there). A
 * folder export of a project holding such files used to be refused whole, because the path check
 * split names on backslashes and saw a `..` step. They must export under a sanitised name inside
 * their class folder, and nothing may be written outside the chosen folder.
 */
const BACKSLASH_FILES = ['x\\..\\y.png', 'a\\b.png', 'sub\\..\\..\\deep.png', '\\\\server\\s.png'];

const root = mkdtempSync(join(tmpdir(), 'deepal-export-bs-'));
after(() => rmSync(root, { recursive: true, force: true }));

function tree(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(relative(root, p));
    if (e.isDirectory()) tree(p, out);
  }
  return out;
}

describe(
  'file names with backslashes',
  { skip: sep === '\\' && 'Windows has no such names' },
  () => {
    let store: Store;
    let datasetId: number;
    let images: string;

    before(async () => {
      images = join(root, 'data', 'images');
      await writePngFolder(images, 4, { classes: 2, side: 8 });
      for (const name of BACKSLASH_FILES)
        copyFileSync(join(images, 'img-0000.png'), join(images, name));
      datasetId = await importPath(join(root, 'data', 'w.db'), images);
      store = openStore(join(root, 'data', 'w.db'));
    });
    after(() => store?.close());

    test('are read for labeling like any other file, and traversal is still refused', async () => {
      for (const name of BACKSLASH_FILES) {
        assert.equal(await sampleFile(images, name), join(images, name));
      }
      await assert.rejects(sampleFile(images, '../data/w.db'), /leaves the dataset folder/);
      await assert.rejects(sampleFile(images, 'a/../../w.db'), /leaves the dataset folder/);
      await assert.rejects(sampleFile(images, '/etc/passwd'), /leaves the dataset folder/);
    });

    test('export to a folder under sanitised names inside their class folders', async () => {
      const samples = datasetSamples(store, datasetId);
      const paths = samples.map((s) => s.sourcePath);
      for (const name of BACKSLASH_FILES) assert.ok(paths.includes(name), `${name} was imported`);
      const projectId = createAnnotationProject(store, {
        name: 'bs',
        datasetId,
        classNames: ['left', 'right'],
        createdBy: 'me',
      });
      const classOf = new Map<string, number>();
      samples.forEach((s, i) => {
        classOf.set(s.sourcePath!, i % 2);
        submitEvent(store, {
          projectId,
          sampleId: s.id,
          kind: 'label',
          classIdx: i % 2,
          annotator: 'me',
          via: 'queue',
        });
      });

      const before = new Set(tree(root));
      const out = join(root, 'out', 'export');
      mkdirSync(join(root, 'out'));
      const summary = await exportProject(store, {
        projectId,
        format: 'folders',
        out,
        includePseudo: false,
        includePredictions: false,
        overwrite: false,
      });
      assert.equal(summary.labels, samples.length);
      assert.equal(summary.files, samples.length + 1, 'every image and the manifest');

      const added = tree(root).filter((p) => !before.has(p));
      for (const p of added) {
        assert.ok(p.startsWith(join('out', 'export')) || p === 'out', `${p} is outside the export`);
      }
      const written = added.filter((p) => p.endsWith('.png'));
      assert.equal(written.length, samples.length);
      for (const p of written) {
        const [, , folder, file, ...rest] = p.split(sep);
        assert.deepEqual(rest, [], `${p} is directly inside its class folder`);
        assert.ok(folder === 'left' || folder === 'right', `${p} is in a class folder`);
        assert.ok(!file!.includes('\\') && !file!.includes('..'), `${file} is sanitised`);
      }

      const manifest = JSON.parse(readFileSync(join(out, MANIFEST), 'utf8')) as {
        labels: { path: string; file: string }[];
      };
      for (const name of BACKSLASH_FILES) {
        const row = manifest.labels.find((l) => l.path === name);
        assert.ok(row, `${name} is in the manifest`);
        const folder = classOf.get(name) === 0 ? 'left' : 'right';
        assert.match(row.file, new RegExp(`^${folder}/[^/\\\\]+\\.png$`));
        // The exported file is the original image, byte for byte.
        assert.deepEqual(readFileSync(join(out, row.file)), readFileSync(join(images, name)));
      }
    });
  },
);
