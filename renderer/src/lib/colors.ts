/**
 * Okabe-Ito palette: distinguishable with the common colour-vision deficiencies, and each strategy
 * keeps its colour across every chart of a study (by its position in the study's list).
 */
const PALETTE = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#8C6D1F',
  '#000000',
];

export function strategyColor(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

/** `#rrggbb` with an alpha, for std bands. */
export function withAlpha(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
