import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DISTINCT_SERIES, SERIES_COLORS, seriesStyle } from './seriesStyle.ts';

test('the 22 catalog strategies get 22 distinct (colour, dash) pairs', () => {
  const pairs = Array.from({ length: 22 }, (_, i) => seriesStyle(i));
  const keys = new Set(pairs.map((p) => `${p.color}|${p.dash.join(',')}`));
  assert.equal(keys.size, 22);
  // Still a line per strategy up to the stated limit, and the colours are the palette's.
  const all = Array.from({ length: DISTINCT_SERIES }, (_, i) => seriesStyle(i));
  assert.equal(new Set(all.map((p) => `${p.color}|${p.dash.join(',')}`)).size, DISTINCT_SERIES);
  assert.ok(DISTINCT_SERIES >= 22);
  assert.ok(pairs.every((p) => (SERIES_COLORS as readonly string[]).includes(p.color)));
});

test('the first eight strategies are solid, in eight different colours', () => {
  const first = Array.from({ length: 8 }, (_, i) => seriesStyle(i));
  assert.ok(first.every((p) => p.dash.length === 0));
  assert.equal(new Set(first.map((p) => p.color)).size, 8);
  // Random (0) and KMeans (8 places later) share a colour but not a line style.
  assert.equal(seriesStyle(8).color, seriesStyle(0).color);
  assert.notDeepEqual(seriesStyle(8).dash, seriesStyle(0).dash);
});

test('a caller changing its pattern does not change the next one', () => {
  seriesStyle(9).dash.push(99);
  assert.ok(!seriesStyle(9).dash.includes(99));
});
