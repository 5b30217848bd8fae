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
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  copyFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ProjectStatus, ProjectSummary, QueueView } from '../shared/annotation.ts';
import type { AppEvent, DatasetSummary, Result } from '../shared/contract.ts';
import { balancedAccuracy, confusionMatrix } from '../shared/metrics.ts';
import { datasetSamples, predictions } from '../electron/store/annotation.ts';
import { openStore } from '../electron/store/store.ts';
import { createServices, type Services } from '../electron/services/services.ts';

const { values: args } = parseArgs({
  options: {
    folder: { type: 'string', default: '../shared/datasets/neu-surface-defects/images' },
    seeds: { type: 'string', default: '1,2,3' },
    at: { type: 'string', default: '30,60,120,240' },
    model: { type: 'string', default: 'auto' },
    flat: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

function value<T>(r: Result<unknown>): T {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

function idle(services: Services, projectId: number): Promise<void> {
  return new Promise((res, rej) => {
    const check = async () => {
      const st = value<ProjectStatus>(await services.invoke('projects:status', { projectId }));
      if (st.training.error) return rej(new Error(st.training.error));
      if (!st.training.running) return res();
      setTimeout(() => void check(), 100);
    };
    void check();
  });
}

function waitDone(services: Services, projectId: number): Promise<void> {
  return new Promise((res, rej) => {
    const off = services.onEvent((e: AppEvent) => {
      if (e.kind !== 'project-training' || e.projectId !== projectId) return;
      if (e.phase === 'done') {
        off();
        res();
      } else if (e.phase === 'failed' || e.phase === 'cancelled') {
        off();
        rej(new Error(`retrain ${e.phase}: ${e.message ?? ''}`));
      }
    });
  });
}

interface Point {
  seed: number;
  labels: number;
  classesSeen: number;
  realAccuracy: number;
  realBalanced: number;
  shown: number | null;
  shownLow: number | null;
  shownHigh: number | null;
  /** Real accuracy inside the shown 95% interval (null: no overall estimate shown). */
  covered: boolean | null;
  model: string;
  retrainMs: number;
}

async function replay(folder: string, seed: number, at: number[]): Promise<Point[]> {
  const dir = mkdtempSync(join(tmpdir(), 'deepal-replay-'));
  const dbPath = join(dir, 'workspace.db');
  const services = createServices({ dataDir: dir, dbPath, mode: 'browser', version: 'bench' });
  const points: Point[] = [];
  try {
    let importPath = folder;
    let classNames: string[] | null = null;
    const truthByName = new Map<string, number>();
    if (args.flat) {
      classNames = readdirSync(folder)
        .filter((c) => statSync(join(folder, c)).isDirectory())
        .sort();
      importPath = join(dir, 'flat');
      mkdirSync(importPath);
      classNames.forEach((c, k) => {
        for (const f of readdirSync(join(folder, c))) {
          copyFileSync(join(folder, c, f), join(importPath, f));
          truthByName.set(f, k);
        }
      });
    }
    const dataset = value<DatasetSummary>(
      await services.invoke('datasets:import', { path: importPath }),
    );
    const firstBatch = new Promise<void>((res, rej) => {
      const off = services.onEvent((e) => {
        if (e.kind === 'project-queue') {
          off();
          res();
        } else if (e.kind === 'project-training' && e.phase === 'failed') {
          off();
          rej(new Error(`the first batch failed: ${e.message ?? ''}`));
        }
      });
    });
    const project = value<ProjectSummary>(
      await services.invoke('projects:create', {
        name: 'replay',
        datasetId: dataset.id,
        classNames: classNames ?? dataset.classNames,
        settings: { seed, model: args.model as 'auto' },
        createdBy: 'oracle',
      }),
    );
    const projectId = project.id;
    await firstBatch;
    const store = openStore(dbPath, { readonly: true });
    const truth = new Map(
      datasetSamples(store, dataset.id).map((s) => [
        s.id,
        args.flat ? truthByName.get(basename(s.sourcePath!))! : s.groundTruth!,
      ]),
    );
    const labeled = new Set<number>();
    const seen = new Set<number>();
    let labels = 0;
    const max = Math.max(...at);
    while (labels < max) {
      const q = value<QueueView>(
        await services.invoke('labels:queue', { projectId, annotator: 'oracle' }),
      );
      const item = q.items.find((i) => !labeled.has(i.sampleId));
      if (!item) {
        // The queue is being refilled by a retrain: wait for it.
        await idle(services, projectId);
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const y = truth.get(item.sampleId)!;
      value(
        await services.invoke('labels:submit', {
          projectId,
          sampleId: item.sampleId,
          annotator: 'oracle',
          kind: 'label',
          classIdx: y,
        }),
      );
      labeled.add(item.sampleId);
      seen.add(y);
      labels++;
      if (!at.includes(labels)) continue;
      // A model trained on exactly these labels: let any running retrain finish, then retrain.
      await idle(services, projectId);
      const done = waitDone(services, projectId);
      const r = value<{ started: boolean; reason: string }>(
        await services.invoke('projects:retrain', { projectId }),
      );
      if (!r.started) throw new Error(`retrain not started: ${r.reason}`);
      await done;
      const st = value<ProjectStatus>(await services.invoke('projects:status', { projectId }));
      const last = st.lastTraining!;
      const preds = predictions(store, projectId);
      const yTrue: number[] = [];
      const yPred: number[] = [];
      for (const [sampleId, gt] of truth) {
        if (labeled.has(sampleId)) continue;
        const p = preds.get(sampleId);
        if (!p) continue;
        yTrue.push(gt);
        yPred.push(p.classIdx);
      }
      const cm = confusionMatrix(yTrue, yPred, (classNames ?? dataset.classNames).length);
      const correct = yTrue.filter((t, i) => t === yPred[i]).length;
      const pt: Point = {
        seed,
        labels,
        classesSeen: seen.size,
        realAccuracy: correct / yTrue.length,
        realBalanced: balancedAccuracy(cm) ?? NaN,
        shown: last.accuracy,
        shownLow: last.accuracyLow,
        shownHigh: last.accuracyHigh,
        covered:
          last.accuracyLow === null || last.withheldFor.length > 0
            ? null
            : last.accuracyLow <= correct / yTrue.length &&
              correct / yTrue.length <= last.accuracyHigh!,
        model: last.model,
        retrainMs: last.trainMs + last.queryMs,
      };
      points.push(pt);
      process.stderr.write(
        `seed ${seed} labels ${labels}: real ${(pt.realAccuracy * 100).toFixed(1)}% (balanced ${(pt.realBalanced * 100).toFixed(1)}%), shown ${pt.shown === null ? '-' : `${(pt.shown * 100).toFixed(1)}% (${((pt.shownLow ?? 0) * 100).toFixed(1)}-${((pt.shownHigh ?? 1) * 100).toFixed(1)}%)${last.withheldFor.length ? ` withheld: ${last.withheldFor.join(', ')}` : ''}`}, classes seen ${pt.classesSeen}, retrain ${(pt.retrainMs / 1000).toFixed(2)} s; ${pt.model}\n`,
      );
    }
    store.close();
  } finally {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return points;
}

const folder = resolve(args.folder!);
const at = args.at!.split(',').map(Number);
const all: Point[] = [];
for (const seed of args.seeds!.split(',').map(Number))
  all.push(...(await replay(folder, seed, at)));
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
