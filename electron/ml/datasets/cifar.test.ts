import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError } from './errors.ts';
import { CIFAR10_CLASSES, loadCifarFolder, readCifarBatch } from './cifar.ts';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'deepal-cifar-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** One record; pixel (c, r, col) of item `seed` gets value (seed*31 + c*97 + r*5 + col) % 256. */
function record(labels: number[], seed: number): Buffer {
  const b = Buffer.alloc(labels.length + 3072);
  labels.forEach((l, i) => (b[i] = l));
  for (let c = 0; c < 3; c++)
    for (let r = 0; r < 32; r++)
      for (let col = 0; col < 32; col++)
        b[labels.length + c * 1024 + r * 32 + col] = (seed * 31 + c * 97 + r * 5 + col) % 256;
  return b;
}

function expectError(fn: () => unknown, file: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected DatasetError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.match(err.message, re);
    return true;
  });
}

describe('CIFAR-10', () => {
  test('a batch converts CHW to HWC and keeps labels', () => {
    const f = join(dir, 'one.bin');
    writeFileSync(f, Buffer.concat([record([3], 0), record([9], 1)]));
    const d = readCifarBatch(f);
    assert.deepEqual(d.sampleShape, [32, 32, 3]);
    assert.deepEqual(Array.from(d.y), [3, 9]);
    assert.deepEqual(d.classNames, CIFAR10_CLASSES);
    // item 1, row 2, col 5, channel c sits at HWC index 3072 + (2*32+5)*3 + c
    for (let c = 0; c < 3; c++)
      assert.equal(d.x[3072 + (2 * 32 + 5) * 3 + c], (31 + c * 97 + 10 + 5) % 256);
    assert.equal(d.ids?.[1], 'one.bin#1');
  });

  test('a folder loads 5 train batches + test batch, class names from batches.meta.txt', () => {
    const c10 = join(dir, 'cifar-10-batches-bin');
    mkdirSync(c10);
    for (let k = 1; k <= 5; k++)
      writeFileSync(
        join(c10, `data_batch_${k}.bin`),
        Buffer.concat([record([k], k), record([0], 0)]),
      );
    writeFileSync(join(c10, 'test_batch.bin'), record([7], 7));
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    writeFileSync(join(c10, 'batches.meta.txt'), names.join('\n') + '\n\n');
    const s = loadCifarFolder(c10);
    assert.equal(s.variant, 'cifar-10');
    assert.equal(s.train.y.length, 10);
    assert.deepEqual(Array.from(s.train.y), [1, 0, 2, 0, 3, 0, 4, 0, 5, 0]);
    assert.deepEqual(Array.from(s.test.y), [7]);
    assert.deepEqual(s.train.classNames, names);
    assert.equal(s.train.x.length, 10 * 3072);
    assert.equal(s.train.x[2 * 3072 + 1], (2 * 31 + 97) % 256, 'batch 2, pixel 0, green');
  });

  test('missing batches are listed', () => {
    const c10 = join(dir, 'partial');
    mkdirSync(c10);
    writeFileSync(join(c10, 'data_batch_1.bin'), record([1], 1));
    writeFileSync(join(c10, 'data_batch_3.bin'), record([1], 1));
    expectError(
      () => loadCifarFolder(c10),
      c10,
      /missing data_batch_2\.bin, data_batch_4\.bin, data_batch_5\.bin, test_batch\.bin/,
    );
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expectError(() => loadCifarFolder(empty), empty, /found neither \(folder holds: nothing\)/);
  });

  test('size not a multiple of the record size', () => {
    const f = join(dir, 'cut.bin');
    writeFileSync(f, Buffer.concat([record([1], 1), record([2], 2)]).subarray(0, 5000));
    expectError(
      () => readCifarBatch(f),
      f,
      /file size 5000 bytes is not a positive multiple of the cifar-10 record size 3073/,
    );
  });

  test('label out of range names the record and offset', () => {
    const f = join(dir, 'oor.bin');
    writeFileSync(f, Buffer.concat([record([1], 1), record([12], 2)]));
    expectError(
      () => readCifarBatch(f),
      f,
      /record 1 \(byte offset 3073\): expected 0\.\.9, found 12/,
    );
  });

  test('a meta file with the wrong number of names', () => {
    const d = join(dir, 'badmeta');
    mkdirSync(d);
    writeFileSync(join(d, 'x.bin'), record([1], 1));
    writeFileSync(join(d, 'batches.meta.txt'), 'cat\ndog\n');
    expectError(
      () => readCifarBatch(join(d, 'x.bin')),
      join(d, 'batches.meta.txt'),
      /expected 10 class names.*found 2/,
    );
  });
});

describe('CIFAR-100', () => {
  test('fine labels by default, coarse on request, names from files', () => {
    const c100 = join(dir, 'cifar-100-binary');
    mkdirSync(c100);
    writeFileSync(join(c100, 'train.bin'), Buffer.concat([record([4, 99], 0), record([19, 3], 1)]));
    writeFileSync(join(c100, 'test.bin'), record([0, 50], 2));
    const fine = loadCifarFolder(c100);
    assert.equal(fine.variant, 'cifar-100');
    assert.deepEqual(Array.from(fine.train.y), [99, 3]);
    assert.equal(fine.train.classNames.length, 100);
    assert.equal(fine.train.classNames[99], 'worm');
    assert.equal(fine.train.x[3072], 31 % 256, 'second item pixel 0 red');
    const coarse = loadCifarFolder(c100, { labels: 'coarse' });
    assert.deepEqual(Array.from(coarse.train.y), [4, 19]);
    assert.equal(coarse.train.classNames.length, 20);
    const fineNames = Array.from({ length: 100 }, (_, i) => `f${i}`);
    writeFileSync(join(c100, 'fine_label_names.txt'), fineNames.join('\n'));
    assert.deepEqual(loadCifarFolder(c100).test.classNames, fineNames);
  });

  test('a CIFAR-100 file read as CIFAR-10 reports the record size', () => {
    const f = join(dir, 'c100-as-10.bin');
    writeFileSync(f, record([1, 2], 0));
    expectError(
      () => readCifarBatch(f, { variant: 'cifar-10' }),
      f,
      /3074 bytes.*record size 3073.*other CIFAR variant/,
    );
    const g = join(dir, 'fine-oor', 'train.bin');
    mkdirSync(join(dir, 'fine-oor'));
    writeFileSync(g, record([1, 100], 0));
    expectError(() => readCifarBatch(g), g, /byte offset 1\): expected 0\.\.99, found 100/);
  });
});

describe('CIFAR inputs that once broke the app (issue 19)', () => {
  test(
    'item 6: a named pipe or a link to /dev/zero is refused without reading it',
    {
      skip: process.platform === 'win32' ? 'no FIFOs or /dev/zero on Windows' : false,
    },
    () => {
      const fifo = join(dir, 'fifo_batch.bin');
      execFileSync('mkfifo', [fifo]);
      expectError(() => readCifarBatch(fifo), fifo, /is a named pipe \(FIFO\), not a regular file/);
      const zero = join(dir, 'zero_batch.bin');
      symlinkSync('/dev/zero', zero);
      expectError(() => readCifarBatch(zero), zero, /is a device, not a regular file/);
    },
  );
});
