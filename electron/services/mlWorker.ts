import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../../shared/contract.ts';
import type {
  FromWorker,
  JobProgress,
  ToWorker,
  WorkerJob,
  WorkerJobResult,
} from '../worker/protocol.ts';

/** A job that ended without a value: cancelled, or failed with a code the UI can show. */
export class WorkerJobError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WorkerJobError';
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  onProgress?: (p: JobProgress) => void;
}

/**
 * The main-thread side of the ML worker: starts it on first use, hands out job ids, routes
 * progress to each job's listener and restarts the worker if it dies (failing the jobs it had).
 */
export class MlWorker {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly entry: URL = new URL('../worker/bootstrap.mjs', import.meta.url)) {}

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.entry, { stdout: false, stderr: false });
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (err) => this.failAll(`The ML worker crashed: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      if (this.pending.size > 0) this.failAll(`The ML worker stopped (exit code ${code})`);
    });
    // An idle worker must not keep the process (tests, Ctrl-C) alive.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private failAll(message: string): void {
    for (const [, p] of this.pending) p.reject(new WorkerJobError('failed', message));
    this.pending.clear();
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type === 'ready') return;
    const p = this.pending.get(msg.jobId);
    if (!p) return;
    if (msg.type === 'progress') {
      p.onProgress?.(msg.progress);
      return;
    }
    this.pending.delete(msg.jobId);
    if (this.pending.size === 0) this.worker?.unref();
    if (msg.type === 'done') p.resolve(msg.value);
    else if (msg.type === 'cancelled')
      p.reject(new WorkerJobError('cancelled', 'The job was cancelled.'));
    else p.reject(new WorkerJobError(msg.code, msg.message));
  }

  /** Start a job; the promise settles with its value or a WorkerJobError. */
  run<K extends WorkerJob['kind']>(
    job: Extract<WorkerJob, { kind: K }>,
    onProgress?: (p: JobProgress) => void,
  ): { jobId: number; done: Promise<WorkerJobResult[K]> } {
    const worker = this.ensure();
    const jobId = this.nextId++;
    const done = new Promise<WorkerJobResult[K]>((resolve, reject) => {
      this.pending.set(jobId, { resolve: resolve as (v: unknown) => void, reject, onProgress });
    });
    // A running job keeps the process alive, as a person waiting on it would expect.
    worker.ref();
    worker.postMessage({ type: 'start', jobId, job } satisfies ToWorker);
    return { jobId, done };
  }

  cancel(jobId: number): void {
    if (this.pending.has(jobId))
      this.worker?.postMessage({ type: 'cancel', jobId } satisfies ToWorker);
  }

  /** Cancel every job, give them `graceMs` to stop between batches, then end the worker. */
  async close(graceMs = 3000): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const waiting = [...this.pending.values()].map(
      (p) =>
        new Promise<void>((resolve) => {
          const { resolve: res, reject } = p;
          p.resolve = (v) => {
            res(v);
            resolve();
          };
          p.reject = (e) => {
            reject(e);
            resolve();
          };
        }),
    );
    for (const id of this.pending.keys()) this.cancel(id);
    await Promise.race([Promise.all(waiting), new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.worker = null;
    await worker.terminate();
    this.failAll('The app is shutting down.');
  }
}
