import { spawnSync } from 'node:child_process';
import { findPackageDir } from './dependencies.ts';

export interface OptionalNativeStatus {
  name: string;
  /** Packaged: installed and loads here. */
  include: boolean;
  /** Why it is left out. */
  reason?: string;
}

/**
 * Does an optional native backend load on this machine? It is required in a child Node process
 * (a failed native load can abort a process, and loading TensorFlow's library here would keep it
 * in the packager). A package that is installed but whose libtensorflow never downloaded, or that
 * has no build for this platform at all (macOS), fails here and is left out of the package.
 */
export function probeOptionalNative(
  name: string,
  projectDir: string,
  timeoutMs = 120_000,
): OptionalNativeStatus {
  const dir = findPackageDir(name, projectDir, projectDir);
  if (!dir) return { name, include: false, reason: 'not installed' };
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(dir)})`], {
    cwd: projectDir,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  if (r.status === 0) return { name, include: true };
  const lines = `${r.stderr ?? ''}`.split('\n').map((l) => l.trim());
  const why =
    lines.find((l) => /^Error:|cannot open shared object|Cannot find module/i.test(l)) ??
    lines.find((l) => l.length > 0) ??
    (r.error ? r.error.message : `exit ${r.status ?? r.signal}`);
  return { name, include: false, reason: `installed but does not load: ${why.slice(0, 300)}` };
}
