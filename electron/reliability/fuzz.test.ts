import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { CHANNELS, contract, TOKEN_HEADER, type Channel } from '../../shared/contract.ts';
import { Rng } from '../../shared/random.ts';
import { startHost, type Host } from '../browser/host.ts';
import { createServices, type Services } from '../services/services.ts';

/**
 * The renderer is untrusted. This throws seeded random and malformed payloads at every channel of
 * the contract, through the services directly (what Electron's IPC handlers call) and through the
 * browser-mode HTTP host, and checks that each gets a typed `{ ok: false, error: { code, message } }`
 * (never an `internal` error, never a 500), that nothing pollutes Object.prototype, and that the
 * process keeps answering. Payloads are built from each channel's own schema (a valid skeleton,
 * then one mutation), so new channels are fuzzed without touching this file.
 *
 * DEEPAL_FUZZ_SEED=<n> runs other cases.
 */
const SEED = Number(process.env.DEEPAL_FUZZ_SEED ?? 8_2025);
const PER_CHANNEL_DIRECT = 240;
const PER_CHANNEL_HTTP = 90;
/** The figure README's reliability section quotes; the test fails if a change drops below it. */
const AT_LEAST = 10_000;
const CODES = new Set([
  'invalid-argument',
  'not-found',
  'busy',
  'cancelled',
  'unknown-channel',
  'unauthorized',
  'failed',
]);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  minLength?: number;
  minimum?: number;
  exclusiveMinimum?: number;
  enum?: Json[];
  const?: Json;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  default?: Json;
}

/** A small value that satisfies the schema (as far as a JSON schema can say). */
function skeleton(s: JsonSchema): Json {
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0]!;
  const alt = s.oneOf ?? s.anyOf;
  if (alt) return skeleton(alt[0]!);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, Json> = {};
      for (const k of s.required ?? []) out[k] = skeleton(s.properties?.[k] ?? {});
      return out;
    }
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, () => skeleton(s.items ?? {}));
    case 'string':
      return 'a'.repeat(Math.max(1, s.minLength ?? 1));
    case 'integer':
    case 'number':
      return s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return s.default ?? null;
  }
}

/** Values of every kind that break schemas: wrong types, edges, traversal, pollution, size. */
const NASTY: Json[] = [
  null,
  true,
  false,
  0,
  -1,
  -0,
  1.5,
  2 ** 53 + 2,
  1e308,
  -1e308,
  '',
  ' ',
  '\u0000',
  '../../../../etc/passwd',
  '..\\..\\windows\\system32',
  '/dev/zero',
  'file:///etc/shadow',
  'http://example.com/x',
  '<script>alert(1)</script>',
  "'; DROP TABLE label_events; --",
  '\ud800',
  '名前 with spaces',
  'a'.repeat(5000),
  [],
  [1, 'two', null],
  {},
  { __proto__: { polluted: 1 } } as unknown as Json,
  JSON.parse('{"__proto__": {"polluted": 1}}') as Json,
  { constructor: { prototype: { polluted: 1 } } },
  { toString: 'x', valueOf: 1 },
  // Issue 19's classes: sizes that once ran without end or out of memory, paths that hung a
  // reader (a named pipe, a device, the root of the disk), relative paths, bidi overrides.
  1e15,
  1e12,
  1_700_000_000,
  2 ** 31,
  '1e400',
  '/',
  '/proc',
  '/dev/null',
  'data/images',
  './x.csv',
  'nope',
  'cat\u202egpj.exe',
  '\u2066\u2067\u2068\u2069',
];

function deepNest(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** All paths (key lists) into a JSON value, root included. */
function paths(v: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

function setAt(root: Json, path: (string | number)[], value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const copy = structuredClone(root) as Record<string | number, Json>;
  let node = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = value;
  return copy as Json;
}

/** One seeded malformed (or, rarely, accidentally valid) payload as JSON text. */
function mutant(rng: Rng, valid: Json): { text: string; what: string } {
  const all = paths(valid);
  const at = all[rng.int(all.length)]!;
  const where = at.length === 0 ? 'root' : at.join('.');
  switch (rng.int(6)) {
    case 0: {
      const v = NASTY[rng.int(NASTY.length)]!;
      return {
        text: JSON.stringify(setAt(valid, at, v)),
        what: `${where} = ${JSON.stringify(v)?.slice(0, 40)}`,
      };
    }
    case 1:
      if (at.length > 0)
        return { text: JSON.stringify(setAt(valid, at, undefined)), what: `drop ${where}` };
      return { text: '[]', what: 'root = []' };
    case 2: {
      const key = ['__proto__', 'constructor', 'prototype', 'extra', 'id', 'path', 'x'.repeat(300)][
        rng.int(7)
      ]!;
      // Written as text so __proto__ stays an own key, as it arrives over the wire.
      const base = JSON.stringify(
        valid && typeof valid === 'object' && !Array.isArray(valid) ? valid : {},
      );
      const extra = `${JSON.stringify(key)}: {"polluted": 1}`;
      return {
        text: base === '{}' ? `{${extra}}` : `${base.slice(0, -1)}, ${extra}}`,
        what: `extra key ${key.slice(0, 20)}`,
      };
    }
    case 3:
      return { text: JSON.stringify(NASTY[rng.int(NASTY.length)]), what: 'root replaced' };
    case 4:
      return { text: deepNest(2000 + rng.int(3000)), what: 'deeply nested arrays' };
    default: {
      // A random JSON value of random shape.
      const rand = (depth: number): Json => {
        const r = rng.int(depth > 3 ? 4 : 7);
        if (r === 0) return rng.int(1000) - 500;
        if (r === 1)
          return String.fromCharCode(...Array.from({ length: rng.int(20) }, () => rng.int(0xd7ff)));
        if (r === 2) return rng.int(2) === 0;
        if (r === 3) return null;
        if (r === 4) return Array.from({ length: rng.int(4) }, () => rand(depth + 1));
        const o: Record<string, Json> = {};
        for (let i = 0; i < 1 + rng.int(4); i++) o[`k${rng.int(50)}`] = rand(depth + 1);
        return o;
      };
      return { text: JSON.stringify(rand(0)), what: 'random value' };
    }
  }
}

function schemaOf(channel: Channel): JsonSchema {
  return z.toJSONSchema(contract[channel].args, {
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
}

/** Would the channel's own schema accept this payload? (The door must then not refuse it.) */
function acceptable(channel: Channel, text: string): boolean {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return false;
  }
  return contract[channel].args.safeParse(raw ?? {}).success;
}

interface Reply {
  ok: boolean;
  error?: { code: string; message: string };
}

function checkReply(r: Reply, channel: string, text: string, expectInvalid: boolean): void {
  const ctx = `${channel} <- ${text.slice(0, 120)}`;
  assert.equal(typeof r.ok, 'boolean', `${ctx}: not a Result`);
  if (expectInvalid) {
    assert.equal(r.ok, false, `${ctx}: accepted`);
    assert.equal(r.error?.code, 'invalid-argument', `${ctx}: ${JSON.stringify(r.error)}`);
    assert.ok(r.error.message.startsWith(`${channel}:`), `${ctx}: ${r.error.message}`);
  } else if (!r.ok) {
    assert.ok(CODES.has(r.error?.code ?? ''), `${ctx}: code ${JSON.stringify(r.error)}`);
  }
  if (!r.ok) {
    assert.equal(typeof r.error?.message, 'string');
    assert.ok(r.error!.message.length > 0, `${ctx}: empty message`);
  }
}

function post(
  port: number,
  path: string,
  body: string | Buffer,
  headers: Record<string, string>,
  method = 'POST',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        // One connection per request: a reused keep-alive socket the server closed after an
        // early answer would fail the client, not the server.
        agent: false,
        headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/json', ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe(`fuzzing every channel (seed ${SEED})`, { timeout: 240_000 }, () => {
  let dir: string;
  let services: Services;
  let host: Host;
  const counts = { direct: 0, http: 0, accepted: 0 };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-fuzz-'));
    // Paths that once hung or broke a reader, as payload values: a named pipe, a broken link,
    // a folder where a file belongs, a CSV whose labels are timestamps.
    const special = join(dir, 'special');
    mkdirSync(special);
    if (process.platform !== 'win32') {
      execFileSync('mkfifo', [join(special, 'pipe.csv')]);
      symlinkSync(join(special, 'gone'), join(special, 'broken-link'));
      NASTY.push(join(special, 'pipe.csv'), join(special, 'broken-link'));
    }
    writeFileSync(
      join(special, 'zip.csv'),
      `a,zip\n${Array.from({ length: 40 }, (_, i) => `${i},${1_700_000_000 + i}`).join('\n')}\n`,
    );
    NASTY.push(special, join(special, 'zip.csv'));
    const root = join(dir, 'renderer');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
    services = createServices({
      dataDir: join(dir, 'home'),
      dbPath: join(dir, 'home', 'workspace.db'),
      mode: 'browser',
      version: 'test',
    });
    host = await startHost({ services, root });
  });

  after(async () => {
    await host?.close();
    await services?.close();
    rmSync(dir, { recursive: true, force: true });
    process.stdout.write(
      `# fuzz: ${counts.direct} cases through services, ${counts.http} through HTTP, over ${CHANNELS.length} channels (${counts.accepted} happened to be valid)\n`,
    );
  });

  test('through the services (what IPC calls): typed errors only', async () => {
    const rng = new Rng(SEED);
    for (const channel of CHANNELS) {
      const valid = skeleton(schemaOf(channel));
      for (let i = 0; i < PER_CHANNEL_DIRECT; i++) {
        const { text, what } = mutant(rng, valid);
        const raw: unknown = JSON.parse(text);
        const fine = acceptable(channel, text);
        if (fine) counts.accepted++;
        const r = (await services.invoke(channel, raw)) as Reply;
        checkReply(r, channel, `${what}: ${text}`, !fine);
        counts.direct++;
      }
      // The minimal valid payload too: every channel has a handler that answers with a Result
      // (here mostly not-found: the workspace is empty), never an internal error.
      const r0 = (await services.invoke(channel, valid)) as Reply;
      checkReply(
        r0,
        channel,
        `skeleton ${JSON.stringify(valid)}`,
        !acceptable(channel, JSON.stringify(valid)),
      );
      counts.direct++;
      // Not JSON at all: what an IPC caller could still pass.
      for (const raw of [undefined, () => 1, Symbol('s'), 10n, new Map(), new Uint8Array(4)]) {
        let r: Reply;
        try {
          r = (await services.invoke(channel, raw)) as Reply;
        } catch (err) {
          assert.fail(`${channel} threw on ${String(typeof raw)}: ${String(err)}`);
        }
        assert.equal(typeof r.ok, 'boolean');
        if (!r.ok)
          assert.ok(CODES.has(r.error!.code), `${channel} ${typeof raw}: ${r.error!.code}`);
        counts.direct++;
      }
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype polluted');
  });

  test('through the browser-mode host: typed JSON errors, never a 500', async () => {
    const rng = new Rng(SEED + 1);
    const api = (channel: string, body: string | Buffer, method = 'POST') =>
      post(host.port, `/api/${channel}`, body, { [TOKEN_HEADER]: host.token }, method);
    const expectTyped = (r: { status: number; body: string }, ctx: string): Reply => {
      assert.ok(
        [200, 400, 401, 404, 405, 413].includes(r.status),
        `${ctx}: HTTP ${r.status} ${r.body.slice(0, 200)}`,
      );
      let parsed: Reply;
      try {
        parsed = JSON.parse(r.body) as Reply;
      } catch {
        assert.fail(`${ctx}: not JSON: ${r.body.slice(0, 200)}`);
      }
      if (!parsed.ok)
        assert.ok(CODES.has(parsed.error?.code ?? ''), `${ctx}: ${r.body.slice(0, 200)}`);
      return parsed;
    };
    for (const channel of CHANNELS) {
      const valid = skeleton(schemaOf(channel));
      for (let i = 0; i < PER_CHANNEL_HTTP; i++) {
        const kind = rng.int(8);
        let body: string | Buffer;
        if (kind === 0)
          body = Buffer.from(Array.from({ length: 1 + rng.int(64) }, () => rng.int(256)));
        else if (kind === 1) body = mutant(rng, valid).text.slice(0, 1 + rng.int(10));
        else body = mutant(rng, valid).text;
        const text = Buffer.isBuffer(body) ? body.toString('latin1') : body;
        const fine = !Buffer.isBuffer(body) && acceptable(channel, body);
        if (fine) counts.accepted++;
        const r = expectTyped(await api(channel, body), `${channel} <- ${text.slice(0, 80)}`);
        if (r.ok === true) assert.ok(fine, `${channel} accepted ${text.slice(0, 80)}`);
        if (!fine && r.ok === false && !/^\s*$/.test(text)) {
          assert.equal(r.error!.code, 'invalid-argument', `${channel} <- ${text.slice(0, 80)}`);
        }
        counts.http++;
      }
      // The token is needed on every channel, valid payload or not.
      const wrongTokens: Record<string, string>[] = [
        {},
        { [TOKEN_HEADER]: host.token.slice(1) },
        { [TOKEN_HEADER]: `${host.token}0` },
      ];
      for (const headers of wrongTokens) {
        const r = await post(host.port, `/api/${channel}`, JSON.stringify(valid), headers);
        assert.equal(r.status, 401, `${channel} without the right token`);
        assert.equal(expectTyped(r, channel).error?.code, 'unauthorized');
        counts.http++;
      }
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
        const r = await api(channel, '{}', method);
        assert.equal(r.status, 405, `${method} ${channel}`);
        expectTyped(r, `${method} ${channel}`);
        counts.http++;
      }
    }
    // Channel names: unknown, traversal, broken percent-encoding, control characters.
    const names = [
      'secrets:dump',
      '..%2f..%2fetc%2fpasswd',
      '%E0%A4%A',
      '%',
      '%00',
      'app:info%00',
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      encodeURIComponent('名前'),
      'a'.repeat(3000),
    ];
    for (let i = 0; i < 40; i++) {
      names.push(
        Array.from(
          { length: 1 + rng.int(30) },
          () => `%${rng.int(256).toString(16).padStart(2, '0')}`,
        ).join(''),
      );
    }
    for (const name of names) {
      const r = expectTyped(await api(name, '{}'), `channel ${name.slice(0, 40)}`);
      assert.equal(r.ok, false, name);
      assert.ok(
        ['unknown-channel', 'invalid-argument'].includes(r.error!.code),
        `${name}: ${r.error!.code}`,
      );
      counts.http++;
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype polluted');
  });

  test('after the storm the host and the services still answer', async () => {
    const info = (await services.invoke('app:info', {})) as Reply;
    assert.equal(info.ok, true);
    const r = await post(host.port, '/api/studies:cancel', '{"id": 99}', {
      [TOKEN_HEADER]: host.token,
    });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as Reply).error?.code, 'not-found');
    const list = (await services.invoke('datasets:list', {})) as Reply;
    assert.equal(list.ok, true);
  });

  test(`at least ${AT_LEAST} payloads were sent`, () => {
    assert.ok(
      counts.direct + counts.http >= AT_LEAST,
      `only ${counts.direct + counts.http} payloads`,
    );
  });
});
