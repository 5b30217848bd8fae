import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resultsCsv, type StudyReport } from '../../shared/report.ts';
import { reportHtml } from './reportHtml.ts';

/** Write a file so that a reader never sees it half-written: temp file, then rename. */
export function writeFileAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

/** Writes report.json, results.csv and report.html into `dir`; returns their paths. */
export function writeStudyOutputs(
  report: StudyReport,
  dir: string,
): { json: string; csv: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const paths = {
    json: join(dir, 'report.json'),
    csv: join(dir, 'results.csv'),
    html: join(dir, 'report.html'),
  };
  writeFileAtomic(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileAtomic(paths.csv, resultsCsv(report));
  writeFileAtomic(paths.html, reportHtml(report));
  return paths;
}
