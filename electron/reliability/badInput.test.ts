import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import { readCifarBatch } from '../ml/datasets/cifar.ts';
import { DatasetError } from '../ml/datasets/errors.ts';
import { readIdxImages } from '../ml/datasets/idx.ts';
import { loadImageFolder } from '../ml/datasets/imageFolder.ts';
import { createServices } from '../services/services.ts';

/**
 * Bad input that the readers' own tests (electron/ml/datasets/*.test.ts) did not cover yet, and
 * the same answers reaching the user interface through the services: each refused with a message
 * that names the file and what is wrong.
 */
const dir = mkdtempSync(join(tmpdir(), 'deepal-badinput-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A PNG header claiming `w` x `h` pixels, with one tiny (wrong) data chunk: never decoded whole. */
function pngClaiming(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    // The CRC is not checked before the dimensions are read; zeros keep the file tiny.
    return Buffer.concat([len, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(16))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('bad input: gaps in the readers', () => {
  test('zero-byte IDX and CIFAR files say so', () => {
    const idx = join(dir, 'empty-idx3-ubyte');
    writeFileSync(idx, '');
    assert.throws(
      () => readIdxImages(idx),
      (e: unknown) =>
        e instanceof DatasetError && /at least a 4-byte magic.*found 0 bytes/.test(e.message),
    );
    const bin = join(dir, 'data_batch_1.bin');
    writeFileSync(bin, '');
    assert.throws(
      () => readCifarBatch(bin),
      (e: unknown) =>
        e instanceof DatasetError && /file size 0 bytes is not a positive multiple/.test(e.message),
    );
  });

  test('CIFAR class names file with a name twice', () => {
    const d = join(dir, 'dup-meta');
    mkdirSync(d);
    writeFileSync(join(d, 'data_batch_1.bin'), Buffer.alloc(3073));
    const names = ['cat', 'dog', 'cat', 'a', 'b', 'c', 'd', 'e', 'f', 'g'];
    writeFileSync(join(d, 'batches.meta.txt'), `${names.join('\n')}\n`);
    assert.throws(
      () => readCifarBatch(join(d, 'data_batch_1.bin')),
      (e: unknown) =>
        e instanceof DatasetError &&
        e.file === join(d, 'batches.meta.txt') &&
        /class name "cat" appears twice \(names 1 and 3\)/.test(e.message),
    );
  });

  test('an enormous image (a 100,000 x 100,000 header) is refused by the default bound, not decoded', async () => {
    const d = join(dir, 'huge');
    mkdirSync(join(d, 'a'), { recursive: true });
    writeFileSync(join(d, 'a', 'bomb.png'), pngClaiming(100_000, 100_000));
    const started = Date.now();
    await assert.rejects(
      loadImageFolder(d),
      (e: unknown) =>
        e instanceof DatasetError &&
        /bomb\.png \(too large: 100000 x 100000 = 10000000000 pixels, over the limit of 64000000 pixels/.test(
          e.message,
        ),
    );
    assert.ok(Date.now() - started < 5000, 'refused from the header, without decoding');
  });
});

describe(
  'bad input reaches the UI as invalid-argument with the reason',
  { timeout: 60_000 },
  () => {
    test('preview and import of broken files through the services', async () => {
      const services = createServices({
        dataDir: join(dir, 'home'),
        dbPath: join(dir, 'home', 'workspace.db'),
        mode: 'browser',
        version: 'test',
      });
      try {
        const csv = join(dir, 'bad.csv');
        writeFileSync(csv, 'a,b,label\n1,2,x\n3,oops,y\n');
        const empty = join(dir, 'empty-folder');
        mkdirSync(empty);
        for (const [path, reason] of [
          [csv, /row 3 \(line 3\), column "b": expected a number, found "oops"/],
          [join(dir, 'huge'), /too large: 100000 x 100000/],
          [join(dir, 'no-such-thing'), /no-such-thing/],
          [empty, /empty-folder/],
        ] as const) {
          for (const channel of ['datasets:preview', 'datasets:import'] as const) {
            const r = await services.invoke(channel, { path });
            assert.equal(r.ok, false, `${channel} ${path}`);
            assert.equal(
              !r.ok && r.error.code,
              'invalid-argument',
              `${channel} ${path}: ${JSON.stringify(r)}`,
            );
            assert.match(!r.ok ? r.error.message : '', reason);
          }
        }
        const list = await services.invoke('datasets:list', {});
        assert.deepEqual(list.ok && list.value, [], 'nothing half-imported is listed');
      } finally {
        await services.close();
      }
    });
  },
);
