import { parentPort, workerData } from 'node:worker_threads';
import { enterJob } from '../ml/training/jobCount.ts';
import { describeError } from '../services/errors.ts';
import { JobCancelled, runJob } from './jobs.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

/**
 * An ML worker thread: TensorFlow.js, the study engine and the dataset readers live here, so
 * neither the Electron main process nor the browser-mode host ever blocks on them. The shared
 * long-lived thread runs studies one at a time in arrival order, with retrains and catalog jobs
 * beside them; previews, imports and estimates get a thread of their own each (MlWorker decides).
 * Cancel aborts the job's signal, which the engine checks between batches; a job that does not
 * stop in time has its thread ended by MlWorker.
 */
const port = parentPort;
if (!port) throw new Error('ml.worker.ts must run as a worker thread');

const controllers = new Map<number, AbortController>();
let studies: Promise<void> = Promise.resolve();

function send(msg: FromWorker): void {
  port!.postMessage(msg);
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'cancel') {
    controllers.get(msg.jobId)?.abort();
    return;
  }
  const controller = new AbortController();
  controllers.set(msg.jobId, controller);
  const run = async () => {
    const { jobId, job } = msg;
    // Jobs share this thread's tensor count: a leak check holds only for a job that ran alone.
    const leave = enterJob();
    try {
      if (controller.signal.aborted) throw new JobCancelled();
      const value = await runJob(job, {
        signal: controller.signal,
        progress: (progress) => send({ type: 'progress', jobId, progress }),
      });
      send({ type: 'done', jobId, value });
    } catch (err) {
      if (err instanceof JobCancelled) send({ type: 'cancelled', jobId });
      else {
        // A sentence and a code, never raw JavaScript error text; what is not understood here
        // is a failure of the job, not of the app.
        const { code, message } = describeError(err);
        send({ type: 'error', jobId, code: code === 'internal' ? 'failed' : code, message });
      }
    } finally {
      leave();
      controllers.delete(jobId);
    }
  };
  if (msg.job.kind === 'study') studies = studies.then(run);
  else void run();
});

send({ type: 'ready' });

// The long-lived thread loads the annotation jobs' modules once it is idle: under tsx (npm start,
// browser mode) a project's first batch otherwise waited 1.6 s for them to compile before its
// first progress. Short-lived preview and import threads never need them.
if ((workerData as { main?: boolean } | null)?.main) {
  setTimeout(() => void import('../annotation/workerJobs.ts').catch(() => undefined), 100).unref();
}
