/**
 * How a study's strategies are told apart in every chart (the app's dashboards and the static
 * report.html): a colour and a line style per strategy, by its position in the study's list.
 * The catalog has 22 strategies; 8 colours alone would give Random and KMeans one line, and more
 * colours than 8 stop being distinguishable (with the common colour-vision deficiencies
 * especially). So the colour repeats every 8 strategies and the line style changes each time it
 * does: 8 colours x 4 styles = 32 distinct (colour, style) pairs.
 */

/** Okabe-Ito: distinguishable with the common colour-vision deficiencies. */
export const SERIES_COLORS = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#8C6D1F',
  '#000000',
] as const;

/**
 * Dash patterns (canvas setLineDash and SVG stroke-dasharray, in pixels at a 2 px line): solid,
 * long dashes, dots, dash-dot. Each stays recognisable in a 25 px legend swatch.
 */
export const SERIES_DASHES: readonly (readonly number[])[] = [[], [8, 4], [2, 3], [10, 3, 2, 3]];

export interface SeriesStyle {
  color: string;
  /** Empty for a solid line. */
  dash: number[];
}

/** The style of the strategy at `index` in its study's list; distinct for the first 32. */
export function seriesStyle(index: number): SeriesStyle {
  const i = Math.max(0, Math.floor(index));
  const color = SERIES_COLORS[i % SERIES_COLORS.length]!;
  const dash = SERIES_DASHES[Math.floor(i / SERIES_COLORS.length) % SERIES_DASHES.length]!;
  return { color, dash: [...dash] };
}

/** How many strategies get distinct styles before one repeats. */
export const DISTINCT_SERIES = SERIES_COLORS.length * SERIES_DASHES.length;
