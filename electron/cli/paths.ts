/**
 * The command line's checks of the paths a person types, made before anything is opened or
 * trained: a `--db` that is a device or a folder, a `--resume` of a database that is not there,
 * an `--out` that is a file or already holds someone's results.
 */
import { existsSync, statSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describeSystemError } from '../services/errors.ts';
import { defaultDbPath } from '../main/paths.ts';

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** stat, or null when nothing is there; other failures as a sentence naming `what`. */
function statOrNull(path: string, what: string): Stats | null {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new Error(
      `${what} ${path}: ${describeSystemError(err as NodeJS.ErrnoException & { code: string }).message}`,
      { cause: err },
    );
  }
}

/** The nearest existing folder above `path` must be a folder (not a file in the way). */
function checkParents(path: string, what: string): void {
  for (let p = dirname(path); ; p = dirname(p)) {
    const st = statOrNull(p, what);
    if (st) {
      if (!st.isDirectory())
        throw new Error(`${what} ${path}: ${p} is a file, so nothing can be created inside it`);
      return;
    }
    if (dirname(p) === p) return;
  }
}

/**
 * The workspace database `--db` names (default: the app's), checked: it must be a regular file
 * or not exist yet (`missing`: the sentence when it must exist, e.g. for --resume).
 */
export function workspaceDbPath(given: string | undefined, missing?: string): string {
  const file = resolve(given ?? defaultDbPath());
  const st = statOrNull(file, '--db');
  if (!st) {
    if (missing !== undefined) throw new Error(missing.replace('{file}', file));
    checkParents(file, '--db');
    return file;
  }
  if (st.isDirectory())
    throw new Error(
      `--db ${file} is a folder; give the database file, for example ${join(file, 'workspace.db')}`,
    );
  if (!st.isFile())
    throw new Error(
      `--db ${file} is ${kindOf(st)}, not a database file; give the path of a workspace database (a .db file)`,
    );
  return file;
}

/** The files `deepal study` writes into its --out folder. */
export const STUDY_OUTPUTS = ['report.json', 'results.csv', 'report.html'] as const;

/**
 * `--out` for a study's reports: a folder (new or existing). Report files already there are
 * someone's results: refused unless `overwrite`, as `deepal export` refuses an existing file.
 */
export function checkStudyOut(dir: string, overwrite: boolean): void {
  const st = statOrNull(dir, '--out');
  if (!st) {
    checkParents(dir, '--out');
    return;
  }
  if (!st.isDirectory())
    throw new Error(
      `--out ${dir} is a file, not a folder; give a folder (report.json, results.csv and report.html are written into it)`,
    );
  const present = STUDY_OUTPUTS.filter((f) => existsSync(join(dir, f)));
  if (present.length > 0 && !overwrite)
    throw new Error(
      `${dir} already holds ${present.join(', ')}; add --overwrite to replace them, or choose another --out (nothing is overwritten silently)`,
    );
}
