/**
 * The ML worker keeps a dataset's pool features between a project's retrains: the second job
 * reads no file (no loading progress), and a job on another dataset drops the first's.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from '../store/fixtures/helpers.ts';
import { openStore } from '../store/store.ts';
import { workerFeatures } from './featureMemo.ts';
import { importPath, writePngFolder } from './fixtures.ts';
import { createAnnotationProject } from './projects.ts';
import { trainJob } from './workerJobs.ts';

const tmp = tempDir();
after(tmp.cleanup);

test(
  'a project retrained twice reads its features once; another dataset replaces them',
  { timeout: 120_000 },
  async () => {
    const dbPath = join(tmp.dir, 'w.db');
    const projects: number[] = [];
    for (const name of ['one', 'two']) {
      const folder = join(tmp.dir, name);
      await writePngFolder(folder, 40, { classes: 2, side: 16 });
      const datasetId = await importPath(dbPath, folder);
      const store = openStore(dbPath);
      projects.push(
        createAnnotationProject(store, {
          name,
          datasetId,
          classNames: ['a', 'b'],
          settings: { model: 'linear', batchSize: 10 },
          createdBy: 'ann',
        }),
      );
      store.close();
    }
    const run = async (projectId: number) => {
      const stages: string[] = [];
      await trainJob(dbPath, projectId, {
        signal: new AbortController().signal,
        // Loading with a count: files read (a job's first word, 0 of 0, reads nothing).
        progress: (p) => {
          if (p.total > 0) stages.push(p.stage);
        },
      });
      return stages;
    };
    assert.ok((await run(projects[0]!)).includes('loading'), 'the first job reads the images');
    assert.equal(workerFeatures.size, 1);
    assert.ok(!(await run(projects[0]!)).includes('loading'), 'the second reads nothing');
    assert.ok((await run(projects[1]!)).includes('loading'), 'another dataset is read');
    assert.equal(workerFeatures.size, 1, 'and only its features are kept');
  },
);
