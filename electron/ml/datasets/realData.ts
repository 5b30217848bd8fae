/**
 * Where the real-data test suites find Fashion-MNIST and MNIST: DEEPAL_DATA_DIR, then
 * ../shared/datasets beside the repository, then Debian's /usr/share/datasets. Missing data skips
 * those tests with the reason, except under CI, where it is a failure.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findIdxFiles } from './index.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

export function realDataCandidates(): string[] {
  return [
    ...(process.env.DEEPAL_DATA_DIR ? [resolve(process.env.DEEPAL_DATA_DIR)] : []),
    resolve(repoRoot, '..', 'shared', 'datasets'),
    '/usr/share/datasets',
  ];
}

/** The first candidate base folder holding `<base>/<name>/t10k-*` files. */
export function findRealDataBase(name: string): string | null {
  for (const base of realDataCandidates()) {
    const f = findIdxFiles(join(base, name));
    if (f.testImages && f.testLabels) return base;
  }
  return null;
}

/** Skips (or, under CI, fails) when the data is missing; returns the base folder otherwise. */
export function requireRealData(t: TestContext, name: string): string | null {
  const base = findRealDataBase(name);
  if (base) return base;
  const reason = `${name} not found; looked in ${realDataCandidates()
    .map((c) => join(c, name))
    .join(', ')}`;
  if (process.env.CI) assert.fail(`${reason}. CI must provide the data (set DEEPAL_DATA_DIR).`);
  t.skip(reason);
  return null;
}
