import { InvalidArgumentError, type Command } from 'commander';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendChoice } from '../ml/backend.ts';
import { MEASURED } from '../reproduce/calibration.ts';
import {
  buildPlan,
  estimatePlan,
  formatDuration,
  PLANS,
  selectStrategies,
  selectStudies,
  withOnlyStrategies,
  type PlannedStudy,
} from '../reproduce/plan.ts';
import { chooseJobs, runJobs, threadsPerJob } from '../reproduce/parallel.ts';
import { parseShard, runKey, shardRuns, type Shard } from '../reproduce/shard.ts';
import { backendOption } from './main.ts';

interface ReproduceOptions {
  plan: string;
  only?: string;
  strategies?: string;
  dryRun?: boolean;
  fromScratch?: boolean;
  publish: boolean;
  figures: boolean;
  reportOnly?: boolean;
  dataDir?: string;
  dbDir: string;
  out: string;
  backend?: BackendChoice;
  jobs: 'auto' | number;
  shard?: Shard;
  merge: string[];
}

function parseJobs(v: string): 'auto' | number {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError('use a whole number of at least 1, or auto');
  return n;
}

/**
 * Whether a TensorFlow native backend is installed with its binding (the install step that
 * downloads libtensorflow succeeded), so it may be the backend that loads.
 */
function nativeInstalled(): boolean {
  const require = createRequire(import.meta.url);
  return ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((pkg) => {
    let dir: string;
    try {
      dir = dirname(require.resolve(`${pkg}/package.json`));
    } catch {
      return false;
    }
    const lib = join(dir, 'lib');
    return (
      existsSync(lib) && readdirSync(lib).some((d) => existsSync(join(lib, d, 'tfjs_binding.node')))
    );
  });
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The shared data folder beside the checkout (../shared/datasets), where this project keeps it. */
function defaultDataDir(): string | undefined {
  const beside = resolve(ROOT, '..', 'shared', 'datasets');
  return existsSync(beside) ? beside : undefined;
}

function describePlan(
  all: readonly PlannedStudy[],
  dbDir: string,
  outDirs: readonly string[],
  strategies: ReadonlySet<string> | undefined,
): Promise<string> {
  return Promise.all([
    import('../reproduce/orchestrator.ts'),
    import('../reproduce/committed.ts'),
  ]).then(([{ recordedRounds }, { committedRuns, describeOutdated }]) => {
    const done = recordedRounds(all, dbDir, outDirs);
    const studies = withOnlyStrategies(all, strategies);
    const est = estimatePlan(studies, MEASURED, done);
    const lines = [
      `${studies.length} studies${strategies ? ` (only the runs of ${[...strategies].join(', ')})` : ''}; estimate basis: ${MEASURED.basis}`,
      '',
      'study                 runs  rounds (done)    estimate    left',
    ];
    for (const [i, s] of studies.entries()) {
      const e = est[i]!;
      const c = s.config;
      lines.push(
        `${s.key.padEnd(20)} ${String(e.runs).padStart(5)}  ${`${e.rounds} (${e.roundsDone})`.padStart(13)}  ${formatDuration(e.totalMs).padStart(10)}  ${formatDuration(e.remainingMs).padStart(10)}   ${c.dataset}${c.imbalanced ? ' imbalanced' : ''}, ${c.strategies.length} strategies x ${c.repeats} repeats, ${c.model}, epochs ${c.epochs}, batch ${c.batch}, budget ${c.budget}, pool ${c.poolSize}, test ${c.testSize}`,
      );
    }
    const total = est.reduce((a, e) => a + e.totalMs, 0);
    const left = est.reduce((a, e) => a + e.remainingMs, 0);
    lines.push('', `total ${formatDuration(total)}, left ${formatDuration(left)}`);
    const outdated = all.flatMap((s) =>
      outDirs.flatMap((dir) => {
        const o = committedRuns(dir, s).outdated;
        return o ? [`  ${s.key}: ${describeOutdated(o)}`] : [];
      }),
    );
    if (outdated.length > 0)
      lines.push(
        '',
        'Committed runs made by another implementation of their strategy (trained again, not carried over):',
        ...outdated,
      );
    return lines.join('\n');
  });
}

/**
 * Run the studies `jobs` at a time, each as `deepal reproduce --only <key> --jobs 1` in its own
 * process, the dearest first. Returns false when the run stopped (Ctrl-C) or a study failed: then
 * nothing is published, as in the one-process path.
 */
async function runSideBySide(
  studies: readonly PlannedStudy[],
  jobs: number,
  opts: ReproduceOptions,
  dbDir: string,
  outDir: string,
  strategies: ReadonlySet<string> | undefined,
): Promise<boolean> {
  const { recordedRounds } = await import('../reproduce/orchestrator.ts');
  // `studies` each run some of `strategies`, so the restricted list keeps their order.
  const est = estimatePlan(
    withOnlyStrategies(studies, strategies),
    MEASURED,
    recordedRounds(studies, dbDir, [outDir, ...opts.merge]),
  );
  const order = studies
    .map((s, i) => ({ s, left: est[i]!.remainingMs }))
    .sort((a, b) => b.left - a.left)
    .map((x) => x.s);
  const threads = process.env.DEEPAL_WASM_THREADS?.trim() || String(threadsPerJob(jobs));
  process.stderr.write(
    `${studies.length} studies, ${jobs} at a time, each in its own process with ${threads} wasm thread(s) (DEEPAL_WASM_THREADS); dearest first: ${order.map((s) => s.key).join(', ')}\n`,
  );
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    process.stderr.write(
      '\nStopping every study after its current batch (Ctrl-C again to quit at once)...\n',
    );
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const bin = join(ROOT, 'electron', 'cli', 'bin.mjs');
  try {
    const result = await runJobs(
      order.map((s) => ({
        key: s.key,
        args: [
          bin,
          'reproduce',
          '--plan',
          opts.plan,
          '--only',
          s.key,
          '--jobs',
          '1',
          '--no-publish',
          '--db-dir',
          dbDir,
          '--out',
          outDir,
          ...(opts.fromScratch ? ['--from-scratch'] : []),
          ...(opts.strategies ? ['--strategies', opts.strategies] : []),
          ...(opts.backend ? ['--backend', opts.backend] : []),
          ...opts.merge.flatMap((dir) => ['--merge', dir]),
        ],
      })),
      {
        concurrency: jobs,
        env: { ...process.env, DEEPAL_WASM_THREADS: threads },
        signal: controller.signal,
      },
    );
    if (result.failed.length > 0) {
      throw new Error(
        `${result.failed.map((f) => `study ${f.key} failed (${f.how})`).join('; ')}; its lines above say why. Finished: ${result.done.join(', ') || 'none'}. Run the same command again to continue.`,
      );
    }
    if (result.stopped.length > 0 || result.notStarted.length > 0) {
      process.stderr.write(
        `Stopped; every completed round is stored (not finished: ${[...result.stopped, ...result.notStarted].join(', ')}). Run the same command again to continue.\n`,
      );
      process.exitCode = 130;
      return false;
    }
    return true;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function registerReproduce(program: Command): void {
  program
    .command('reproduce')
    .description(
      "reproduce the survey's comparison at CPU scale: resumable studies, then docs/results/README.md",
    )
    .option('--plan <name>', `which plan: ${Object.keys(PLANS).join(', ')}`, 'full')
    .option(
      '--only <names>',
      'comma-separated groups (main, ablation-epochs, ablation-batch, ablations) or study keys',
    )
    .option(
      '--strategies <ids>',
      "train only these strategies' runs (comma-separated ids); the other strategies' runs stay as recorded",
    )
    .option(
      '--dry-run',
      'print the plan and its time estimate (minus what is recorded); run nothing',
    )
    .option('--from-scratch', "delete the selected studies' databases first")
    .option('--no-publish', 'do not regenerate the results page afterwards')
    .option('--no-figures', 'publish without exporting figures through the app')
    .option(
      '--report-only',
      'run nothing: rewrite each study report from its database (also after kill -9), then publish',
    )
    .option(
      '--data-dir <dir>',
      'where fashion-mnist and mnist live (default ../shared/datasets beside the checkout, else DEEPAL_DATA_DIR, /usr/share/datasets)',
    )
    .option('--db-dir <dir>', 'one database per study here', join(ROOT, '.deepal', 'reproduce'))
    .option('--out <dir>', 'report folders and README.md here', join(ROOT, 'docs', 'results'))
    .addOption(backendOption())
    .option(
      '--shard <i/n>',
      'run only the i-th of n equal shares of the runs not yet complete (one share per machine; bring the reports together with --merge); implies --jobs 1 and --no-publish',
      (v: string) => {
        try {
          return parseShard(v);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message.replace(/^--shard: /, ''));
        }
      },
    )
    .option(
      '--merge <dir>',
      "also carry over the complete runs of the study reports in <dir> (another machine's --out; repeatable)",
      (v: string, prev: string[]) => [...prev, resolve(v)],
      [] as string[],
    )
    .option(
      '--jobs <n>',
      'studies run side by side, each in its own process with the CPUs shared out as wasm threads; auto: one per CPU on the wasm or cpu backend, 1 where a TensorFlow native backend is installed',
      parseJobs,
      'auto' as const,
    )
    .action(async (opts: ReproduceOptions) => {
      const spec = PLANS[opts.plan];
      if (!spec)
        throw new InvalidArgumentError(
          `--plan: unknown ${opts.plan}; choose ${Object.keys(PLANS).join(', ')}`,
        );
      const all = buildPlan(spec);
      const strategySet = selectStrategies(all, opts.strategies);
      // Studies running none of the named strategies are left alone.
      const studies = selectStudies(all, opts.only).filter(
        (s) => !strategySet || s.config.strategies.some((x) => strategySet.has(x)),
      );
      const dbDir = resolve(opts.dbDir);
      const outDir = resolve(opts.out);
      // The data folder travels in the environment, not in the study settings: the reports
      // then carry no machine paths, and a checkout elsewhere can resume the same databases.
      const dataDir = opts.dataDir ? resolve(opts.dataDir) : defaultDataDir();
      if (dataDir && !process.env.DEEPAL_DATA_DIR) process.env.DEEPAL_DATA_DIR = dataDir;
      // The committed reports and other machines' (--merge): their complete runs count as done.
      const reportDirs = [outDir, ...opts.merge];
      const shareOf = async (shard: Shard) => {
        const { recordedRounds } = await import('../reproduce/orchestrator.ts');
        return shardRuns(
          withOnlyStrategies(studies, strategySet),
          MEASURED,
          recordedRounds(studies, dbDir, reportDirs),
          shard,
        );
      };

      if (opts.dryRun) {
        process.stdout.write(`${await describePlan(studies, dbDir, reportDirs, strategySet)}\n`);
        if (opts.fromScratch)
          process.stdout.write('(--from-scratch: the databases above would be deleted first)\n');
        if (opts.shard) {
          const mine = await shareOf(opts.shard);
          process.stdout.write(
            `shard ${opts.shard.index}/${opts.shard.count} would run ${mine.size} run(s): ${[...mine].join(', ') || 'none'}\n`,
          );
        }
        return;
      }
      if (opts.shard && typeof opts.jobs === 'number' && opts.jobs > 1)
        throw new Error(
          '--shard runs its share in one process: leave --jobs out (run one shard per process or machine)',
        );
      const jobs = opts.shard
        ? 1
        : chooseJobs(opts.jobs, studies.length, {
            backend: opts.backend ?? process.env.DEEPAL_BACKEND?.trim(),
            nativeInstalled: nativeInstalled(),
          });
      const { runPlan, refreshReports } = await import('../reproduce/orchestrator.ts');
      const { StudyCancelled } = await import('../study/engine.ts');
      let only: ((study: string, strategy: string, repeat: number) => boolean) | undefined =
        strategySet && ((_study, strategy) => strategySet.has(strategy));
      if (opts.shard && !opts.reportOnly) {
        const mine = await shareOf(opts.shard);
        process.stderr.write(
          `shard ${opts.shard.index}/${opts.shard.count}: ${mine.size} run(s): ${[...mine].join(', ') || 'none'}\n`,
        );
        only = (study, strategy, repeat) => mine.has(runKey(study, strategy, repeat));
        opts.publish = false;
      }
      if (opts.reportOnly) {
        const written = refreshReports(studies, dbDir, outDir, opts.merge);
        process.stderr.write(
          `reports rewritten from their databases: ${written.join(', ') || 'none'}\n`,
        );
      } else if (jobs > 1) {
        if (!(await runSideBySide(studies, jobs, opts, dbDir, outDir, strategySet))) return;
      } else {
        const controller = new AbortController();
        let interrupts = 0;
        const onSigint = () => {
          interrupts += 1;
          if (interrupts > 1) process.exit(130);
          process.stderr.write(
            '\nStopping after the current batch (Ctrl-C again to quit at once)...\n',
          );
          controller.abort();
        };
        process.on('SIGINT', onSigint);
        const started = Date.now();
        try {
          await runPlan(studies, {
            dbDir,
            outDir,
            fromScratch: opts.fromScratch ?? false,
            backend: opts.backend,
            signal: controller.signal,
            carryFrom: opts.merge,
            only,
            onEvent: (e) => {
              const at = `[${formatDuration(Date.now() - started)}]`;
              if (e.type === 'study-start')
                process.stderr.write(
                  `${at} study ${e.index + 1}/${e.count} ${e.key}: ${e.resumed ? 'resuming' : 'starting'} (${dbDir}/${e.key}.db)\n`,
                );
              else if (e.type === 'study-end')
                process.stderr.write(`${at} study ${e.key} ${e.status}; reports in ${e.out}\n`);
              else if (e.type === 'carried-over')
                process.stderr.write(
                  `${at} ${e.key}: ${e.runs} complete run(s) carried over from ${e.from}; they are not trained again\n`,
                );
              else if (e.type === 'committed-ignored')
                process.stderr.write(`${at} ${e.key}: ${e.reason}; its runs are trained here\n`);
              else if (e.type === 'committed-outdated')
                process.stderr.write(
                  `${at} ${e.key}: runs in ${e.from} made by another implementation of their strategy are trained again: ${e.strategies}\n`,
                );
              else if (e.type === 'database-rebuilt')
                process.stderr.write(
                  `${at} ${e.key}: its database held runs of another implementation of ${e.strategies}; set aside as ${e.superseded}, the ${e.kept} complete run(s) of the other strategies kept in a new one\n`,
                );
              else if (
                e.event.type === 'run-start' &&
                e.event.resumedAt > 0 &&
                e.event.resumedAt < e.event.rounds
              )
                process.stderr.write(
                  `${at} ${e.key} ${e.event.strategy} repeat ${e.event.repeat + 1}: ${e.event.resumedAt} round(s) recorded, resuming\n`,
                );
              else if (e.event.type === 'round')
                process.stderr.write(
                  `${at} ${e.key} ${e.event.strategy} repeat ${e.event.repeat + 1} round ${e.event.round}/${e.event.rounds}: ${e.event.labeled} labeled, accuracy ${(e.event.accuracy * 100).toFixed(1)}%, train ${(e.event.trainMs / 1000).toFixed(1)} s, query ${(e.event.queryMs / 1000).toFixed(2)} s\n`,
                );
            },
          });
        } catch (err) {
          if (err instanceof StudyCancelled) {
            process.stderr.write(
              'Stopped; every completed round is stored. Run the same command again to continue.\n',
            );
            process.exitCode = 130;
            return;
          }
          throw err;
        } finally {
          process.off('SIGINT', onSigint);
        }
      }
      if (opts.publish) {
        const { publish } = await import('../reproduce/publish.ts');
        const result = await publish({ plan: all, outDir, figures: opts.figures });
        process.stderr.write(`${result.summary}\n`);
        process.stdout.write(`${result.readme}\n`);
      }
    });
}
