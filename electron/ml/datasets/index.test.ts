import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { Rng } from '../../../shared/random.ts';
import type { Dataset } from '../types.ts';
import {
  DatasetError,
  datasetFingerprint,
  describeDataset,
  imbalancedIndices,
  loadDataset,
  stratifiedSample,
  subsetDataset,
} from './index.ts';

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'deepal-reg-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function idx(dims: number[], data: Uint8Array): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = 8;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, Buffer.from(data)]);
}

/** IDX files of n 4x4 images, labels i % 10; image i starts with bytes i & 255, i >> 8, i % 10. */
function writeIdxSet(dir: string, prefix: 'train' | 't10k', n: number, gz = true): void {
  mkdirSync(dir, { recursive: true });
  const px = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) {
    px.fill(i % 256, i * 16, (i + 1) * 16);
    px[i * 16] = i & 255;
    px[i * 16 + 1] = i >> 8;
    px[i * 16 + 2] = i % 10;
  }
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const enc = (b: Buffer): Buffer => (gz ? gzipSync(b) : b);
  const ext = gz ? '.gz' : '';
  writeFileSync(join(dir, `${prefix}-images-idx3-ubyte${ext}`), enc(idx([n, 4, 4], px)));
  writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte${ext}`), enc(idx([n], labels)));
}

const counts = (d: Dataset): number[] => describeDataset(d).classCounts.map((c) => c.count);

describe('named datasets', () => {
  test('fashion-mnist from <dataDir>/<name>/, with pool/test subsets and the imbalanced pool', async () => {
    const base = join(root, 'data1');
    writeIdxSet(join(base, 'fashion-mnist'), 'train', 1000);
    writeIdxSet(join(base, 'fashion-mnist'), 't10k', 200, false);
    const all = await loadDataset('fashion-mnist', { dataDir: base });
    assert.equal(all.format, 'idx');
    assert.equal(all.source, join(base, 'fashion-mnist'));
    assert.equal(all.train.y.length, 1000);
    assert.equal(all.test.y.length, 200);
    assert.equal(all.train.classNames[9], 'Ankle boot');
    assert.deepEqual(all.train.sampleShape, [4, 4, 1]);

    const sub = await loadDataset('fashion-mnist', {
      dataDir: base,
      poolSize: 300,
      testSize: 50,
      seed: 5,
    });
    assert.equal(sub.train.y.length, 300);
    assert.deepEqual(counts(sub.train), new Array(10).fill(30));
    assert.equal(sub.test.y.length, 50);
    assert.deepEqual(counts(sub.test), new Array(10).fill(5));
    assert.match(sub.description, /stratified sample of 300/);
    // pixels travel with their labels
    for (let k = 0; k < sub.train.y.length; k++)
      assert.equal(sub.train.x[k * 16 + 2], sub.train.y[k]);
    const again = await loadDataset('fashion-mnist', {
      dataDir: base,
      poolSize: 300,
      testSize: 50,
      seed: 5,
    });
    assert.equal(datasetFingerprint(again.train), datasetFingerprint(sub.train));
    const other = await loadDataset('fashion-mnist', {
      dataDir: base,
      poolSize: 300,
      testSize: 50,
      seed: 6,
    });
    assert.notEqual(datasetFingerprint(other.train), datasetFingerprint(sub.train));

    const imb = await loadDataset('fashion-mnist', { dataDir: base, imbalanced: true });
    assert.deepEqual(counts(imb.train), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    assert.deepEqual(counts(imb.test), new Array(10).fill(20), 'test stays balanced');
    const imbSub = await loadDataset('fashion-mnist', {
      dataDir: base,
      imbalanced: true,
      poolSize: 110,
    });
    assert.deepEqual(counts(imbSub.train), [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
  });

  test('<dataDir>/<files> and DEEPAL_DATA_DIR are searched', async () => {
    const flat = join(root, 'flatdata');
    writeIdxSet(flat, 'train', 100);
    writeIdxSet(flat, 't10k', 50);
    assert.equal((await loadDataset('mnist', { dataDir: flat })).train.y.length, 100);
    const env = join(root, 'envdata');
    writeIdxSet(join(env, 'mnist'), 't10k', 60);
    writeIdxSet(join(env, 'mnist'), 'train', 120);
    const saved = process.env.DEEPAL_DATA_DIR;
    process.env.DEEPAL_DATA_DIR = env;
    try {
      const d = await loadDataset('mnist', { dataDir: join(root, 'nothing-here') });
      assert.equal(d.train.y.length, 120);
      assert.equal(d.source, join(env, 'mnist'));
    } finally {
      if (saved === undefined) delete process.env.DEEPAL_DATA_DIR;
      else process.env.DEEPAL_DATA_DIR = saved;
    }
  });

  test('mnist without training images: the test set is split into pool and test, and said so', async () => {
    const base = join(root, 'data2');
    writeIdxSet(join(base, 'mnist'), 't10k', 500);
    const d = await loadDataset('mnist', { dataDir: base, testSize: 100, seed: 1 });
    assert.equal(d.train.y.length, 400);
    assert.equal(d.test.y.length, 100);
    assert.deepEqual(counts(d.test), new Array(10).fill(10));
    assert.match(d.description, /no training images.*split.*pool of 400 and a test set of 100/);
    const rows = (s: Dataset): number[] =>
      Array.from({ length: s.y.length }, (_, k) => s.x[k * 16]! + 256 * s.x[k * 16 + 1]!);
    const trainRows = new Set(rows(d.train));
    assert.ok(
      rows(d.test).every((r) => !trainRows.has(r)),
      'pool and test are disjoint',
    );
    assert.equal(new Set([...rows(d.train), ...rows(d.test)]).size, 500, 'every item used once');
    const def = await loadDataset('mnist', { dataDir: base });
    assert.equal(def.test.y.length, 100, 'default test share is 20%');
  });

  test('not found: lists places searched and how to fix', async () => {
    const saved = process.env.DEEPAL_DATA_DIR;
    process.env.DEEPAL_DATA_DIR = join(root, 'env-empty');
    try {
      // The system folders are injected: a machine with Debian's dataset-fashion-mnist installed
      // in /usr/share/datasets must not change what this test sees.
      await assert.rejects(
        loadDataset('fashion-mnist', {
          dataDir: join(root, 'empty'),
          systemDataDirs: [join(root, 'system-empty')],
        }),
        (e: unknown) => {
          assert.ok(e instanceof DatasetError);
          assert.ok(!e.message.includes('/usr/share/datasets'), e.message);
          for (const s of [
            join(root, 'empty', 'fashion-mnist'),
            join(root, 'env-empty', 'fashion-mnist'),
            join(root, 'system-empty', 'fashion-mnist'),
          ])
            assert.ok(e.message.includes(s), `mentions ${s}: ${e.message}`);
          assert.match(e.message, /--data-dir/);
          assert.match(e.message, /DEEPAL_DATA_DIR/);
          assert.match(e.message, /apt install dataset-fashion-mnist/);
          return true;
        },
      );
    } finally {
      if (saved === undefined) delete process.env.DEEPAL_DATA_DIR;
      else process.env.DEEPAL_DATA_DIR = saved;
    }
  });

  test("a named dataset is found in an injected system folder, never in the machine's own", async () => {
    const system = join(root, 'system');
    writeIdxSet(join(system, 'fashion-mnist'), 't10k', 20);
    const d = await loadDataset('fashion-mnist', {
      dataDir: join(root, 'empty'),
      systemDataDirs: [join(root, 'nowhere'), system],
    });
    assert.equal(d.source, join(system, 'fashion-mnist'));
  });

  test('pool larger than available is refused', async () => {
    const base = join(root, 'data3');
    writeIdxSet(join(base, 'mnist'), 'train', 100);
    writeIdxSet(join(base, 'mnist'), 't10k', 20);
    await assert.rejects(
      loadDataset('mnist', { dataDir: base, poolSize: 101 }),
      /poolSize 101 is larger than the 100 samples available/,
    );
  });
});

describe('demo and paths', () => {
  test('demo', async () => {
    const d = await loadDataset('demo', { poolSize: 500, testSize: 100, seed: 2 });
    assert.equal(d.format, 'demo');
    assert.equal(d.source, 'built-in');
    assert.equal(d.train.y.length, 500);
    assert.equal(d.test.y.length, 100);
    assert.match(d.description, /Built-in demo/);
    const imb = await loadDataset('demo', { poolSize: 1000, testSize: 100, imbalanced: true });
    assert.deepEqual(counts(imb.train), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  });

  test('IDX folder path, CIFAR folder, CSV file and pair, image folders', async () => {
    const idxDir = join(root, 'mydigits');
    writeIdxSet(idxDir, 'train', 30);
    writeIdxSet(idxDir, 't10k', 10);
    const a = await loadDataset(idxDir);
    assert.equal(a.format, 'idx');
    assert.deepEqual(a.train.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

    const cif = join(root, 'cifar');
    mkdirSync(cif);
    const rec = (l: number): Buffer => Buffer.concat([Buffer.from([l]), Buffer.alloc(3072, l)]);
    for (let k = 1; k <= 5; k++)
      writeFileSync(join(cif, `data_batch_${k}.bin`), Buffer.concat([rec(k), rec(0)]));
    writeFileSync(join(cif, 'test_batch.bin'), rec(3));
    const c = await loadDataset(cif);
    assert.equal(c.format, 'cifar-10');
    assert.equal(c.train.y.length, 10);
    assert.deepEqual(c.train.sampleShape, [32, 32, 3]);

    const csv = join(root, 'iris.csv');
    const lines = ['a,b,species'];
    for (let i = 0; i < 40; i++) lines.push(`${i},${i * 2},${['setosa', 'virginica'][i % 2]}`);
    writeFileSync(csv, lines.join('\n'));
    const t = await loadDataset(csv, { seed: 3 });
    assert.equal(t.format, 'csv');
    assert.equal(t.train.y.length, 32);
    assert.equal(t.test.y.length, 8);
    assert.deepEqual(counts(t.test), [4, 4]);
    assert.match(t.description, /test set of 8 was split off/);

    const csvPair = join(root, 'csvpair');
    mkdirSync(csvPair);
    writeFileSync(join(csvPair, 'train.csv'), 'x,label\n1,b\n2,a\n');
    writeFileSync(join(csvPair, 'test.csv'), 'x,label\n3,b\n');
    const p = await loadDataset(csvPair);
    assert.deepEqual(p.train.classNames, ['a', 'b']);
    assert.deepEqual(Array.from(p.test.y), [1]);

    const img = (v: number): Promise<Buffer> =>
      sharp(Buffer.alloc(36, v), { raw: { width: 6, height: 6, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toBuffer();
    const imgDir = join(root, 'imgs');
    for (const cls of ['cats', 'dogs'])
      for (let i = 0; i < 5; i++) {
        mkdirSync(join(imgDir, cls), { recursive: true });
        writeFileSync(join(imgDir, cls, `${i}.png`), await img(i * 10));
      }
    writeFileSync(join(imgDir, 'cats', 'broken.png'), Buffer.from('nope'));
    const progress: number[] = [];
    const f = await loadDataset(imgDir, { testSize: 2, onProgress: (done) => progress.push(done) });
    assert.equal(f.format, 'image-folder');
    assert.equal(f.train.y.length, 8);
    assert.deepEqual(counts(f.test), [1, 1]);
    assert.equal(f.skipped.length, 1);
    assert.equal(f.skipped[0]!.file, 'cats/broken.png');
    assert.ok(progress.length > 0);

    const tt = join(root, 'traintest');
    for (const [part, classes] of [
      ['train', ['a', 'b', 'c']],
      ['val', ['c', 'a']],
    ] as const)
      for (const cls of classes) {
        mkdirSync(join(tt, part, cls), { recursive: true });
        writeFileSync(join(tt, part, cls, '1.png'), await img(cls.charCodeAt(0)));
      }
    const s = await loadDataset(tt);
    assert.deepEqual(s.train.classNames, ['a', 'b', 'c']);
    assert.deepEqual(Array.from(s.test.y), [0, 2], 'val classes mapped to train classes by name');

    await assert.rejects(
      loadDataset(join(root, 'no-such-thing')),
      /not a known dataset name.*no such file or folder/,
    );
    writeFileSync(join(root, 'x.xyz'), 'a');
    await assert.rejects(loadDataset(join(root, 'x.xyz')), /unrecognised file type/);
  });
});

describe('subset helpers', () => {
  test('stratifiedSample: exact size, distinct, sorted, proportional', () => {
    const y = Int32Array.from({ length: 1000 }, (_, i) => (i < 700 ? 0 : i < 900 ? 1 : -1));
    const s = stratifiedSample(y, 100, new Rng(1));
    assert.equal(s.length, 100);
    assert.equal(new Set(s).size, 100);
    assert.ok(s.every((v, i) => i === 0 || v > s[i - 1]!));
    const c = [0, 0, 0];
    for (const i of s) c[y[i]! + 1]!++;
    assert.deepEqual(c, [10, 70, 20]);
    assert.throws(() => stratifiedSample(y, 1001, new Rng(1)), RangeError);
  });

  test('imbalancedIndices keeps (k+1)/C of class k', () => {
    const y = Int32Array.from({ length: 400 }, (_, i) => i % 4);
    const kept = imbalancedIndices(y, 4, new Rng(2));
    const c = [0, 0, 0, 0];
    for (const i of kept) c[y[i]!]!++;
    assert.deepEqual(c, [25, 50, 75, 100]);
  });

  test('fingerprint depends on content, not name; describeDataset counts', () => {
    const d: Dataset = {
      name: 'a',
      x: Uint8Array.from([1, 2, 3, 4]),
      y: Int32Array.from([0, 1, -1, 1]),
      sampleShape: [1],
      classNames: ['p', 'q'],
    };
    const same = { ...d, name: 'b' };
    assert.equal(datasetFingerprint(d), datasetFingerprint(same));
    assert.match(datasetFingerprint(d), /^[0-9a-f]{64}$/);
    assert.notEqual(
      datasetFingerprint(d),
      datasetFingerprint({ ...d, x: Uint8Array.from([1, 2, 3, 5]) }),
    );
    assert.notEqual(
      datasetFingerprint(d),
      datasetFingerprint({ ...d, y: Int32Array.from([0, 1, 1, 1]) }),
    );
    assert.notEqual(datasetFingerprint(d), datasetFingerprint({ ...d, sampleShape: [1, 1] }));
    assert.notEqual(
      datasetFingerprint(d),
      datasetFingerprint({ ...d, x: Float32Array.from([1, 2, 3, 4]) }),
    );
    const s = describeDataset(d);
    assert.deepEqual(s.classCounts, [
      { name: 'p', count: 1 },
      { name: 'q', count: 2 },
    ]);
    assert.equal(s.unlabeled, 1);
    assert.match(s.text, /a: 4 samples of 1; p 1, q 2, unlabeled 1/);
    const sub = subsetDataset({ ...d, ids: ['w', 'x', 'y', 'z'] }, [3, 0]);
    assert.deepEqual(Array.from(sub.x), [4, 1]);
    assert.deepEqual(sub.ids, ['z', 'w']);
  });
});

describe('paths that once broke a preview (issue 19)', () => {
  const img = (v: number): Promise<Buffer> =>
    sharp(Buffer.alloc(36, v), { raw: { width: 6, height: 6, channels: 1 } })
      .png()
      .toBuffer();

  test('item 9: a broken symbolic link at the top of an image folder is skipped, not fatal', async () => {
    const dir = join(root, 'linked');
    for (const cls of ['a', 'b']) {
      mkdirSync(join(dir, cls), { recursive: true });
      for (let i = 0; i < 3; i++) writeFileSync(join(dir, cls, `${i}.png`), await img(i * 20));
    }
    symlinkSync(join(root, 'gone-for-good'), join(dir, 'dangling'));
    const d = await loadDataset(dir);
    assert.deepEqual(d.train.classNames, ['a', 'b']);
    assert.equal(d.train.y.length + d.test.y.length, 6);
    assert.deepEqual(
      d.skipped.map((s) => s.file),
      ['dangling'],
    );
    assert.match(d.skipped[0]!.reason, /broken link/);
  });

  test(
    'item 8: a named pipe or a device is refused with a sentence, not "ENOTDIR ... scandir"',
    {
      skip: process.platform === 'win32' ? 'no FIFOs or /dev on Windows' : false,
    },
    async () => {
      const fifo = join(root, 'a-pipe');
      execFileSync('mkfifo', [fifo]);
      await assert.rejects(loadDataset(fifo), (e: unknown) => {
        assert.ok(e instanceof DatasetError, String(e));
        assert.match(e.message, /is a named pipe \(FIFO\), not a dataset file or folder/);
        assert.doesNotMatch(e.message, /ENOTDIR|scandir/);
        return true;
      });
      await assert.rejects(loadDataset('/dev/null'), /\/dev\/null: is a device, not a dataset/);
    },
  );

  test('item 4: the root of a drive or a system folder is refused before any walk', async () => {
    for (const p of ['/', '/proc', '/sys', '/dev'])
      await assert.rejects(loadDataset(p), (e: unknown) => {
        assert.ok(e instanceof DatasetError, String(e));
        assert.match(
          e.message,
          /is the root of the drive or a system folder.*choose the dataset's own folder/,
        );
        return true;
      });
  });

  test('item 8: a demo of 1e12 samples is refused with a sentence, not "Invalid typed array length"', async () => {
    await assert.rejects(loadDataset('demo', { poolSize: 1e12 }), (e: unknown) => {
      assert.ok(e instanceof DatasetError, String(e));
      assert.match(
        e.message,
        /the built-in demo generates at most 200000 samples per set; asked for poolSize 1000000000000/,
      );
      return true;
    });
  });

  test('item 1: a train.csv / test.csv pair with large integer labels aligns classes by name', async () => {
    const dir = join(root, 'csv-zip');
    mkdirSync(dir);
    const rows = (n: number) =>
      Array.from({ length: n }, (_, i) => `${i},${1_700_000_000 + (i % 3)}`).join('\n');
    writeFileSync(join(dir, 'train.csv'), `x,label\n${rows(30)}\n`);
    writeFileSync(join(dir, 'test.csv'), `x,label\n${rows(2)}\n`);
    const d = await loadDataset(dir);
    assert.deepEqual(d.train.classNames, ['1700000000', '1700000001', '1700000002']);
    assert.deepEqual(Array.from(d.test.y), [0, 1]);
    writeFileSync(join(dir, 'test.csv'), 'x,label\n1,99\n');
    await assert.rejects(loadDataset(dir), /test classes 99 are not among the train classes/);
  });
});
