import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildReport, type RunRecord, type StudyReport } from '../../shared/report.ts';
import { DEFAULT_STUDY } from '../../shared/study.ts';
import { reportJson } from './output.ts';
import { reportHtml } from './reportHtml.ts';

const config = {
  ...DEFAULT_STUDY,
  strategies: ['Random', 'Margin'],
  initial: 10,
  batch: 10,
  budget: 10,
};

/** Two classes, 28 "scratch" and 2 "pit" test samples. */
function run(strategy: string, withConfusion: boolean): RunRecord {
  const rounds = [
    {
      labeled: 10,
      accuracy: 28 / 30,
      confusion: [
        [28, 0],
        [2, 0],
      ],
    },
    {
      labeled: 20,
      accuracy: 29 / 30,
      confusion: [
        [28, 0],
        [1, 1],
      ],
    },
  ];
  return {
    strategy,
    repeat: 0,
    seed: 1,
    status: 'done',
    rounds: rounds.map((r, i) => ({
      round: i,
      labeled: r.labeled,
      accuracy: r.accuracy,
      loss: 0.5,
      trainMs: 1000,
      queryMs: 10,
      ...(withConfusion ? { confusion: r.confusion } : {}),
    })),
  };
}

function report(withConfusion: boolean, classes = ['scratch', 'pit']): StudyReport {
  return buildReport({
    config,
    dataset: { description: 'defects', pool: 100, test: 30, classes },
    backend: 'test',
    runs: [run('Random', withConfusion), run('Margin', withConfusion)],
    expectedRounds: 1,
    generatedAt: '2025-01-01T00:00:00.000Z',
  });
}

describe('reportJson', () => {
  test('each confusion matrix on one line; parses back to the same report', () => {
    const r = report(true);
    const text = reportJson(r);
    assert.deepEqual(JSON.parse(text), r);
    assert.match(text, /\n {10}"confusion": \[\[28,0\],\[2,0\]\]\n/);
    assert.ok(text.endsWith('}\n'));
  });

  test('a report without matrices is written exactly as before (indented JSON)', () => {
    const r = report(false);
    assert.equal(reportJson(r), `${JSON.stringify(r, null, 2)}\n`);
  });

  test('a class name that looks like the internal marker is kept as it is', () => {
    const r = report(true, ['\u0000confusion 0\u0000', 'pit']);
    assert.deepEqual(JSON.parse(reportJson(r)), r);
  });
});

describe('reportHtml: per-class metrics', () => {
  test('balanced columns, the imbalance note and the final recall table with test counts', () => {
    const html = reportHtml(report(true));
    assert.match(html, /<th>balanced AUBC \(%\)<\/th><th>balanced F-acc \(%\)<\/th>/);
    // Balanced F-acc: recall (1 + 0.5) / 2 = 75%; balanced AUBC: (0.5 + 0.75) / 2 = 62.5%.
    assert.match(html, /<td>62\.50 ± 0\.00<\/td><td>75\.00 ± 0\.00<\/td>/);
    assert.match(html, /The test classes are imbalanced<\/strong> \(the largest has 14\.0 times/);
    assert.match(html, /scratch<br><span class="note">28 test<\/span>/);
    assert.match(html, /pit<br><span class="note">2 test<\/span>/);
    assert.match(html, /<tr><td>Random<\/td><td>100\.0<\/td><td>50\.0<\/td><\/tr>/);
    assert.match(html, /aria-label="balanced accuracy against labeled samples/);
  });

  test('runs recorded without matrices: no balanced columns, a note that says why', () => {
    const html = reportHtml(report(false));
    assert.doesNotMatch(html, /balanced AUBC/);
    assert.match(html, /recorded without it/);
  });
});
