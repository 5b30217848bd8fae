import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Command } from 'commander';
import { importPath, writePngFolder } from '../annotation/fixtures.ts';
import { createAnnotationProject, submitEvent } from '../annotation/projects.ts';
import { parseCsv } from '../annotation/importer.ts';
import { datasetSamples } from '../store/annotation.ts';
import { tempDir } from '../store/fixtures/helpers.ts';
import { openStore } from '../store/store.ts';
import { registerExport } from './export.ts';

const tmp = tempDir();
after(tmp.cleanup);

async function run(args: string[], where?: { home: string; cwd: string }): Promise<string> {
  const program = new Command('deepal').exitOverride();
  program.configureOutput({ writeErr: () => {} });
  let out = '';
  registerExport(program, (t) => (out += t), where);
  await program.parseAsync(['node', 'deepal', ...args]);
  return out;
}

describe('deepal export and import-labels', { timeout: 60_000 }, () => {
  let db: string;
  let projectId: number;
  const typed = new Map<string, string>();

  before(async () => {
    const folder = join(tmp.dir, 'imgs');
    await writePngFolder(folder, 8, { classes: 2, side: 8 });
    db = join(tmp.dir, 'w.db');
    const datasetId = await importPath(db, folder);
    const s = openStore(db);
    projectId = createAnnotationProject(s, {
      name: 'p',
      datasetId,
      classNames: ['left', 'right'],
      createdBy: 'ann',
    });
    for (const [k, sample] of datasetSamples(s, datasetId).slice(0, 5).entries()) {
      submitEvent(s, {
        projectId,
        sampleId: sample.id,
        annotator: 'ann',
        kind: 'label',
        classIdx: k % 2,
        via: 'queue',
      });
      typed.set(sample.sourcePath!, k % 2 ? 'right' : 'left');
    }
    s.close();
  });

  test('exports what was labeled; refuses to overwrite; names what is wrong', async () => {
    const out = join(tmp.dir, 'e.csv');
    const msg = await run([
      'export',
      '--db',
      db,
      '--project',
      String(projectId),
      '--format',
      'csv',
      '--out',
      out,
    ]);
    assert.match(msg, /^Exported 5 labels as csv to /);
    const rows = parseCsv(readFileSync(out, 'utf8')).slice(1);
    assert.deepEqual(new Map(rows.map((r) => [r[3]!, r[4]!])), typed);
    await assert.rejects(
      run(['export', '--db', db, '--project', String(projectId), '--format', 'csv', '--out', out]),
      /already exists/,
    );
    const again = JSON.parse(
      await run([
        'export',
        '--db',
        db,
        '--project',
        String(projectId),
        '--format',
        'csv',
        '--out',
        out,
        '--overwrite',
        '--json',
      ]),
    ) as { labels: number };
    assert.equal(again.labels, 5);
    await assert.rejects(
      run([
        'export',
        '--db',
        db,
        '--project',
        '99',
        '--format',
        'json',
        '--out',
        join(tmp.dir, 'x.json'),
      ]),
      new RegExp(`There is no project 99 .*projects: ${projectId} \\(p\\)`),
    );
    await assert.rejects(
      run([
        'export',
        '--db',
        join(tmp.dir, 'nope.db'),
        '--project',
        '1',
        '--format',
        'csv',
        '--out',
        out,
      ]),
      /There is no workspace database at/,
    );
    await assert.rejects(
      run(['export', '--db', db, '--project', '1', '--format', 'xml', '--out', out]),
      /Allowed choices are csv, json, folders, coco/,
    );
  });

  test('--out=~/… is the home folder, a relative --out the working folder; the full path is printed', async () => {
    // The shell expands ~ only at the start of a word: "--out=~/x" reached the exporter as it
    // is and made a folder named "~" wherever the command ran.
    const where = { home: join(tmp.dir, 'home'), cwd: join(tmp.dir, 'cwd') };
    mkdirSync(where.home);
    mkdirSync(where.cwd);
    const args = ['export', '--db', db, '--project', String(projectId), '--format', 'csv'];
    const msg = await run([...args, '--out=~/neu/labels.csv'], where);
    const written = join(where.home, 'neu', 'labels.csv');
    assert.ok(existsSync(written));
    assert.equal(existsSync(join(where.cwd, '~')), false);
    assert.equal(existsSync(join(process.cwd(), '~')), false);
    assert.ok(msg.trim().endsWith(` to ${written}`), msg);
    const rel = await run([...args, '--out', 'rel.csv'], where);
    assert.ok(existsSync(join(where.cwd, 'rel.csv')));
    assert.ok(rel.trim().endsWith(` to ${join(where.cwd, 'rel.csv')}`), rel);
  });

  test('import-labels brings a JSON export back as a new project', async () => {
    const out = join(tmp.dir, 'e.json');
    await run([
      'export',
      '--db',
      db,
      '--project',
      String(projectId),
      '--format',
      'json',
      '--out',
      out,
    ]);
    const msg = await run(['import-labels', '--db', db, '--path', out, '--name', 'again']);
    assert.match(msg, /^Created project \d+ with 5 labels/);
  });
});
