import { build } from 'esbuild';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Bundle the Electron main process and the preload into dist-electron/. The preload must be one
 * CommonJS file: a sandboxed preload cannot import other modules. Native and heavy packages stay
 * external and load from node_modules at run time (better-sqlite3 rebuilt for Electron's ABI).
 * The ML worker is started from its TypeScript source through tsx (electron/worker/bootstrap.mjs).
 */
export async function buildElectron(root: string): Promise<string> {
  const out = join(root, 'dist-electron');
  const external = [
    'electron',
    'better-sqlite3',
    'sharp',
    '@tensorflow/*',
    'ws',
    'tsx',
    'tsx/*',
    'esbuild',
    'vite',
  ];
  await build({
    entryPoints: [join(root, 'electron/main/main.ts')],
    outfile: join(out, 'main.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external,
    sourcemap: true,
    logLevel: 'warning',
  });
  await build({
    entryPoints: [join(root, 'electron/preload/preload.ts')],
    outfile: join(out, 'preload.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['electron'],
    logLevel: 'warning',
  });
  return join(out, 'main.mjs');
}

// `tsx electron/main/build.ts` (npm run build:electron) builds from the command line.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  console.log(`Built ${await buildElectron(root)} and dist-electron/preload.cjs`);
}
