/**
 * What the app remembers for the person at this machine between sessions, outside the workspace
 * database: the annotator name. The renderer keeps it in localStorage too, but browser mode runs
 * on a new port at every launch, and a new origin starts with empty storage; a file in the data
 * folder is the same for both doors.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AnnotatorSchema } from '../../shared/annotation.ts';

export const PREFERENCES_FILE = 'preferences.json';

export interface Preferences {
  annotator: string | null;
}

/** The stored preferences; a missing, unreadable or hand-edited file reads as none. */
export async function readPreferences(dataDir: string): Promise<Preferences> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dataDir, PREFERENCES_FILE), 'utf8'));
  } catch {
    return { annotator: null };
  }
  const name = (raw as { annotator?: unknown } | null)?.annotator;
  const parsed = AnnotatorSchema.safeParse(name);
  return { annotator: parsed.success ? parsed.data : null };
}

/** Store the preferences whole (a temporary file renamed over the old one: never half written). */
export async function writePreferences(dataDir: string, prefs: Preferences): Promise<void> {
  const file = join(dataDir, PREFERENCES_FILE);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(prefs, null, 2)}\n`, { flag: 'wx' });
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
