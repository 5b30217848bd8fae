import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../store/fixtures/helpers.ts';
import { openStore, type Store } from '../store/store.ts';
import {
  changeClasses,
  classState,
  datasetSamples,
  effectiveClass,
  projectEvents,
  recordTraining,
} from '../store/annotation.ts';
import { Rng } from '../../shared/random.ts';
import { sampleStates } from './queue.ts';
import { classFolderNames, collectExport, exportProject, inside, safeName } from './exporter.ts';
import { importPath, writePngFolder } from './fixtures.ts';
import { importExport, parseCsv } from './importer.ts';
import { createAnnotationProject, submitEvent, undoLatest } from './projects.ts';

const tmp = tempDir();
after(tmp.cleanup);

const CLASSES = ['cat', '../../evil', '=SUM(A1)', 'con', 'dog'];

describe('export and import of a labeled project', { timeout: 120_000 }, () => {
  let store: Store;
  let dbPath: string;
  let datasetId: number;
  let projectId: number;
  /** What the store says the labels are: sample id -> [class name, annotator]. */
  let expected: Map<number, [string, string]>;
  let paths: Map<number, string>;

  before(async () => {
    const folder = join(tmp.dir, 'images');
    await writePngFolder(folder, 14, { classes: 2, side: 12 });
    dbPath = join(tmp.dir, 'w.db');
    datasetId = await importPath(dbPath, folder);
    store = openStore(dbPath);
    projectId = createAnnotationProject(store, {
      name: 'pets',
      datasetId,
      classNames: CLASSES,
      createdBy: 'ann',
    });
    const samples = datasetSamples(store, datasetId);
    paths = new Map(samples.map((s) => [s.id, s.sourcePath!]));
    // 10 labels by two people; one relabel, one undo, one skip; class 4 merged into 0.
    samples.slice(0, 10).forEach((s, k) => {
      submitEvent(store, {
        projectId,
        sampleId: s.id,
        annotator: k % 2 ? 'bob' : 'ann',
        kind: 'label',
        classIdx: k % 5,
        durationMs: 1000 + k,
        via: 'queue',
      });
    });
    submitEvent(store, {
      projectId,
      sampleId: samples[0]!.id,
      annotator: 'bob',
      kind: 'label',
      classIdx: 1,
      via: 'second',
    });
    const undone = submitEvent(store, {
      projectId,
      sampleId: samples[1]!.id,
      annotator: 'bob',
      kind: 'label',
      classIdx: 3,
      via: 'queue',
    });
    store.undoLabelEvent(undone, 'bob');
    submitEvent(store, {
      projectId,
      sampleId: samples[11]!.id,
      annotator: 'ann',
      kind: 'skip',
      via: 'queue',
    });
    changeClasses(store, projectId, { op: 'merge', from: 4, into: 0 }, 'ann');
    // Guesses of a (pretend) model for the unlabeled samples.
    recordTraining(
      store,
      {
        projectId,
        labels: 10,
        trainCount: 10,
        holdoutCount: 0,
        accuracy: null,
        accuracyLow: null,
        accuracyHigh: null,
        stopKappa: null,
        stopSet: 0,
        details: {},
        trainMs: 0,
        queryMs: 0,
      },
      samples.slice(10).map((s) => ({
        sampleId: s.id,
        classIdx: 3,
        top: [
          [3, 0.75],
          [0, 0.25],
        ] as [number, number][],
      })),
      { strategy: 'Entropy', note: '', sampleIds: [] },
    );
    expected = new Map(
      store
        .currentLabels({ projectId })
        .map((l) => [
          l.sampleId,
          [CLASSES[l.classIdx === 4 ? 0 : l.classIdx]!, l.annotator] as [string, string],
        ]),
    );
    assert.equal(expected.size, 10);
    assert.deepEqual(expected.get(samples[0]!.id), ['../../evil', 'bob']);
  });
  after(() => store?.close());

  test('CSV: the labels the store holds, formulas neutralised, no overwrite unless asked', async () => {
    const out = join(tmp.dir, 'out', 'labels.csv');
    const r = await exportProject(store, {
      projectId,
      format: 'csv',
      out,
      includePseudo: false,
      includePredictions: false,
      overwrite: false,
    });
    assert.equal(r.labels, 10);
    assert.equal(r.predictions, 0);
    const [header, ...rows] = parseCsv(readFileSync(out, 'utf8'));
    assert.deepEqual(header!.slice(0, 7), [
      'sample_id',
      'split',
      'index',
      'path',
      'class',
      'class_index',
      'annotator',
    ]);
    const got = new Map(
      rows.map((c) => [Number(c[0]), [c[4]!.replace(/^'/, ''), c[6]!] as [string, string]]),
    );
    assert.deepEqual(got, expected);
    assert.ok(
      rows.some((c) => c[4] === "'=SUM(A1)"),
      'a formula-looking class must be quoted as text',
    );
    assert.ok(rows.every((c) => c[7] === 'human' && c[3] === paths.get(Number(c[0]))));
    await assert.rejects(
      exportProject(store, {
        projectId,
        format: 'csv',
        out,
        includePseudo: false,
        includePredictions: false,
        overwrite: false,
      }),
      /already exists; choose another name, or ask to overwrite/,
    );
    const again = await exportProject(store, {
      projectId,
      format: 'csv',
      out,
      includePseudo: false,
      includePredictions: true,
      overwrite: true,
    });
    assert.equal(again.predictions, 4);
    const marked = parseCsv(readFileSync(out, 'utf8')).filter((c) => c[7] === 'model-prediction');
    assert.equal(marked.length, 4);
    assert.ok(marked.every((c) => c[6] === 'model' && c[10] === '0.75' && c[4] === 'con'));
    assert.deepEqual(
      readdirSync(join(tmp.dir, 'out')),
      ['labels.csv'],
      'no temporary file is left',
    );
  });

  test('JSON and COCO carry the same labels, with image sizes from the files', async () => {
    const jsonOut = join(tmp.dir, 'out', 'labels.json');
    await exportProject(store, {
      projectId,
      format: 'json',
      out: jsonOut,
      includePseudo: false,
      includePredictions: false,
      overwrite: false,
    });
    const j = JSON.parse(readFileSync(jsonOut, 'utf8')) as {
      classes: { name: string }[];
      labels: { sampleId: number; className: string; annotator: string; durationMs: number }[];
    };
    assert.deepEqual(
      j.classes.map((c) => c.name),
      CLASSES.slice(0, 4),
      'the merged-away class is not listed',
    );
    assert.deepEqual(
      new Map(j.labels.map((l) => [l.sampleId, [l.className, l.annotator]])),
      expected,
    );

    const cocoOut = join(tmp.dir, 'out', 'coco.json');
    await exportProject(store, {
      projectId,
      format: 'coco',
      out: cocoOut,
      includePseudo: false,
      includePredictions: false,
      overwrite: false,
    });
    const c = JSON.parse(readFileSync(cocoOut, 'utf8')) as {
      images: { id: number; width: number; height: number; file_name: string }[];
      categories: { id: number; name: string }[];
      annotations: { image_id: number; category_id: number; attributes: { annotator: string } }[];
    };
    assert.equal(c.images.length, 10);
    assert.ok(
      c.images.every((i) => i.width === 12 && i.height === 12 && i.file_name === paths.get(i.id)),
    );
    const names = new Map(c.categories.map((k) => [k.id, k.name]));
    assert.deepEqual(
      new Map(
        c.annotations.map((a) => [a.image_id, [names.get(a.category_id), a.attributes.annotator]]),
      ),
      expected,
    );
  });

  test('folders: one safe sub-folder per class, nothing outside, never into a non-empty folder', async () => {
    const out = join(tmp.dir, 'folders');
    const r = await exportProject(store, {
      projectId,
      format: 'folders',
      out,
      includePseudo: false,
      includePredictions: true,
      overwrite: false,
    });
    assert.equal(r.labels, 10);
    const dirs = readdirSync(out).sort();
    assert.deepEqual(
      dirs,
      ['____evil', '=SUM(A1)', '_con', '_model-predictions', 'cat', 'deepal-export.json'].sort(),
    );
    // Nothing escaped: the temp folder holds only what the tests made.
    assert.deepEqual(
      readdirSync(tmp.dir).sort(),
      ['folders', 'images', 'out', 'w.db', 'w.db-shm', 'w.db-wal'].sort(),
    );
    assert.ok(!existsSync(join(tmp.dir, '..', 'evil')));
    let copied = 0;
    for (const d of ['cat', '____evil', '=SUM(A1)', '_con']) {
      for (const f of readdirSync(join(out, d))) {
        copied++;
        const id = [...paths.entries()].find(([, p]) => basename(p) === f)![0];
        assert.equal(classFolderNames(CLASSES)[CLASSES.indexOf(expected.get(id)![0])], d);
      }
    }
    assert.equal(copied, 10);
    assert.equal(readdirSync(join(out, '_model-predictions', '_con')).length, 4);
    // The manifest, written a slice at a time, is what one JSON.stringify(_, null, 2) writes,
    // and every file it names exists.
    const text = readFileSync(join(out, 'deepal-export.json'), 'utf8');
    const manifest = JSON.parse(text) as { labels: { file: string }[] };
    assert.equal(text, `${JSON.stringify(manifest, null, 2)}\n`);
    assert.equal(manifest.labels.length, 14);
    for (const l of manifest.labels) assert.ok(existsSync(join(out, l.file)), l.file);
    await assert.rejects(
      exportProject(store, {
        projectId,
        format: 'folders',
        out,
        includePseudo: false,
        includePredictions: false,
        overwrite: true,
      }),
      /is not empty; a folder export needs a new or empty folder/,
    );
  });

  test('names are sanitised and every path is checked', () => {
    assert.equal(safeName('../../evil'), '____evil');
    assert.equal(safeName('a/b\\c:d'), 'a_b_c_d');
    assert.equal(safeName('NUL'), '_NUL');
    assert.equal(safeName('  .hidden. '), 'hidden');
    assert.equal(safeName(''), '_');
    assert.equal(safeName('x'.repeat(300)).length, 120);
    assert.deepEqual(classFolderNames(['A', 'a', 'a/', '_model-predictions']), [
      'A',
      'a-2',
      'a_',
      '_model-predictions-2',
    ]);
    assert.throws(() => inside('/tmp/x', '..', 'y'), /outside the export folder/);
    assert.throws(() => inside('/tmp/x', '/etc/passwd'), /outside the export folder/);
    assert.equal(inside('/tmp/x', 'a', 'b.png'), '/tmp/x/a/b.png');
  });

  test('round trip: JSON, COCO and CSV exports import into new projects with the same labels', async () => {
    const labelsOf = (id: number) =>
      new Map(
        store
          .currentLabels({ projectId: id })
          .map((l) => [
            l.sampleId,
            [store.getProject(id)!.classNames[l.classIdx]!, l.annotator] as [string, string],
          ]),
      );
    const noFolders = async () => {
      throw new Error('not a folder export');
    };
    for (const [file, extra] of [
      ['labels.json', {}],
      ['coco.json', {}],
      ['labels.csv', { datasetId }],
    ] as const) {
      const id = await importExport(
        store,
        { path: join(tmp.dir, 'out', file), createdBy: 'ann', ...extra },
        noFolders,
      );
      assert.notEqual(id, projectId);
      assert.deepEqual(labelsOf(id), expected, file);
      // Imported labels are marked as such and cannot be undone as if typed now.
      assert.ok(
        store
          .labelHistory([...expected.keys()][0]!)
          .filter((e) => e.projectId === id)
          .every((e) => e.via === 'import'),
      );
    }
    await assert.rejects(
      importExport(
        store,
        { path: join(tmp.dir, 'out', 'labels.csv'), createdBy: 'ann' },
        noFolders,
      ),
      /does not say which dataset/,
    );
    const bad = join(tmp.dir, 'bad.json');
    writeFileSync(bad, '{"hello": 1}');
    await assert.rejects(
      importExport(store, { path: bad, createdBy: 'ann' }, noFolders),
      /not a DeepAL Studio export/,
    );
  });

  test('round trip: a folder export imports as a new dataset and project, annotators kept', async () => {
    const out = join(tmp.dir, 'folders2');
    mkdirSync(out);
    await exportProject(store, {
      projectId,
      format: 'folders',
      out,
      includePseudo: false,
      includePredictions: false,
      overwrite: false,
    });
    const id = await importExport(store, { path: out, createdBy: 'ann' }, (p) =>
      importPath(dbPath, p),
    );
    const p = store.getProject(id)!;
    assert.notEqual(p.datasetId, datasetId);
    const byName = new Map(
      store.currentLabels({ projectId: id }).map((l) => {
        const s = datasetSamples(store, p.datasetId).find((x) => x.id === l.sampleId)!;
        return [basename(s.sourcePath!), [p.classNames[l.classIdx]!, l.annotator]];
      }),
    );
    const want = new Map([...expected].map(([sid, v]) => [basename(paths.get(sid)!), v]));
    assert.deepEqual(byName, want);
    // With model guesses in it, the folder is refused: they must not come back as labels.
    await assert.rejects(
      importExport(store, { path: join(tmp.dir, 'folders'), createdBy: 'ann' }, (q) =>
        importPath(dbPath, q),
      ),
      /_model-predictions\/ \(model guesses, not labels\)/,
    );
  });
});

describe('careless paths and names (issue 19)', () => {
  /** The promise's outcome, or 'still waiting' after `ms`. */
  const within = <T>(p: Promise<T>, ms: number): Promise<T | 'still waiting'> => {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      p.finally(() => clearTimeout(timer)),
      new Promise<'still waiting'>((r) => (timer = setTimeout(() => r('still waiting'), ms))),
    ]);
  };
  const noFolders = (): Promise<number> => Promise.reject(new Error('no folders here'));

  test(
    'item 6: a named pipe or a link to /dev/zero is refused at once, and blocks no file thread',
    {
      skip: process.platform === 'win32' ? 'no FIFOs or /dev/zero on Windows' : false,
    },
    async () => {
      const store = openStore(join(tmp.dir, 'fifo.db'));
      try {
        const fifos = [0, 1, 2, 3].map((i) => join(tmp.dir, `labels-${i}.json`));
        for (const f of fifos) execFileSync('mkfifo', [f]);
        // Four at once: each once held one of Node's four file threads forever.
        const outcomes = fifos.map((path) =>
          importExport(store, { path, createdBy: 'ann' }, noFolders).then(
            () => 'imported',
            (e: unknown) => String(e),
          ),
        );
        for (const o of outcomes)
          assert.match(
            String(await within(o, 5000)),
            /is a named pipe \(FIFO\), not a regular file/,
          );
        const normal = join(tmp.dir, 'normal.txt');
        writeFileSync(normal, 'x');
        assert.equal(await within(readFile(normal, 'utf8'), 5000), 'x', 'file threads still free');
        const zero = join(tmp.dir, 'zero.json');
        symlinkSync('/dev/zero', zero);
        await assert.rejects(
          within(importExport(store, { path: zero, createdBy: 'ann' }, noFolders), 5000),
          /zero\.json is a device, not a regular file; expected a DeepAL Studio export/,
        );
        const big = join(tmp.dir, 'big.json');
        writeFileSync(big, '{"a": "0123456789"}');
        await assert.rejects(
          importExport(store, { path: big, createdBy: 'ann', maxBytes: 10 }, noFolders),
          /big\.json is 19 bytes, over the 10-byte limit for an export file/,
        );
      } finally {
        store.close();
      }
    },
  );

  test('item 9: bidirectional-override and other invisible format characters never reach a folder name', () => {
    // "gpj.exe" shown reversed: U+202E makes `cat\u202Egpj.exe` display as "catexe.jpg".
    for (const c of [
      '\u202e',
      '\u202d',
      '\u202a',
      '\u2066',
      '\u2067',
      '\u2068',
      '\u2069',
      '\u200f',
      '\u061c',
      '\u200b',
      '\ufeff',
    ]) {
      const s = safeName(`cat${c}gpj.exe`);
      assert.ok(
        !s.includes(c),
        `U+${c.codePointAt(0)!.toString(16)} survived in ${JSON.stringify(s)}`,
      );
      assert.equal(s, 'cat_gpj.exe');
    }
    assert.deepEqual(classFolderNames(['a\u202eb', 'a\u202db']), ['a_b', 'a_b-2']);
  });
});

describe('the latest labels of an export come from the store’s label state', () => {
  test('a random history: the same rows as replaying the event log', async () => {
    const folder = join(tmp.dir, 'random-history');
    await writePngFolder(folder, 40, { classes: 2, side: 8 });
    const db = join(tmp.dir, 'random.db');
    const dsId = await importPath(db, folder);
    const s = openStore(db);
    try {
      const pid = createAnnotationProject(s, {
        name: 'random',
        datasetId: dsId,
        classNames: ['a', 'b', 'c', 'd'],
        createdBy: 'ann',
      });
      const ids = datasetSamples(s, dsId).map((x) => x.id);
      const rng = new Rng(11);
      const people = ['ann', 'bob', 'cy'];
      for (let step = 0; step < 400; step++) {
        const who = people[rng.int(3)]!;
        const sampleId = ids[rng.int(ids.length)]!;
        const r = rng.next();
        if (step === 200) changeClasses(s, pid, { op: 'merge', from: 3, into: 1 }, 'ann');
        const classIdx = rng.int(step >= 200 ? 3 : 4);
        if (r < 0.1) undoLatest(s, pid, who);
        else if (r < 0.15)
          submitEvent(s, {
            projectId: pid,
            sampleId,
            annotator: who,
            kind: 'unsure',
            via: 'queue',
          });
        else if (r < 0.2)
          submitEvent(s, { projectId: pid, sampleId, annotator: who, kind: 'skip', via: 'queue' });
        else if (r < 0.27)
          s.appendLabelEvent({
            sampleId,
            classIdx,
            annotator: 'model',
            source: 'pseudo',
            projectId: pid,
          });
        else if (r < 0.32)
          s.appendLabelEvent({
            sampleId,
            classIdx,
            annotator: 'oracle',
            source: 'simulated',
            projectId: pid,
          });
        else
          submitEvent(s, {
            projectId: pid,
            sampleId,
            annotator: who,
            kind: 'label',
            classIdx,
            durationMs: step,
            via: 'queue',
          });
      }
      // One sample whose last word is a simulated oracle's, one with only a pseudo-label.
      s.appendLabelEvent({
        sampleId: ids[0]!,
        classIdx: 2,
        annotator: 'oracle',
        source: 'simulated',
        projectId: pid,
      });
      const unlabeled = ids.find((id) => !projectEvents(s, pid).some((e) => e.sampleId === id));
      if (unlabeled !== undefined)
        s.appendLabelEvent({
          sampleId: unlabeled,
          classIdx: 0,
          annotator: 'model',
          source: 'pseudo',
          projectId: pid,
        });
      const got = collectExport(s, pid, { includePseudo: true, includePredictions: false }).rows;
      // The reference: replay the whole event log (what the export did before).
      const { classNames, merges } = classState(s, pid);
      const events = projectEvents(s, pid);
      const byId = new Map(datasetSamples(s, dsId).map((x) => [x.id, x]));
      const want = [...sampleStates(events).entries()]
        .filter(([, st]) => st.current)
        .sort((a, b) => a[0] - b[0])
        .map(([id, st]) => {
          const e = st.current!;
          const c = effectiveClass(merges, e.classIdx!);
          const smp = byId.get(id)!;
          return {
            sampleId: id,
            split: smp.split,
            index: smp.idx,
            path: smp.sourcePath,
            classIdx: c,
            className: classNames[c],
            annotator: e.annotator,
            source: e.source === 'simulated' ? 'simulated' : 'human',
            labeledAt: e.createdAt,
            durationMs: e.durationMs,
            confidence: null,
          };
        });
      const humanRows = got.filter((r) => r.source !== 'pseudo');
      assert.ok(want.length > 20, `${want.length} labeled samples`);
      assert.ok(want.some((r) => r.source === 'simulated'));
      assert.deepEqual(humanRows, want);
      // Pseudo-labels only where no label is in force.
      const labeled = new Set(want.map((r) => r.sampleId));
      assert.ok(got.filter((r) => r.source === 'pseudo').every((r) => !labeled.has(r.sampleId)));
    } finally {
      s.close();
    }
  });
});
