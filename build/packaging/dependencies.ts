import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface InstalledPackage {
  name: string;
  /** Absolute folder. */
  dir: string;
  /** Folder relative to the project, with forward slashes (`node_modules/@img/sharp-linux-x64`). */
  rel: string;
}

function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/**
 * Where Node finds package `name` when it is required from `fromDir`: the nearest
 * `node_modules/<name>` walking up, but not above the project.
 */
export function findPackageDir(name: string, fromDir: string, projectDir: string): string | null {
  let dir = fromDir;
  for (;;) {
    const candidate = join(dir, 'node_modules', ...name.split('/'));
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === projectDir || !dir.startsWith(projectDir)) return null;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * Every installed package the given roots need at run time: their dependencies, installed optional
 * dependencies and installed peer dependencies, transitively, found the way Node finds them. A
 * missing required dependency is an error that names who needs it (a broken install would
 * otherwise surface as a crash in the packaged app).
 */
export function runtimeClosure(projectDir: string, roots: readonly string[]): InstalledPackage[] {
  const found = new Map<string, InstalledPackage>();
  const queue: { name: string; from: string; neededBy: string; optional: boolean }[] = roots.map(
    (name) => ({ name, from: projectDir, neededBy: 'the app', optional: false }),
  );
  while (queue.length > 0) {
    const { name, from, neededBy, optional } = queue.shift()!;
    const dir = findPackageDir(name, from, projectDir);
    if (!dir) {
      if (optional) continue;
      throw new Error(
        `${name} (needed by ${neededBy}) is not installed in ${join(projectDir, 'node_modules')}: run npm install`,
      );
    }
    if (found.has(dir)) continue;
    found.set(dir, { name, dir, rel: relative(projectDir, dir).split(sep).join('/') });
    const pkg = readPackageJson(dir);
    const add = (deps: Record<string, string> | undefined, isOptional: (d: string) => boolean) => {
      for (const dep of Object.keys(deps ?? {}))
        queue.push({ name: dep, from: dir, neededBy: name, optional: isOptional(dep) });
    };
    add(pkg.dependencies, () => false);
    add(pkg.optionalDependencies, () => true);
    // Peers are found from the package's own folder too (tfjs-backend-wasm needs tfjs-core).
    add(pkg.peerDependencies, (d) => pkg.peerDependenciesMeta?.[d]?.optional === true);
  }
  return [...found.values()].sort((a, b) => a.rel.localeCompare(b.rel));
}
