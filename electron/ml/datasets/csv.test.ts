import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError } from './errors.ts';
import { loadCsv, parseCsv } from './csv.ts';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'deepal-csv-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function csvFile(text: string): string {
  const f = join(dir, `t${n++}.csv`);
  writeFileSync(f, text);
  return f;
}

function expectError(fn: () => unknown, file: string, re: RegExp, row?: number): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected DatasetError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.match(err.message, re);
    if (row !== undefined) assert.equal(err.row, row);
    return true;
  });
}

describe('CSV parser', () => {
  test('quotes, escaped quotes, separators and newlines inside quotes, CRLF, BOM', () => {
    const recs = parseCsv('\ufeffa,b\r\n"x, ""y""",2\n"multi\nline",3\n\n', 'f');
    assert.deepEqual(
      recs.map((r) => r.fields),
      [
        ['a', 'b'],
        ['x, "y"', '2'],
        ['multi\nline', '3'],
      ],
    );
    assert.deepEqual(
      recs.map((r) => r.line),
      [1, 2, 3],
    );
    assert.deepEqual(parseCsv('a;b\n1;2', 'f', ';')[1]!.fields, ['1', '2']);
    assert.deepEqual(parseCsv('a,b\n1,', 'f')[1]!.fields, ['1', '']);
  });

  test('unterminated quote and junk after a closing quote', () => {
    expectError(
      () => parseCsv('a,b\n"open,1\n2,3', 'f.csv'),
      'f.csv',
      /line 2: a quoted field is never closed/,
    );
    expectError(
      () => parseCsv('a,b\n"x"y,1', 'g.csv'),
      'g.csv',
      /line 2: expected a separator or line end after a closing quote, found "y"/,
    );
  });
});

describe('CSV dataset', () => {
  test('string labels become sorted class names; label column found by name', () => {
    const f = csvFile('f1,species,f2\n1.5,virginica,2\n-3e2,setosa,.5\n4,"virginica",+6\n');
    // No label/class/target column: the last column ("f2") is the label and "species" a feature.
    expectError(
      () => loadCsv(f),
      f,
      /row 2 \(line 2\), column "species": expected a number, found "virginica"/,
      2,
    );
    const e = loadCsv(f, { labelColumn: 'species' });
    assert.deepEqual(e.sampleShape, [2]);
    assert.ok(e.x instanceof Float32Array);
    assert.deepEqual(e.classNames, ['setosa', 'virginica']);
    assert.deepEqual(Array.from(e.y), [1, 0, 1]);
    assert.deepEqual(Array.from(e.x), [1.5, 2, -300, 0.5, 4, 6]);
  });

  test('default label column: label/class/target, else the last; integer labels; id column; unknown labels', () => {
    const f = csvFile('id,Class,a,b\nr1,2,1,2\nr2,0,3,4\nr3,,5,6\nr4,-1,7,8\nr5,10,9,9\n');
    const d = loadCsv(f);
    // The distinct integer values are the classes, in numeric order (not text order).
    assert.deepEqual(d.classNames, ['0', '2', '10']);
    assert.deepEqual(Array.from(d.y), [1, 0, -1, -1, 2]);
    assert.deepEqual(d.ids, ['r1', 'r2', 'r3', 'r4', 'r5']);
    assert.deepEqual(Array.from(d.x), [1, 2, 3, 4, 5, 6, 7, 8, 9, 9]);
    const last = loadCsv(csvFile('a,b,y\n1,2,0\n3,4,1\n'));
    assert.deepEqual(Array.from(last.y), [0, 1]);
    assert.deepEqual(last.sampleShape, [2]);
    const byIndex = loadCsv(csvFile('a,b,c\n1,2,3\n'), { labelColumn: 0 });
    assert.deepEqual(Array.from(byIndex.x), [2, 3]);
    assert.deepEqual(byIndex.classNames, ['1']);
  });

  test('errors name the row and column', () => {
    const f1 = csvFile('a,b,label\n1,2,x\n3,,y\n');
    expectError(() => loadCsv(f1), f1, /row 3 \(line 3\), column "b": missing value/, 3);
    const f2 = csvFile('a,b,label\n1,2,x\n3,4,y\n5,abc,x\n');
    expectError(
      () => loadCsv(f2),
      f2,
      /row 4 \(line 4\), column "b": expected a number, found "abc"/,
      4,
    );
    const f3 = csvFile('a,b,label\n1,2,x\n3,4\n');
    expectError(
      () => loadCsv(f3),
      f3,
      /row 3 \(line 3\): expected 3 fields as in the header, found 2/,
      3,
    );
    const f4 = csvFile('a,b,label\n"1\n",2,x\n3,NaN,y\n');
    // The quoted newline makes row 3 start on line 4.
    expectError(
      () => loadCsv(f4),
      f4,
      /row 3 \(line 4\), column "b": expected a number, found "NaN"/,
      3,
    );
    const f5 = csvFile('a,b,label\n1,2,x\n3,Infinity,y\n');
    expectError(() => loadCsv(f5), f5, /row 3.*column "b": expected a number, found "Infinity"/);
  });

  test('header problems', () => {
    const noHeader = csvFile('1,2,3\n4,5,6\n');
    expectError(
      () => loadCsv(noHeader),
      noHeader,
      /expected a header row of column names, found only numbers/,
      1,
    );
    const dup = csvFile('a,a,label\n1,2,x\n');
    expectError(() => loadCsv(dup), dup, /names column "a" twice \(columns 1 and 2\)/);
    const empty = csvFile('');
    expectError(() => loadCsv(empty), empty, /empty file/);
    const onlyHeader = csvFile('a,label\n');
    expectError(
      () => loadCsv(onlyHeader),
      onlyHeader,
      /expected data rows after the header, found none/,
    );
    const f = csvFile('a,b\n1,2\n');
    expectError(
      () => loadCsv(f, { labelColumn: 'target' }),
      f,
      /expected a label column named "target".*found columns "a", "b"/,
    );
    expectError(() => loadCsv(f, { labelColumn: 5 }), f, /label column index 5 is out of range/);
  });

  test('integer label out of range of given class names', () => {
    const f = csvFile('a,label\n1,0\n2,3\n');
    expectError(
      () => loadCsv(f, { classNames: ['x', 'y'] }),
      f,
      /row 3, column "label": label 3 out of range, expected 0\.\.1/,
    );
    const g = csvFile('a,label\n1,cat\n2,cow\n');
    expectError(
      () => loadCsv(g, { classNames: ['cat', 'dog'] }),
      g,
      /row 3.*"cow" is not one of the class names \(cat, dog\)/,
    );
  });
});

describe('CSV inputs that once broke the app (issue 19)', () => {
  test('item 1: large integer labels (timestamps, zip codes) map their distinct values to classes', () => {
    // Label 1,000,000 + i once became 1,000,040 classes; 1,700,000,000 ran V8 out of memory.
    const rows = Array.from({ length: 40 }, (_, i) => `${i},${1_000_000 + (i % 4)}`);
    const d = loadCsv(csvFile(`a,label\n${rows.join('\n')}\n`));
    assert.deepEqual(d.classNames, ['1000000', '1000001', '1000002', '1000003']);
    assert.deepEqual(Array.from(d.y.slice(0, 5)), [0, 1, 2, 3, 0]);
    const zip = Array.from({ length: 40 }, (_, i) => `${i},${1_700_000_000 + i}`);
    const z = loadCsv(csvFile(`a,zip\n${zip.join('\n')}\n`));
    assert.equal(z.classNames.length, 40);
    assert.equal(z.classNames[39], '1700000039');
  });

  test('item 1: a label column with absurdly many classes is refused with the reason', () => {
    const rows = Array.from({ length: 1500 }, (_, i) => `${i},${1_700_000_000 + i}`);
    const f = csvFile(`a,zip\n${rows.join('\n')}\n`);
    expectError(
      () => loadCsv(f),
      f,
      /label column "zip" holds 1500 distinct values; at most 1000 classes are supported.*not the label/,
    );
    const words = Array.from({ length: 1200 }, (_, i) => `${i},w${i}`);
    const g = csvFile(`a,label\n${words.join('\n')}\n`);
    expectError(() => loadCsv(g), g, /holds 1200 distinct values; at most 1000 classes/);
  });

  test('item 5: 200,000 rows of integer labels load (no spread of data-sized arrays)', () => {
    const lines = ['a,label'];
    for (let i = 0; i < 200_000; i++) lines.push(`${i % 7},${i % 3}`);
    const d = loadCsv(csvFile(`${lines.join('\n')}\n`));
    assert.equal(d.y.length, 200_000);
    assert.deepEqual(d.classNames, ['0', '1', '2']);
  });

  test('item 9: numbers beyond the 32-bit float range (1e400 = Infinity) are refused', () => {
    const f = csvFile('a,b,label\n1,2,x\n3,1e400,y\n');
    expectError(
      () => loadCsv(f),
      f,
      /row 3 \(line 3\), column "b": 1e400 is outside the range of a 32-bit float/,
      3,
    );
    const g = csvFile('a,b,label\n1,-4e38,x\n');
    expectError(() => loadCsv(g), g, /row 2.*-4e38 is outside the range/, 2);
  });

  test('item 4: a very wide header is checked in linear time, and too many columns are refused', () => {
    const wide = Array.from({ length: 150_000 }, (_, i) => `c${i}`);
    const f = csvFile(`${wide.join(',')},c7\n`);
    const started = Date.now();
    expectError(() => loadCsv(f), f, /names column "c7" twice \(columns 8 and 150001\)/);
    // Quadratic indexOf took minutes here; the Map takes well under a second on any machine.
    assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
    const tooWide = Array.from({ length: 100_001 }, (_, i) => `c${i}`);
    const g = csvFile(`${tooWide.join(',')}\n`);
    expectError(() => loadCsv(g), g, /100001 columns; at most 100000 are read/);
  });

  test(
    'items 6 and 8: a named pipe or a folder is refused with a sentence, never read',
    {
      skip: process.platform === 'win32' ? 'no FIFOs on Windows' : false,
    },
    async () => {
      const { execFileSync } = await import('node:child_process');
      const fifo = join(dir, 'pipe.csv');
      execFileSync('mkfifo', [fifo]);
      expectError(() => loadCsv(fifo), fifo, /is a named pipe \(FIFO\), not a regular file/);
      const folder = join(dir, 'folder.csv');
      (await import('node:fs')).mkdirSync(folder);
      expectError(() => loadCsv(folder), folder, /is a folder, not a file/);
    },
  );

  test('item 6: a file over the size limit is refused before it is read', () => {
    const f = csvFile('a,label\n1,x\n2,y\n');
    expectError(() => loadCsv(f, { maxBytes: 10 }), f, /is 16 bytes, over the 10-byte limit/);
  });
});
