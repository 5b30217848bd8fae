import * as tf from '@tensorflow/tfjs';
import { currentHeapTracker } from '../kernels/wasmHeap.ts';
import type { Network } from '../models/network.ts';

/**
 * Memory planning for the wasm backend, whose heap ends at 4 GiB and never shrinks.
 *
 * A training step keeps every activation of its batch (and their gradients) until it ends. The
 * reference CNN on 200x200 images needs about 54 MiB per sample, so a batch of 60 went past the
 * 4 GiB end of the heap; the allocator then spun for minutes inside `free` (issue 17, item 7). On
 * wasm, training therefore splits a batch into chunks whose step fits STEP_BYTES and adds their
 * gradients (one optimiser step per batch, as before), and inference takes at most as many
 * samples at once as fit INFER_BYTES. Small inputs (28x28, 32x32) still run whole batches.
 */

/** Live heap bytes one chunk of a training step may add (activations, gradients, scratch). */
export const STEP_BYTES = 2 ** 30;
/** Live heap bytes one inference batch may add. */
export const INFER_BYTES = 2 ** 29;
/**
 * A training step's peak per sample, as a multiple of an eval forward pass's: the tape keeps
 * unfused activations and the backward pass adds a gradient for each (measured: 6x for the CNN
 * at 200x200, 5x for ResNet18 at 32x32), with margin.
 */
export const TRAIN_OVER_EVAL = 8;

const probes = new WeakMap<Network, number>();

/**
 * Live heap bytes of one sample's eval forward pass on the wasm backend (measured once per
 * network, on a zero sample: eval mode draws no dropout mask and leaves batch-norm statistics
 * alone), or null on other backends.
 */
export function evalBytesPerSample(net: Network): number | null {
  const tracker = currentHeapTracker();
  if (!tracker) return null;
  const known = probes.get(net);
  if (known !== undefined) return known;
  const before = tracker.live;
  tracker.resetPeak();
  tf.tidy(() => {
    net.forward(tf.zeros([1, ...net.spec.inputShape]), 'eval');
  });
  const bytes = Math.max(1, tracker.peak - before);
  probes.set(net, bytes);
  return bytes;
}

/** Samples per inference batch that fit INFER_BYTES (Infinity off wasm). */
export function inferenceBatchCap(net: Network): number {
  const perSample = evalBytesPerSample(net);
  return perSample === null ? Infinity : Math.max(1, Math.floor(INFER_BYTES / perSample));
}

/** Samples per training chunk for `perSampleBytes` of step memory each. */
export function chunkFor(perSampleBytes: number, batch: number): number {
  return Math.max(1, Math.min(batch, Math.floor(STEP_BYTES / Math.max(1, perSampleBytes))));
}
