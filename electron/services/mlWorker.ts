import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../../shared/contract.ts';
import { preloadOnnxRuntime } from '../ml/features/onnxPreload.ts';
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

/**
 * Jobs that read whatever path a person typed (a folder of a million files, a CSV parsed in one
 * synchronous pass) get a thread of their own: a slow or stuck one then delays nobody else, and
 * ending its thread stops it at once.
 */
const OWN_THREAD: ReadonlySet<WorkerJob['kind']> = new Set(['preview', 'import', 'estimate']);

/** How long a cancelled job gets to stop by itself before its thread is ended. */
export const CANCEL_GRACE_MS = 3000;

interface Thread {
  worker: Worker;
  /** Jobs running on it. */
  jobs: Set<number>;
  /** Ended on purpose (a cancelled job that would not stop, or shutdown). */
  ended: boolean;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  onProgress?: (p: JobProgress) => void;
  thread: Thread;
  kind: WorkerJob['kind'];
  /** Set once cancel was asked: ends the thread if the job has not stopped by then. */
  forceTimer?: NodeJS.Timeout;
}

export interface MlWorkerOptions {
  /** The worker script (default: the development bootstrap that loads tsx). */
  entry?: URL;
  /** How long a cancelled job may take to stop before its thread is ended (default 3 s). */
  cancelGraceMs?: number;
}

/**
 * The main-thread side of the ML workers: starts them on first use, hands out job ids, routes
 * progress to each job's listener and restarts a worker that dies (failing only the jobs it had).
 *
 * Studies, retrains and the quick catalog jobs share one long-lived thread (TensorFlow.js loads
 * once there); previews, imports and estimates each run in a short-lived thread of their own.
 * Cancelling asks the job to stop between batches; a job that has not stopped after
 * `cancelGraceMs` (a synchronous parse, a blocked read) has its thread ended, so every job can be
 * cancelled within seconds whatever it is doing.
 */
export class MlWorker {
  private main: Thread | null = null;
  private readonly threads = new Set<Thread>();
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly entry: URL;
  private readonly graceMs: number;

  constructor(entryOrOptions: URL | MlWorkerOptions = {}) {
    const o: MlWorkerOptions =
      entryOrOptions instanceof URL ? { entry: entryOrOptions } : entryOrOptions;
    this.entry = o.entry ?? new URL('../worker/bootstrap.mjs', import.meta.url);
    this.graceMs = o.cancelGraceMs ?? CANCEL_GRACE_MS;
  }

  private spawn(main = false): Thread {
    // onnxruntime-node belongs to the first thread that loads it, and a worker thread ended after
    // a cancel would take it along: this thread loads it first (once; a no-op where it is missing).
    preloadOnnxRuntime();
    // The long-lived thread learns it is one: it loads the project modules while idle.
    const worker = new Worker(this.entry, { stdout: false, stderr: false, workerData: { main } });
    const thread: Thread = { worker, jobs: new Set(), ended: false };
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (err) => this.lost(thread, `The ML worker crashed: ${err.message}`));
    worker.on('exit', (code) =>
      this.lost(thread, `The ML worker stopped unexpectedly (exit code ${code}); try again`),
    );
    // An idle worker must not keep the process (tests, Ctrl-C) alive.
    worker.unref();
    this.threads.add(thread);
    return thread;
  }

  /** A thread ended or died: its jobs fail (a cancelled one reports cancelled). */
  private lost(thread: Thread, message: string): void {
    this.threads.delete(thread);
    if (this.main === thread) this.main = null;
    for (const id of [...thread.jobs]) {
      const p = this.pending.get(id);
      if (!p) continue;
      this.settle(id);
      if (p.forceTimer !== undefined)
        p.reject(new WorkerJobError('cancelled', 'The job was cancelled.'));
      else p.reject(new WorkerJobError('failed', message));
    }
  }

  /** Forget a job; end a thread of its own, and unref the shared one when it has nothing to do. */
  private settle(jobId: number): Pending | undefined {
    const p = this.pending.get(jobId);
    if (!p) return undefined;
    this.pending.delete(jobId);
    if (p.forceTimer !== undefined) clearTimeout(p.forceTimer);
    p.thread.jobs.delete(jobId);
    if (p.thread !== this.main) this.end(p.thread);
    else if (p.thread.jobs.size === 0) p.thread.worker.unref();
    return p;
  }

  private end(thread: Thread): void {
    if (thread.ended) return;
    thread.ended = true;
    this.threads.delete(thread);
    if (this.main === thread) this.main = null;
    void thread.worker.terminate().catch(() => {});
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type === 'ready') return;
    const p = this.pending.get(msg.jobId);
    if (!p) return;
    if (msg.type === 'progress') {
      p.onProgress?.(msg.progress);
      return;
    }
    this.settle(msg.jobId);
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
    const thread = OWN_THREAD.has(job.kind) ? this.spawn() : (this.main ??= this.spawn(true));
    const jobId = this.nextId++;
    const done = new Promise<WorkerJobResult[K]>((resolve, reject) => {
      this.pending.set(jobId, {
        resolve: resolve as (v: unknown) => void,
        reject,
        onProgress,
        thread,
        kind: job.kind,
      });
    });
    thread.jobs.add(jobId);
    // A running job keeps the process alive, as a person waiting on it would expect.
    thread.worker.ref();
    thread.worker.postMessage({ type: 'start', jobId, job } satisfies ToWorker);
    return { jobId, done };
  }

  /** Is this job still running? */
  isRunning(jobId: number): boolean {
    return this.pending.has(jobId);
  }

  /** The kind of a running job (undefined once it ended). */
  kindOf(jobId: number): WorkerJob['kind'] | undefined {
    return this.pending.get(jobId)?.kind;
  }

  /**
   * Ask a job to stop. It ends with a `cancelled` WorkerJobError: by itself between batches, or,
   * if it has not stopped within the grace period, by ending its thread. Ending the shared thread
   * fails the other jobs on it with a sentence saying why (they can be started again).
   */
  cancel(jobId: number): void {
    const p = this.pending.get(jobId);
    if (!p || p.forceTimer !== undefined) return;
    p.thread.worker.postMessage({ type: 'cancel', jobId } satisfies ToWorker);
    p.forceTimer = setTimeout(() => {
      if (!this.pending.has(jobId)) return;
      const thread = p.thread;
      // The other jobs of a shared thread go down with it: say why.
      for (const other of thread.jobs) {
        const q = this.pending.get(other);
        if (!q || other === jobId || q.forceTimer !== undefined) continue;
        this.settle(other);
        q.reject(
          new WorkerJobError(
            'failed',
            'The ML worker was restarted because a cancelled job did not stop in time; start this again.',
          ),
        );
      }
      this.settle(jobId);
      this.end(thread);
      p.reject(new WorkerJobError('cancelled', 'The job was cancelled.'));
    }, this.graceMs);
    p.forceTimer.unref();
  }

  /** Cancel every job, give them `graceMs` to stop between batches, then end every worker. */
  async close(graceMs = this.graceMs): Promise<void> {
    if (this.threads.size === 0) return;
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
    for (const [id, p] of this.pending) {
      p.thread.worker.postMessage({ type: 'cancel', jobId: id } satisfies ToWorker);
    }
    await Promise.race([Promise.all(waiting), new Promise((r) => setTimeout(r, graceMs).unref())]);
    const threads = [...this.threads];
    this.main = null;
    this.threads.clear();
    for (const [id, p] of [...this.pending]) {
      this.pending.delete(id);
      if (p.forceTimer !== undefined) clearTimeout(p.forceTimer);
      p.reject(new WorkerJobError('failed', 'The app is shutting down.'));
    }
    await Promise.all(
      threads.map((t) => {
        t.ended = true;
        return t.worker.terminate().catch(() => {});
      }),
    );
  }
}
