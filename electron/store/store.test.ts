import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore, StoreInputError, type SampleInput, type Store } from './store.ts';
import { CLASSES, importTiny, tempDir, tinySamples } from './fixtures/helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);
let n = 0;
const fresh = () => join(tmp.dir, `s${n++}.sqlite`);

/** A store with a tiny dataset; closed after the test by the caller's `using`-like try/finally. */
function withStore(fn: (s: Store, datasetId: number, file: string) => void): void {
  const file = fresh();
  const s = openStore(file);
  try {
    fn(s, importTiny(s), file);
  } finally {
    s.close();
  }
}

/** A study with an attached dataset and one run. */
function studyRun(s: Store, datasetId: number, strategy = 'Entropy'): number {
  const studyId = s.createStudy({ name: 'st', datasetSpec: 'tiny', config: { repeats: 1 } });
  s.attachStudyDataset(studyId, datasetId);
  return s.ensureRun({ studyId, strategy, repeat: 0, seed: 42 }).id;
}

describe('connection settings', () => {
  test('WAL, synchronous FULL, foreign keys, busy timeout', () => {
    const s = openStore(fresh());
    try {
      assert.equal(s.pragma('journal_mode'), 'wal');
      assert.equal(s.pragma('synchronous'), 2); // 2 = FULL
      assert.equal(s.pragma('foreign_keys'), 1);
      assert.equal(s.pragma('busy_timeout'), 5000);
    } finally {
      s.close();
    }
  });

  test('a read-only store reads but cannot write', () => {
    const file = fresh();
    const w = openStore(file);
    importTiny(w);
    w.close();
    const r = openStore(file, { readonly: true });
    try {
      assert.equal(r.listDatasets().length, 1);
      assert.throws(() => r.createStudy({ name: 'x', datasetSpec: 'x', config: {} }), /readonly/i);
    } finally {
      r.close();
    }
  });
});

describe('datasets', () => {
  test('import writes samples with stable ids, counts and a complete status', () => {
    withStore((s, id) => {
      const d = s.getDataset(id)!;
      assert.equal(d.status, 'complete');
      assert.deepEqual(d.classNames, CLASSES);
      assert.deepEqual(d.sampleShape, [2, 2, 1]);
      assert.deepEqual(d.counts, { train: 10, test: 4, unlabeled: 0 });
      const train = s.sampleIds(id, 'train');
      assert.equal(train.length, 10);
      assert.equal(new Set(train).size, 10);
      assert.ok(train.every((v) => v > 0));
      assert.equal(s.sampleIds(id, 'unlabeled').length, 0);
      // Same fingerprint again: the same dataset, the samples are not read.
      const again = s.importDataset(
        {
          name: 'tiny',
          source: 'memory',
          format: 'test',
          classNames: CLASSES,
          sampleShape: [2, 2, 1],
          fingerprint: 'fp-tiny',
        },
        {
          [Symbol.iterator](): Iterator<SampleInput> {
            throw new Error('must not be read');
          },
        },
      );
      assert.equal(again, id);
      assert.deepEqual(s.sampleIds(id, 'train'), train);
    });
  });

  test('an import that fails midway is never listed as complete, and a re-import succeeds', () => {
    const file = fresh();
    const s = openStore(file);
    const meta = {
      name: 'flaky',
      source: 'memory',
      format: 'test',
      classNames: CLASSES,
      sampleShape: [1],
      fingerprint: 'fp-flaky',
    };
    let progress: number[] = [];
    function* failing(): Generator<SampleInput> {
      for (let i = 0; i < 25; i++) yield { split: 'train', idx: i, groundTruth: 0 };
      throw new Error('disk read failed at sample 25');
    }
    assert.throws(
      () =>
        s.importDataset(meta, failing(), { chunkSize: 10, onProgress: (w) => progress.push(w) }),
      /disk read failed at sample 25/,
    );
    assert.deepEqual(progress, [10, 20]); // two chunks had committed before the failure
    s.close();

    const r = openStore(file);
    try {
      assert.deepEqual(r.listDatasets(), []);
      progress = [];
      const id = r.importDataset(meta, tinySamples(25, 0), {
        chunkSize: 10,
        onProgress: (w) => progress.push(w),
      });
      assert.deepEqual(progress, [10, 20, 25]);
      assert.deepEqual(
        r.listDatasets().map((d) => [d.id, d.status, d.counts.train]),
        [[id, 'complete', 25]],
      );
      assert.equal(r.listDatasets({ includeIncomplete: true }).length, 1);
    } finally {
      r.close();
    }
  });

  test('bad samples are refused with the sample named', () => {
    const s = openStore(fresh());
    try {
      const meta = {
        name: 'bad',
        source: 'm',
        format: 't',
        classNames: CLASSES,
        sampleShape: [1],
        fingerprint: 'fp-bad',
      };
      assert.throws(
        () => s.importDataset(meta, [{ split: 'train', idx: 0, groundTruth: 3 }]),
        /sample 0 \(train #0\): ground truth 3 is not a class index in \[0, 3\)/,
      );
      assert.throws(
        () =>
          s.importDataset(meta, [
            { split: 'train', idx: 0 },
            { split: 'train', idx: 0 },
          ]),
        /sample 1 \(train #0\): train #0 appears twice/,
      );
      assert.throws(
        () => s.importDataset({ ...meta, classNames: ['a', 'a'] }, []),
        /"a" appears twice/,
      );
      assert.deepEqual(s.listDatasets({ includeIncomplete: true }), []);
    } finally {
      s.close();
    }
  });

  test('a complete dataset is frozen by the database itself', () => {
    withStore((s, id, file) => {
      const raw = new Database(file);
      try {
        assert.throws(
          () => raw.prepare('DELETE FROM samples WHERE dataset_id = ?').run(id),
          /complete dataset/,
        );
        assert.throws(
          () => raw.prepare(`UPDATE datasets SET status = 'importing' WHERE id = ?`).run(id),
          /complete dataset/,
        );
        assert.throws(
          () =>
            raw
              .prepare(`INSERT INTO samples (dataset_id, idx, split) VALUES (?, 99, 'train')`)
              .run(id),
          /complete dataset/,
        );
      } finally {
        raw.close();
      }
    });
  });
});

describe('label events', () => {
  test('UPDATE and DELETE on label_events are refused by triggers', () => {
    withStore((s, id, file) => {
      const sample = s.sampleIds(id, 'train')[0]!;
      const eventId = s.appendLabelEvent({ sampleId: sample, classIdx: 1, annotator: 'ann' });
      const raw = new Database(file);
      try {
        assert.throws(
          () => raw.prepare('UPDATE label_events SET class_idx = 2 WHERE id = ?').run(eventId),
          /append-only/,
        );
        assert.throws(
          () => raw.prepare('DELETE FROM label_events WHERE id = ?').run(eventId),
          /append-only/,
        );
        assert.throws(() => raw.prepare('DELETE FROM label_events').run(), /append-only/);
      } finally {
        raw.close();
      }
      assert.equal(s.labelHistory(sample)[0]!.classIdx, 1);
    });
  });

  test('the current label is derived: latest label not undone', () => {
    withStore((s, id) => {
      const [a, b, c] = s.sampleIds(id, 'train');
      const e1 = s.appendLabelEvent({
        sampleId: a!,
        classIdx: 0,
        annotator: 'ann',
        durationMs: 1200,
      });
      const e2 = s.appendLabelEvent({ sampleId: a!, classIdx: 2, annotator: 'bob' });
      const [e3, e4] = s.appendLabelEvents([
        { sampleId: b!, classIdx: 1, annotator: 'ann' },
        { sampleId: c!, kind: 'skip', annotator: 'ann' },
      ]);
      let current = s.currentLabels({ datasetId: id });
      assert.deepEqual(
        current.map((l) => [l.sampleId, l.classIdx, l.annotator, l.eventId]),
        [
          [a, 2, 'bob', e2],
          [b, 1, 'ann', e3],
        ],
      );

      // Undo the relabel: the earlier label comes back. Undo b's only label: b is unlabeled.
      const u1 = s.undoLabelEvent(e2, 'bob');
      s.undoLabelEvent(e3!, 'ann');
      current = s.currentLabels({ datasetId: id });
      assert.deepEqual(
        current.map((l) => [l.sampleId, l.classIdx, l.eventId]),
        [[a, 0, e1]],
      );

      // Undoing the older label too leaves a unlabeled; the log keeps everything.
      s.undoLabelEvent(e1, 'ann');
      assert.deepEqual(s.currentLabels({ datasetId: id }), []);
      const history = s.labelHistory(a!);
      assert.deepEqual(
        history.map((h) => [h.kind, h.classIdx, h.undoesEventId, h.undoneBy]),
        [
          ['label', 0, null, history[3]!.id],
          ['label', 2, null, u1],
          ['undo', null, e2, null],
          ['undo', null, e1, null],
        ],
      );
      assert.equal(history[0]!.durationMs, 1200);
      assert.equal(s.labelHistory(c!)[0]!.kind, 'skip');
      assert.equal(e4! > e3!, true);

      // A new label after undos is current again.
      const e5 = s.appendLabelEvent({ sampleId: a!, classIdx: 1, annotator: 'ann' });
      assert.deepEqual(
        s.currentLabels({ datasetId: id }).map((l) => [l.sampleId, l.classIdx, l.eventId]),
        [[a, 1, e5]],
      );
    });
  });

  test('undo rules: once, never an undo, same scope', () => {
    withStore((s, id) => {
      const a = s.sampleIds(id, 'train')[0]!;
      const e1 = s.appendLabelEvent({ sampleId: a, classIdx: 0, annotator: 'ann' });
      const u = s.undoLabelEvent(e1, 'ann');
      assert.throws(() => s.undoLabelEvent(e1, 'ann'), new RegExp(`already undone by event ${u}`));
      assert.throws(() => s.undoLabelEvent(u, 'ann'), /is itself an undo/);
      assert.throws(() => s.undoLabelEvent(999999, 'ann'), /no label event 999999/);
    });
  });

  test('invalid events are refused, a batch all or nothing', () => {
    withStore((s, id) => {
      const [a, b] = s.sampleIds(id, 'train');
      assert.throws(
        () => s.appendLabelEvent({ sampleId: a!, classIdx: 3, annotator: 'ann' }),
        /class_idx is outside/,
      );
      assert.throws(() => s.appendLabelEvent({ sampleId: a!, annotator: 'ann' }), /needs classIdx/);
      assert.throws(
        () => s.appendLabelEvent({ sampleId: a!, kind: 'skip', classIdx: 1, annotator: 'ann' }),
        /carries no classIdx/,
      );
      assert.throws(
        () => s.appendLabelEvent({ sampleId: 424242, classIdx: 0, annotator: 'ann' }),
        /sample does not exist/,
      );
      assert.throws(
        () => s.appendLabelEvent({ sampleId: a!, classIdx: 0, annotator: ' ' }),
        /annotator/,
      );
      assert.throws(
        () =>
          s.appendLabelEvents([
            { sampleId: a!, classIdx: 0, annotator: 'ann' },
            { sampleId: b!, classIdx: 7, annotator: 'ann' },
          ]),
        /Label event 1 \(sample \d+\): label_events: class_idx is outside/,
      );
      assert.equal(s.labelHistory(a!).length, 0);
    });
  });
});

describe('projects', () => {
  test('project labels are their own scope; class edits are recorded', () => {
    withStore((s, id) => {
      const a = s.sampleIds(id, 'train')[0]!;
      const p = s.createProject({
        name: 'pets',
        datasetId: id,
        classNames: ['cat', 'dog'],
        settings: { batch: 20 },
        createdBy: 'ann',
      });
      assert.deepEqual(s.getProject(p)!.settings, { batch: 20 });
      s.appendLabelEvent({ sampleId: a, classIdx: 1, annotator: 'ann', projectId: p });
      s.appendLabelEvent({ sampleId: a, classIdx: 2, annotator: 'ann' }); // a dataset-level label
      assert.deepEqual(
        s.currentLabels({ projectId: p }).map((l) => l.classIdx),
        [1],
      );
      assert.deepEqual(
        s.currentLabels({ datasetId: id }).map((l) => l.classIdx),
        [2],
      );
      // 'bird' is index 2: outside this project's two classes.
      assert.throws(
        () => s.appendLabelEvent({ sampleId: a, classIdx: 2, annotator: 'ann', projectId: p }),
        /outside/,
      );

      s.updateProjectClasses(p, ['cat', 'dog', 'fox'], 'ann');
      s.appendLabelEvent({ sampleId: a, classIdx: 2, annotator: 'ann', projectId: p });
      assert.throws(
        () => s.updateProjectClasses(p, ['cat', 'dog'], 'ann'),
        /1 sample\(s\) are labeled with class 2 \(fox\)/,
      );
      assert.deepEqual(
        s.projectClassHistory(p).map((h) => h.classNames),
        [
          ['cat', 'dog'],
          ['cat', 'dog', 'fox'],
        ],
      );
      assert.deepEqual(
        s.listProjects({ datasetId: id }).map((x) => x.name),
        ['pets'],
      );
      assert.deepEqual(s.getProject(p)!.classNames, ['cat', 'dog', 'fox']);
      assert.throws(
        () => s.createProject({ name: 'x', datasetId: 999 }),
        /no complete dataset 999/,
      );
    });
  });
});

describe('studies, runs and rounds', () => {
  const round = (runId: number, r: number, selected: number[]) => ({
    runId,
    round: r,
    labeled: 2 + 2 * r,
    accuracy: 0.5 + r / 10,
    loss: 1 / (r + 1),
    trainMs: 100 + r,
    queryMs: r === 0 ? 0 : 5.5,
    selected,
  });

  test('ensureRun returns the existing run; statuses are stamped', () => {
    withStore((s, id) => {
      const studyId = s.createStudy({
        name: 'st',
        datasetSpec: 'tiny',
        datasetId: id,
        config: { a: 1 },
      });
      assert.deepEqual(s.getStudy(studyId)!.config, { a: 1 });
      const r1 = s.ensureRun({ studyId, strategy: 'Random', repeat: 0, seed: 7 });
      const r2 = s.ensureRun({ studyId, strategy: 'Random', repeat: 0, seed: 7 });
      assert.equal(r1.id, r2.id);
      assert.equal(r1.status, 'pending');
      assert.throws(
        () => s.ensureRun({ studyId, strategy: 'Random', repeat: 0, seed: 8 }),
        /seed 7, not 8/,
      );
      s.setRunStatus(r1.id, 'running');
      assert.ok(s.listRuns(studyId)[0]!.startedAt);
      s.setRunStatus(r1.id, 'done');
      assert.ok(s.listRuns(studyId)[0]!.finishedAt);
      s.setStudyStatus(studyId, 'done');
      assert.equal(s.listStudies()[0]!.status, 'done');
      assert.throws(() => s.setRunStatus(r1.id, 'bogus' as never), /must be one of/);
      assert.throws(() => s.setStudyStatus(12345, 'done'), /no study 12345/);
    });
  });

  test('importRun stores a complete run as done in one go, never over recorded rounds', () => {
    withStore((s, id) => {
      const studyId = s.createStudy({ name: 'st', datasetSpec: 'tiny', config: { repeats: 2 } });
      s.attachStudyDataset(studyId, id);
      const rounds = [0, 1, 2].map((r) => {
        const { runId: _r, selected: _s, ...rest } = round(0, r, []);
        return rest;
      });
      const run = { studyId, strategy: 'Entropy', repeat: 1, seed: 9, rounds };
      assert.equal(s.importRun(run), true);
      const [stored] = s.listRuns(studyId);
      assert.equal(stored!.status, 'done');
      assert.deepEqual(
        s.listRounds(stored!.id).map((r) => [r.round, r.labeled, r.accuracy, r.selected]),
        [
          [0, 2, 0.5, []],
          [1, 4, 0.6, []],
          [2, 6, 0.7, []],
        ],
      );
      assert.equal(s.currentLabels({ studyRunId: stored!.id }).length, 0, 'no label events');
      // Already recorded here: left as it is.
      assert.equal(s.importRun({ ...run, rounds: rounds.slice(0, 1) }), false);
      assert.equal(s.listRounds(stored!.id).length, 3);
      // A bad round rolls the whole import back: no run half imported.
      const bad = { ...run, repeat: 0, rounds: [rounds[0]!, { ...rounds[1]!, accuracy: 2 }] };
      assert.throws(() => s.importRun(bad), /accuracy 2 is not a fraction/);
      assert.deepEqual(
        s.listRuns(studyId).map((r) => r.repeat),
        [1],
      );
    });
  });

  test('recordRound commits the round and its simulated labels together', () => {
    withStore((s, id) => {
      const runId = studyRun(s, id);
      const pool = s.sampleIds(id, 'train');
      s.recordRound(round(runId, 0, [0, 1]), [
        { sampleId: pool[0]!, classIdx: 0 },
        { sampleId: pool[1]!, classIdx: 1 },
      ]);
      s.recordRound(
        round(runId, 1, [5, 6]),
        [
          { sampleId: pool[5]!, classIdx: 2 },
          { sampleId: pool[6]!, classIdx: 0 },
        ],
        [{ sampleId: pool[9]!, classIdx: 1 }],
      );
      const rounds = s.listRounds(runId);
      assert.deepEqual(
        rounds.map((r) => [r.round, r.labeled, r.selected]),
        [
          [0, 2, [0, 1]],
          [1, 4, [5, 6]],
        ],
      );
      assert.equal(rounds[1]!.accuracy, 0.6);
      assert.equal(rounds[1]!.queryMs, 5.5);
      const labels = s.currentLabels({ studyRunId: runId });
      assert.deepEqual(
        labels.map((l) => [l.sampleId, l.classIdx, l.source]),
        [
          [pool[0], 0, 'simulated'],
          [pool[1], 1, 'simulated'],
          [pool[5], 2, 'simulated'],
          [pool[6], 0, 'simulated'],
        ],
      );
      const pseudo = s.pseudoLabels(runId, 1)!;
      assert.deepEqual([...pseudo.indices], [9]);
      assert.deepEqual([...pseudo.labels], [1]);
      assert.equal(s.pseudoLabels(runId, 0), undefined);
      // Simulated labels of a study do not leak into the dataset's own labels.
      assert.deepEqual(s.currentLabels({ datasetId: id }), []);
    });
  });

  test('a failing simulated label rolls the whole round back', () => {
    withStore((s, id) => {
      const runId = studyRun(s, id);
      const pool = s.sampleIds(id, 'train');
      assert.throws(
        () =>
          s.recordRound(round(runId, 0, [0, 1]), [
            { sampleId: pool[0]!, classIdx: 0 },
            { sampleId: pool[1]!, classIdx: 99 }, // not a class: the trigger aborts
          ]),
        /simulated label 1 \(sample \d+\): label_events: class_idx is outside/,
      );
      assert.deepEqual(s.listRounds(runId), []);
      assert.equal(s.labelHistory(pool[0]!).length, 0);
      // The same round can then be recorded properly.
      s.recordRound(round(runId, 0, [0, 1]), [{ sampleId: pool[0]!, classIdx: 0 }]);
      assert.equal(s.listRounds(runId).length, 1);
    });
  });

  test('recording a round twice, or out of order, is refused', () => {
    withStore((s, id) => {
      const runId = studyRun(s, id);
      const pool = s.sampleIds(id, 'train');
      s.recordRound(round(runId, 0, [0]), [{ sampleId: pool[0]!, classIdx: 0 }]);
      assert.throws(
        () => s.recordRound(round(runId, 0, [0]), [{ sampleId: pool[0]!, classIdx: 0 }]),
        /already recorded \(the run continues at round 1\); a resumed run must not repeat a round/,
      );
      assert.throws(() => s.recordRound(round(runId, 2, [3])), /in order; the next one is 1/);
      assert.throws(
        () => s.recordRound({ ...round(runId, 1, [3]), accuracy: 87 }),
        /not a fraction/,
      );
      assert.equal(s.listRounds(runId).length, 1);
      assert.equal(s.labelHistory(pool[0]!).length, 1);
    });
  });

  test('rounds are append-only; NaN loss round-trips', () => {
    withStore((s, id, file) => {
      const runId = studyRun(s, id);
      s.recordRound({ ...round(runId, 0, [0]), loss: NaN });
      assert.ok(Number.isNaN(s.listRounds(runId)[0]!.loss));
      const raw = new Database(file);
      try {
        assert.throws(() => raw.prepare('UPDATE rounds SET accuracy = 1').run(), /append-only/);
        assert.throws(() => raw.prepare('DELETE FROM rounds').run(), /append-only/);
      } finally {
        raw.close();
      }
    });
  });

  test('a study cannot switch datasets once it has rounds', () => {
    withStore((s, id) => {
      const other = importTiny(s, 'fp-other');
      const studyId = s.createStudy({ name: 'st', datasetSpec: 'tiny', config: {} });
      s.attachStudyDataset(studyId, id);
      s.attachStudyDataset(studyId, id); // same: fine
      const run = s.ensureRun({ studyId, strategy: 'Random', repeat: 0, seed: 1 });
      // Labels of another dataset's samples are refused for this run.
      assert.throws(
        () =>
          s.recordRound(round(run.id, 0, [0]), [
            { sampleId: s.sampleIds(other, 'train')[0]!, classIdx: 0 },
          ]),
        /not in the dataset attached to the run's study/,
      );
      s.recordRound(round(run.id, 0, [0]));
      assert.throws(
        () => s.attachStudyDataset(studyId, other),
        /the data changed, so the study cannot continue/,
      );
    });
  });
});

describe('maintenance', () => {
  test('backup copies a consistent database; integrity check is ok', async () => {
    const file = fresh();
    const s = openStore(file);
    try {
      const id = importTiny(s);
      const a = s.sampleIds(id, 'train')[0]!;
      s.appendLabelEvent({ sampleId: a, classIdx: 2, annotator: 'ann' });
      assert.equal(s.integrityCheck(), 'ok');
      const dest = fresh();
      await s.backup(dest);
      await assert.rejects(() => s.backup(file), /is the database itself/);
      const copy = openStore(dest, { readonly: true });
      try {
        assert.deepEqual(
          copy.currentLabels({ datasetId: id }).map((l) => l.classIdx),
          [2],
        );
        assert.equal(copy.integrityCheck(), 'ok');
      } finally {
        copy.close();
      }
    } finally {
      s.close();
    }
    s.close(); // twice is fine
  });
});

describe('issue 19: what a person gets back, and what a failed start leaves', () => {
  test("item 8: a class name given twice is the caller's input error, with a sentence", () => {
    withStore((s, datasetId) => {
      assert.throws(
        () =>
          s.createProject({
            name: 'p',
            datasetId,
            classNames: ['cat', 'dog', 'cat'],
            settings: {},
            createdBy: 'test',
          }),
        (e: unknown) => {
          assert.ok(e instanceof StoreInputError, String(e));
          assert.match(e.message, /class name "cat" appears twice; give every class its own name/);
          return true;
        },
      );
    });
  });

  test('item 7: a study keeps why it failed across reopening, until cleared', () => {
    const file = fresh();
    const s = openStore(file);
    const id = s.createStudy({ name: 'st', datasetSpec: 'nope', config: {} });
    assert.equal(s.getStudy(id)!.message, null);
    s.setStudyStatus(id, 'failed');
    s.setStudyMessage(id, 'The dataset nope was not found; check the path.');
    s.close();
    const again = openStore(file);
    try {
      assert.equal(again.getStudy(id)!.message, 'The dataset nope was not found; check the path.');
      again.setStudyMessage(id, null);
      assert.equal(again.listStudies()[0]!.message, null);
    } finally {
      again.close();
    }
  });

  test('item 7: a study that recorded nothing can be removed; one with rounds cannot', () => {
    withStore((s, datasetId) => {
      const empty = s.createStudy({ name: 'junk', datasetSpec: 'nope', config: {} });
      s.ensureRun({ studyId: empty, strategy: 'Random', repeat: 0, seed: 1 });
      const runId = studyRun(s, datasetId);
      const kept = s.getRun(runId)!.studyId;
      s.recordRound(
        {
          runId,
          round: 0,
          labeled: 1,
          accuracy: 0.5,
          loss: 1,
          trainMs: 1,
          queryMs: 0,
          selected: [0],
        },
        [],
      );
      assert.equal(s.deleteStudyIfEmpty(empty), true);
      assert.equal(s.getStudy(empty), undefined);
      assert.equal(s.deleteStudyIfEmpty(kept), false);
      assert.ok(s.getStudy(kept));
      assert.equal(s.listRuns(kept).length, 1);
    });
  });
});
