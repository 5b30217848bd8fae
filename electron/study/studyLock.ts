/**
 * One writer per study. Two processes running the same study (two `deepal study --resume`, or the
 * command line and the app) both train its next rounds and the second to record one fails the
 * study. The lock is reproduce's lock file, one per study: `<database>.study-<id>.lock`, holding
 * the owner's pid; a lock whose process is gone (kill -9, power loss) is taken over.
 */
import { readFileSync, rmSync } from 'node:fs';
import { lockStudy } from '../reproduce/lock.ts';

const lockKey = (dbPath: string, studyId: number): string => `${dbPath}.study-${studyId}`;

/**
 * Take the lock of study `studyId` in the database `dbPath`; returns its release. Throws, naming
 * the study and the process that holds it, when a live process does.
 */
export function lockStudyRun(dbPath: string, studyId: number): () => void {
  return lockStudy(lockKey(dbPath, studyId), `Study ${studyId} of ${dbPath}`);
}

/**
 * The pid of another live process running study `studyId` of `dbPath`, or null. For refusing a
 * start at once with a clear answer; the lock itself is taken by whoever runs the study.
 */
export function studyLockHolder(dbPath: string, studyId: number): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(`${lockKey(dbPath, studyId)}.lock`, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/**
 * Remove the lock of study `studyId` if this process holds it. For the app after a study's job
 * ended: a job whose thread was ended (a cancel that did not stop in time) could not release it,
 * and the command line would otherwise be refused for as long as the app runs.
 */
export function releaseOwnStudyLock(dbPath: string, studyId: number): void {
  const file = `${lockKey(dbPath, studyId)}.lock`;
  try {
    if (Number(readFileSync(file, 'utf8').trim()) === process.pid) rmSync(file, { force: true });
  } catch {
    // No lock, or it is gone already.
  }
}
