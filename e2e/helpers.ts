import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENS = join(ROOT, 'test-results', 'screens');

/** Why the browser specs cannot run here, or null when they can. CI must not skip silently. */
export function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const why = `${CHROMIUM} is missing (install it with: apt-get install -y chromium)`;
  if (process.env.CI) throw new Error(`CI is set and ${why}`);
  return why;
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
    ],
  });
}

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Build the renderer when its build is missing or older than its sources (as npm start does). */
export async function ensureRendererBuilt(): Promise<string> {
  const out = join(ROOT, 'dist', 'renderer');
  const index = join(out, 'index.html');
  const sources = Math.max(newest(join(ROOT, 'renderer', 'src')), newest(join(ROOT, 'shared')));
  if (!existsSync(index) || statSync(index).mtimeMs < sources) {
    // A child process: importing vite here would pull its DOM-flavoured types into the Node project.
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
        'build',
        '--config',
        join(ROOT, 'renderer', 'vite.config.ts'),
        '--logLevel',
        'warn',
      ],
      { cwd: ROOT, stdio: 'inherit' },
    );
    if (r.status !== 0)
      throw new Error(`Building the renderer failed (exit ${r.status ?? r.signal})`);
  }
  return out;
}

/**
 * Collects what must fail a test: console errors, uncaught page errors, and any request to an
 * address that is not this machine's loopback.
 */
export function guardPage(page: Page): { problems: string[] } {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.protocol === 'data:' || url.protocol === 'blob:') return;
    if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost')
      problems.push(`non-loopback request: ${r.url()}`);
  });
  return { problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENS, { recursive: true });
  // From the top, so sticky parts sit where a person sees them.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: join(SCREENS, `${name}.png`), fullPage: true });
}

/**
 * A small learnable MNIST-style IDX dataset: class k is a bright bar at a class-specific place,
 * with noise, so a tiny MLP learns it in two epochs.
 */
export function writeIdxDataset(dir: string, train: number, test: number, classes = 4): void {
  mkdirSync(dir, { recursive: true });
  let state = 12345;
  const rand = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  const write = (prefix: string, n: number) => {
    const images = Buffer.alloc(16 + n * 28 * 28);
    images.writeUInt32BE(2051, 0);
    images.writeUInt32BE(n, 4);
    images.writeUInt32BE(28, 8);
    images.writeUInt32BE(28, 12);
    const labels = Buffer.alloc(8 + n);
    labels.writeUInt32BE(2049, 0);
    labels.writeUInt32BE(n, 4);
    for (let i = 0; i < n; i++) {
      const k = i % classes;
      labels[8 + i] = k;
      // Neighbouring classes overlap in position and the noise is strong, so accuracy stays
      // below 100% and the curves have something to show.
      const row = 6 + k * 5 + Math.floor(rand() * 9) - 4;
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          const on = Math.abs(y - row) <= 1 && x > 3 && x < 24;
          images[16 + i * 784 + y * 28 + x] = on
            ? 100 + Math.floor(rand() * 155)
            : Math.floor(rand() * 150);
        }
      }
    }
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), images);
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), labels);
  };
  write('train', train);
  write('t10k', test);
}
