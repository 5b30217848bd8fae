import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { API_PREFIX, EVENTS_PATH, TOKEN_HEADER, type Result } from '../../shared/contract.ts';
import type { Services } from '../services/services.ts';

/**
 * Browser mode: the app's UI served to a local browser on 127.0.0.1, for machines without the
 * Electron binary. The same contract as the desktop shell, behind the same services.
 *
 * Threat model: any web page the person visits, and any other local user's process, can reach
 * 127.0.0.1. So: a random per-launch token on every API call and on the event stream; Host and
 * Origin must be this server's own (a DNS-rebinding page has a foreign Host); only the built
 * renderer's files are served, resolved and checked to lie under its folder; a strict CSP.
 */
export interface HostOptions {
  services: Services;
  /** The built renderer (index.html and assets). */
  root: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Fixed token for tests; a fresh random one otherwise. */
  token?: string;
}

export interface Host {
  port: number;
  token: string;
  /** The address to open: the token travels in the fragment, which browsers never send. */
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

function csp(port: number): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Start the browser-mode host; resolves once it listens. */
export async function startHost(opts: HostOptions): Promise<Host> {
  const token = opts.token ?? randomBytes(32).toString('hex');
  const root = realpathSync(resolve(opts.root));
  let port = 0;
  const sockets = new Set<WebSocket>();

  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  /** Host must be ours; Origin, when sent, too. Returns why not, or null. */
  function refuseOrigin(req: IncomingMessage): string | null {
    if (!allowedHosts().has(req.headers.host ?? '')) return 'unexpected Host header';
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().has(origin)) return 'unexpected Origin header';
    return null;
  }

  function headers(res: ServerResponse, type: string): void {
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Security-Policy', csp(port));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  }

  function sendJson(res: ServerResponse, status: number, body: Result<unknown>): void {
    headers(res, 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.writeHead(status);
    res.end(JSON.stringify(body));
  }

  function sendText(res: ServerResponse, status: number, text: string): void {
    headers(res, 'text/plain; charset=utf-8');
    res.writeHead(status);
    res.end(text);
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new Error('too large');
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async function api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const given = req.headers[TOKEN_HEADER];
    if (!sameToken(typeof given === 'string' ? given : undefined, token)) {
      sendJson(res, 401, {
        ok: false,
        error: {
          code: 'unauthorized',
          message: 'Missing or wrong token; open the address the app printed.',
        },
      });
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      sendJson(res, 405, { ok: false, error: { code: 'invalid-argument', message: 'Use POST.' } });
      return;
    }
    let raw: unknown;
    try {
      const text = await readBody(req);
      raw = text.trim() === '' ? {} : JSON.parse(text);
    } catch (err) {
      const tooLarge = err instanceof Error && err.message === 'too large';
      sendJson(res, tooLarge ? 413 : 400, {
        ok: false,
        error: {
          code: 'invalid-argument',
          message: tooLarge
            ? 'The request body is over 1 MB.'
            : 'The request body is not valid JSON.',
        },
      });
      return;
    }
    let channel: string;
    try {
      channel = decodeURIComponent(path.slice(API_PREFIX.length));
    } catch {
      sendJson(res, 400, {
        ok: false,
        error: { code: 'invalid-argument', message: 'The channel name is not valid URL encoding.' },
      });
      return;
    }
    const result = await opts.services.invoke(channel, raw);
    sendJson(res, result.ok || result.error.code !== 'unknown-channel' ? 200 : 404, result);
  }

  function staticFile(req: IncomingMessage, res: ServerResponse, rawPath: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendText(res, 405, 'Method not allowed');
      return;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      sendText(res, 400, 'Bad path');
      return;
    }
    if (decoded.includes('\0') || decoded.split(/[\\/]/).includes('..')) {
      sendText(res, 403, 'Forbidden');
      return;
    }
    const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
    const candidate = resolve(join(root, relative));
    let file: string;
    try {
      // realpath too, so a symlink inside the build cannot point outside it.
      file = realpathSync(candidate);
    } catch {
      sendText(res, 404, 'Not found');
      return;
    }
    if (!file.startsWith(root + sep)) {
      sendText(res, 403, 'Forbidden');
      return;
    }
    const st = statSync(file);
    if (!st.isFile()) {
      sendText(res, 404, 'Not found');
      return;
    }
    headers(res, MIME[extname(file).toLowerCase()] ?? 'application/octet-stream');
    res.setHeader('Content-Length', st.size);
    res.setHeader('Cache-Control', file.endsWith('.html') ? 'no-store' : 'no-cache');
    res.writeHead(200);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  }

  const server = createServer((req, res) => {
    const refused = refuseOrigin(req);
    if (refused) {
      sendText(res, 403, `Forbidden: ${refused}`);
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!.split('#')[0]!;
    if (path.startsWith(API_PREFIX)) {
      api(req, res, path).catch((err: unknown) => {
        if (!res.headersSent) {
          sendJson(res, 500, {
            ok: false,
            error: { code: 'internal', message: err instanceof Error ? err.message : String(err) },
          });
        } else res.destroy();
      });
      return;
    }
    staticFile(req, res, path);
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4096,
    handleProtocols: (protocols) => (protocols.has('deepal') ? 'deepal' : false),
  });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0];
    // Browsers cannot set headers on a WebSocket, so the token travels as a subprotocol.
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    const given = protocols.find((p) => p.startsWith('token.'))?.slice('token.'.length);
    const refused =
      refuseOrigin(req) ??
      (path !== EVENTS_PATH
        ? 'unknown path'
        : !sameToken(given, token)
          ? 'missing or wrong token'
          : null);
    if (refused) {
      socket.write(
        `HTTP/1.1 ${refused.includes('token') ? '401 Unauthorized' : '403 Forbidden'}\r\nConnection: close\r\n\r\n`,
      );
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => sockets.delete(ws));
      ws.send(JSON.stringify({ kind: 'hello' }));
    });
  });

  const unsubscribe = opts.services.onEvent((event) => {
    const text = JSON.stringify(event);
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/#token=${token}`,
    async close() {
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
