/**
 * Reader for tabular data: a CSV file (RFC 4180: header row, quoted fields with "" escapes,
 * CRLF or LF line ends, newlines inside quotes) of numeric feature columns and one label column.
 */
import { basename } from 'node:path';
import type { Dataset } from '../types.ts';
import { DatasetError } from './errors.ts';
import { FILE_LIMITS, readRegularFile } from './files.ts';

/**
 * More classes than this is not a classification task this app can learn (ImageNet has 1000):
 * a column of ids, zip codes or timestamps taken for the label.
 */
export const MAX_CLASSES = 1000;
/** Columns read at most: every one is a model input, and wider tables need reducing first. */
export const MAX_CSV_COLUMNS = 100_000;
/** The largest finite 32-bit float: features are stored as float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** Options of loadCsv. */
export interface CsvOptions {
  /** Label column, by name or 0-based index; default a column named label/class/target, else the last. */
  labelColumn?: string | number;
  /** Optional column of sample ids (excluded from the features); default a column named "id" if any. */
  idColumn?: string | number | null;
  /** Field separator (default ','). */
  delimiter?: string;
  /** Class names to use for string labels (default: the distinct labels, sorted). */
  classNames?: string[];
  name?: string;
  /** Refuse files larger than this (default 512 MiB, about what one JavaScript string holds). */
  maxBytes?: number;
}

/** One parsed record with the 1-based line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * Splits CSV text into records. Throws on an unterminated quote or text after a closing quote,
 * naming the line.
 */
export function parseCsv(text: string, file: string, delimiter = ','): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let quoted = false; // inside quotes
  let wasQuoted = false; // current field was quoted (so it is complete once the quote closes)
  const n = text.length;
  const endRecord = (): void => {
    fields.push(field);
    // A blank line is not a record (but a line holding only "" is one empty field).
    if (!(fields.length === 1 && fields[0] === '' && !wasQuoted))
      records.push({ fields, line: recordLine });
    fields = [];
    field = '';
    wasQuoted = false;
  };
  while (i < n) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text[i];
        if (next !== undefined && next !== delimiter && next !== '\n' && next !== '\r') {
          throw new DatasetError(
            file,
            `line ${line}: expected a separator or line end after a closing quote, found ${JSON.stringify(next)}`,
            { row: records.length + 1 },
          );
        }
        continue;
      }
      if (ch === '\n') line++;
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === '' && !wasQuoted) {
      quoted = true;
      wasQuoted = true;
      i++;
    } else if (ch === delimiter) {
      fields.push(field);
      field = '';
      wasQuoted = false;
      i++;
    } else if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      field += ch;
      i++;
    }
  }
  if (quoted)
    throw new DatasetError(
      file,
      `line ${recordLine}: a quoted field is never closed (expected a closing ")`,
      { row: records.length + 1 },
    );
  if (field !== '' || fields.length > 0 || wasQuoted) endRecord();
  return records;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

function resolveColumn(file: string, header: string[], col: string | number, what: string): number {
  if (typeof col === 'number') {
    if (!Number.isInteger(col) || col < 0 || col >= header.length) {
      throw new DatasetError(
        file,
        `${what} index ${col} is out of range: the header has ${header.length} columns (0..${header.length - 1})`,
        { row: 1 },
      );
    }
    return col;
  }
  const idx = header.indexOf(col);
  if (idx < 0)
    throw new DatasetError(
      file,
      `expected a ${what} named "${col}" in the header, found columns ${header
        .slice(0, 20)
        .map((h) => `"${h}"`)
        .join(', ')}${header.length > 20 ? ` and ${header.length - 20} more` : ''}`,
      { row: 1 },
    );
  return idx;
}

/** Integer text in canonical form ("+007" -> "7"), exact beyond 2^53. */
function canonicalInteger(l: string): string {
  return BigInt(l).toString();
}

/** Numeric order of canonical integer strings. */
function compareIntegers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Loads a CSV file as a Dataset of float32 features (sampleShape [F]). Labels may be integers
 * (class names: the distinct values in numeric order, or `classNames` indexed by the value) or
 * strings (class names sorted); an empty label cell, or -1 for integer labels, means unknown.
 * Rows are numbered as a spreadsheet shows them: the header is row 1.
 */
export function loadCsv(file: string, options: CsvOptions = {}): Dataset {
  const text = readRegularFile(file, options.maxBytes ?? FILE_LIMITS.csv, 'a CSV file').toString(
    'utf8',
  );
  const records = parseCsv(text, file, options.delimiter ?? ',');
  const headerRec = records[0];
  if (!headerRec)
    throw new DatasetError(file, 'expected a header row and data rows, found an empty file', {
      row: 1,
    });
  const header = headerRec.fields.map((h) => h.trim());
  if (header.every((h) => NUMBER.test(h))) {
    throw new DatasetError(
      file,
      `expected a header row of column names, found only numbers (${header.slice(0, 4).join(', ')}...); add a header line`,
      { row: 1 },
    );
  }
  // A Map, not indexOf in a loop: a 150,000-column header took minutes that way.
  const firstAt = new Map<string, number>();
  header.forEach((h, i) => {
    if (h === '') throw new DatasetError(file, `header column ${i + 1} has no name`, { row: 1 });
    const j = firstAt.get(h);
    if (j !== undefined)
      throw new DatasetError(
        file,
        `header names column "${h}" twice (columns ${j + 1} and ${i + 1})`,
        { row: 1 },
      );
    firstAt.set(h, i);
  });
  if (header.length > MAX_CSV_COLUMNS)
    throw new DatasetError(
      file,
      `the header has ${header.length} columns; at most ${MAX_CSV_COLUMNS} are read, since each one is a model input: reduce the features first (select columns, or PCA)`,
      { row: 1 },
    );
  if (header.length < 2)
    throw new DatasetError(
      file,
      `expected at least one feature column and a label column, found ${header.length} column`,
      { row: 1 },
    );

  const lower = header.map((h) => h.toLowerCase());
  const labelCol =
    options.labelColumn !== undefined
      ? resolveColumn(file, header, options.labelColumn, 'label column')
      : (['label', 'class', 'target'].map((n) => lower.indexOf(n)).find((i) => i >= 0) ??
        header.length - 1);
  let idCol = -1;
  if (options.idColumn !== undefined && options.idColumn !== null)
    idCol = resolveColumn(file, header, options.idColumn, 'id column');
  else if (options.idColumn === undefined) idCol = lower.indexOf('id');
  if (idCol === labelCol) idCol = -1;
  const featureCols = header.map((_, i) => i).filter((i) => i !== labelCol && i !== idCol);
  if (featureCols.length === 0)
    throw new DatasetError(file, 'expected at least one numeric feature column besides the label', {
      row: 1,
    });

  const rows = records.slice(1);
  if (rows.length === 0)
    throw new DatasetError(file, 'expected data rows after the header, found none', { row: 2 });
  const F = featureCols.length;
  const x = new Float32Array(rows.length * F);
  const rawLabels: string[] = [];
  const ids: string[] = [];
  rows.forEach((rec, r) => {
    const rowNo = r + 2;
    const where = `row ${rowNo} (line ${rec.line})`;
    if (rec.fields.length !== header.length) {
      throw new DatasetError(
        file,
        `${where}: expected ${header.length} fields as in the header, found ${rec.fields.length}`,
        { row: rowNo },
      );
    }
    for (let k = 0; k < F; k++) {
      const c = featureCols[k]!;
      const cell = rec.fields[c]!.trim();
      if (cell === '')
        throw new DatasetError(
          file,
          `${where}, column "${header[c]}": missing value (expected a number)`,
          { row: rowNo },
        );
      if (!NUMBER.test(cell))
        throw new DatasetError(
          file,
          `${where}, column "${header[c]}": expected a number, found ${JSON.stringify(cell)}`,
          { row: rowNo },
        );
      const v = Number(cell);
      if (!(Math.abs(v) <= FLOAT32_MAX))
        throw new DatasetError(
          file,
          `${where}, column "${header[c]}": ${cell} is outside the range of a 32-bit float (about ±3.4e38); rescale the column`,
          { row: rowNo },
        );
      x[r * F + k] = v;
    }
    rawLabels.push(rec.fields[labelCol]!.trim());
    ids.push(idCol >= 0 ? rec.fields[idCol]!.trim() : `${basename(file)}#row${rowNo}`);
  });

  const known = rawLabels.filter((l) => l !== '');
  const integerLabels = known.length > 0 && known.every((l) => INTEGER.test(l));
  const labelName = header[labelCol]!;
  const tooMany = (distinct: number): DatasetError =>
    new DatasetError(
      file,
      `the label column "${labelName}" holds ${distinct} distinct values; at most ${MAX_CLASSES} classes are supported. ` +
        'If this column is not the label (an id, a zip code, a timestamp), name the label column "label" or put it last',
      { row: 1 },
    );
  let classNames: string[];
  const y = new Int32Array(rows.length);
  if (integerLabels && options.classNames) {
    // Given names are indexed by the label value.
    const names = options.classNames;
    rawLabels.forEach((l, r) => {
      const v = l === '' ? -1 : Number(l);
      if (v < -1 || v >= names.length) {
        throw new DatasetError(
          file,
          `row ${r + 2}, column "${labelName}": label ${l} out of range, expected 0..${names.length - 1} (or empty / -1 for unknown)`,
          { row: r + 2 },
        );
      }
      y[r] = v;
    });
    classNames = names;
  } else if (integerLabels) {
    // Each distinct value is a class, in numeric order: a label of 1,700,000,000 is one class,
    // not the last of 1,700,000,001 (which once ran the app out of memory).
    const canonical = rawLabels.map((l) => (l === '' ? '' : canonicalInteger(l)));
    const distinct = new Set<string>();
    for (const c of canonical) if (c !== '' && c !== '-1') distinct.add(c);
    if (distinct.size > MAX_CLASSES) throw tooMany(distinct.size);
    classNames = [...distinct].sort(compareIntegers);
    const index = new Map(classNames.map((c, i) => [c, i]));
    canonical.forEach((c, r) => {
      y[r] = c === '' || c === '-1' ? -1 : index.get(c)!;
    });
  } else {
    if (!options.classNames) {
      const distinct = new Set(known);
      if (distinct.size > MAX_CLASSES) throw tooMany(distinct.size);
      classNames = [...distinct].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    } else classNames = options.classNames;
    const index = new Map(classNames.map((c, i) => [c, i]));
    rawLabels.forEach((l, r) => {
      if (l === '') {
        y[r] = -1;
        return;
      }
      const v = index.get(l);
      if (v === undefined)
        throw new DatasetError(
          file,
          `row ${r + 2}, column "${labelName}": label ${JSON.stringify(l)} is not one of the class names (${classNames.join(', ')})`,
          { row: r + 2 },
        );
      y[r] = v;
    });
  }
  return { name: options.name ?? file, x, y, sampleShape: [F], classNames, ids };
}
