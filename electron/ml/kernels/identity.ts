import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { stockKernel } from './wasmHeap.ts';

interface RefCounting {
  incRef(dataId: object): void;
}

/**
 * Identity as a shared reference (what the cpu backend does) instead of the stock wasm copy:
 * tensors are immutable, the engine counts references, and gradients call Identity dozens of
 * times per training step, on tensors up to a dense layer's full weight matrix.
 */
function identity(args: { inputs: { x: TensorInfo }; backend: unknown }): TensorInfo {
  const { x } = args.inputs;
  if (x.dtype === 'string') return stockKernel('Identity')({ ...args, attrs: {} });
  (args.backend as RefCounting).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: identity as unknown as KernelFunc,
};
