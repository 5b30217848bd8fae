#!/usr/bin/env node
// `npm start`: build the renderer when its build is missing or older than its sources, then open
// the desktop app when the Electron binary is installed, or else browser mode on 127.0.0.1.
//
//   npm start                       workspace in the user-data folder (or DEEPAL_HOME)
//   npm start -- --data-dir DIR     another workspace folder
//   npm start -- --browser          browser mode even where Electron is installed
//   npm start -- --port N           browser mode on a fixed port (default: a free one)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
if (args.includes('--help') || args.includes('-h')) {
  console.log('Usage: npm start -- [--data-dir DIR] [--browser] [--port N]');
  process.exit(0);
}

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

async function ensureRendererBuild() {
  const out = join(root, 'dist', 'renderer', 'index.html');
  const sources = Math.max(newestMtime(join(root, 'renderer')), newestMtime(join(root, 'shared')));
  if (existsSync(out) && statSync(out).mtimeMs >= sources) return;
  console.log('Building the user interface (renderer)...');
  const { build } = await import('vite');
  await build({ configFile: join(root, 'renderer', 'vite.config.ts'), logLevel: 'warn' });
}

const { userDataDir } = await import('../../electron/main/paths.ts');
const { detectElectron } = await import('../../electron/main/electronBinary.ts');
const dataDir = resolve(flag('--data-dir') ?? userDataDir());
mkdirSync(dataDir, { recursive: true });

await ensureRendererBuild();

const electron = args.includes('--browser')
  ? { available: false, reason: '--browser was given' }
  : detectElectron();
if (electron.available && electron.path) {
  const { buildElectron } = await import('../../electron/main/build.ts');
  const mainFile = await buildElectron(root);
  console.log(`Starting DeepAL Studio (Electron ${electron.version})...`);
  const child = spawn(electron.path, [mainFile, `--data-dir=${dataDir}`], {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, DEEPAL_ROOT: root },
  });
  const forward = (sig) => () => child.kill(sig);
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  const { startBrowserMode } = await import('../../electron/browser/serve.ts');
  const port = flag('--port') ? Number(flag('--port')) : undefined;
  const { host, stop } = await startBrowserMode({
    dataDir,
    rendererDir: join(root, 'dist', 'renderer'),
    reason: `no Electron desktop shell: ${electron.reason}`,
    ...(port ? { port } : {}),
  });
  console.log(
    [
      '',
      'DeepAL Studio is running in BROWSER MODE.',
      `  Why: ${electron.reason}.`,
      `  Data folder: ${dataDir}`,
      '',
      '  Open this address in a browser on this machine (it contains the access token):',
      `  ${host.url}`,
      '',
      '  Only this machine can connect (127.0.0.1). Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = async () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.log(
      '\nStopping (a running study stops after its current batch; completed rounds are kept)...',
    );
    await stop();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
