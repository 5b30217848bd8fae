import { runJob } from '../worker/jobs.ts';

/**
 * Import a dataset path into a workspace database the way the app does (the ML worker's import
 * job, run in this thread); returns the dataset id. Used by the CLI and tests; the app goes
 * through the worker.
 */
export async function importPath(dbPath: string, path: string): Promise<number> {
  const r = await runJob(
    { kind: 'import', dbPath, path },
    { signal: new AbortController().signal, progress: () => {} },
  );
  return r.datasetId;
}
