/**
 * Kernels the wasm backend lacks, registered by us so conv nets can train on it.
 * (Filled in by the kernels work; each kernel is checked against the cpu backend in tests.)
 */
export function registerWasmKernels(): void {}
