import {
  classLabels,
  describeModelChoices,
  IMBALANCE_RATIO,
  imbalanceRatio,
  type StudyReport,
} from '../../shared/report.ts';
import { seriesStyle } from '../../shared/seriesStyle.ts';

/**
 * report.html: one self-contained file (inline SVG and CSS, no script, no network; its CSP forbids
 * any fetch) that a person can open from a USB stick on a machine with no internet.
 */

function esc(s: string | number): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

const pct = (x: number, digits = 2): string => (x * 100).toFixed(digits);
const secs = (ms: number): string => (ms / 1000).toFixed(1);

/** A strategy's colour and SVG dash pattern: the same as in the app's dashboards. */
export function styleOf(index: number): { color: string; dasharray: string } {
  const { color, dash } = seriesStyle(index);
  return { color, dasharray: dash.length > 0 ? dash.join(' ') : 'none' };
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step)
    ticks.push(Number(v.toFixed(10)));
  return ticks;
}

function curvesSvg(
  report: StudyReport,
  curves: StudyReport['curves'] = report.curves,
  yLabel = 'test accuracy',
): string {
  const W = 760;
  const m = { l: 60, r: 170, t: 20, b: 50 };
  // Tall enough for one legend row per strategy (22 in the catalog).
  const H = Math.max(420, m.t + 20 * curves.length + m.b);
  const pts = curves.flatMap((c) => c.points);
  if (pts.length === 0) return '<p>No complete run yet.</p>';
  const xs = pts.map((p) => p.labeled);
  const ys = pts.flatMap((p) => [p.mean - p.std, p.mean + p.std]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const y0 = Math.max(0, Math.floor(Math.min(...ys) * 20) / 20);
  const y1 = Math.min(1, Math.ceil(Math.max(...ys) * 20) / 20);
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const parts: string[] = [];
  for (const t of niceTicks(y0, y1, 6)) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${sy(t)}" y2="${sy(t)}" class="grid"/>`);
    const label = Number.isInteger(Math.round(t * 1e6) / 1e4) ? pct(t, 0) : pct(t, 1);
    parts.push(`<text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end">${label}%</text>`);
  }
  for (const t of niceTicks(x0, x1, 8)) {
    parts.push(
      `<line x1="${sx(t)}" x2="${sx(t)}" y1="${H - m.b}" y2="${H - m.b + 5}" class="axis"/>`,
    );
    parts.push(`<text x="${sx(t)}" y="${H - m.b + 18}" text-anchor="middle">${esc(t)}</text>`);
  }
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" class="axis"/>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" class="axis"/>`);
  parts.push(
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">labeled samples</text>`,
  );
  parts.push(
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  curves.forEach((c, i) => {
    const { color, dasharray } = styleOf(report.config.strategies.indexOf(c.strategy));
    const upper = c.points.map(
      (p) => `${sx(p.labeled).toFixed(1)},${sy(p.mean + p.std).toFixed(1)}`,
    );
    const lower = c.points
      .map((p) => `${sx(p.labeled).toFixed(1)},${sy(p.mean - p.std).toFixed(1)}`)
      .reverse();
    parts.push(
      `<polygon points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.15" stroke="none"/>`,
    );
    const line = c.points
      .map((p) => `${sx(p.labeled).toFixed(1)},${sy(p.mean).toFixed(1)}`)
      .join(' ');
    parts.push(
      `<polyline points="${line}" fill="none" stroke="${color}" stroke-width="2" stroke-dasharray="${dasharray}"><title>${esc(c.strategy)}</title></polyline>`,
    );
    const ly = m.t + 10 + i * 20;
    parts.push(
      `<line x1="${W - m.r + 15}" x2="${W - m.r + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3" stroke-dasharray="${dasharray}"/>`,
    );
    parts.push(`<text x="${W - m.r + 46}" y="${ly + 4}">${esc(c.strategy)}</text>`);
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(yLabel)} against labeled samples, mean and standard deviation band per strategy">${parts.join('')}</svg>`;
}

function timeSvg(report: StudyReport): string {
  const rows = report.summary;
  if (rows.length === 0) return '';
  const W = 760;
  const rowH = 26;
  const m = { l: 160, r: 120, t: 10, b: 40 };
  const H = m.t + m.b + rows.length * rowH;
  const max = Math.max(...rows.map((r) => r.trainMs + r.queryMs), 1);
  const sx = (ms: number) => (ms / max) * (W - m.l - m.r);
  const parts: string[] = [];
  rows.forEach((r, i) => {
    const y = m.t + i * rowH;
    parts.push(`<text x="${m.l - 8}" y="${y + 17}" text-anchor="end">${esc(r.strategy)}</text>`);
    parts.push(
      `<rect x="${m.l}" y="${y + 4}" width="${sx(r.trainMs).toFixed(1)}" height="${rowH - 8}" fill="#4c78a8"><title>train ${secs(r.trainMs)} s</title></rect>`,
    );
    parts.push(
      `<rect x="${(m.l + sx(r.trainMs)).toFixed(1)}" y="${y + 4}" width="${sx(r.queryMs).toFixed(1)}" height="${rowH - 8}" fill="#f58518"><title>query ${secs(r.queryMs)} s</title></rect>`,
    );
    parts.push(
      `<text x="${(m.l + sx(r.trainMs + r.queryMs) + 6).toFixed(1)}" y="${y + 17}">${secs(r.trainMs)} + ${secs(r.queryMs)} s</text>`,
    );
  });
  const ly = H - 15;
  parts.push(
    `<rect x="${m.l}" y="${ly - 10}" width="12" height="12" fill="#4c78a8"/><text x="${m.l + 18}" y="${ly}">training</text>`,
  );
  parts.push(
    `<rect x="${m.l + 100}" y="${ly - 10}" width="12" height="12" fill="#f58518"/><text x="${m.l + 118}" y="${ly}">query (selection)</text>`,
  );
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Mean time per run: training and query">${parts.join('')}</svg>`;
}

/** Mean ± std as percentages, or a dash where the runs have no confusion matrices. */
function pm(mean: number | null | undefined, std: number | null | undefined): string {
  return typeof mean === 'number' && typeof std === 'number'
    ? `${pct(mean)} ± ${pct(std)}`
    : '<span class="note">-</span>';
}

/** Whether any strategy has per-class statistics (runs recorded with confusion matrices). */
function hasPerClass(report: StudyReport): boolean {
  return report.summary.some((s) => typeof s.balancedFaccMean === 'number');
}

function summaryTable(report: StudyReport): string {
  const perClass = hasPerClass(report);
  const rows = report.summary
    .map(
      (s, i) =>
        `<tr><td>${i + 1}</td><td>${esc(s.strategy)}</td><td>${pct(s.aubcMean)} ± ${pct(s.aubcStd)}</td><td>${pct(s.faccMean)} ± ${pct(s.faccStd)}</td>${
          perClass
            ? `<td>${pm(s.balancedAubcMean, s.balancedAubcStd)}</td><td>${pm(s.balancedFaccMean, s.balancedFaccStd)}</td><td>${pm(s.macroF1Mean, s.macroF1Std)}</td>`
            : ''
        }<td>${s.repeats}</td><td>${secs(s.trainMs)}</td><td>${secs(s.queryMs)}</td></tr>`,
    )
    .join('');
  const extra = perClass
    ? '<th>balanced AUBC (%)</th><th>balanced F-acc (%)</th><th>final macro-F1 (%)</th>'
    : '';
  return `<table><thead><tr><th>#</th><th>strategy</th><th>AUBC (%)</th><th>F-acc (%)</th>${extra}<th>repeats</th><th>train s / run</th><th>query s / run</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Recall per class in the last round, mean over repeats; the header gives each class's test count. */
function recallTable(report: StudyReport): string {
  const support = report.classSupport;
  if (!support) return '';
  const names = classLabels(report);
  const head = names
    .map((n, c) => `<th>${esc(n)}<br><span class="note">${support[c]} test</span></th>`)
    .join('');
  const rows = report.summary
    .map((s) => {
      const cells = names
        .map((_, c) => {
          const r = s.finalRecall?.[c];
          return `<td>${typeof r === 'number' ? pct(r, 1) : '<span class="note">-</span>'}</td>`;
        })
        .join('');
      return `<tr><td>${esc(s.strategy)}</td>${cells}</tr>`;
    })
    .join('');
  return `<table class="recall"><thead><tr><th>strategy</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

/** The per-class section: why it matters here, the balanced-accuracy curves, the recall table. */
function perClassSection(report: StudyReport): string {
  if (!hasPerClass(report)) {
    return report.summary.length === 0
      ? ''
      : '<p class="note">Balanced accuracy, macro-F1 and per-class recall need the confusion matrix of the test set in every round; these runs (or some of them) were recorded without it. A study run with this version records it.</p>';
  }
  const ratio = imbalanceRatio(report.classSupport);
  const imbalanced =
    ratio !== null && ratio > IMBALANCE_RATIO
      ? `<p><strong>The test classes are imbalanced</strong> (the largest has ${ratio.toFixed(1)} times the samples of the smallest): accuracy mostly measures the large classes; compare strategies on balanced accuracy.</p>`
      : '';
  return `<h2>Balanced accuracy and per-class recall</h2>
${imbalanced}<p class="note">Balanced accuracy: the mean of the per-class recalls (classes without test samples left out). Macro-F1: the unweighted mean of the per-class F1 scores. Both from each round's confusion matrix on the test set.</p>
${curvesSvg(report, report.balancedCurves ?? [], 'balanced accuracy')}
<h3>Recall per class, final round</h3>
<p class="note">Mean over the complete runs; - where a class has no test samples.</p>
${recallTable(report)}`;
}

function wtlTables(report: StudyReport): string {
  const wtl = report.winTieLoss;
  const names = wtl.ranking.map((r) => r.strategy);
  const cell = (a: string, b: string): string => {
    if (a === b) return '<td class="diag">-</td>';
    const p = wtl.pairs.find((x) => x.a === a && x.b === b);
    return p ? `<td>${p.win}/${p.tie}/${p.loss}</td>` : '<td></td>';
  };
  const matrix = `<table><thead><tr><th>row vs column (win/tie/loss)</th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr></thead><tbody>${names
    .map((a) => `<tr><th>${esc(a)}</th>${names.map((b) => cell(a, b)).join('')}</tr>`)
    .join('')}</tbody></table>`;
  const ranking = `<table><thead><tr><th>rank</th><th>strategy</th><th>wins</th><th>ties</th><th>losses</th><th>wins - losses</th></tr></thead><tbody>${wtl.ranking
    .map(
      (r, i) =>
        `<tr><td>${i + 1}</td><td>${esc(r.strategy)}</td><td>${r.win}</td><td>${r.tie}</td><td>${r.loss}</td><td>${r.score}</td></tr>`,
    )
    .join('')}</tbody></table>`;
  return `${ranking}<h3>Pairwise</h3>${matrix}`;
}

export function reportHtml(report: StudyReport): string {
  const c = report.config;
  const protocol = [
    [
      'dataset',
      `${report.dataset.description} (pool ${report.dataset.pool}, test ${report.dataset.test}, ${report.dataset.classes.length} classes)`,
    ],
    [
      'model',
      describeModelChoices(report) ??
        `${c.model}, ${c.epochs} epochs, batch ${c.trainBatchSize}, Adam lr ${c.learningRate}, ${c.warmStart ? 'warm start' : 'retrained from scratch each round'}`,
    ],
    [
      'active learning',
      `initial ${c.initial}, query batch ${c.batch}, budget ${c.budget}, ${c.repeats} repeat(s), seed ${c.seed}`,
    ],
    ['backend', report.backend],
    ['generated', report.generatedAt],
  ];
  const incomplete = report.runs.filter((r) => !r.complete).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>DeepAL Studio report: ${esc(c.dataset)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:980px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f5f5f5}
td:nth-child(2),th:first-child{text-align:left}.diag{color:#aaa;text-align:center}
table.recall td{text-align:right}table.recall td:first-child{text-align:left}
svg text{font-size:12px;fill:#333}.grid{stroke:#eee}.axis{stroke:#888}.note{color:#666}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}dt{font-weight:600}dd{margin:0}
</style></head><body>
<h1>Active learning study: ${esc(c.strategies.join(', '))}</h1>
<dl>${protocol.map(([k, v]) => `<dt>${esc(k!)}</dt><dd>${esc(v!)}</dd>`).join('')}</dl>
${incomplete > 0 ? `<p class="note">${incomplete} run(s) are incomplete and left out of the statistics; resume the study to finish them.</p>` : ''}
<h2>Accuracy against budget</h2>
<p class="note">Mean test accuracy over repeats; the band is ± one sample standard deviation.</p>
${curvesSvg(report)}
<h2>AUBC and final accuracy</h2>
<p class="note">AUBC: area under the accuracy-budget curve (trapezoid rule over the whole labeled range, normalised to [0, 1]). F-acc: accuracy at the end of the budget. Mean ± sample standard deviation over repeats.</p>
${summaryTable(report)}
${perClassSection(report)}
<h2>Win-tie-loss</h2>
<p class="note">A wins over B when its AUBC is higher by more than ${pct(report.winTieLoss.margin, 1)} percentage points, loses when lower by more, else ties; each comparison is one repeat (both runs start from that repeat's labeled seed). Ranked by wins minus losses.</p>
${wtlTables(report)}
<h2>Time cost</h2>
<p class="note">Mean total time per run, training and query (selection) measured separately.</p>
${timeSvg(report)}
</body></html>
`;
}
