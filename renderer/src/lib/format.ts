/** Accuracy fraction as a percentage with two decimals: 0.8734 -> "87.34". */
export function pct(fraction: number, digits = 2): string {
  return (fraction * 100).toFixed(digits);
}

/** Milliseconds as a short human duration: "850 ms", "12.3 s", "4 min 05 s", "1 h 02 min". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function dateTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function int(n: number): string {
  return n.toLocaleString('en-US');
}
