/**
 * onnxruntime-node's native binding is not context-aware: in a process, the first thread that
 * loads it owns it, and once that thread ends no other thread can load it again ("Module did not
 * self-register"). The ML worker's threads are ended when a cancelled job does not stop in time,
 * so the process's main thread should load the binding first; any worker thread can then load
 * and use it, however many come and go (checked in onnxThreads.test.ts).
 *
 * Kept apart from onnx.ts so the main process can call it without importing the feature layer.
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';

let loaded: boolean | undefined;

/**
 * Load onnxruntime-node's binding in the process's main thread (a few tens of ms, once). Returns
 * whether it is loaded; never throws: where the runtime is missing, ONNX features say so when used.
 */
export function preloadOnnxRuntime(): boolean {
  if (loaded !== undefined) return loaded;
  if (!isMainThread) return false;
  try {
    createRequire(import.meta.url)('onnxruntime-node');
    loaded = true;
  } catch {
    loaded = false;
  }
  return loaded;
}
