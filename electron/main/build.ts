import { build, type Metafile } from 'esbuild';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUNDLE_EXTERNALS } from '../../build/packaging/runtime.ts';

export interface ElectronBundles {
  main: string;
  preload: string;
  worker: string;
  /** Bare package names the bundles import at run time (Node's builtins left out). */
  externals: string[];
}

/** The packages an esbuild bundle still imports at run time. */
function externalImports(meta: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(meta.outputs))
    for (const imp of output.imports)
      // Node's own modules are not packages, with or without the node: prefix (fflate, under
      // fast-png, imports 'module').
      if (imp.external && !isBuiltin(imp.path) && !imp.path.startsWith('.'))
        names.add(
          imp.path.startsWith('@')
            ? imp.path.split('/').slice(0, 2).join('/')
            : imp.path.split('/')[0]!,
        );
  return [...names].sort();
}

/**
 * Bundle the Electron main process, the preload and the ML worker into `out` (dist-electron/).
 * The preload must be one CommonJS file: a sandboxed preload cannot import other modules. The
 * worker is bundled like main so that the packaged app never runs TypeScript (no tsx inside an
 * installer). Native and heavy packages stay external and load from node_modules at run time
 * (build/packaging/runtime.ts lists them; packaging keeps exactly those and what they need).
 */
export async function buildElectronBundles(
  root: string,
  out = join(root, 'dist-electron'),
): Promise<ElectronBundles> {
  const node = {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: BUNDLE_EXTERNALS,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  } as const;
  const main = await build({
    ...node,
    entryPoints: [join(root, 'electron/main/main.ts')],
    outfile: join(out, 'main.mjs'),
  });
  const worker = await build({
    ...node,
    entryPoints: [join(root, 'electron/worker/ml.worker.ts')],
    outfile: join(out, 'ml.worker.mjs'),
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
  return {
    main: join(out, 'main.mjs'),
    preload: join(out, 'preload.cjs'),
    worker: join(out, 'ml.worker.mjs'),
    externals: [
      ...new Set([...externalImports(main.metafile), ...externalImports(worker.metafile)]),
    ].sort(),
  };
}

/** Build into dist-electron/ and return the main bundle's path (npm start, the e2e specs). */
export async function buildElectron(root: string): Promise<string> {
  return (await buildElectronBundles(root)).main;
}

// `tsx electron/main/build.ts` (npm run build:electron) builds from the command line.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const b = await buildElectronBundles(root);
  console.log(`Built ${b.main}, ${b.preload} and ${b.worker}`);
}
