import { InvalidArgumentError, type Command } from 'commander';
import type { SuspectList } from '../../shared/labelQuality.ts';
import { workspaceDbPath } from './paths.ts';

function positiveInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new InvalidArgumentError(`${what} must be a positive whole number, got "${v}"`);
    return n;
  };
}

/** The suspects as a plain-text table, most likely wrong first. */
export function formatSuspects(list: SuspectList, classNames: readonly string[]): string {
  const name = (c: number) => classNames[c] ?? `class ${c}`;
  const pct = (p: number) => `${Math.round(p * 100)}%`;
  const lines: string[] = [];
  if (!list.run) {
    lines.push(list.note);
    return `${lines.join('\n')}\n`;
  }
  const r = list.run;
  lines.push(
    `Suspect labels of project ${list.projectId}: ${list.total} waiting for review (of ${r.flagged} flagged among ${r.judged} judged labels, ${r.createdAt}; estimated share of wrong labels ${pct(r.estimatedNoise)}).`,
    `Model: ${r.model}.`,
  );
  if (list.settled > 0 || list.awaitingSecond > 0)
    lines.push(
      `${list.settled} reviewed or relabeled since, ${list.awaitingSecond} waiting for a second opinion.`,
    );
  if (list.note) lines.push(list.note);
  if (list.items.length > 0) {
    const rows = list.items.map((s) => [
      String(s.rank),
      s.path,
      `${name(s.given)} (${s.annotator})`,
      `${name(s.suggested)} ${pct(s.suggestedP)}`,
      pct(s.givenP),
    ]);
    const head = ['rank', 'sample', 'label (by)', 'model suggests', 'p(label)'];
    const widths = head.map((h, k) => Math.max(h.length, ...rows.map((row) => row[k]!.length)));
    const fmt = (cells: string[]) =>
      cells.map((c, k) => (k === 0 ? c.padStart(widths[k]!) : c.padEnd(widths[k]!))).join('  ');
    lines.push('', fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt));
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/**
 * `deepal suspects`: a project's labels that are probably wrong (confident learning on
 * out-of-fold probabilities), as the app's Suspects queue shows them. `--find` looks for them
 * now (the app does after retrains) instead of showing the last list.
 */
export function registerSuspects(
  program: Command,
  print: (text: string) => void = (t) => process.stdout.write(t),
): void {
  program
    .command('suspects')
    .description(
      "an annotation project's labels that are probably wrong, most likely first (confident learning)",
    )
    .requiredOption('--project <id>', 'annotation project id', positiveInt('--project'))
    .option('--db <file>', "workspace database (default: the app's workspace.db)")
    .option('--top <n>', 'show at most this many (default 20)', positiveInt('--top'), 20)
    .option('--find', 'look for suspects now (a few seconds to minutes) before showing them')
    .option('--json', 'print the list as JSON')
    .action(
      async (o: { project: number; db?: string; top: number; find?: boolean; json?: boolean }) => {
        const [{ openStore }, { suspectList, findProjectSuspects }, { classState }] =
          await Promise.all([
            import('../store/store.ts'),
            import('../annotation/suspects.ts'),
            import('../store/annotation.ts'),
          ]);
        const db = workspaceDbPath(
          o.db,
          "There is no workspace database at {file}; pass --db with the app's workspace.db",
        );
        const store = openStore(db);
        try {
          if (!store.getProject(o.project)) {
            const ids = store.listProjects().map((p) => `${p.id} (${p.name})`);
            throw new Error(
              `There is no project ${o.project} in ${store.file}; projects: ${ids.length ? ids.join(', ') : 'none'}`,
            );
          }
          if (o.find) {
            const r = await findProjectSuspects(store, o.project, { force: true });
            if (r.skipped && !o.json) print(`${r.skipped}\n`);
          }
          const list = suspectList(store, o.project, { limit: o.top });
          print(
            o.json
              ? `${JSON.stringify(list, null, 2)}\n`
              : formatSuspects(list, classState(store, o.project).classNames),
          );
        } finally {
          store.close();
        }
      },
    );
}
