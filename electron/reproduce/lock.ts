/**
 * One process per study database: two `deepal reproduce` processes working on the same study
 * would both record its next rounds. A lock file beside the database (`<key>.db.lock`, holding
 * the owner's pid) is taken before the study is opened for writing; a lock whose process is gone
 * (kill -9, power loss) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid recorded in a lock file, or null when it is missing, empty or unreadable. */
function ownerOf(lockPath: string): number | null {
  try {
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Take the lock of `dbPath` for this process; returns its release. Throws, naming the study and
 * the process, when a live process holds it.
 */
export function lockStudy(dbPath: string, label: string): () => void {
  const lockPath = `${dbPath}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (ownerOf(lockPath) === process.pid) rmSync(lockPath, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = ownerOf(lockPath);
      if (owner !== null && owner !== process.pid && alive(owner)) {
        throw new Error(
          `${label} is being run by process ${owner} (lock ${lockPath}); wait for it or stop it first`,
        );
      }
      // Left by a process that is gone (or half-written): take it over.
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`${label}: could not take the lock ${lockPath}`);
}
