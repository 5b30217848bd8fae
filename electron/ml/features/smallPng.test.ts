import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { decodeSmallPng } from './smallPng.ts';
import { fileSource } from './source.ts';

const dir = mkdtempSync(join(tmpdir(), 'deepal-smallpng-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Pseudo-random pixels; `neutral` makes every RGB pixel grey (R = G = B). */
function pixels(w: number, h: number, c: number, seed: number, neutral = false): Buffer {
  const px = Buffer.alloc(w * h * c);
  let s = seed;
  for (let i = 0; i < w * h; i++) {
    for (let k = 0; k < c; k++) {
      s = (s * 1103515245 + 12345) >>> 0;
      px[i * c + k] = neutral && k > 0 ? px[i * c]! : s >>> 24;
    }
  }
  return px;
}

async function png(
  name: string,
  w: number,
  h: number,
  c: 1 | 2 | 3 | 4,
  opts: { neutral?: boolean; palette?: boolean; bits16?: boolean; interlace?: boolean } = {},
): Promise<string> {
  const path = join(dir, `${name}.png`);
  let img = sharp(pixels(w, h, c, w * 31 + c, opts.neutral), {
    raw: { width: w, height: h, channels: c },
  });
  if (opts.bits16) img = img.toColourspace(c === 1 ? 'grey16' : 'rgb16');
  await img
    .png({ palette: opts.palette ?? false, progressive: opts.interlace ?? false })
    .toFile(path);
  return path;
}

/** What the sharp pipeline of fileSource gives for the file. */
async function viaSharp(path: string, h: number, w: number, c: 1 | 3): Promise<Uint8Array> {
  let img = sharp(path)
    .rotate()
    .flatten({ background: '#000000' })
    .resize(w, h, { fit: 'cover', position: 'centre' });
  img = c === 1 ? img.grayscale() : img.toColourspace('srgb');
  return new Uint8Array(await img.removeAlpha().raw({ depth: 'uchar' }).toBuffer());
}

test('grey and RGB PNGs at the asked size decode to the bytes sharp gives', async () => {
  const cases: [string, 1 | 3, 1 | 3, boolean][] = [
    ['grey', 1, 1, false],
    ['grey-as-rgb', 1, 3, false],
    ['rgb', 3, 3, false],
    ['rgb-neutral-as-grey', 3, 1, true],
  ];
  for (const [name, stored, asked, neutral] of cases) {
    const path = await png(name, 28, 20, stored, { neutral });
    const fast = decodeSmallPng(readFileSync(path), 20, 28, asked);
    assert.ok(fast, `${name}: the fast path applies`);
    assert.deepEqual(fast, await viaSharp(path, 20, 28, asked), name);
  }
});

test('files the fast path cannot match exactly are left to sharp', async () => {
  const cases: [string, Promise<string>, number, 1 | 3][] = [
    ['coloured RGB asked as grey', png('rgb-colour', 28, 28, 3), 28, 1],
    ['alpha', png('rgba', 28, 28, 4), 28, 3],
    ['grey and alpha', png('grey-alpha', 28, 28, 2), 28, 1],
    ['palette', png('palette', 28, 28, 3, { palette: true }), 28, 3],
    ['16 bits', png('deep', 28, 28, 1, { bits16: true }), 28, 1],
    ['interlaced', png('interlaced', 28, 28, 1, { interlace: true }), 28, 1],
    ['another size (a resize)', png('big', 40, 40, 1), 28, 1],
  ];
  for (const [name, made, side, c] of cases) {
    assert.equal(decodeSmallPng(readFileSync(await made), side, side, c), null, name);
  }
  assert.equal(
    decodeSmallPng(Buffer.from('not a png at all, just text bytes here'), 28, 28, 1),
    null,
  );
  const oriented = join(dir, 'oriented.png');
  await sharp(pixels(28, 28, 1, 5), { raw: { width: 28, height: 28, channels: 1 } })
    .withMetadata({ orientation: 6 })
    .png()
    .toFile(oriented);
  const meta = await sharp(oriented).metadata();
  if (meta.orientation === 6) {
    assert.equal(decodeSmallPng(readFileSync(oriented), 28, 28, 1), null, 'orientation tag');
  }
});

test('a file source over mixed files gives what sharp alone gives', async () => {
  const files = [
    await png('m-grey', 28, 28, 1),
    await png('m-rgb', 28, 28, 3),
    await png('m-colour', 28, 28, 3),
    await png('m-alpha', 28, 28, 4),
    await png('m-big', 56, 40, 3),
    await png('m-palette', 28, 28, 3, { palette: true }),
  ];
  for (const c of [1, 3] as const) {
    const told: [number, number][] = [];
    const source = await fileSource(
      files.map((path) => ({ path })),
      { nativeSize: [28, 28], channels: c, progress: (d, t) => told.push([d, t]) },
    );
    assert.deepEqual(told.at(-1), [files.length, files.length], 'the fingerprint tells its end');
    const got = await source.read(0, files.length, [28, 28]);
    const want = new Uint8Array(files.length * 28 * 28 * c);
    for (let i = 0; i < files.length; i++)
      want.set(await viaSharp(files[i]!, 28, 28, c), i * 28 * 28 * c);
    assert.deepEqual(got, want, `${c} channel(s)`);
  }
});
