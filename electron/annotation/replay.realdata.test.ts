/**
 * The labeling loop on real photographs, replayed through the services with the true labels as
 * the oracle (issue 23's check at a small size): 40 NEU photographs of each of 6 classes in one
 * flat, unlabeled folder, a project with the default settings. The first 20 labels must cover at
 * least 5 of the 6 classes; at 60 labels the model must be right on most photographs not yet
 * labeled, and the estimate must be shown with its interval or withheld naming the classes without
 * evaluation labels. The full replay (1,770 photographs, 3 seeds) is bench/projectReplay.ts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { replay } from './fixtures/replay.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

test(
  'NEU replay: the first batch covers the classes, the estimate is honest',
  { timeout: 600_000 },
  async (t) => {
    const candidates = [
      ...(process.env.DEEPAL_DATA_DIR ? [resolve(process.env.DEEPAL_DATA_DIR)] : []),
      resolve(repoRoot, '..', 'shared', 'datasets'),
    ].map((base) => join(base, 'neu-surface-defects', 'images'));
    const folder = candidates.find((c) => existsSync(join(c, 'crazing')));
    if (!folder) {
      const reason = `NEU surface defects not found; looked in ${candidates.join(', ')}`;
      if (process.env.CI) assert.fail(`${reason}. CI must provide the data (set DEEPAL_DATA_DIR).`);
      t.skip(reason);
      return;
    }
    const points = await replay(folder, 1, [20, 60], {
      flat: true,
      perClass: 40,
      log: (line) => t.diagnostic(line),
    });
    const [at20, at60] = points;
    assert.ok(at20!.classesSeen >= 5, `classes among the first 20 labels: ${at20!.classesSeen}`);
    assert.ok(at60!.realAccuracy > 0.7, `real accuracy at 60 labels: ${at60!.realAccuracy}`);
    if (at60!.shown !== null && at60!.withheld.length === 0) {
      // Whether the real accuracy falls in the interval is a matter of chance at this size
      // (about 10 evaluation labels); the estimator's coverage is tested in estimate.test.ts and
      // measured on all of NEU by bench/projectReplay.ts. Here: a well-formed estimate.
      assert.ok(at60!.shownLow! <= at60!.shown && at60!.shown <= at60!.shownHigh!);
      t.diagnostic(`real accuracy inside the shown interval: ${at60!.covered}`);
    } else {
      assert.ok(at60!.withheld.length > 0, 'an estimate is missing without a named reason');
    }
  },
);
