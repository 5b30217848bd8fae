import * as tf from '@tensorflow/tfjs';
import { jobCounts } from './jobCount.ts';

/**
 * Tensor leak checks for jobs that share one thread. tf.memory() counts the tensors of the whole
 * thread, and the ML worker runs jobs side by side (a retrain while the suspect search of the
 * previous one still runs), so "tensors now minus tensors at the start" counts the other job's
 * live tensors as a leak of this one. A check is therefore made only when its job ran alone: no
 * other job was running when it started, and none started before it ended.
 */

export { enterJob } from './jobCount.ts';

export interface TensorMark {
  numTensors: number;
  started: number;
  alone: boolean;
}

/** The thread's tensor count now; `alone` when at most the caller's own job is running. */
export function markTensors(): TensorMark {
  const { running, started } = jobCounts();
  return { numTensors: tf.memory().numTensors, started, alone: running <= 1 };
}

/**
 * Tensors allocated since `mark` and still alive, or null when another job ran meanwhile (then
 * the count says nothing about this one).
 */
export function tensorsLeftSince(mark: TensorMark): number | null {
  const { running, started } = jobCounts();
  if (!mark.alone || running > 1 || started !== mark.started) return null;
  return tf.memory().numTensors - mark.numTensors;
}
