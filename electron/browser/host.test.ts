import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { CHANNELS, TOKEN_HEADER } from '../../shared/contract.ts';
import { createServices, type Services } from '../services/services.ts';
import { startHost, type Host } from './host.ts';

/** A raw request, so paths like /../x reach the server unnormalised. */
function raw(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path,
        headers: { host: `127.0.0.1:${port}`, ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

describe('browser-mode host', () => {
  let dir: string;
  let services: Services;
  let host: Host;
  const api = (channel: string, body: string, headers: Record<string, string> = {}) =>
    raw(host.port, {
      method: 'POST',
      path: `/api/${channel}`,
      body,
      headers: { 'content-type': 'application/json', [TOKEN_HEADER]: host.token, ...headers },
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-host-'));
    const root = join(dir, 'renderer');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(root, 'assets', 'app.js'), 'export {}');
    writeFileSync(join(dir, 'secret.txt'), 'secret');
    services = createServices({
      dataDir: dir,
      dbPath: join(dir, 'workspace.db'),
      mode: 'browser',
      version: 'test',
    });
    host = await startHost({ services, root });
  });

  after(async () => {
    await host.close();
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('listens on loopback and puts the token in the fragment only', () => {
    assert.match(host.url, /^http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{64}$/);
  });

  test('serves the renderer with a strict CSP', async () => {
    const r = await raw(host.port, { path: '/' });
    assert.equal(r.status, 200);
    assert.match(r.body, /<title>t<\/title>/);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    const js = await raw(host.port, { path: '/assets/app.js' });
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
  });

  test('API calls without the token, or with a wrong one, get 401', async () => {
    const none = await raw(host.port, { method: 'POST', path: '/api/app:info', body: '{}' });
    assert.equal(none.status, 401);
    assert.equal(JSON.parse(none.body).error.code, 'unauthorized');
    const wrong = await api('app:info', '{}', { [TOKEN_HEADER]: 'f'.repeat(64) });
    assert.equal(wrong.status, 401);
  });

  test('a foreign Host or Origin is refused (DNS rebinding, cross-site pages)', async () => {
    const badHost = await raw(host.port, { path: '/', headers: { host: 'evil.example:80' } });
    assert.equal(badHost.status, 403);
    const rebinding = await api('app:info', '{}', { host: `evil.example:${host.port}` });
    assert.equal(rebinding.status, 403);
    const badOrigin = await api('app:info', '{}', { origin: 'http://evil.example' });
    assert.equal(badOrigin.status, 403);
    const ok = await api('studies:cancel', '{"id": 1}', {
      origin: `http://127.0.0.1:${host.port}`,
    });
    assert.equal(ok.status, 200);
  });

  test('path traversal is refused', async () => {
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%5csecret.txt',
      '/../package.json',
    ]) {
      const r = await raw(host.port, { path });
      assert.ok(r.status === 403 || r.status === 404, `${path} gave ${r.status}`);
      assert.doesNotMatch(r.body, /secret/);
    }
    const missing = await raw(host.port, { path: '/nope.js' });
    assert.equal(missing.status, 404);
  });

  test('every channel refuses malformed payloads with a typed error, and the server stays up', async () => {
    for (const channel of CHANNELS) {
      for (const body of [
        '{"bogus": true}',
        '[1,2]',
        '"text"',
        '{"id": "x", "path": 5, "config": {"strategies": []}}',
      ]) {
        const r = await api(channel, body);
        assert.equal(r.status, 200, `${channel} ${body}`);
        const parsed = JSON.parse(r.body) as {
          ok: boolean;
          error: { code: string; message: string };
        };
        assert.equal(parsed.ok, false, `${channel} accepted ${body}`);
        assert.equal(
          parsed.error.code,
          'invalid-argument',
          `${channel} ${body}: ${parsed.error.message}`,
        );
        assert.ok(parsed.error.message.startsWith(channel));
      }
    }
    const notJson = await api('app:info', '{nope');
    assert.equal(notJson.status, 400);
    const unknown = await api('secrets:dump', '{}');
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.body).error.code, 'unknown-channel');
    const big = await api('app:info', `{"x":"${'a'.repeat(1_100_000)}"}`).catch(() => ({
      status: 413,
    }));
    assert.equal(big.status, 413);
    const still = await api('studies:cancel', '{"id": 99}');
    assert.equal(JSON.parse(still.body).error.code, 'not-found');
  });

  test('the event WebSocket needs the token and our Origin', async () => {
    const url = `ws://127.0.0.1:${host.port}/events`;
    const opened = (protocols: string[], origin?: string) =>
      new Promise<boolean>((resolve) => {
        const ws = new WebSocket(url, protocols, origin ? { origin } : {});
        ws.on('open', () => {
          ws.close();
          resolve(true);
        });
        ws.on('error', () => resolve(false));
      });
    assert.equal(
      await opened(['deepal', `token.${host.token}`], `http://127.0.0.1:${host.port}`),
      true,
    );
    assert.equal(await opened(['deepal']), false);
    assert.equal(await opened(['deepal', `token.${'0'.repeat(64)}`]), false);
    assert.equal(await opened(['deepal', `token.${host.token}`], 'http://evil.example'), false);
  });
});
