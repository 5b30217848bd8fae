import { seriesStyle } from '../../../shared/seriesStyle.ts';

/**
 * Each strategy keeps its colour and line style across every chart of a study (by its position
 * in the study's list), the same as in report.html: 8 Okabe-Ito colours (distinguishable with the
 * common colour-vision deficiencies), and a new dash pattern each time the colours repeat, so 22
 * strategies draw 22 different lines (shared/seriesStyle.ts).
 */
export function strategyColor(index: number): string {
  return seriesStyle(index).color;
}

/** The strategy's dash pattern for a line (empty: solid). */
export function strategyDash(index: number): number[] {
  return seriesStyle(index).dash;
}

/** `#rrggbb` with an alpha, for std bands. */
export function withAlpha(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
