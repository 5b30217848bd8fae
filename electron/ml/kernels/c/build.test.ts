import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { buildModules, GENERATED, generatedSource } from './build.ts';

const clang = process.env.DEEPAL_CLANG ?? 'clang';

/** Why the rebuild cannot run here, or null when it can. CI must not skip silently. */
function toolchainMissing(): string | null {
  const cc = spawnSync(clang, ['--version'], { encoding: 'utf8' });
  const ld = spawnSync('wasm-ld', ['--version'], { encoding: 'utf8' });
  if (!cc.error && cc.status === 0 && !ld.error && ld.status === 0) return null;
  const why = `${clang} or wasm-ld is missing (install them with: apt-get install -y clang lld)`;
  if (process.env.CI) throw new Error(`CI is set and ${why}`);
  return why;
}

test(
  'the committed wasm kernels are what kernels.c builds, byte for byte',
  { skip: toolchainMissing() ?? false },
  () => {
    const built = generatedSource(buildModules(clang));
    const committed = readFileSync(GENERATED, 'utf8');
    assert.ok(
      built === committed,
      'kernels.generated.ts is not what kernels.c builds here: run `npm run build:kernels` ' +
        `and commit the result (first line built: ${built.split('\n')[0]})`,
    );
  },
);
