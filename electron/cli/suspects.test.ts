import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Command } from 'commander';
import type { SuspectList } from '../../shared/labelQuality.ts';
import { importPath, writePngFolder } from '../annotation/fixtures.ts';
import { createAnnotationProject, submitEvent } from '../annotation/projects.ts';
import { datasetSamples } from '../store/annotation.ts';
import { tempDir } from '../store/fixtures/helpers.ts';
import { openStore } from '../store/store.ts';
import { registerSuspects } from './suspects.ts';

const tmp = tempDir();
after(tmp.cleanup);

async function run(args: string[]): Promise<string> {
  const program = new Command('deepal').exitOverride();
  program.configureOutput({ writeErr: () => {} });
  let out = '';
  registerSuspects(program, (t) => (out += t));
  await program.parseAsync(['node', 'deepal', ...args]);
  return out;
}

describe('deepal suspects', { timeout: 120_000 }, () => {
  let db: string;
  let projectId: number;
  const wrongFiles: string[] = [];

  before(async () => {
    const folder = join(tmp.dir, 'imgs');
    const truth = await writePngFolder(folder, 45, { classes: 3, side: 16 });
    db = join(tmp.dir, 'w.db');
    const datasetId = await importPath(db, folder);
    const s = openStore(db);
    projectId = createAnnotationProject(s, {
      name: 'bars',
      datasetId,
      classNames: ['top', 'middle', 'bottom'],
      settings: { model: 'linear' },
      createdBy: 'ann',
    });
    // 36 labels, 3 of them wrong (one of each class).
    for (const [k, sample] of datasetSamples(s, datasetId).slice(0, 36).entries()) {
      const t = truth.get(sample.sourcePath!)!;
      const wrong = [4, 17, 30].includes(k);
      if (wrong) wrongFiles.push(sample.sourcePath!);
      submitEvent(s, {
        projectId,
        sampleId: sample.id,
        annotator: k < 18 ? 'ann' : 'bob',
        kind: 'label',
        classIdx: wrong ? (t + 1) % 3 : t,
        via: 'queue',
      });
    }
    s.close();
  });

  test('before a search it says when suspects are looked for', async () => {
    const out = await run(['suspects', '--db', db, '--project', String(projectId)]);
    assert.match(out, /Suspects have not been looked for yet/);
  });

  test('--find ranks the wrong labels first, with who labeled them and the suggestion', async () => {
    const out = await run(['suspects', '--db', db, '--project', String(projectId), '--find']);
    assert.match(out, /Suspect labels of project \d+: \d+ waiting for review/);
    assert.match(out, /rank +sample +label \(by\) +model suggests +p\(label\)/);
    const rows = out.split('\n').filter((l) => /^\s+\d+ {2}img-/.test(l));
    assert.ok(rows.length >= 3, out);
    assert.deepEqual(
      new Set(rows.slice(0, 3).map((l) => l.trim().split(/\s+/)[1])),
      new Set(wrongFiles),
    );
    assert.match(rows[0]!, /\((ann|bob)\)/);

    const json = JSON.parse(
      await run(['suspects', '--db', db, '--project', String(projectId), '--json', '--top', '2']),
    ) as SuspectList;
    assert.equal(json.items.length, 2);
    assert.ok(json.total >= 3);
    assert.equal(json.run!.labels, 36);
  });

  test('names the projects there are when the one asked for is not', async () => {
    await assert.rejects(
      run(['suspects', '--db', db, '--project', '99']),
      /There is no project 99 in .*; projects: \d+ \(bars\)/,
    );
    await assert.rejects(run(['suspects', '--db', db, '--project', '0']), /positive whole number/);
  });
});
