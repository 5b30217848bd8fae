import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
// @ts-expect-error: a plain .mjs build script without type declarations
import { summarize } from './audit.mjs';

type Summary = { status: string; lines: string[] };
const run = summarize as (stdout: string, exceptions?: Record<string, string>) => Summary;

const report = (vulnerabilities: Record<string, unknown>, counts: Record<string, number>) =>
  JSON.stringify({ vulnerabilities, metadata: { vulnerabilities: counts } });

describe('build/scripts/audit.mjs', () => {
  test('an unreachable endpoint is NOT a clean result', () => {
    // What npm prints here: the registry answers the bulk advisory POST with 405.
    const r = run(
      JSON.stringify({
        message:
          '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
        statusCode: 405,
        error: { summary: '', detail: '' },
      }),
    );
    assert.equal(r.status, 'unreachable');
    assert.match(r.lines[0]!, /405 Method Not Allowed/);
    assert.equal(run('').status, 'unreachable');
    assert.equal(run('npm error network ENOTFOUND').status, 'unreachable');
  });

  test('high and critical advisories fail unless explained; lower ones only count', () => {
    const vulns = {
      'left-pad': {
        severity: 'high',
        via: [{ title: 'Prototype pollution', url: 'https://github.com/advisories/GHSA-x' }],
        fixAvailable: true,
      },
      minimist: { severity: 'moderate', via: [] },
    };
    const failing = run(report(vulns, { high: 1, moderate: 1 }));
    assert.equal(failing.status, 'fail');
    assert.ok(failing.lines.some((l) => /UNEXPLAINED high left-pad: Prototype pollution/.test(l)));
    const explained = run(report(vulns, { high: 1, moderate: 1 }), {
      'left-pad': 'only used by the build, never on user data',
    });
    assert.equal(explained.status, 'explained');
    assert.equal(run(report({ minimist: vulns.minimist }, { moderate: 1 })).status, 'clean');
    assert.equal(run(report({}, { high: 0, critical: 0 })).status, 'clean');
  });
});
