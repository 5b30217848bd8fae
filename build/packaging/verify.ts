import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { ELECTRON_REBUILD, WORKER_BUNDLE } from './runtime.ts';

const require = createRequire(import.meta.url);

/** Files every package must hold inside app.asar. */
const IN_ASAR = [
  'package.json',
  'dist-electron/main.mjs',
  'dist-electron/preload.cjs',
  'dist/renderer/index.html',
];

/** A TypeScript toolchain: none of it belongs in an installer. */
const TOOLCHAIN = /^node_modules\/(tsx|esbuild|@esbuild|typescript|vite|electron)(\/|$)/;
const TYPESCRIPT_SOURCE = /\.(ts|mts|cts|vue)$/;

function walk(dir: string, base: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) walk(full, base, out);
    else out.push(relative(base, full).split(sep).join('/'));
  }
  return out;
}

/** The files in app.asar, relative, with forward slashes (unpacked ones included). */
export function asarFiles(asarPath: string): string[] {
  const asar = createRequire(require.resolve('app-builder-lib/package.json'))('@electron/asar') as {
    listPackage(archive: string, options: { isPack: boolean }): string[];
  };
  return asar
    .listPackage(asarPath, { isPack: false })
    .map((p) => p.split(sep).join('/').replace(/^\//, ''));
}

/**
 * What a packaged app must and must not hold. Returns the problems as sentences (none when fine).
 * `resources` is the packaged app's resources folder (beside app.asar).
 */
export function packageProblems(resources: string): string[] {
  const problems: string[] = [];
  const asarPath = join(resources, 'app.asar');
  if (!existsSync(asarPath)) return [`${asarPath} is missing`];
  const packed = asarFiles(asarPath);
  const packedSet = new Set(packed);
  const unpackedDir = join(resources, 'app.asar.unpacked');
  const unpacked = existsSync(unpackedDir) ? walk(unpackedDir, unpackedDir) : [];
  const unpackedSet = new Set(unpacked);

  for (const f of IN_ASAR) if (!packedSet.has(f)) problems.push(`app.asar has no ${f}`);
  // The worker and everything it loads sit outside the archive, readable by plain Node.
  if (!unpackedSet.has(WORKER_BUNDLE))
    problems.push(`the ML worker ${WORKER_BUNDLE} is not unpacked`);
  if (
    !unpacked.some((f) => /^node_modules\/@tensorflow\/tfjs-backend-wasm\/dist\/.*\.wasm$/.test(f))
  )
    problems.push("tfjs' wasm files are not unpacked");
  for (const [mod, file] of Object.entries(ELECTRON_REBUILD))
    if (!unpackedSet.has(`node_modules/${mod}/${file}`))
      problems.push(`the native module node_modules/${mod}/${file} is not unpacked`);

  const all = [...packed, ...unpacked];
  const toolchain = [
    ...new Set(
      all
        .filter((f) => TOOLCHAIN.test(f))
        .map((f) =>
          f
            .split('/')
            .slice(0, f.startsWith('node_modules/@') ? 3 : 2)
            .join('/'),
        ),
    ),
  ];
  if (toolchain.length > 0)
    problems.push(`the package holds build tools the app never runs: ${toolchain.join(', ')}`);
  const sources = all.filter(
    (f) => !f.startsWith('node_modules/') && TYPESCRIPT_SOURCE.test(f) && !f.endsWith('.d.ts'),
  );
  if (sources.length > 0)
    problems.push(
      `the package holds TypeScript/Vue sources: ${sources.slice(0, 5).join(', ')}${sources.length > 5 ? ` and ${sources.length - 5} more` : ''}`,
    );

  if (!existsSync(join(resources, 'icons', '512x512.png')))
    problems.push("resources/icons/512x512.png (from the repository's resources/) is missing");
  return problems;
}
