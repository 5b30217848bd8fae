import { parentPort } from 'node:worker_threads';
import { JobCancelled, JobInputError, runJob } from './jobs.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

/**
 * The one long-lived ML worker: TensorFlow.js and the study engine live here, so neither the
 * Electron main process nor the browser-mode host ever blocks on training. Studies run one at a
 * time in arrival order; previews, imports and estimates run beside them (they are short, and a
 * person waiting on a preview should not wait for a study). Cancel aborts the job's signal, which
 * the engine checks between batches.
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
        const message = err instanceof Error ? err.message : String(err);
        const invalid = err instanceof JobInputError || /^Invalid study settings/.test(message);
        send({ type: 'error', jobId, code: invalid ? 'invalid-argument' : 'failed', message });
      }
    } finally {
      controllers.delete(jobId);
    }
  };
  if (msg.job.kind === 'study') studies = studies.then(run);
  else void run();
});

send({ type: 'ready' });
