import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DatasetError } from './errors.ts';
import { isGzip, loadIdxPair, readIdxImages, readIdxLabels, readMaybeGzip } from './idx.ts';

/** Builds IDX bytes: 0, 0, type, ndims, dims (uint32 BE), data. */
function idxBytes(
  dims: number[],
  data: Uint8Array,
  opts: { type?: number; magicHi?: number } = {},
): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[0] = opts.magicHi ?? 0;
  header[1] = 0;
  header[2] = opts.type ?? 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

const CLASSES = ['zero', 'one', 'two'];
let dir = '';
const f = (name: string): string => join(dir, name);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'deepal-idx-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function pixels(n: number, h: number, w: number): Uint8Array {
  const p = new Uint8Array(n * h * w);
  for (let i = 0; i < p.length; i++) p[i] = (i * 7) % 256;
  return p;
}

describe('IDX reader, good inputs', () => {
  test('raw and gzip files read identically; gzip detected by magic, not by name', () => {
    const px = pixels(4, 3, 2);
    const img = idxBytes([4, 3, 2], px);
    const lab = idxBytes([4], Uint8Array.from([2, 0, 1, 2]));
    writeFileSync(f('raw-images'), img);
    writeFileSync(f('raw-labels'), lab);
    // Deliberately misleading names: a gzip file without .gz and a raw file named .gz.
    writeFileSync(f('gz-images-no-ext'), gzipSync(img));
    writeFileSync(f('gz-labels.gz'), gzipSync(lab));
    writeFileSync(f('raw-named.gz'), img);
    for (const [imgFile, labFile] of [
      ['raw-images', 'raw-labels'],
      ['gz-images-no-ext', 'gz-labels.gz'],
      ['raw-named.gz', 'raw-labels'],
    ] as const) {
      const d = loadIdxPair(f(imgFile), f(labFile), CLASSES, 'tiny');
      assert.deepEqual(d.sampleShape, [3, 2, 1]);
      assert.deepEqual(Array.from(d.y), [2, 0, 1, 2]);
      assert.deepEqual(Array.from(d.x), Array.from(px));
      assert.ok(d.x instanceof Uint8Array);
      assert.equal(d.x.byteLength, d.x.buffer.byteLength, 'pixels own their buffer');
      assert.deepEqual(d.classNames, CLASSES);
      assert.equal(d.name, 'tiny');
    }
    assert.ok(isGzip(gzipSync(img)));
    assert.ok(!isGzip(img));
  });

  test('readIdxImages / readIdxLabels report dimensions', () => {
    writeFileSync(f('i2'), idxBytes([2, 5, 4], pixels(2, 5, 4)));
    const im = readIdxImages(f('i2'));
    assert.equal(im.count, 2);
    assert.equal(im.height, 5);
    assert.equal(im.width, 4);
    assert.equal(im.pixels.length, 40);
    writeFileSync(f('l2'), idxBytes([3], Uint8Array.from([9, 200, 0])));
    assert.deepEqual(Array.from(readIdxLabels(f('l2')).labels), [9, 200, 0]);
  });
});

function expectError(fn: () => unknown, file: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected DatasetError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.ok(err.message.includes(file), 'message names the file');
    assert.match(err.message, re);
    return true;
  });
}

describe('IDX reader, broken inputs', () => {
  test('labels file given as images (wrong magic)', () => {
    writeFileSync(f('lab-as-img'), idxBytes([3], Uint8Array.from([0, 1, 2])));
    expectError(() => readIdxImages(f('lab-as-img')), f('lab-as-img'), /expected 2051, found 2049/);
    writeFileSync(f('img-as-lab'), idxBytes([1, 2, 2], pixels(1, 2, 2)));
    expectError(() => readIdxLabels(f('img-as-lab')), f('img-as-lab'), /expected 2049, found 2051/);
  });

  test('not an IDX file at all', () => {
    writeFileSync(f('png-ish'), Buffer.from('\x89PNG\r\n\x1a\n0000000000', 'latin1'));
    expectError(() => readIdxImages(f('png-ish')), f('png-ish'), /not an IDX file.*0x89504e47/);
    writeFileSync(f('tiny'), Buffer.from([0, 0]));
    expectError(
      () => readIdxLabels(f('tiny')),
      f('tiny'),
      /at least a 4-byte magic.*found 2 bytes/,
    );
  });

  test('unsupported type byte', () => {
    writeFileSync(f('float-type'), idxBytes([2, 2, 2], pixels(2, 2, 2), { type: 0x0d }));
    expectError(
      () => readIdxImages(f('float-type')),
      f('float-type'),
      /type byte 0x0d \(float.*only 0x08/,
    );
  });

  test('wrong number of dimensions', () => {
    writeFileSync(f('dims2'), idxBytes([2, 4], pixels(2, 2, 2)));
    expectError(
      () => readIdxImages(f('dims2')),
      f('dims2'),
      /wrong number of dimensions.*expected 3, found 2/,
    );
    writeFileSync(f('dims4'), idxBytes([2, 2, 2, 1], pixels(2, 2, 2)));
    expectError(() => readIdxImages(f('dims4')), f('dims4'), /expected 3, found 4/);
    writeFileSync(f('lab2d'), idxBytes([2, 2], pixels(1, 2, 2)));
    expectError(
      () => readIdxLabels(f('lab2d')),
      f('lab2d'),
      /wrong number of dimensions for IDX labels: expected 1, found 2/,
    );
  });

  test('truncated and oversized data say expected vs actual bytes', () => {
    const full = idxBytes([3, 4, 4], pixels(3, 4, 4));
    writeFileSync(f('short'), full.subarray(0, full.length - 5));
    expectError(
      () => readIdxImages(f('short')),
      f('short'),
      /truncated data: header says 3 x 4 x 4 = 48 data bytes.*found 43 data bytes/,
    );
    writeFileSync(f('short.gz'), gzipSync(full.subarray(0, 10)));
    expectError(
      () => readIdxImages(f('short.gz')),
      f('short.gz'),
      /truncated header: expected 16 header bytes/,
    );
    writeFileSync(f('long'), Buffer.concat([full, Buffer.from([1, 2])]));
    expectError(() => readIdxImages(f('long')), f('long'), /trailing data.*found 50 data bytes/);
  });

  test('truncated and corrupt gzip', () => {
    const gz = gzipSync(idxBytes([3, 4, 4], pixels(3, 4, 4)));
    writeFileSync(f('cut.gz'), gz.subarray(0, gz.length - 12));
    expectError(() => readIdxImages(f('cut.gz')), f('cut.gz'), /truncated gzip data/);
    const bad = Buffer.from(gz);
    for (let i = 12; i < 30; i++) bad[i] = 0xff;
    writeFileSync(f('bad.gz'), bad);
    expectError(() => readIdxImages(f('bad.gz')), f('bad.gz'), /(corrupt|truncated) gzip data/);
  });

  test('label values out of range name the record', () => {
    writeFileSync(f('img3'), idxBytes([3, 2, 2], pixels(3, 2, 2)));
    writeFileSync(f('lab-oor'), idxBytes([3], Uint8Array.from([0, 7, 1])));
    expectError(
      () => loadIdxPair(f('img3'), f('lab-oor'), CLASSES, 'x'),
      f('lab-oor'),
      /out of range at record 1 \(byte offset 9\): expected 0\.\.2, found 7/,
    );
  });

  test('image/label count mismatch', () => {
    writeFileSync(f('img3b'), idxBytes([3, 2, 2], pixels(3, 2, 2)));
    writeFileSync(f('lab2'), idxBytes([2], Uint8Array.from([0, 1])));
    expectError(
      () => loadIdxPair(f('img3b'), f('lab2'), CLASSES, 'x'),
      f('lab2'),
      /holds 3 images but this labels file holds 2 labels/,
    );
  });

  test('missing file', () => {
    expectError(() => readIdxImages(f('nope')), f('nope'), /cannot read file/);
  });
});

describe('IDX inputs that once broke the app (issue 19)', () => {
  test('item 9: gzip data that inflates past the limit is refused, not inflated', () => {
    // 2 MiB of zeros compress to about 2 KiB: the ratio of a decompression bomb.
    const bomb = gzipSync(idxBytes([2 * 1024, 32, 32], new Uint8Array(2 * 1024 * 1024)));
    assert.ok(bomb.length < 10_000);
    writeFileSync(f('bomb.gz'), bomb);
    expectError(
      () => readMaybeGzip(f('bomb.gz'), 1024 * 1024),
      f('bomb.gz'),
      /decompresses to more than 1048576 bytes \(1 MiB\), the limit for IDX data/,
    );
    assert.equal(readMaybeGzip(f('bomb.gz'), 4 * 1024 * 1024).length, 2 * 1024 * 1024 + 16);
  });

  test(
    'item 6: a named pipe is refused without blocking; raw files have the same limit',
    {
      skip: process.platform === 'win32' ? 'no FIFOs on Windows' : false,
    },
    () => {
      execFileSync('mkfifo', [f('fifo-images')]);
      expectError(
        () => readIdxImages(f('fifo-images')),
        f('fifo-images'),
        /is a named pipe \(FIFO\)/,
      );
      writeFileSync(f('raw-big'), idxBytes([4, 32, 32], new Uint8Array(4096)));
      expectError(
        () => readMaybeGzip(f('raw-big'), 1000),
        f('raw-big'),
        /over the 1000-byte limit/,
      );
    },
  );
});
