import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildReport, type RunRecord } from '../../shared/report.ts';
import { DEFAULT_STUDY } from '../../shared/study.ts';
import { reportHtml } from './reportHtml.ts';

/** 22 strategies, as many as the catalog has: one curve each. */
const strategies = Array.from({ length: 22 }, (_, i) => `S${i}`);

function run(strategy: string, k: number): RunRecord {
  return {
    strategy,
    repeat: 0,
    seed: 1,
    status: 'done',
    rounds: [10, 20].map((labeled, round) => ({
      round,
      labeled,
      accuracy: 0.5 + k / 100 + round / 10,
      loss: 0.5,
      trainMs: 100,
      queryMs: 10,
    })),
  };
}

test('report.html draws 22 strategies with 22 distinct (colour, dash) lines and legend keys', () => {
  const report = buildReport({
    config: { ...DEFAULT_STUDY, strategies, initial: 10, batch: 10, budget: 10 },
    dataset: { description: 'shapes', pool: 100, test: 30, classes: ['a', 'b'] },
    backend: 'test',
    runs: strategies.map(run),
    expectedRounds: 1,
    generatedAt: '2025-01-01T00:00:00.000Z',
  });
  const html = reportHtml(report);
  const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>'));
  const attr = (tag: string, name: string) => new RegExp(` ${name}="([^"]*)"`).exec(tag)?.[1];
  const style = (tag: string) =>
    `${attr(tag, 'stroke')}|${attr(tag, 'stroke-dasharray') ?? 'none'}`;
  const lines = svg.match(/<polyline [^>]*>/g) ?? [];
  assert.equal(lines.length, 22);
  assert.equal(new Set(lines.map(style)).size, 22, lines.map(style).join(' '));
  // The legend shows the same style beside each name, and every key fits in the picture.
  const height = Number(attr(/<svg [^>]*>/.exec(svg)![0], 'height'));
  const keys = (svg.match(/<line [^>]*>/g) ?? []).filter((t) => attr(t, 'stroke-width') === '3');
  assert.equal(keys.length, 22);
  assert.deepEqual(keys.map(style), lines.map(style));
  assert.ok(keys.every((t) => Number(attr(t, 'y1')) < height));
});
