#!/usr/bin/env node
// The one test command (`npm test`): type check, lint, then every test file under Node's own test
// runner (TypeScript loaded through tsx). End-to-end specs in e2e/ run in the same pass; they find
// or skip Chromium themselves and say why.
//
//   npm test                      everything
//   npm test -- --unit            skip type check, lint and e2e
//   npm test -- FILTER...         only test files whose path contains one of the filters
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (r.status !== 0) {
    console.error(`\n${cmd} ${cmdArgs.join(' ')} failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status ?? 1);
  }
}

function findTests(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) findTests(full, out);
    else if (/\.(test|spec)\.ts$/.test(entry.name))
      out.push(relative(root, full).split(sep).join('/'));
  }
  return out;
}

const dirs = ['shared', 'electron', 'build', 'bench', ...(unitOnly ? [] : ['e2e'])];
let files = dirs.flatMap((d) => {
  try {
    return findTests(join(root, d));
  } catch {
    return [];
  }
});
if (filters.length > 0) files = files.filter((f) => filters.some((flt) => f.includes(flt)));
if (files.length === 0) {
  console.error('No test files matched.');
  process.exit(1);
}

if (!unitOnly && filters.length === 0) {
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  console.log('> type check');
  run(bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']);
  run(bin('vue-tsc'), ['--noEmit', '-p', 'renderer/tsconfig.json']);
  console.log('> lint');
  run(bin('eslint'), ['--max-warnings=0', '.']);
  run(bin('prettier'), ['--check', '--log-level=warn', '.']);
}

// Test files run two at a time on machines with few cores; each with its own XNNPACK thread pool
// would oversubscribe them. threaded.test.ts checks the threaded build on purpose.
process.env.DEEPAL_WASM_THREADS ??= '1';
console.log(`> ${files.length} test files`);
run(process.execPath, [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.DEEPAL_TEST_CONCURRENCY ?? 2}`,
  ...files,
]);
