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

/**
 * report.json's text: indented, but each confusion matrix on one line. Indented matrices would be
 * C + 2 lines each, for every round of every run (a 10-class study of 600 rounds: 70,000 lines).
 */
export function reportJson(report: StudyReport): string {
  const plain = JSON.stringify(report, null, 2);
  // A string that already looks like a marker (a class named so) would be replaced too.
  if (plain.includes('\\u0000confusion')) return `${plain}\n`;
  const matrices: string[] = [];
  const marker = (i: number) => `\u0000confusion ${i}\u0000`;
  const text = JSON.stringify(
    report,
    (key, value: unknown) => {
      if (key !== 'confusion' || !Array.isArray(value)) return value;
      matrices.push(JSON.stringify(value));
      return marker(matrices.length - 1);
    },
    2,
  );
  // JSON writes the marker's NUL characters as \u0000, so the markers are quoted strings here.
  return `${text.replace(/"\\u0000confusion (\d+)\\u0000"/g, (_, i: string) => matrices[Number(i)]!)}\n`;
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
  writeFileAtomic(paths.json, reportJson(report));
  writeFileAtomic(paths.csv, resultsCsv(report));
  writeFileAtomic(paths.html, reportHtml(report));
  return paths;
}
