/**
 * Reader for the binary versions of CIFAR-10 (records of 1 label byte + 3072 pixel bytes) and
 * CIFAR-100 (coarse label byte, fine label byte, 3072 pixel bytes). Pixels are stored
 * channel-major (1024 red, 1024 green, 1024 blue, each 32x32 row-major) and are converted here to
 * the HWC layout the rest of the engine uses.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Dataset, DatasetSplit } from '../types.ts';
import { DatasetError } from './errors.ts';
import { FILE_LIMITS, readRegularFile } from './files.ts';

export type CifarVariant = 'cifar-10' | 'cifar-100';

const SIDE = 32;
const PIXELS = SIDE * SIDE * 3;

/** CIFAR-10 classes, used when batches.meta.txt is not beside the batches. */
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

/** CIFAR-100 fine classes (alphabetical, as in fine_label_names.txt). */
export const CIFAR100_FINE_CLASSES = (
  'apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus ' +
  'butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch ' +
  'crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo ' +
  'keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse ' +
  'mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy ' +
  'porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper ' +
  'snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television ' +
  'tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm'
).split(' ');

/** CIFAR-100 coarse classes (superclasses), as in coarse_label_names.txt. */
export const CIFAR100_COARSE_CLASSES = (
  'aquatic_mammals fish flowers food_containers fruit_and_vegetables ' +
  'household_electrical_devices household_furniture insects large_carnivores ' +
  'large_man-made_outdoor_things large_natural_outdoor_scenes large_omnivores_and_herbivores ' +
  'medium_mammals non-insect_invertebrates people reptiles small_mammals trees vehicles_1 vehicles_2'
).split(' ');

/** Options of the CIFAR readers. */
export interface CifarOptions {
  /** Which format; default: from the file names (train.bin/test.bin = CIFAR-100), else CIFAR-10. */
  variant?: CifarVariant;
  /** CIFAR-100 only: which label byte becomes y (default 'fine'). */
  labels?: 'fine' | 'coarse';
  /** Class names; default: the names file beside the batches, else the standard names. */
  classNames?: string[];
}

/** Bytes per record of a variant. */
export function cifarRecordSize(variant: CifarVariant): number {
  return variant === 'cifar-10' ? 1 + PIXELS : 2 + PIXELS;
}

function guessVariant(file: string): CifarVariant {
  const b = basename(file).toLowerCase();
  return b === 'train.bin' || b === 'test.bin' ? 'cifar-100' : 'cifar-10';
}

function readNames(file: string): string[] {
  return readRegularFile(file, FILE_LIMITS.text, 'a text file of class names, one per line')
    .toString('utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Class names for a batch file: the names file beside it when present (batches.meta.txt for
 * CIFAR-10, fine_label_names.txt / coarse_label_names.txt for CIFAR-100), else the standard list.
 */
export function cifarClassNames(
  dir: string,
  variant: CifarVariant,
  labels: 'fine' | 'coarse' = 'fine',
): string[] {
  const [metaName, standard] =
    variant === 'cifar-10'
      ? ['batches.meta.txt', CIFAR10_CLASSES]
      : labels === 'fine'
        ? ['fine_label_names.txt', CIFAR100_FINE_CLASSES]
        : ['coarse_label_names.txt', CIFAR100_COARSE_CLASSES];
  const meta = join(dir, metaName);
  if (!existsSync(meta)) return [...standard];
  const names = readNames(meta);
  if (names.length !== standard.length) {
    throw new DatasetError(
      meta,
      `expected ${standard.length} class names (one per line) for ${variant}${variant === 'cifar-100' ? ` ${labels} labels` : ''}, found ${names.length}`,
    );
  }
  const twice = names.findIndex((n, i) => names.indexOf(n) !== i);
  if (twice >= 0) {
    throw new DatasetError(
      meta,
      `class name "${names[twice]}" appears twice (names ${names.indexOf(names[twice]!) + 1} and ${twice + 1}); every class needs its own name`,
    );
  }
  return names;
}

/** Reads one CIFAR binary batch file into a Dataset (32x32x3 HWC). */
export function readCifarBatch(file: string, options: CifarOptions = {}): Dataset {
  const variant = options.variant ?? guessVariant(file);
  const which = options.labels ?? 'fine';
  const classNames = options.classNames ?? cifarClassNames(dirname(file), variant, which);
  const bytes = readRegularFile(file, FILE_LIMITS.cifar, `a ${variant} binary batch`);
  const rec = cifarRecordSize(variant);
  if (bytes.length === 0 || bytes.length % rec !== 0) {
    throw new DatasetError(
      file,
      `file size ${bytes.length} bytes is not a positive multiple of the ${variant} record size ${rec} bytes ` +
        `(${variant === 'cifar-10' ? '1 label byte' : '2 label bytes'} + ${PIXELS} pixel bytes); ` +
        `${Math.floor(bytes.length / rec)} whole records and ${bytes.length % rec} bytes left over. ` +
        'Is the file truncated, or is it the other CIFAR variant?',
    );
  }
  const n = bytes.length / rec;
  const x = new Uint8Array(n * PIXELS);
  const y = new Int32Array(n);
  const labelByte = variant === 'cifar-10' ? 0 : which === 'coarse' ? 0 : 1;
  const plane = SIDE * SIDE;
  for (let i = 0; i < n; i++) {
    const base = i * rec;
    const label = bytes[base + labelByte]!;
    if (label >= classNames.length) {
      throw new DatasetError(
        file,
        `label out of range in record ${i} (byte offset ${base + labelByte}): expected 0..${classNames.length - 1}, found ${label}`,
        { row: i, offset: base + labelByte },
      );
    }
    y[i] = label;
    const src = base + rec - PIXELS;
    const dst = i * PIXELS;
    for (let p = 0; p < plane; p++) {
      x[dst + 3 * p] = bytes[src + p]!;
      x[dst + 3 * p + 1] = bytes[src + plane + p]!;
      x[dst + 3 * p + 2] = bytes[src + 2 * plane + p]!;
    }
  }
  return {
    name: basename(file),
    x,
    y,
    sampleShape: [SIDE, SIDE, 3],
    classNames,
    ids: Array.from({ length: n }, (_, i) => `${basename(file)}#${i}`),
  };
}

/** Concatenates datasets of the same sample shape and classes. */
export function concatDatasets(name: string, parts: Dataset[]): Dataset {
  const first = parts[0];
  if (!first) throw new Error('concatDatasets needs at least one dataset');
  const total = parts.reduce((a, d) => a + d.x.length, 0);
  const x = first.x instanceof Float32Array ? new Float32Array(total) : new Uint8Array(total);
  const y = new Int32Array(parts.reduce((a, d) => a + d.y.length, 0));
  let xo = 0;
  let yo = 0;
  const ids: string[] = [];
  for (const d of parts) {
    x.set(d.x, xo);
    y.set(d.y, yo);
    xo += d.x.length;
    yo += d.y.length;
    for (let i = 0; i < d.y.length; i++) ids.push(d.ids?.[i] ?? `${d.name}#${i}`);
  }
  return {
    name,
    x,
    y,
    sampleShape: [...first.sampleShape],
    classNames: [...first.classNames],
    ids,
  };
}

/** What a folder looks like, for format detection. */
export function detectCifarFolder(dir: string): CifarVariant | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  if (names.some((n) => /^data_batch_\d+\.bin$/.test(n) || n === 'test_batch.bin'))
    return 'cifar-10';
  if (names.includes('train.bin') || names.includes('test.bin')) return 'cifar-100';
  return null;
}

/**
 * Loads a CIFAR folder: data_batch_1..5.bin + test_batch.bin (CIFAR-10, e.g.
 * cifar-10-batches-bin/) or train.bin + test.bin (CIFAR-100, cifar-100-binary/). Every expected
 * file must be there; the error lists those missing.
 */
export function loadCifarFolder(
  dir: string,
  options: CifarOptions = {},
): DatasetSplit & { variant: CifarVariant } {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) throw new DatasetError(dir, 'expected a CIFAR folder, found no such folder');
  const variant = options.variant ?? detectCifarFolder(dir);
  if (!variant) {
    throw new DatasetError(
      dir,
      'expected CIFAR-10 binary batches (data_batch_1.bin .. data_batch_5.bin, test_batch.bin) or ' +
        `CIFAR-100 (train.bin, test.bin), found neither (folder holds: ${listSome(dir)})`,
    );
  }
  const trainFiles =
    variant === 'cifar-10' ? [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`) : ['train.bin'];
  const testFile = variant === 'cifar-10' ? 'test_batch.bin' : 'test.bin';
  const missing = [...trainFiles, testFile].filter((n) => !existsSync(join(dir, n)));
  if (missing.length > 0) {
    throw new DatasetError(
      dir,
      `incomplete ${variant} folder: expected ${[...trainFiles, testFile].join(', ')}; missing ${missing.join(', ')}`,
    );
  }
  const which = options.labels ?? 'fine';
  const classNames = options.classNames ?? cifarClassNames(dir, variant, which);
  const opts: CifarOptions = { variant, labels: which, classNames };
  const train = concatDatasets(
    `${basename(dir)}/train`,
    trainFiles.map((n) => readCifarBatch(join(dir, n), opts)),
  );
  const test = readCifarBatch(join(dir, testFile), opts);
  test.name = `${basename(dir)}/test`;
  return { train, test, variant };
}

function listSome(dir: string): string {
  try {
    const names = readdirSync(dir).sort();
    if (names.length === 0) return 'nothing';
    return (
      names.slice(0, 8).join(', ') + (names.length > 8 ? `, ... (${names.length} entries)` : '')
    );
  } catch {
    return 'unreadable';
  }
}
