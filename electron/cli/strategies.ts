import type { Command } from 'commander';
import type { ParamSpec, Strategy, StrategyFamily } from '../ml/strategies/types.ts';

/** What `deepal strategies --json` prints per strategy. */
export interface StrategyInfo {
  id: string;
  name: string;
  family: StrategyFamily;
  description: string;
  params: ParamSpec[];
}

const FAMILY_ORDER: StrategyFamily[] = [
  'baseline',
  'uncertainty',
  'diversity',
  'hybrid',
  'enhanced',
];
const FAMILY_TITLE: Record<StrategyFamily, string> = {
  baseline: 'Baseline',
  uncertainty: 'Uncertainty',
  diversity: 'Diversity / representativeness',
  hybrid: 'Hybrid (uncertainty + diversity)',
  enhanced: 'Enhanced (change training or add pseudo-labels)',
};

export function strategyInfo(s: Strategy): StrategyInfo {
  return {
    id: s.id,
    name: s.name,
    family: s.family,
    description: s.description,
    params: s.params.map((p) => ({ ...p })),
  };
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** The catalog as a table grouped by family, with each description wrapped under its row. */
export function formatStrategyTable(list: StrategyInfo[], width = 100): string {
  const idW = Math.max(2, ...list.map((s) => s.id.length));
  const nameW = Math.max(4, ...list.map((s) => s.name.length));
  const out: string[] = [];
  const indent = ' '.repeat(4);
  for (const fam of FAMILY_ORDER) {
    const group = list.filter((s) => s.family === fam);
    if (group.length === 0) continue;
    if (out.length) out.push('');
    out.push(`${FAMILY_TITLE[fam]} (${group.length})`);
    for (const s of group) {
      const params = s.params.length
        ? s.params.map((p) => `${p.name}=${String(p.default)}`).join(' ')
        : '-';
      out.push(`  ${s.id.padEnd(idW)}  ${s.name.padEnd(nameW)}  ${params}`);
      for (const l of wrap(s.description, Math.max(40, width - indent.length)))
        out.push(indent + l);
    }
  }
  out.push('');
  out.push(
    ...wrap(
      `${list.length} strategies. Parameters are set per study; --json lists their ranges.`,
      width,
    ),
  );
  return out.join('\n');
}

/**
 * `deepal strategies [--json]`: the query strategies the product offers. `write` defaults to
 * stdout (tests pass their own).
 */
export function registerStrategies(
  program: Command,
  write: (text: string) => void = (t) => void process.stdout.write(t),
): void {
  program
    .command('strategies')
    .description('list the active-learning query strategies, their families and parameters')
    .option('--json', 'print a JSON array of {id, name, family, description, params}')
    .action(async (opts: { json?: boolean }) => {
      // Loaded on demand: the catalog pulls in tf.js and every strategy module.
      const { listStrategies } = await import('../ml/strategies/catalog.ts');
      const list = listStrategies().map(strategyInfo);
      if (opts.json) {
        write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      const width = process.stdout.columns ? Math.min(120, process.stdout.columns) : 100;
      write(`${formatStrategyTable(list, width)}\n`);
    });
}
