/**
 * An annotation project replayed through the app's services (the code the labeling screens call),
 * with the true labels as the oracle: import a labeled image folder, create a project with the
 * default settings, label the proposed queue one image at a time, and at given label counts
 * retrain and measure the model against the truth on every image not yet labeled, beside the
 * accuracy the Project tab shows.
 *
 *   node --import tsx bench/projectReplay.ts [--folder DIR] [--seeds 1,2,3] [--at 20,60,120,240]
 *     [--model auto] [--flat] [--json out.json]
 *
 * --flat: the images are imported as one unlabeled folder (copies named as the files, whose name
 * starts with the class, e.g. crazing_12.jpg), as a team with unsorted photographs would; the
 * project is created with the class list and the truth comes from the file names.
 *
 * Default folder: ../shared/datasets/neu-surface-defects/images (1,770 photographs, 6 classes).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { replay, type Point } from '../electron/annotation/fixtures/replay.ts';

const { values: args } = parseArgs({
  options: {
    folder: { type: 'string', default: '../shared/datasets/neu-surface-defects/images' },
    seeds: { type: 'string', default: '1,2,3' },
    at: { type: 'string', default: '20,60,120,240' },
    model: { type: 'string', default: 'auto' },
    flat: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const folder = resolve(args.folder!);
const at = args.at!.split(',').map(Number);
const all: Point[] = [];
for (const seed of args.seeds!.split(',').map(Number))
  all.push(
    ...(await replay(folder, seed, at, {
      flat: args.flat,
      model: args.model as 'auto',
      log: (line) => process.stderr.write(`${line}\n`),
    })),
  );
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
console.log(
  '| labels | classes seen | real accuracy (mean of seeds) | real balanced | shown estimate | real inside the shown 95% interval | retrain s |',
);
console.log('|---|---|---|---|---|---|---|');
for (const n of at) {
  const ps = all.filter((p) => p.labels === n);
  const mean = (f: (p: Point) => number) => ps.reduce((a, p) => a + f(p), 0) / ps.length;
  const shown = ps.filter((p) => p.shown !== null);
  console.log(
    `| ${n} | ${mean((p) => p.classesSeen).toFixed(1)} | ${pct(mean((p) => p.realAccuracy))} | ${pct(mean((p) => p.realBalanced))} | ${shown.length ? pct(shown.reduce((a, p) => a + p.shown!, 0) / shown.length) : '-'} | ${ps.filter((p) => p.covered === true).length} of ${ps.length}${ps.some((p) => p.covered === null) ? ` (${ps.filter((p) => p.covered === null).length} withheld)` : ''} | ${(mean((p) => p.retrainMs) / 1000).toFixed(2)} |`,
  );
}
if (args.json) writeFileSync(args.json, JSON.stringify(all, null, 2));
process.exit(0);
