/**
 * `npm run bench -- --only scale`: issue 21's targets for 20,000-100,000 images on one
 * workstation, measured through the app's own services (createServices: what the UI calls) on
 * image folders written from ../shared/datasets (bench/scaleData.ts). Each step runs in a process
 * of its own, so its peak RSS is its own; each prints what it measured with the load average.
 *
 *   node --import tsx bench/scale.ts [--data DIR] [--datasets DIR] [--steps a,b] [--json FILE]
 *
 * --data: where the image folders are written and kept (default <tmp>/deepal-scale-data);
 * workspaces go to a fresh temporary folder, removed at the end. --steps runs some steps only
 * (preview, import, firstBatch, retrain, ui, photo, export, study); a step that needs a workspace
 * another step makes runs that one too.
 *
 * Memory: a step's "RSS" is the peak of the whole process (every thread) sampled every 10 ms from
 * the moment its services were warm; "before it" is the RSS at that moment.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AppEvent, DatasetSummary, Result } from '../shared/contract.ts';
import type { ProjectSummary, QueueView } from '../shared/annotation.ts';

const HERE = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Measured {
  target: string;
  value: string;
  limit: string;
  met: boolean | null;
  load: string;
  note?: string;
}

// ------------------------------------------------------------------ helpers for a step process

const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

function value<T>(r: Result<unknown>, what: string): T {
  if (!r.ok) throw new Error(`${what}: ${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const mb = (kb: number) => Math.round(kb / 1024);

/**
 * The services over a workspace, warmed up as the app is by the time a person acts: the window's
 * first calls (app:info starts the ML worker, which loads its native modules on this thread once;
 * datasets:list opens the database) have run, so a step times its own work, not the launch.
 */
async function services(ws: string) {
  const { createServices } = await import('../electron/services/services.ts');
  const s = createServices({
    dataDir: ws,
    dbPath: join(ws, 'workspace.db'),
    mode: 'browser',
    version: 'bench',
    backups: false,
  });
  await s.invoke('app:info', {});
  await s.invoke('datasets:list', {});
  await s.invoke('strategies:list', {});
  warmRssKb = Math.round(process.memoryUsage().rss / 1024);
  // The step's peak is sampled from here on: the process's own high-water mark (maxRSS) includes
  // the start-up of the services and their ML worker, which peaks at about 450 MB and hid what a
  // step used (a preview of 20 files showed the same 447 MB as one of 20,000).
  stepPeakKb = warmRssKb;
  setInterval(() => {
    stepPeakKb = Math.max(stepPeakKb, Math.round(process.memoryUsage().rss / 1024));
  }, 10).unref();
  return s;
}

/** Peak RSS since the services were warm, sampled every 10 ms (0: the step opened none). */
let stepPeakKb = 0;

/** RSS of the step's process once the services were warm (the app idle, its ML worker started). */
let warmRssKb = 0;

/** Event-loop delay of this (the services') thread while `fn` runs. */
async function withLoopDelay<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; ms: number; loopMaxMs: number; loopP99Ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  h.disable();
  return { result, ms, loopMaxMs: h.max / 1e6, loopP99Ms: h.percentile(99) / 1e6 };
}

type StepArgs = Record<string, string>;
type StepOut = Record<string, unknown>;

// ------------------------------------------------------------------ steps (one process each)

const STEPS: Record<string, (a: StepArgs) => Promise<StepOut>> = {
  async preview(a) {
    const s = await services(a.ws!);
    try {
      const r = await withLoopDelay(async () =>
        value<{ trainCount: number; testCount: number }>(
          await s.invoke('datasets:preview', { path: a.folder }),
          'preview',
        ),
      );
      return {
        ms: r.ms,
        files: r.result.trainCount + r.result.testCount,
        loopMaxMs: r.loopMaxMs,
        loopP99Ms: r.loopP99Ms,
      };
    } finally {
      await s.close();
    }
  },

  async import(a) {
    const s = await services(a.ws!);
    try {
      const r = await withLoopDelay(async () =>
        value<DatasetSummary>(await s.invoke('datasets:import', { path: a.folder }), 'import'),
      );
      return {
        ms: r.ms,
        datasetId: r.result.id,
        images: r.result.trainCount + r.result.testCount,
        shape: r.result.sampleShape,
        loopMaxMs: r.loopMaxMs,
        loopP99Ms: r.loopP99Ms,
      };
    } finally {
      await s.close();
    }
  },

  /** Two projects on the imported dataset: the first batch of each, with the progress gaps. */
  async firstBatch(a) {
    const s = await services(a.ws!);
    try {
      const datasetId = Number(a.datasetId);
      const one = async (name: string) => {
        const gaps: number[] = [];
        /** The longest wait, and the event that ended it. */
        let longest = { ms: 0, ended: '' };
        let last = performance.now();
        let projectId = 0;
        const done = new Promise<string>((resolve) => {
          const off = s.onEvent((e: AppEvent) => {
            if (e.kind !== 'project-training' || (projectId && e.projectId !== projectId)) return;
            const now = performance.now();
            gaps.push(now - last);
            if (now - last > longest.ms) {
              const p = e as { phase: string; done?: number; total?: number };
              longest = {
                ms: now - last,
                ended: `${p.phase}${p.total ? ` ${p.done}/${p.total}` : ''}`,
              };
            }
            last = now;
            if (e.phase === 'done' || e.phase === 'failed' || e.phase === 'cancelled') {
              off();
              resolve(e.phase === 'failed' ? `failed: ${e.message}` : e.phase);
            }
          });
        });
        const r = await withLoopDelay(async () => {
          projectId = value<ProjectSummary>(
            await s.invoke('projects:create', {
              name,
              datasetId,
              classNames: a.classes!.split('|'),
              createdBy: 'bench',
            }),
            'create',
          ).id;
          return done;
        });
        if (r.result !== 'done') throw new Error(`first batch of ${name}: ${r.result}`);
        return {
          ms: r.ms,
          maxGapMs: Math.max(...gaps),
          gapEndedBy: longest.ended,
          loopMaxMs: r.loopMaxMs,
          projectId,
        };
      };
      const first = await one('first');
      const second = await one('second');
      return { first, second };
    } finally {
      await s.close();
    }
  },

  /** 200 labels (the images' true classes), then one retrain through the services. */
  async retrain(a) {
    const { openStore } = await import('../electron/store/store.ts');
    const { datasetSamples, listTrainings } = await import('../electron/store/annotation.ts');
    const { trainLabelOf } = await import('./scaleData.ts');
    const truth = trainLabelOf(a.datasets!);
    const store = openStore(join(a.ws!, 'workspace.db'), { readonly: true });
    const samples = datasetSamples(store, Number(a.datasetId)).slice(0, 20_000);
    store.close();
    const s = await services(a.ws!);
    try {
      const projectId = Number(a.projectId);
      // A spread of samples, so every class has labels.
      for (let k = 0; k < 200; k++) {
        const smp = samples[Math.floor((k * samples.length) / 200)]!;
        const file = Number(/(\d+)\.png$/.exec(smp.sourcePath ?? '')?.[1] ?? -1);
        value(
          await s.invoke('labels:submit', {
            projectId,
            sampleId: smp.id,
            annotator: 'bench',
            kind: 'label',
            classIdx: truth[file] ?? 0,
            via: 'browse',
          }),
          'label',
        );
      }
      // Labels may have started a retrain (every 5 by default): wait for it, then time one.
      const settle = () =>
        new Promise<string>((resolve) => {
          const off = s.onEvent((e: AppEvent) => {
            if (
              e.kind === 'project-training' &&
              e.projectId === projectId &&
              ['done', 'failed', 'cancelled'].includes(e.phase)
            ) {
              off();
              resolve(e.phase === 'failed' ? `failed: ${e.message}` : e.phase);
            }
          });
        });
      // Time one retrain at 200 labels: this call's, or, when one is running, the one the call
      // queues behind it (the services start it when the running one ends). Asking again while
      // one runs only queues another, so ask once.
      const nextStart = new Promise<void>((resolve) => {
        const off = s.onEvent((e: AppEvent) => {
          if (e.kind === 'project-training' && e.projectId === projectId && e.phase === 'started') {
            off();
            resolve();
          }
        });
      });
      value<{ started: boolean }>(await s.invoke('projects:retrain', { projectId }), 'retrain');
      await nextStart;
      const t = await withLoopDelay(() => settle());
      if (t.result !== 'done') throw new Error(`retrain: ${t.result}`);
      const st = openStore(join(a.ws!, 'workspace.db'), { readonly: true });
      const last = listTrainings(st, projectId).at(-1)!;
      st.close();
      return {
        ms: t.ms,
        trainMs: last.trainMs,
        queryMs: last.queryMs,
        labels: last.labels,
        loopMaxMs: t.loopMaxMs,
      };
    } finally {
      await s.close();
    }
  },

  /** recordTraining's store side alone: the model's guesses on every pool sample written. */
  async predictionsWrite(a) {
    const { openStore } = await import('../electron/store/store.ts');
    const { datasetSamples, recordTraining } = await import('../electron/store/annotation.ts');
    const store = openStore(join(a.ws!, 'workspace.db'));
    try {
      const projectId = Number(a.projectId);
      const ids = datasetSamples(store, Number(a.datasetId)).map((x) => x.id);
      const times: number[] = [];
      for (let rep = 0; rep < 3; rep++) {
        const preds = ids.map((sampleId, i) => ({
          sampleId,
          classIdx: (i + rep) % 10,
          top: [
            [(i + rep) % 10, 0.7],
            [(i + rep + 1) % 10, 0.2],
            [(i + rep + 2) % 10, 0.1],
          ] as [number, number][],
        }));
        const t0 = performance.now();
        recordTraining(
          store,
          {
            projectId,
            labels: 200,
            trainCount: 160,
            holdoutCount: 40,
            accuracy: 0.5,
            accuracyLow: 0.4,
            accuracyHigh: 0.6,
            stopKappa: null,
            stopSet: 0,
            details: { strategy: 'bench' },
            trainMs: 1,
            queryMs: 1,
          },
          preds,
          { strategy: 'Entropy', note: 'bench', sampleIds: ids.slice(rep * 10, rep * 10 + 10) },
        );
        times.push(performance.now() - t0);
      }
      return { ms: pct(times, 50), all: times, rows: ids.length };
    } finally {
      store.close();
    }
  },

  /** The labeling screen's calls at 100,000 images and 100,000 label events. */
  async ui(a) {
    const { seedLabelEvents } = await import('./scaleData.ts');
    const projectId = await seedLabelEvents(join(a.ws!, 'workspace.db'), Number(a.datasetId));
    const s = await services(a.ws!);
    try {
      const times: Record<string, number[]> = {
        'labels:queue': [],
        'labels:sample': [],
        'labels:submit': [],
        'projects:status': [],
      };
      const timed = async (ch: string, args: unknown) => {
        const t0 = performance.now();
        const r = await s.invoke(ch, args);
        times[ch]!.push(performance.now() - t0);
        return value<unknown>(r, ch);
      };
      // Warm-up: the first call opens the database and prepares statements.
      await timed('projects:status', { projectId });
      for (const k of Object.keys(times)) times[k] = [];
      const h = monitorEventLoopDelay({ resolution: 10 });
      h.enable();
      for (let i = 0; i < 60; i++) {
        const q = (await timed('labels:queue', {
          projectId,
          annotator: 'ann1',
        })) as QueueView;
        const item = q.items[0];
        if (!item) throw new Error('the queue is empty');
        await timed('labels:sample', { projectId, sampleId: item.sampleId, annotator: 'ann1' });
        await timed('labels:submit', {
          projectId,
          sampleId: item.sampleId,
          annotator: 'ann1',
          kind: 'label',
          classIdx: i % 10,
          durationMs: 1500,
        });
        if (i % 3 === 0) await timed('projects:status', { projectId });
      }
      h.disable();
      const out: StepOut = { loopMaxMs: h.max / 1e6 };
      for (const [k, v] of Object.entries(times))
        out[k] = { p50: pct(v, 50), p95: pct(v, 95), n: v.length };
      return out;
    } finally {
      await s.close();
    }
  },

  /** labels:sample of photographs of 512-4,000 px: time and size of what is sent. */
  async photo(a) {
    const { openStore } = await import('../electron/store/store.ts');
    const { createAnnotationProject } = await import('../electron/annotation/projects.ts');
    const { datasetSamples } = await import('../electron/store/annotation.ts');
    const s = await services(a.ws!);
    try {
      const d = value<DatasetSummary>(
        await s.invoke('datasets:import', { path: a.folder }),
        'import',
      );
      const store = openStore(join(a.ws!, 'workspace.db'));
      const projectId = createAnnotationProject(store, {
        name: 'photos',
        datasetId: d.id,
        createdBy: 'bench',
      });
      const samples = datasetSamples(store, d.id);
      store.close();
      const bySide: Record<string, { ms: number[]; bytes: number[] }> = {};
      // The first round opens files and warms the decoder's threads; it is not timed.
      for (let rep = 0; rep < 5; rep++) {
        for (const smp of samples) {
          const side = /(\d+)px/.exec(smp.sourcePath ?? '')?.[1] ?? '?';
          const t0 = performance.now();
          const v = value<{ image: { data?: string; pixels?: string } }>(
            await s.invoke('labels:sample', { projectId, sampleId: smp.id, annotator: 'b' }),
            'sample',
          );
          const ms = performance.now() - t0;
          if (rep === 0) continue;
          const b64 = v.image.data ?? v.image.pixels ?? '';
          const e = (bySide[side] ??= { ms: [], bytes: [] });
          e.ms.push(ms);
          e.bytes.push(Math.floor((b64.length * 3) / 4));
        }
      }
      const all = Object.values(bySide);
      const out: StepOut = {
        p95: pct(
          all.flatMap((e) => e.ms),
          95,
        ),
        maxBytes: Math.max(...all.flatMap((e) => e.bytes)),
      };
      for (const [side, e] of Object.entries(bySide))
        out[`${side}px`] = {
          p50: pct(e.ms, 50),
          p95: pct(e.ms, 95),
          maxBytes: Math.max(...e.bytes),
        };
      return out;
    } finally {
      await s.close();
    }
  },

  /**
   * A study (Random and Entropy, the default feature model) on a sample of the 100,000-JPEG
   * folder: the pool and test set are drawn from the file list, so only they are decoded.
   */
  async study(a) {
    const s = await services(a.ws!);
    try {
      const created = value<{ id: number }>(
        await s.invoke('studies:create', {
          name: 'scale',
          config: {
            dataset: a.folder,
            strategies: ['Random', 'Entropy'],
            repeats: 1,
            seed: 1,
            initial: 20,
            batch: 20,
            budget: 40,
            epochs: 5,
            model: 'linear',
            trainBatchSize: 64,
            learningRate: 0.001,
            poolSize: Number(a.pool),
            testSize: Number(a.test),
          },
        }),
        'create',
      );
      const ended = new Promise<AppEvent>((resolve) => {
        const off = s.onEvent((e: AppEvent) => {
          if (e.kind === 'study-status' && e.studyId === created.id && e.status !== 'running') {
            off();
            resolve(e);
          }
        });
      });
      const r = await withLoopDelay(async () => {
        value(await s.invoke('studies:start', { id: created.id }), 'start');
        return ended;
      });
      const end = r.result as Extract<AppEvent, { kind: 'study-status' }>;
      if (end.status !== 'done') throw new Error(`study ${end.status}: ${end.message ?? ''}`);
      const report = value<{ study: { description?: string }; runs: unknown[] }>(
        await s.invoke('studies:report', { id: created.id }),
        'report',
      );
      return {
        ms: r.ms,
        loopMaxMs: r.loopMaxMs,
        runs: report.runs.length,
        description: JSON.stringify(report).match(/Image folder [^"]*/)?.[0] ?? '',
      };
    } finally {
      await s.close();
    }
  },

  async export(a) {
    const s = await services(a.ws!);
    try {
      const r = await withLoopDelay(async () =>
        value<unknown>(
          await s.invoke('projects:export', {
            projectId: Number(a.projectId),
            format: a.format,
            out: join(a.ws!, `export-${a.format}${a.format === 'csv' ? '.csv' : ''}`),
          }),
          'export',
        ),
      );
      return { ms: r.ms, loopMaxMs: r.loopMaxMs };
    } finally {
      await s.close();
    }
  },
};

// ------------------------------------------------------------------ the orchestrator

/** Run one step in a process of its own; its JSON result with its peak RSS and load average. */
function runStep(
  step: string,
  args: StepArgs,
): StepOut & { maxRssMb: number; warmRssMb: number; load: string } {
  const before = load();
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', HERE, '--step', step, '--args', JSON.stringify(args)],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: process.env },
  );
  const line = r.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{"step"'));
  if (r.status !== 0 || !line) {
    throw new Error(
      `step ${step} failed (exit ${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(-8).join('\n')}`,
    );
  }
  const out = JSON.parse(line) as { result: StepOut; maxRssKb: number; warmRssKb: number };
  return {
    ...out.result,
    maxRssMb: mb(out.maxRssKb),
    warmRssMb: mb(out.warmRssKb),
    load: `${before} -> ${load()}`,
  };
}

const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ms0 = (ms: number) => `${Math.round(ms)} ms`;

/** The benchmark with its own options (see the top of this file); `--step` runs one step. */
export async function runScale(argv: string[]): Promise<void> {
  const opt = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const step = opt('--step');
  if (step) {
    const fn = STEPS[step];
    if (!fn) throw new Error(`no step ${step}`);
    const result = await fn(JSON.parse(opt('--args') ?? '{}') as StepArgs);
    process.stdout.write(
      `${JSON.stringify({
        step,
        result,
        // The step's own peak where it opened the services, else the process's high-water mark.
        maxRssKb:
          stepPeakKb > 0
            ? Math.max(stepPeakKb, Math.round(process.memoryUsage().rss / 1024))
            : process.resourceUsage().maxRSS,
        warmRssKb,
      })}\n`,
    );
    process.exit(0);
  }
  const datasets = opt('--datasets') ?? join(ROOT, '..', 'shared', 'datasets');
  const dataRoot = opt('--data') ?? join(tmpdir(), 'deepal-scale-data');
  const only = opt('--steps')?.split(',');
  const want = (s: string) => !only || only.includes(s);
  const jsonOut = opt('--json');
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const { generateScaleFolders, FASHION_CLASSES } = await import('./scaleData.ts');
  const folders = await generateScaleFolders({ datasets, root: dataRoot, log });
  const work = mkdtempSync(join(tmpdir(), 'deepal-scale-ws-'));
  const rows: Measured[] = [];
  const add = (m: Measured) => {
    rows.push(m);
    log(
      `${m.met === null ? '  ?' : m.met ? ' ok' : 'MISS'} ${m.target}: ${m.value} (target ${m.limit}; load ${m.load})${m.note ? ` ${m.note}` : ''}`,
    );
  };
  const ws = (name: string) => {
    const d = join(work, name);
    return d;
  };
  try {
    if (want('preview')) {
      for (const [name, folder] of [
        ['20,000 PNGs in class folders', folders.byClass20k],
        ['60,000 PNGs, flat', folders.flat60k],
        ['100,000 JPEGs of 512 px', folders.jpeg100k],
      ] as const) {
        const r = runStep('preview', { ws: ws(`preview-${rows.length}`), folder });
        add({
          target: `1. preview, ${name}`,
          value: `${s1(r.ms as number)}, ${r.maxRssMb} MB RSS (${r.warmRssMb} MB before it), loop delay max ${ms0(r.loopMaxMs as number)}`,
          limit: '<= 3 s, <= 300 MB; loop <= 100 ms',
          met: (r.ms as number) <= 3000 && r.maxRssMb <= 300 && (r.loopMaxMs as number) <= 100,
          load: r.load,
        });
      }
    }
    const needFlat = ['import', 'firstBatch', 'retrain'].some(want);
    const needJpeg = ['import', 'ui', 'export'].some(want);
    let flat: StepOut | undefined;
    let jpeg: StepOut | undefined;
    if (needFlat) {
      flat = runStep('import', { ws: ws('flat'), folder: folders.flat60k });
      add({
        target: '2. import, 60,000 PNGs flat',
        value: `${s1(flat.ms as number)}, ${flat.maxRssMb as number} MB RSS (${flat.warmRssMb} MB before it), loop delay max ${ms0(flat.loopMaxMs as number)}`,
        limit: '<= 20 s, <= 500 MB; loop <= 100 ms',
        met:
          (flat.ms as number) <= 20_000 &&
          (flat.maxRssMb as number) <= 500 &&
          (flat.loopMaxMs as number) <= 100,
        load: flat.load as string,
      });
    }
    if (needJpeg) {
      jpeg = runStep('import', { ws: ws('jpeg'), folder: folders.jpeg100k });
      add({
        target: '2. import, 100,000 JPEGs of 512 px',
        value: `${s1(jpeg.ms as number)}, ${jpeg.maxRssMb as number} MB RSS (${jpeg.warmRssMb} MB before it), loop delay max ${ms0(jpeg.loopMaxMs as number)}`,
        limit: '<= 300 s, <= 1 GB; loop <= 100 ms',
        met:
          (jpeg.ms as number) <= 300_000 &&
          (jpeg.maxRssMb as number) <= 1024 &&
          (jpeg.loopMaxMs as number) <= 100,
        load: jpeg.load as string,
      });
    }
    let projectId = 0;
    if (flat && (want('firstBatch') || want('retrain'))) {
      const r = runStep('firstBatch', {
        ws: ws('flat'),
        datasetId: String(flat.datasetId),
        classes: FASHION_CLASSES.join('|'),
      });
      const first = r.first as {
        ms: number;
        maxGapMs: number;
        gapEndedBy: string;
        loopMaxMs: number;
        projectId: number;
      };
      const second = r.second as { ms: number; maxGapMs: number; loopMaxMs: number };
      projectId = first.projectId;
      add({
        target: '3. first batch, 60,000 images (model auto)',
        value: `${s1(first.ms)}, longest wait between progress events ${s1(first.maxGapMs)} (ended by "${first.gapEndedBy}"), loop delay max ${ms0(first.loopMaxMs)}`,
        limit: '<= 15 s, progress every <= 1 s',
        met: first.ms <= 15_000 && first.maxGapMs <= 1000,
        load: r.load,
      });
      add({
        target: '3. first batch of a second project, same dataset',
        value: `${s1(second.ms)}`,
        limit: '<= 3 s',
        met: second.ms <= 3000,
        load: r.load,
      });
    }
    if (flat && want('retrain') && projectId) {
      const r = runStep('retrain', {
        ws: ws('flat'),
        datasetId: String(flat.datasetId),
        projectId: String(projectId),
        datasets,
      });
      add({
        target: '6. retrain at 200 labels, 60,000 pool',
        value: `${s1(r.ms as number)} (train ${s1(r.trainMs as number)}, query ${s1(r.queryMs as number)}), loop delay max ${ms0(r.loopMaxMs as number)}`,
        limit: '<= 8 s',
        met: (r.ms as number) <= 8000,
        load: r.load,
      });
      const w = runStep('predictionsWrite', {
        ws: ws('flat'),
        datasetId: String(flat.datasetId),
        projectId: String(projectId),
      });
      add({
        target: '6. predictions written (recordTraining, 60,000 rows)',
        value: `${ms0(w.ms as number)} median of 3`,
        limit: '<= 500 ms',
        met: (w.ms as number) <= 500,
        load: w.load,
      });
    }
    let uiProject = 0;
    if (jpeg && (want('ui') || want('export'))) {
      const r = runStep('ui', { ws: ws('jpeg'), datasetId: String(jpeg.datasetId) });
      uiProject = 1;
      for (const ch of ['labels:queue', 'labels:sample', 'labels:submit', 'projects:status']) {
        const t = r[ch] as { p50: number; p95: number; n: number };
        const limit = ch === 'labels:submit' ? 20 : 50;
        add({
          target: `4. ${ch} at 100,000 images and 100,000 label events`,
          value: `p95 ${ms0(t.p95)} (median ${ms0(t.p50)}, ${t.n} calls)`,
          limit: `p95 <= ${limit} ms`,
          met: t.p95 <= limit,
          load: r.load,
        });
      }
      add({
        target: '4. event-loop delay while labeling',
        value: `max ${ms0(r.loopMaxMs as number)}`,
        limit: '<= 100 ms',
        met: (r.loopMaxMs as number) <= 100,
        load: r.load,
      });
    }
    if (want('photo')) {
      const r = runStep('photo', { ws: ws('photo'), folder: folders.photos });
      add({
        target: '5. labels:sample of a 512-4,000 px photo',
        value: `p95 ${ms0(r.p95 as number)}, largest ${Math.round((r.maxBytes as number) / 1024)} KB`,
        limit: 'p95 <= 100 ms, <= 300 KB',
        met: (r.p95 as number) <= 100 && (r.maxBytes as number) <= 300 * 1024,
        load: r.load,
        note: JSON.stringify(
          Object.fromEntries(
            Object.entries(r)
              .filter(([k]) => k.endsWith('px'))
              .map(([k, v]) => {
                const e = v as { p95: number; maxBytes: number };
                return [k, `${Math.round(e.p95)} ms ${Math.round(e.maxBytes / 1024)} KB`];
              }),
          ),
        ),
      });
    }
    if (jpeg && uiProject && want('export')) {
      for (const [format, limit] of [
        ['csv', 2000],
        ['folders', 20_000],
      ] as const) {
        const r = runStep('export', { ws: ws('jpeg'), projectId: '1', format });
        add({
          target: `7. export of 100,000 labels, ${format}`,
          value: `${s1(r.ms as number)}, ${r.maxRssMb} MB RSS (${r.warmRssMb} MB before it), loop delay max ${ms0(r.loopMaxMs as number)}`,
          limit: `<= ${limit / 1000} s, <= 2 GB`,
          met: (r.ms as number) <= limit && r.maxRssMb <= 2048,
          load: r.load,
        });
      }
    }
    if (want('study')) {
      const pool = 2000;
      const test = 500;
      const r = runStep('study', {
        ws: ws('study'),
        folder: folders.jpeg100kByClass,
        pool: String(pool),
        test: String(test),
      });
      // Every pixel at the default size (224 px, RGB) would be 100,000 x 224 x 224 x 3 bytes.
      const allBytes = 100_000 * 224 * 224 * 3;
      add({
        target: `8. study on the 100,000-JPEG folder (pool ${pool}, test ${test}, Random and Entropy, 2 rounds)`,
        value: `${s1(r.ms as number)}, ${r.maxRssMb} MB RSS (${r.warmRssMb} MB before it; every pixel at 224 px would be ${Math.round(allBytes / 2 ** 20)} MB), loop delay max ${ms0(r.loopMaxMs as number)}`,
        limit: 'runs without loading every pixel: peak RSS under 2 GB',
        met: r.maxRssMb <= 2048,
        load: r.load,
        note: String(r.description),
      });
    }
  } finally {
    if (!argv.includes('--keep')) rmSync(work, { recursive: true, force: true });
    else log(`workspaces kept in ${work}`);
  }
  const out = { date: new Date().toISOString(), cores: 2, rows };
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(out, null, 2));
  console.log(table(rows));
}

export function table(rows: Measured[]): string {
  const lines = [
    `issue 21 scale targets, ${new Date().toISOString()} (load average before -> after each step)`,
    '',
  ];
  for (const r of rows) {
    const verdict = r.met === null ? 'not judged' : r.met ? 'met' : 'MISSED';
    lines.push(`${verdict.padEnd(10)} ${r.target}`);
    lines.push(`           measured ${r.value}; target ${r.limit}; load ${r.load}`);
    if (r.note) lines.push(`           ${r.note}`);
  }
  return lines.join('\n');
}

if (process.argv[1] === HERE) {
  runScale(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
