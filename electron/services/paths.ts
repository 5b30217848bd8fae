/**
 * Paths that arrive through the app's channels. The back end's working directory is wherever the
 * app was started from (a desktop launcher: the home folder or `/`), so a relative path would
 * quietly name a different place than the person meant: it is refused with a sentence instead.
 */
import { isAbsolute } from 'node:path';
import { NAMED_DATASET_SPECS } from '../../shared/limits.ts';

/** A sentence saying why `path` is refused, or null when it is a full path. */
export function relativePathProblem(path: string, what: string): string | null {
  if (isAbsolute(path)) return null;
  return `${what} "${path}" is a relative path, and the app cannot tell what it is relative to; give the full path (for example ${process.platform === 'win32' ? 'C:\\Users\\you\\data' : '/home/you/data'}).`;
}

/** The same for a dataset spec, where the built-in names (demo, fashion-mnist, mnist) are fine too. */
export function datasetSpecProblem(spec: string, what = 'The dataset'): string | null {
  if (NAMED_DATASET_SPECS.includes(spec.trim().toLowerCase())) return null;
  return relativePathProblem(spec, what);
}
