import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { deriveSeed } from '../../shared/random.ts';
import { buildReport, type RunRecord, type StudyReport } from '../../shared/report.ts';
import { roundCount, StudyConfigSchema } from '../../shared/study.ts';
import { openStore } from '../store/store.ts';
import { writeStudyOutputs } from '../study/output.ts';
import { committedRuns, importCommittedRuns } from './committed.ts';
import { ensurePlannedStudy, reportFromStore } from './orchestrator.ts';
import { buildPlan, SMOKE_PLAN } from './plan.ts';

const dir = mkdtempSync(join(tmpdir(), 'deepal-committed-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const planned = buildPlan(SMOKE_PLAN).find((p) => p.key === 'demo')!;
const cfg = StudyConfigSchema.parse(planned.config);

function committedReport(withConfusion: boolean): StudyReport {
  const runs: RunRecord[] = cfg.strategies.flatMap((strategy) =>
    [0, 1].map((repeat) => ({
      strategy,
      repeat,
      seed: deriveSeed(cfg.seed, 'repeat', repeat),
      status: 'done',
      rounds: Array.from({ length: roundCount(cfg) + 1 }, (_, round) => ({
        round,
        labeled: cfg.initial + round * cfg.batch,
        accuracy: 0.5 + 0.1 * round,
        loss: 1,
        trainMs: 10,
        queryMs: round === 0 ? 0 : 2,
        ...(withConfusion
          ? {
              confusion: [
                [40 + round, 10 - round],
                [30 - repeat, 20 + repeat],
              ],
            }
          : {}),
      })),
    })),
  );
  return buildReport({
    config: cfg,
    dataset: { description: 'demo', pool: 200, test: 100, classes: ['a', 'b'] },
    backend: 'test',
    runs,
    expectedRounds: roundCount(cfg),
  });
}

describe('committed runs carry their confusion matrices', () => {
  for (const withConfusion of [true, false]) {
    test(`imported and reported again: same numbers (${withConfusion ? 'with' : 'without'} matrices)`, () => {
      const out = join(dir, `out-${withConfusion}`);
      const original = committedReport(withConfusion);
      writeStudyOutputs(original, join(out, planned.key));
      const committed = committedRuns(out, planned);
      assert.equal(committed.ignored, undefined);
      assert.equal(committed.runs.length, 4);
      assert.equal(
        committed.runs[0]!.rounds[1]!.details?.confusion?.[0]?.[0],
        withConfusion ? 41 : undefined,
      );

      const store = openStore(join(dir, `db-${withConfusion}.sqlite`));
      try {
        const { id } = ensurePlannedStudy(store, planned);
        assert.equal(importCommittedRuns(store, id, committed), 4);
        const again = reportFromStore(store, id, 'test');
        assert.deepEqual(
          again.runs.map((r) => r.curve.map((p) => [p.accuracy, p.balancedAccuracy, p.confusion])),
          original.runs.map((r) =>
            r.curve.map((p) => [p.accuracy, p.balancedAccuracy, p.confusion]),
          ),
        );
        assert.deepEqual(again.summary, original.summary);
        if (withConfusion) assert.ok(again.summary[0]!.balancedAubcMean! > 0);
        else assert.equal(again.summary[0]!.balancedAubcMean, null);
      } finally {
        store.close();
      }
    });
  }
});
