/**
 * Regenerates `<outDir>/README.md` from the report files in `<outDir>/<study>/report.json`, with
 * figures exported by the app itself (figures.ts) when asked. Works on partial results: a study
 * without a report is listed as not run, an unfinished one as partial.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StudyReport } from '../../shared/report.ts';
import { writeFileAtomic } from '../study/output.ts';
import type { PlannedStudy } from './plan.ts';
import {
  classify,
  FINDING_IDS,
  parseVerdicts,
  renderResults,
  type Figure,
  type StudyResult,
} from './results.ts';

export function readResults(plan: readonly PlannedStudy[], outDir: string): StudyResult[] {
  return plan.map((planned) => {
    const file = join(outDir, planned.key, 'report.json');
    const report = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as StudyReport)
      : null;
    return classify(planned, report);
  });
}

export interface PublishOptions {
  plan: readonly PlannedStudy[];
  outDir: string;
  /** Export figures through the app (browser mode + chromium); false keeps the page text-only. */
  figures: boolean;
}

export async function publish(
  opts: PublishOptions,
): Promise<{ readme: string; summary: string; results: StudyResult[] }> {
  const results = readResults(opts.plan, opts.outDir);
  let figures: Figure[] = [];
  const notes: string[] = [];
  if (opts.figures) {
    const { exportFigures } = await import('./figures.ts');
    const exported = await exportFigures(results, join(opts.outDir, 'figures'));
    figures = exported.figures.map((f) => ({ ...f, file: `figures/${f.file}` }));
    notes.push(...exported.notes);
  } else {
    notes.push('Figures were not exported in this publication (--no-figures).');
  }
  // A person's verdicts on the survey's findings; read before anything is written, so a typo
  // in them stops the publication with the line instead of dropping a verdict.
  const verdictsFile = join(opts.outDir, 'VERDICTS.md');
  const verdicts = existsSync(verdictsFile)
    ? parseVerdicts(readFileSync(verdictsFile, 'utf8'), FINDING_IDS, verdictsFile)
    : new Map();
  const readme = join(opts.outDir, 'README.md');
  writeFileAtomic(readme, renderResults({ results, figures, figureNotes: notes, verdicts }));
  const counts = ['complete', 'partial', 'missing', 'stale']
    .map((s) => `${results.filter((r) => r.state === s).length} ${s}`)
    .join(', ');
  return {
    readme,
    summary: `published ${readme}: ${counts}; ${figures.length} figure(s)`,
    results,
  };
}
