#!/usr/bin/env node
// Runs after `npm install` in this project. Electron and tfjs-node-gpu download binaries (the
// Electron runtime, libtensorflow) that cannot be fetched without the internet. Their own install
// scripts are not allowed to run (package.json allowScripts), because a failed download would fail
// the whole install; we run them here instead and carry on when they fail. At run time the app
// detects what is usable: browser mode without Electron, the wasm backend without libtensorflow.
// onnxruntime-node's script is not run at all: its registry package already holds the CPU runtime
// for Linux, macOS and Windows, and the script only downloads the CUDA 12 provider from NuGet,
// which the app does not use (model-file features run on the CPU; electron/ml/features/onnx.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tasks = [
  {
    name: 'Electron runtime',
    script: join(root, 'node_modules', 'electron', 'install.js'),
    args: [],
    without: '`npm start` will serve the app in your browser instead (browser mode).',
  },
  {
    name: 'TensorFlow native library (GPU)',
    script: join(root, 'node_modules', '@tensorflow', 'tfjs-node-gpu', 'scripts', 'install.js'),
    args: ['gpu', 'download'],
    without: 'training will use the WebAssembly backend (CPU).',
  },
];

if (process.env.DEEPAL_SKIP_DOWNLOADS) {
  console.log(
    'deepal: DEEPAL_SKIP_DOWNLOADS is set; not downloading the Electron runtime or libtensorflow.',
  );
  process.exit(0);
}

for (const t of tasks) {
  if (!existsSync(t.script)) continue;
  const r = spawnSync(process.execPath, [t.script, ...t.args], {
    cwd: join(t.script, t.script.includes('tfjs-node-gpu') ? '../..' : '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 15 * 60 * 1000,
    encoding: 'utf8',
  });
  if (r.status === 0) {
    console.log(`deepal: ${t.name} installed.`);
  } else {
    const lines = `${r.stderr ?? ''}${r.stdout ?? ''}`.split('\n');
    const why =
      lines.find((l) => /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.test(l)) ??
      lines.find((l) => /error|fail/i.test(l)) ??
      `exit ${r.status ?? r.signal}`;
    console.log(
      `deepal: could not download the ${t.name} (${why.trim().slice(0, 160)}); ${t.without}`,
    );
  }
}
