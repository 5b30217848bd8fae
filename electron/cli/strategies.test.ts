import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { formatStrategyTable, registerStrategies, type StrategyInfo } from './strategies.ts';

async function run(args: string[]): Promise<string> {
  const program = new Command('deepal').exitOverride();
  let out = '';
  registerStrategies(program, (t) => (out += t));
  await program.parseAsync(['node', 'deepal', 'strategies', ...args]);
  return out;
}

describe('deepal strategies', () => {
  test('--json prints the whole catalog with id, name, family, description, params', async () => {
    const list = JSON.parse(await run(['--json'])) as StrategyInfo[];
    assert.equal(list.length, 22);
    assert.equal(list[0]!.id, 'Random');
    assert.equal(list[21]!.id, 'BatchBALD');
    for (const s of list) {
      assert.deepEqual(Object.keys(s).sort(), ['description', 'family', 'id', 'name', 'params']);
    }
    const bald = list.find((s) => s.id === 'BALD')!;
    assert.deepEqual(
      bald.params.map((p) => [p.name, p.default]),
      [['passes', 10]],
    );
  });

  test('the table groups strategies under their family', async () => {
    const text = await run([]);
    const baseline = text.indexOf('Baseline (1)');
    const uncertainty = text.indexOf('Uncertainty (');
    assert.ok(baseline >= 0 && uncertainty > baseline, text.slice(0, 200));
    assert.ok(text.indexOf('  Random ') > baseline && text.indexOf('  Random ') < uncertainty);
    assert.match(text, /\n {2}BALD +BALD +passes=10\n/);
    assert.match(text, /22 strategies\./);
  });

  test('descriptions wrap at the given width', () => {
    const info: StrategyInfo = {
      id: 'X',
      name: 'Ex',
      family: 'hybrid',
      description: 'word '.repeat(60).trim(),
      params: [],
    };
    const lines = formatStrategyTable([info], 50).split('\n');
    assert.equal(lines[0], 'Hybrid (uncertainty + diversity) (1)');
    assert.ok(lines.length > 4);
    for (const l of lines) assert.ok(l.length <= 50, `"${l}" is ${l.length} wide`);
  });
});
