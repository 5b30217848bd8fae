/**
 * What the packaged app loads from node_modules at run time. esbuild bundles everything else into
 * dist-electron/ (main, preload, ML worker), so this list is also the bundles' `external` list
 * (electron/main/build.ts) and the root of what packaging keeps from node_modules.
 */

/** Packages the bundles import at run time (esbuild leaves them external). */
export const RUNTIME_PACKAGES = [
  'better-sqlite3',
  'sharp',
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
] as const;

/**
 * Packages loaded on first use (a feature that needs them says so when they are missing):
 * external to the bundles, packaged when installed. onnxruntime-node runs a user's own ONNX
 * encoder; its Node-API binary needs no rebuild for Electron.
 */
export const LAZY_RUNTIME_PACKAGES = ['onnxruntime-node'] as const;

/**
 * Folders of per-platform binaries inside a package, laid out `<folder>/<platform>/<arch>`: only the
 * target's are packaged (onnxruntime-node ships every platform's, about 250 MB).
 */
export const PLATFORM_BINARIES: Readonly<Record<string, string>> = {
  'onnxruntime-node': 'bin/napi-v*',
};

/**
 * Native TensorFlow backends the worker tries first (electron/ml/backend.ts). Each is packaged only
 * where it is installed and loads on the packaging machine; otherwise the app trains on wasm and
 * says so. Both are Node-API modules, so the same binary runs under Electron without a rebuild.
 */
export const OPTIONAL_NATIVE_BACKENDS = [
  '@tensorflow/tfjs-node-gpu',
  '@tensorflow/tfjs-node',
] as const;

/**
 * Native modules built against V8's own ABI (not Node-API): they must be rebuilt for Electron's
 * ABI, and the file that results. sharp needs no rebuild: its binaries (@img/sharp-<platform>-<arch>)
 * are Node-API builds that load in any runtime.
 */
export const ELECTRON_REBUILD: Readonly<Record<string, string>> = {
  'better-sqlite3': 'build/Release/better_sqlite3.node',
};

/** What esbuild keeps out of the bundles: Electron itself, and the runtime packages. */
export const BUNDLE_EXTERNALS = [
  'electron',
  ...RUNTIME_PACKAGES,
  ...LAZY_RUNTIME_PACKAGES,
  '@tensorflow/*',
];

/** Where the packaged app's files live inside app.asar (and, unpacked, beside it). */
export const WORKER_BUNDLE = 'dist-electron/ml.worker.mjs';
