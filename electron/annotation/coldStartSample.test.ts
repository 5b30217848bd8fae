/**
 * A cold start on a large image folder is chosen from a sample of it (COLD_START_SAMPLE; 20 here
 * on 60 images), not kept in memory as the pool; the first retrain describes the whole pool.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from '../store/fixtures/helpers.ts';
import { datasetSamples, listBatches } from '../store/annotation.ts';
import { openStore } from '../store/store.ts';
import type { PoolFeatures } from './features.ts';
import { importPath, writePngFolder } from './fixtures.ts';
import { createAnnotationProject, submitEvent } from './projects.ts';
import { runProjectTraining } from './train.ts';

const tmp = tempDir();
after(tmp.cleanup);

test(
  'the first batch of a large folder comes from a sample; the first retrain reads every image',
  { timeout: 120_000 },
  async () => {
    const folder = join(tmp.dir, 'flat');
    const byFile = await writePngFolder(folder, 60, { classes: 3, side: 16 });
    const dbPath = join(tmp.dir, 'w.db');
    const datasetId = await importPath(dbPath, folder);
    const store = openStore(dbPath);
    try {
      const projectId = createAnnotationProject(store, {
        name: 'big',
        datasetId,
        classNames: ['top', 'middle', 'bottom'],
        settings: { model: 'linear', batchSize: 12 },
        createdBy: 'ann',
      });
      const featureCache = new Map<string, PoolFeatures>();
      const loading = (seen: number[]) => (p: { phase: string; total: number }) => {
        if (p.phase === 'loading') seen.push(p.total);
      };
      const first: number[] = [];
      const r = await runProjectTraining(store, projectId, {
        featureCache,
        coldStartSample: 20,
        progress: loading(first),
      });
      assert.equal(r.coldStart, true);
      assert.ok(first.length > 0 && first.every((t) => t === 20), `loading totals ${first}`);
      assert.equal(featureCache.size, 0, 'the sample is not kept as the pool');
      const [batch] = listBatches(store, projectId);
      assert.equal(batch!.sampleIds.length, 12);
      assert.match(batch!.note, /chosen among a random 20 of the pool's 60 images/);

      // Label the batch (the true classes), then retrain: every image is described now.
      const truth = new Map(
        datasetSamples(store, datasetId).map((s) => [s.id, byFile.get(s.sourcePath!)!]),
      );
      for (const sampleId of batch!.sampleIds) {
        submitEvent(store, {
          projectId,
          sampleId,
          annotator: 'ann',
          kind: 'label',
          classIdx: truth.get(sampleId)!,
          via: 'queue',
        });
      }
      const second: number[] = [];
      const r2 = await runProjectTraining(store, projectId, {
        featureCache,
        coldStartSample: 20,
        progress: loading(second),
      });
      assert.equal(r2.coldStart, false);
      assert.ok(second.includes(60), `loading totals ${second}`);
      assert.equal(featureCache.size, 1);
    } finally {
      store.close();
    }
  },
);
