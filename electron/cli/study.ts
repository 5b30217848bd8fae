import { Presets, SingleBar } from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  FeatureSpecSchema,
  parseFeatureArg,
  type FeatureSpecInput,
} from '../../shared/features.ts';
import { studyLimitMessage } from '../../shared/limits.ts';
import { describeLabelNoise } from '../../shared/labelQuality.ts';
import { describeModelChoices, type StudyReport } from '../../shared/report.ts';
import {
  DEFAULT_STUDY,
  roundCount,
  type StudyConfig,
  type StudyConfigInput,
} from '../../shared/study.ts';
import type { BackendChoice } from '../ml/backend.ts';
import { defaultDbPath } from '../main/paths.ts';
import type { Store } from '../store/store.ts';
import type { StudyEvent } from '../study/engine.ts';
import { backendOption } from './main.ts';
import { checkStudyOut, workspaceDbPath } from './paths.ts';

interface StudyOptions {
  dataset: string;
  dataDir?: string;
  imbalanced?: boolean;
  strategies: string;
  repeats: number;
  seed: number;
  init: number;
  batch: number;
  budget: number;
  epochs: number;
  model: StudyConfig['model'];
  trainBatchSize: number;
  lr: number;
  warmStart?: boolean;
  poolSize?: number;
  testSize?: number;
  features?: FeatureSpecInput;
  imageSize?: number;
  featureInputSize?: [number, number];
  featureMean?: number[];
  featureStd?: number[];
  featureLayout?: 'nchw' | 'nhwc';
  featureOutput?: string;
  featureChannels?: 1 | 3;
  labelNoise?: number;
  noiseKind?: 'uniform' | 'confusable';
  db?: string;
  out?: string;
  overwrite?: boolean;
  resume?: boolean;
  study?: number;
  backend?: BackendChoice;
}

function intArg(what: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(
        `${what} must be a whole number of at least ${min}, got "${v}"`,
      );
    return n;
  };
}

function numberArg(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${what} must be a number above 0, got "${v}"`);
    return n;
  };
}

/** Maps CLI option names to study config keys, for checking --resume against the stored study. */
const CONFIG_KEYS: Record<string, keyof StudyConfig> = {
  dataset: 'dataset',
  dataDir: 'dataDir',
  imbalanced: 'imbalanced',
  repeats: 'repeats',
  seed: 'seed',
  init: 'initial',
  batch: 'batch',
  budget: 'budget',
  epochs: 'epochs',
  model: 'model',
  trainBatchSize: 'trainBatchSize',
  lr: 'learningRate',
  warmStart: 'warmStart',
  poolSize: 'poolSize',
  testSize: 'testSize',
  features: 'features',
  imageSize: 'imageSize',
  labelNoise: 'labelNoise',
  noiseKind: 'noiseKind',
};

function listArg(what: string) {
  return (v: string): number[] => {
    const parts = v.split(',').map((p) => Number(p.trim()));
    if (parts.length < 1 || parts.length > 3 || parts.some((n) => !Number.isFinite(n)))
      throw new InvalidArgumentError(
        `${what} takes one to three numbers separated by commas (one per channel), got "${v}"`,
      );
    return parts;
  };
}

function sizeArg(v: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/i.exec(v.trim());
  if (!m)
    throw new InvalidArgumentError(
      `--feature-input-size takes HxW or one side, e.g. 224x224, got "${v}"`,
    );
  const h = Number(m[1]);
  return [h, m[2] ? Number(m[2]) : h];
}

function featuresArg(v: string): FeatureSpecInput {
  try {
    return parseFeatureArg(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** The --features spec with the model-file options folded in (they only apply to onnx/tfjs). */
function featureSpec(o: StudyOptions): FeatureSpecInput | undefined {
  const extras = {
    ...(o.featureInputSize ? { inputSize: o.featureInputSize } : {}),
    ...(o.featureMean ? { mean: o.featureMean } : {}),
    ...(o.featureStd ? { std: o.featureStd } : {}),
    ...(o.featureLayout ? { layout: o.featureLayout } : {}),
    ...(o.featureOutput ? { output: o.featureOutput } : {}),
    ...(o.featureChannels ? { channels: o.featureChannels } : {}),
  };
  if (!o.features) {
    if (Object.keys(extras).length > 0)
      throw new Error(
        '--feature-* options describe a model file: give it with --features onnx:PATH or tfjs:PATH',
      );
    return undefined;
  }
  if (o.features.kind !== 'onnx' && o.features.kind !== 'tfjs') {
    if (Object.keys(extras).length > 0)
      throw new Error(
        `--feature-* options describe a model file; --features ${o.features.kind} takes none`,
      );
    return o.features;
  }
  return { ...o.features, path: resolve(o.features.path), ...extras };
}

function configFromOptions(o: StudyOptions, allIds: readonly string[]): StudyConfigInput {
  const strategies =
    o.strategies.trim() === 'all'
      ? [...allIds]
      : o.strategies
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  return {
    dataset: o.dataset,
    ...(o.dataDir ? { dataDir: resolve(o.dataDir) } : {}),
    imbalanced: o.imbalanced ?? false,
    strategies,
    repeats: o.repeats,
    seed: o.seed,
    initial: o.init,
    batch: o.batch,
    budget: o.budget,
    epochs: o.epochs,
    model: o.model,
    trainBatchSize: o.trainBatchSize,
    learningRate: o.lr,
    warmStart: o.warmStart ?? false,
    ...(o.poolSize !== undefined ? { poolSize: o.poolSize } : {}),
    ...(o.testSize !== undefined ? { testSize: o.testSize } : {}),
    ...(o.imageSize !== undefined ? { imageSize: o.imageSize } : {}),
    ...(featureSpec(o) ? { features: featureSpec(o) } : {}),
    ...(o.labelNoise !== undefined ? { labelNoise: o.labelNoise } : {}),
    ...(o.noiseKind !== undefined ? { noiseKind: o.noiseKind } : {}),
  };
}

/** Progress on stderr: a bar on a terminal, plain lines otherwise (logs, CI). */
function progressReporter(cfg: StudyConfig): {
  onEvent: (e: StudyEvent) => void;
  stop: () => void;
} {
  const rounds = roundCount(cfg);
  const total = cfg.repeats * cfg.strategies.length * (rounds + 1);
  const tty = Boolean(process.stderr.isTTY);
  let done = 0;
  const bar = tty
    ? new SingleBar(
        {
          format:
            '{bar} {percentage}% | {strategy} repeat {repeat} round {round}/{rounds} | acc {acc} | ETA {eta_formatted}',
          stream: process.stderr,
          etaBuffer: 20,
          hideCursor: true,
        },
        Presets.shades_classic,
      )
    : null;
  bar?.start(total, 0, { strategy: '', repeat: '', round: 0, rounds, acc: '-' });
  const started = Date.now();
  let lastFeatureLine = 0;
  return {
    onEvent(e) {
      if (e.type === 'dataset') {
        const line = `dataset: ${e.description} (pool ${e.pool}, test ${e.test})`;
        if (bar) bar.update({ strategy: line.slice(0, 40) });
        else process.stderr.write(`${line}\n`);
      } else if (e.type === 'features') {
        const now = Date.now();
        // A line every few seconds (and the last one): extraction can take minutes.
        if (e.done === e.total || now - lastFeatureLine > 3000) {
          lastFeatureLine = now;
          const line = `features: ${e.description}, ${e.phase} ${e.done}/${e.total}`;
          if (bar) bar.update({ strategy: line.slice(0, 60) });
          else process.stderr.write(`${line}\n`);
        }
      } else if (e.type === 'run-start' && e.resumedAt > 0) {
        done += e.resumedAt;
        bar?.update(done);
        if (!bar)
          process.stderr.write(
            `${e.strategy} repeat ${e.repeat + 1}: ${e.resumedAt} round(s) already recorded, resuming\n`,
          );
      } else if (e.type === 'round') {
        done += 1;
        const acc = `${(e.accuracy * 100).toFixed(1)}%`;
        if (bar) {
          bar.update(done, {
            strategy: e.strategy,
            repeat: `${e.repeat + 1}/${cfg.repeats}`,
            round: e.round,
            rounds: e.rounds,
            acc,
          });
        } else {
          const elapsed = (Date.now() - started) / 1000;
          const eta = done > 0 ? Math.round((elapsed / done) * (total - done)) : 0;
          process.stderr.write(
            `[${done}/${total}] ${e.strategy} repeat ${e.repeat + 1}/${cfg.repeats} round ${e.round}/${e.rounds}: ${e.labeled} labeled, accuracy ${acc}, train ${(e.trainMs / 1000).toFixed(1)} s, query ${(e.queryMs / 1000).toFixed(2)} s, ETA ${eta} s\n`,
          );
        }
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

export function summaryTable(report: StudyReport): string {
  const rows = report.summary.map((s) => [
    s.strategy,
    `${(s.aubcMean * 100).toFixed(2)} ± ${(s.aubcStd * 100).toFixed(2)}`,
    `${(s.faccMean * 100).toFixed(2)} ± ${(s.faccStd * 100).toFixed(2)}`,
    String(report.winTieLoss.ranking.find((r) => r.strategy === s.strategy)?.score ?? ''),
    (s.trainMs / 1000).toFixed(1),
    (s.queryMs / 1000).toFixed(2),
  ]);
  const header = ['strategy', 'AUBC %', 'F-acc %', 'W-L', 'train s/run', 'query s/run'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

function findResumable(store: Store, studyId: number | undefined): number {
  if (studyId !== undefined) {
    if (!store.getStudy(studyId)) throw new Error(`No study ${studyId} in this database`);
    return studyId;
  }
  const open = store.listStudies().filter((s) => s.status !== 'done');
  const latest = open[open.length - 1];
  if (!latest)
    throw new Error(
      'Nothing to resume: every study in this database is finished (run `deepal study` to start a new one)',
    );
  return latest.id;
}

export function registerStudy(program: Command): void {
  const d = DEFAULT_STUDY;
  program
    .command('study')
    .description(
      'run an active-learning study (dataset x strategies x repeats), resumable, with reports',
    )
    .option('--dataset <name|path>', 'demo, fashion-mnist, mnist, or a folder/file', d.dataset)
    .option(
      '--data-dir <dir>',
      'where named datasets live (else DEEPAL_DATA_DIR, then /usr/share/datasets)',
    )
    .option(
      '--imbalanced',
      "keep class k of the pool with ratio (k+1)/10, like the survey's CIFAR10-imb",
    )
    .option(
      '--strategies <ids>',
      'comma-separated strategy ids, or "all" (see `deepal strategies`)',
      d.strategies.join(','),
    )
    .option(
      '--repeats <n>',
      'repeats, each with a different initial seed',
      intArg('--repeats', 1),
      d.repeats,
    )
    .option('--seed <s>', 'base random seed', intArg('--seed', 0), d.seed)
    .option('--init <m>', 'initial labeled seed size', intArg('--init', 1), d.initial)
    .option('--batch <b>', 'samples queried per round', intArg('--batch', 1), d.batch)
    .option(
      '--budget <q>',
      'labels acquired after the seed (the last round may be partial)',
      intArg('--budget', 1),
      d.budget,
    )
    .option('--epochs <e>', 'training epochs per round', intArg('--epochs', 1), d.epochs)
    .addOption(
      new Option(
        '--model <kind>',
        'model: auto (a head on features, chosen by cross-validation each round), linear (logistic regression on features), mlp, cnn, resnet18',
      )
        .choices(['auto', 'linear', 'mlp', 'cnn', 'resnet18'])
        .default(d.model),
    )
    .option(
      '--features <spec>',
      'inputs of a feature model: descriptors (alias hog; the default for auto/linear), ssl[:SECONDS] (an encoder pretrained on the pool), onnx:PATH or tfjs:PATH (your own encoder)',
      featuresArg,
    )
    .option(
      '--feature-input-size <HxW>',
      'with onnx/tfjs: the input size the encoder takes',
      sizeArg,
    )
    .option(
      '--feature-mean <m>',
      'with onnx/tfjs: per-channel mean after scaling pixels to [0, 1]',
      listArg('--feature-mean'),
    )
    .option(
      '--feature-std <s>',
      'with onnx/tfjs: per-channel std after scaling pixels to [0, 1]',
      listArg('--feature-std'),
    )
    .addOption(
      new Option('--feature-layout <layout>', 'with onnx/tfjs: input layout').choices([
        'nchw',
        'nhwc',
      ]),
    )
    .addOption(
      new Option('--feature-channels <c>', 'with onnx/tfjs: input channels')
        .choices(['1', '3'])
        .argParser((v) => Number(v) as 1 | 3),
    )
    .option('--feature-output <name>', 'with onnx/tfjs: the output to use as the embedding')
    .option(
      '--image-size <px>',
      'longer side image folders are read at (default: their own size, at most 224)',
      intArg('--image-size', 8),
    )
    .option(
      '--train-batch-size <n>',
      'training batch size',
      intArg('--train-batch-size', 1),
      d.trainBatchSize,
    )
    .option('--lr <rate>', 'Adam learning rate', numberArg('--lr'), d.learningRate)
    .option(
      '--warm-start',
      "continue from the previous round's weights instead of retraining from scratch",
    )
    .option(
      '--pool-size <p>',
      'pool subset size (reproducible from the seed)',
      intArg('--pool-size', 1),
      d.poolSize,
    )
    .option(
      '--test-size <t>',
      'test subset size (reproducible from the seed)',
      intArg('--test-size', 1),
      d.testSize,
    )
    .option(
      '--label-noise <share>',
      "share of the simulated oracle's answers that are wrong, 0 to 0.5 (seeded per repeat); the report says how many the suspect finder caught",
      (v: string): number => {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0 || n > 0.5)
          throw new InvalidArgumentError(
            `--label-noise must be a number from 0 to 0.5, got "${v}"`,
          );
        return n;
      },
    )
    .addOption(
      new Option(
        '--noise-kind <kind>',
        'with --label-noise: a wrong answer is another class at random (uniform) or the class nearest in class-mean features (confusable)',
      ).choices(['uniform', 'confusable']),
    )
    .option('--db <file>', `workspace database (default ${defaultDbPath()})`)
    .option(
      '--out <dir>',
      'where to write report.json, results.csv and report.html (default deepal-results/study-<id>)',
    )
    .option('--overwrite', 'replace report files already in --out (never done silently)')
    .option(
      '--resume',
      'continue the latest unfinished study in --db (or --study) from its last completed round',
    )
    .option('--study <id>', 'with --resume: which study', intArg('--study', 1))
    .addOption(backendOption())
    .action(async (opts: StudyOptions, cmd: Command) => {
      // Loaded here, not at the top: `deepal --help` should not pay for TensorFlow.js and SQLite.
      const [
        { openStore },
        { createStudy, runStudy, StudyCancelled, validateStudyConfig },
        { writeStudyOutputs },
        { STRATEGY_IDS },
        { checkDatasetSpec },
        { lockStudyRun },
      ] = await Promise.all([
        import('../store/store.ts'),
        import('../study/engine.ts'),
        import('../study/output.ts'),
        import('../ml/strategies/catalog.ts'),
        import('../ml/datasets/index.ts'),
        import('../study/studyLock.ts'),
      ]);
      // Everything a person typed is checked before a database is opened or a study created:
      // a failed start must leave nothing behind for a later --resume to pick.
      const dbPath = workspaceDbPath(
        opts.db,
        opts.resume
          ? 'Nothing to resume: there is no workspace database at {file}; check --db (or leave it out for the default)'
          : undefined,
      );
      const overwrite = opts.overwrite ?? false;
      if (opts.out !== undefined) checkStudyOut(resolve(opts.out), overwrite);
      if (!opts.resume) {
        if (opts.study !== undefined) throw new Error('--study only goes with --resume');
        const cfg = validateStudyConfig(configFromOptions(opts, STRATEGY_IDS));
        const tooMuch = studyLimitMessage(cfg);
        if (tooMuch) throw new Error(tooMuch);
        checkDatasetSpec(cfg.dataset, { dataDir: cfg.dataDir });
      }
      mkdirSync(dirname(dbPath), { recursive: true });
      const store = openStore(dbPath);
      const controller = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        interrupts += 1;
        if (interrupts > 1) process.exit(130);
        process.stderr.write(
          '\nCancelling after the current batch (Ctrl-C again to quit at once)...\n',
        );
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      let studyId = 0;
      let createdNow = false;
      let unlock = (): void => {};
      try {
        if (opts.resume) {
          studyId = findResumable(store, opts.study);
          const stored = validateStudyConfig(store.getStudy(studyId)!.config as StudyConfigInput);
          const given = configFromOptions(opts, STRATEGY_IDS) as Record<string, unknown>;
          for (const [opt, key] of Object.entries(CONFIG_KEYS)) {
            if (cmd.getOptionValueSource(opt) !== 'cli') continue;
            // Feature specs are compared with their defaults filled in, as stored.
            const value =
              key === 'features' && given[key] ? FeatureSpecSchema.parse(given[key]) : given[key];
            if (JSON.stringify(value) !== JSON.stringify(stored[key])) {
              throw new Error(
                `--resume continues study ${studyId} with its stored settings, but --${opt.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} differs from them; drop the option or start a new study`,
              );
            }
          }
          if (
            cmd.getOptionValueSource('strategies') === 'cli' &&
            JSON.stringify(given.strategies) !== JSON.stringify(stored.strategies)
          ) {
            throw new Error(
              `--resume continues study ${studyId} with its stored strategies (${stored.strategies.join(',')}); drop --strategies or start a new study`,
            );
          }
          // A study stored before the limits existed is refused, not run without end.
          const tooMuch = studyLimitMessage(stored);
          if (tooMuch) throw new Error(tooMuch);
          // One writer per study: a second --resume (or the app) is refused, naming the holder.
          unlock = lockStudyRun(dbPath, studyId);
          process.stderr.write(`Resuming study ${studyId} from ${dbPath}\n`);
        } else {
          const input = configFromOptions(opts, STRATEGY_IDS);
          const spec = input.features ? FeatureSpecSchema.parse(input.features) : undefined;
          if (spec && (spec.kind === 'onnx' || spec.kind === 'tfjs')) {
            // A model file that cannot work is refused before any study is recorded.
            const { inspectModelFile } = await import('../ml/features/modelFile.ts');
            const info = await inspectModelFile(spec);
            process.stderr.write(
              `features: ${info.format} ${info.path}, embedding of ${info.embedding.dim} values${info.notes.length ? `; ${info.notes.join(' ')}` : ''}\n`,
            );
          }
          studyId = createStudy(store, input);
          createdNow = true;
          unlock = lockStudyRun(dbPath, studyId);
          process.stderr.write(`Study ${studyId} in ${dbPath}\n`);
        }
        const out = resolve(opts.out ?? `deepal-results/study-${studyId}`);
        if (opts.out === undefined) checkStudyOut(out, overwrite);
        const cfg = validateStudyConfig(store.getStudy(studyId)!.config as StudyConfigInput);
        const progress = progressReporter(cfg);
        let report: StudyReport;
        try {
          report = await runStudy(store, studyId, {
            backend: opts.backend,
            signal: controller.signal,
            onEvent: progress.onEvent,
          });
        } finally {
          progress.stop();
        }
        // Again: report files may have appeared in --out while the study ran.
        checkStudyOut(out, overwrite);
        const paths = writeStudyOutputs(report, out);
        const models = [describeModelChoices(report), describeLabelNoise(report.labelNoise)]
          .filter(Boolean)
          .join('\n\n');
        process.stdout.write(
          `${summaryTable(report)}\n${models ? `\n${models}\n` : ''}\nreport: ${paths.html}\n        ${paths.json}\n        ${paths.csv}\n`,
        );
      } catch (err) {
        if (err instanceof StudyCancelled) {
          process.stderr.write(
            `Study ${studyId} cancelled; completed rounds are stored. Continue with: deepal study --resume --db ${dbPath}\n`,
          );
          process.exitCode = 130;
          return;
        }
        // A study this command created that recorded nothing is not left behind.
        if (createdNow && store.deleteStudyIfEmpty(studyId)) {
          const why = err instanceof Error ? err.message : String(err);
          throw new Error(`${why} (study ${studyId} recorded nothing and was removed)`, {
            cause: err,
          });
        }
        throw err;
      } finally {
        process.off('SIGINT', onSigint);
        unlock();
        store.close();
      }
    });
}
