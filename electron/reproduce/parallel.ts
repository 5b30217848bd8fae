/**
 * Studies side by side: `deepal reproduce --jobs N` runs each selected study in its own process
 * (`deepal reproduce --only <key> --jobs 1`), N at a time, the dearest first. On a CPU the wasm
 * backend gains less from a second thread than a second process gains from a second core (on
 * the 2-core development machine: 2 single-threaded studies side by side did 1.4x the rounds of
 * one study with 2 threads), so each process gets the CPUs divided by N as its wasm threads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { MAX_WASM_THREADS } from '../ml/wasmThreads.ts';

/**
 * How many studies to run at once. `auto`: one per CPU (at most one per study) when the compute
 * backend is the wasm or cpu one, since those use the CPUs; 1 when a TensorFlow native backend
 * may be used (it threads across every core itself, and a GPU is one device).
 */
export function chooseJobs(
  requested: 'auto' | number,
  studies: number,
  opts: { cpus?: number; backend?: string; nativeInstalled: boolean },
): number {
  const most = Math.max(1, studies);
  if (requested !== 'auto') return Math.max(1, Math.min(requested, most));
  const cpuBound =
    opts.backend === undefined ? !opts.nativeInstalled : ['wasm', 'cpu'].includes(opts.backend);
  return cpuBound ? Math.min(opts.cpus ?? availableParallelism(), most) : 1;
}

/** wasm threads for each of `jobs` processes on `cpus` CPUs (1 to MAX_WASM_THREADS). */
export function threadsPerJob(jobs: number, cpus: number = availableParallelism()): number {
  return Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(cpus / jobs)));
}

export interface Job {
  key: string;
  /** Arguments after the node executable. */
  args: string[];
}

export interface JobsOptions {
  concurrency: number;
  env: NodeJS.ProcessEnv;
  /** Stop starting jobs; the running ones get one SIGINT (they stop after their current batch). */
  signal?: AbortSignal;
  onStart?: (key: string, pid: number | undefined) => void;
  onExit?: (key: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface JobsResult {
  done: string[];
  /** Jobs that exited with an error, with how. */
  failed: { key: string; how: string }[];
  /** Jobs stopped by the signal, and those never started. */
  stopped: string[];
  notStarted: string[];
}

/**
 * Run `jobs` as child processes of this node, `concurrency` at a time, in the given order. A
 * failed job does not stop the others (each study is its own unit). The children share this
 * process's stderr: their lines name their study, and each line is one write.
 */
export function runJobs(jobs: readonly Job[], opts: JobsOptions): Promise<JobsResult> {
  const queue = [...jobs];
  const running = new Map<string, ChildProcess>();
  const result: JobsResult = { done: [], failed: [], stopped: [], notStarted: [] };
  // If this process ends first, its children must not go on writing: they hold the study locks,
  // and a new run would refuse those studies until they end. (A kill -9 of this process cannot
  // be caught: the locks then name the children's pids.)
  const killAll = () => {
    for (const child of running.values()) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  return new Promise((resolve) => {
    const onAbort = () => {
      for (const child of running.values()) child.kill('SIGINT');
      result.notStarted.push(...queue.splice(0).map((j) => j.key));
      if (running.size === 0) finish();
    };
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      opts.signal?.removeEventListener('abort', onAbort);
      process.off('exit', killAll);
      resolve(result);
    };
    const next = () => {
      while (running.size < opts.concurrency && queue.length > 0 && !opts.signal?.aborted) {
        const job = queue.shift()!;
        // Own process group: a Ctrl-C in the terminal reaches this process only, which passes
        // one SIGINT on (a second would make a child quit without finishing its batch).
        const child = spawn(process.execPath, job.args, {
          env: opts.env,
          stdio: ['ignore', 'ignore', 'inherit'],
          detached: true,
        });
        running.set(job.key, child);
        opts.onStart?.(job.key, child.pid);
        child.on('error', (err) => {
          result.failed.push({ key: job.key, how: err.message });
          if (child.pid === undefined) {
            // It never started, so no 'exit' follows.
            running.delete(job.key);
            if (running.size === 0 && (queue.length === 0 || opts.signal?.aborted)) finish();
            else next();
          }
        });
        child.on('exit', (code, sig) => {
          running.delete(job.key);
          opts.onExit?.(job.key, code, sig);
          if (code === 0) result.done.push(job.key);
          else if (opts.signal?.aborted && (code === 130 || sig === 'SIGINT'))
            result.stopped.push(job.key);
          else if (!result.failed.some((f) => f.key === job.key))
            result.failed.push({
              key: job.key,
              how: sig ? `killed by ${sig}` : `exit code ${code}`,
            });
          if (running.size === 0 && (queue.length === 0 || opts.signal?.aborted)) finish();
          else next();
        });
      }
      if (running.size === 0 && queue.length === 0) finish();
    };
    if (opts.signal?.aborted) {
      result.notStarted.push(...queue.splice(0).map((j) => j.key));
      finish();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    next();
  });
}
