/**
 * Jobs running in this thread, for the tensor leak checks (tensorLeaks.ts). Kept apart from
 * TensorFlow.js so that the worker's entry, which counts every job, does not load it: a preview
 * or import thread never computes with it, and loading it cost such a thread about 50 MB.
 */

let running = 0;
let started = 0;

/** Count a job as running in this thread until the returned function is called. */
export function enterJob(): () => void {
  running++;
  started++;
  let left = false;
  return () => {
    if (left) return;
    left = true;
    running--;
  };
}

/** Jobs running now, and jobs started so far. */
export function jobCounts(): { running: number; started: number } {
  return { running, started };
}
