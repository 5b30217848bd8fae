import type { Command } from 'commander';
import { initBackend } from '../ml/backend.ts';
import { backendOption } from './main.ts';
import { detectElectron } from '../main/electronBinary.ts';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the compute backend in use, its threads, the app shell and versions')
    .addOption(backendOption())
    .option('--json', 'print one JSON object')
    .action(async (opts: { backend?: Parameters<typeof initBackend>[0]; json?: boolean }) => {
      const info = await initBackend(opts.backend);
      const shell = detectElectron();
      const out = {
        backend: info.backend,
        tfBackend: info.tfBackend,
        threads: info.threads,
        skipped: info.skipped,
        ...(info.note ? { note: info.note } : {}),
        shell: shell.available ? 'electron' : 'browser',
        electron: shell,
        versions: info.versions,
        platform: `${process.platform}-${process.arch}`,
      };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(out)}\n`);
        return;
      }
      const lines = [
        `backend   ${info.backend} (tf.js "${info.tfBackend}"), ${info.threads} thread(s)`,
        ...info.skipped.map((s) => `          skipped ${s.backend}: ${s.reason}`),
        ...(info.note ? [`          ${info.note}`] : []),
        `shell     ${shell.available ? `electron ${shell.version ?? ''}` : `browser mode (${shell.reason})`}`,
        `versions  ${Object.entries(info.versions)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
        `platform  ${out.platform}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
