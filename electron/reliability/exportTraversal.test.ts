import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Rng } from '../../shared/random.ts';
import { datasetSamples } from '../store/annotation.ts';
import { openStore, type Store } from '../store/store.ts';
import { exportProject } from '../annotation/exporter.ts';
import { importPath, writePngFolder } from '../annotation/fixtures.ts';
import { createAnnotationProject, submitEvent } from '../annotation/projects.ts';

/**
 * Exports never write outside the chosen folder, whatever the class names and file names are:
 * seeded hostile class names (traversal, absolute paths, separators of both platforms, device
 * names, control characters) and hostile image file names, exported in every format. The whole
 * temporary tree is listed before and after; the only new paths must lie under the chosen output.
 * (electron/annotation/export.test.ts checks the content of exports; this checks only containment.)
 */
const SEED = Number(process.env.DEEPAL_FUZZ_SEED ?? 8_2025);
const root = mkdtempSync(join(tmpdir(), 'deepal-export-sec-'));
after(() => rmSync(root, { recursive: true, force: true }));

const HOSTILE = [
  '../../escaped',
  '..',
  '.',
  '/etc/cron.d/x',
  '..\\..\\windows',
  'C:\\evil',
  'a/../../b',
  'CON',
  'aux.txt',
  '\u0000nul',
  'new\nline',
  '%2e%2e%2fenc',
  '~',
  '$HOME',
  '名前/../..',
  ' ../ ',
];
/** Legal Linux file names that are traps elsewhere or when joined carelessly. */
const HOSTILE_FILES = [
  '..%2f..%2fescape.png',
  'new\nline.png',
  'CON.png',
  '-rf .png',
  ' spaced name .png',
  '名前.png',
];

function tree(dir: string, out = new Set<string>()): Set<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.add(relative(root, p));
    if (e.isDirectory() && !statSync(p).isSymbolicLink()) tree(p, out);
  }
  return out;
}

describe('exports stay inside the chosen folder', { timeout: 120_000 }, () => {
  let store: Store;
  let datasetId: number;

  before(async () => {
    const images = join(root, 'data', 'images');
    await writePngFolder(images, 6, { classes: 2, side: 8 });
    for (const name of HOSTILE_FILES)
      copyFileSync(join(images, 'img-0000.png'), join(images, name));
    const db = join(root, 'data', 'w.db');
    datasetId = await importPath(db, images);
    store = openStore(db);
  });
  after(() => store?.close());

  test('seeded hostile class and file names, every format', async () => {
    const rng = new Rng(SEED);
    const samples = datasetSamples(store, datasetId);
    assert.ok(samples.length >= 6 + HOSTILE_FILES.length - 1, 'the hostile files were imported');
    let exports = 0;
    const refused: string[] = [];
    for (let round = 0; round < 4; round++) {
      // Distinct names (a project refuses duplicates): hostile ones plus random noise.
      const names = new Set<string>();
      while (names.size < 5) {
        const base = HOSTILE[rng.int(HOSTILE.length)]!;
        names.add(rng.int(2) === 0 ? base : `${base}${String.fromCharCode(33 + rng.int(90))}`);
      }
      const classNames = [...names].filter((n) => n.trim() !== '');
      let projectId: number;
      try {
        projectId = createAnnotationProject(store, {
          name: `hostile ${round}`,
          datasetId,
          classNames,
          createdBy: 'tester',
        });
      } catch (err) {
        // Refusing a name is also safe; it must say which.
        assert.match(String(err), /class|name/i);
        continue;
      }
      samples.forEach((s, i) =>
        submitEvent(store, {
          projectId,
          sampleId: s.id,
          annotator: 'tester',
          kind: 'label',
          classIdx: i % classNames.length,
          via: 'queue',
        }),
      );
      for (const format of ['csv', 'json', 'coco', 'folders'] as const) {
        const out = join(
          root,
          'exports',
          `r${round}-${format}`,
          format === 'folders' ? 'out' : `out.${format}`,
        );
        mkdirSync(join(root, 'exports', `r${round}-${format}`), { recursive: true });
        const before = tree(root);
        try {
          await exportProject(store, {
            projectId,
            format,
            out,
            includePseudo: false,
            includePredictions: false,
            overwrite: false,
          });
        } catch (err) {
          // Refusing is safe too (a Linux file name with backslashes reads as a traversal on
          // Windows); it must say what it refused.
          assert.match(String(err), /refusing|outside/i, `${format}: ${String(err)}`);
          refused.push(`${format}: ${String(err).slice(0, 120)}`);
        }
        exports++;
        const added = [...tree(root)].filter((p) => !before.has(p));
        const outRel = relative(root, out);
        assert.ok(added.length > 0 || refused.length > 0, `${format}: nothing written`);
        for (const p of added) {
          // The database's own -wal/-shm may appear beside it; anything else must be the export.
          if (p.startsWith(`data${sep}w.db`)) continue;
          assert.ok(
            p === outRel || p.startsWith(outRel + sep),
            `${format} export with classes ${JSON.stringify(classNames)} wrote ${p} outside ${outRel}`,
          );
        }
      }
    }
    assert.ok(exports >= 8, `only ${exports} exports ran`);
    assert.equal(refused.length, 0, `every export of these names completes: ${refused.join('; ')}`);
    process.stdout.write(`# export containment: ${exports} exports, all inside their folder\n`);
  });

  test('a file name with backslashes (legal on Linux) is exported inside or refused, never escapes', async () => {
    const images = join(root, 'data', 'slashes');
    await writePngFolder(images, 2, { classes: 2, side: 8 });
    copyFileSync(join(images, 'img-0000.png'), join(images, 'back\\..\\..\\slash.png'));
    const db = join(root, 'data', 'slashes.db');
    const id = await importPath(db, images);
    const s = openStore(db);
    try {
      const projectId = createAnnotationProject(s, {
        name: 'slashes',
        datasetId: id,
        classNames: ['a', 'b'],
        createdBy: 'tester',
      });
      datasetSamples(s, id).forEach((x, i) =>
        submitEvent(s, {
          projectId,
          sampleId: x.id,
          annotator: 'tester',
          kind: 'label',
          classIdx: i % 2,
          via: 'queue',
        }),
      );
      const out = join(root, 'exports', 'slashes');
      const before = tree(root);
      const outcome = await exportProject(s, {
        projectId,
        format: 'folders',
        out,
        includePseudo: false,
        includePredictions: false,
        overwrite: false,
      }).then(
        () => 'exported',
        (err: unknown) => {
          assert.match(String(err), /refusing|outside/i);
          return `refused: ${String(err)}`;
        },
      );
      for (const p of [...tree(root)].filter((x) => !before.has(x))) {
        if (p.startsWith(`data${sep}slashes.db`)) continue;
        assert.ok(p.startsWith(relative(root, out)), `wrote ${p}`);
      }
      process.stdout.write(`# export of a backslash file name: ${outcome}\n`);
    } finally {
      s.close();
    }
  });
});
