import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { importTiny, tempDir } from '../store/fixtures/helpers.ts';
import { openStore } from '../store/store.ts';
import { recordSuspectReview } from '../store/suspects.ts';
import { collectExport, exportProject } from './exporter.ts';
import { parseCsv } from './importer.ts';

const tmp = tempDir();
after(tmp.cleanup);

/**
 * `--label latest|consensus|all`: sample 0 labeled 0 by three people; sample 1 labeled 1 by ann
 * and cat, 2 by bob (careless); sample 2 labeled 2 by ann, then relabeled 0 by a reviewer of
 * suspects; sample 3 labeled by ann only.
 */
describe('export: which labels', () => {
  const s = openStore(join(tmp.dir, 'w.db'));
  after(() => s.close());
  const datasetId = importTiny(s);
  const projectId = s.createProject({ name: 'p', datasetId });
  const ids = s.sampleIds(datasetId, 'train');
  const label = (k: number, annotator: string, classIdx: number) =>
    s.appendLabelEvent({ sampleId: ids[k]!, classIdx, annotator, projectId, via: 'queue' });
  for (const a of ['ann', 'bob', 'cat']) label(0, a, 0);
  label(1, 'ann', 1);
  label(1, 'bob', 2);
  label(1, 'cat', 1);
  const judged = label(2, 'ann', 2);
  recordSuspectReview(s, {
    projectId,
    sampleId: ids[2]!,
    judgedEventId: judged,
    decision: 'relabel',
    classIdx: 0,
    reviewer: 'rev',
  });
  label(3, 'ann', 1);
  const opts = { includePseudo: false, includePredictions: false };

  test('latest: one row per sample, its current label', () => {
    const d = collectExport(s, projectId, opts);
    assert.equal(d.label, undefined);
    assert.deepEqual(
      d.rows.map((r) => [r.sampleId, r.classIdx, r.annotator, r.source]),
      [
        [ids[0]!, 0, 'cat', 'human'],
        [ids[1]!, 1, 'cat', 'human'],
        [ids[2]!, 0, 'rev', 'human'],
        [ids[3]!, 1, 'ann', 'human'],
      ],
    );
  });

  test('all: every label in force, the relabeled one beside its review', () => {
    const d = collectExport(s, projectId, { ...opts, label: 'all' });
    assert.equal(d.label?.mode, 'all');
    assert.deepEqual(
      d.rows.map((r) => [r.sampleId, r.classIdx, r.annotator]),
      [
        [ids[0]!, 0, 'ann'],
        [ids[0]!, 0, 'bob'],
        [ids[0]!, 0, 'cat'],
        [ids[1]!, 1, 'ann'],
        [ids[1]!, 2, 'bob'],
        [ids[1]!, 1, 'cat'],
        [ids[2]!, 2, 'ann'],
        [ids[2]!, 0, 'rev'],
        [ids[3]!, 1, 'ann'],
      ],
    );
  });

  test('consensus: one row per sample with the posterior as confidence', async () => {
    const d = collectExport(s, projectId, { ...opts, label: 'consensus' });
    assert.match(d.label!.method, /Dawid-Skene/);
    assert.deepEqual(
      d.rows.map((r) => [r.sampleId, r.classIdx, r.annotator, r.source]),
      [
        [ids[0]!, 0, 'consensus', 'consensus'],
        [ids[1]!, 1, 'consensus', 'consensus'],
        [ids[2]!, 0, 'consensus', 'consensus'],
        [ids[3]!, 1, 'consensus', 'consensus'],
      ],
    );
    for (const r of d.rows) assert.ok(r.confidence! > 0.5 && r.confidence! <= 1, `${r.confidence}`);
    const out = join(tmp.dir, 'consensus.csv');
    const summary = await exportProject(s, {
      projectId,
      format: 'csv',
      out,
      includePseudo: false,
      includePredictions: false,
      overwrite: false,
      label: 'consensus',
    });
    assert.equal(summary.labels, 4);
    const csv = parseCsv(readFileSync(out, 'utf8'));
    const header = csv[0]!;
    const at = (name: string) => header.indexOf(name);
    assert.deepEqual(
      csv
        .slice(1)
        .map((r) => [r[at('class_index')], r[at('source')], Number(r[at('confidence')]) > 0.5]),
      [
        ['0', 'consensus', true],
        ['1', 'consensus', true],
        ['0', 'consensus', true],
        ['1', 'consensus', true],
      ],
    );
  });

  test('a folders export of every label is refused: it would copy an image once per label', async () => {
    await assert.rejects(
      exportProject(s, {
        projectId,
        format: 'folders',
        out: join(tmp.dir, 'folders'),
        includePseudo: false,
        includePredictions: false,
        overwrite: false,
        label: 'all',
      }),
      /every label of a sample \(--label all\) needs csv, json or coco/,
    );
  });
});
