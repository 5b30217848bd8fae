import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import {
  describeIssues,
  isChannel,
  parseArgs,
  type AppEvent,
  type AppInfo,
  type Channel,
  type DatasetSummary,
  type ErrorCode,
  type Handlers,
  type Result,
  type StudyStatus,
  type StudySummary,
} from '../../shared/contract.ts';
import { studyLimitMessage, type LimitedSettings } from '../../shared/limits.ts';
import { buildReport, type RoundModel } from '../../shared/report.ts';
import { roundCount, StudyConfigSchema } from '../../shared/study.ts';
import type { DatasetRow, Store, StudyRow } from '../store/store.ts';
import { releaseOwnStudyLock, studyLockHolder } from '../study/studyLock.ts';
import { MlWorker, WorkerJobError } from './mlWorker.ts';
import { createAnnotationHandlers, type SavePathRequest } from './annotationServices.ts';
import { createBackupService, type BackupOptions } from './backupServices.ts';
import { createLabelQualityHandlers } from './labelQualityServices.ts';
import { describeError } from './errors.ts';
import { datasetSpecProblem, relativePathProblem } from './paths.ts';

/** A failure with a code for the UI; anything else thrown by a handler is reported as `internal`. */
export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export interface ServicesOptions {
  dataDir: string;
  dbPath: string;
  mode: AppInfo['mode'];
  modeReason?: string;
  version: string;
  /** The native open dialog (desktop only). */
  choosePath?: (kind: 'folder' | 'file') => Promise<string | null>;
  /** The native save dialog, for exports (desktop only). */
  chooseSavePath?: (request: SavePathRequest) => Promise<string | null>;
  /** What `~` in a typed path names; by default the person's home folder. */
  homeDir?: string;
  /** Injected in tests; by default the real ML worker. */
  worker?: MlWorker;
  /** Rolling backups of the database (default: hourly, newest 7 kept); false turns them off. */
  backups?: BackupOptions | false;
}

/** The back end behind every front door (Electron IPC, browser mode): the contract's one implementation. */
export interface Services {
  /**
   * Call a channel with an unparsed argument. Never throws: unknown channels, bad arguments and
   * failures all come back as `{ ok: false, error }`.
   */
  invoke(channel: string, raw: unknown): Promise<Result<unknown>>;
  /** Subscribe to events; returns the unsubscribe function. */
  onEvent(listener: (e: AppEvent) => void): () => void;
  /** Cancel running work, wait briefly for it to stop, close the database. */
  close(): Promise<void>;
}

function datasetSummary(d: DatasetRow): DatasetSummary {
  return {
    id: d.id,
    name: d.name,
    source: d.source,
    format: d.format,
    classNames: d.classNames,
    sampleShape: d.sampleShape,
    trainCount: d.counts.train ?? 0,
    testCount: d.counts.test ?? 0,
    createdAt: d.createdAt,
  };
}

/** Create the services over the workspace database at `opts.dbPath`. */
export function createServices(opts: ServicesOptions): Services {
  // A data folder that cannot be created (read-only drive, a file in the way) must not crash the
  // app at launch: every call that needs the database answers with the reason instead.
  let folderProblem: string | null = null;
  try {
    mkdirSync(dirname(opts.dbPath), { recursive: true });
  } catch (err) {
    folderProblem = `Cannot create the data folder ${dirname(opts.dbPath)}: ${err instanceof Error ? err.message : String(err)}; choose a writable folder (--data-dir or DEEPAL_HOME)`;
  }
  const worker = opts.worker ?? new MlWorker();
  const listeners = new Set<(e: AppEvent) => void>();
  /** Running studies: study id -> worker job id. */
  const activeStudies = new Map<number, number>();
  let store: Store | null = null;
  /** The main connection being opened (the before-migration backup can take a while). */
  let opening: Promise<Store> | null = null;
  /** Set while a restore has the database closed; getStore waits for it. */
  let suspended: Promise<void> | null = null;
  /** Worker jobs writing to the database outside studies and retrains (imports, study creation). */
  let writingJobs = 0;
  let backend: { backend: string; threads: number } | null = null;
  let backendProbe: Promise<void> | null = null;
  let closed = false;

  /** Set once the label-quality services exist: a finished retrain schedules suspects. */
  let labelQualityEvent: (e: AppEvent) => void = () => {};
  const emit = (e: AppEvent) => {
    labelQualityEvent(e);
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure (a closed socket) must not stop the others.
      }
    }
  };

  async function getStore(): Promise<Store> {
    while (suspended) await suspended;
    if (closed) throw new ServiceError('failed', 'The app is shutting down.');
    if (store) return store;
    // One open at a time: concurrent first calls share it instead of opening twice.
    opening ??= openMain().finally(() => {
      opening = null;
    });
    return opening;
  }

  async function openMain(): Promise<Store> {
    if (folderProblem) throw new ServiceError('failed', folderProblem);
    const { openStore } = await import('../store/store.ts');
    await backups.beforeOpen();
    try {
      store = openStore(opts.dbPath);
    } catch (err) {
      // A newer app's database, a foreign file, an unwritable folder: each says what to do.
      throw new ServiceError('failed', err instanceof Error ? err.message : String(err));
    }
    backups.opened();
    return store;
  }

  /** Start the worker's backend in the background, so app:info can name it soon after launch. */
  function probeBackend(): void {
    if (backendProbe) return;
    backendProbe = worker
      .run({ kind: 'backend' })
      .done.then((b) => {
        backend = b;
      })
      .catch(() => {
        backendProbe = null;
      });
  }

  function studySummary(s: Store, row: StudyRow): StudySummary {
    const parsed = StudyConfigSchema.safeParse(row.config);
    const cfg = parsed.success ? parsed.data : null;
    const runs = s.listRuns(row.id);
    let roundsDone = 0;
    for (const r of runs) roundsDone += s.listRounds(r.id).length;
    const perRun = cfg ? roundCount(cfg) + 1 : 0;
    return {
      id: row.id,
      name: row.name,
      status: row.status,
      dataset: cfg?.dataset ?? row.datasetSpec,
      strategies: cfg?.strategies ?? [],
      repeats: cfg?.repeats ?? 0,
      createdAt: row.createdAt,
      roundsDone,
      roundsTotal: cfg ? perRun * cfg.repeats * cfg.strategies.length : 0,
      active: activeStudies.has(row.id),
      message: row.message,
    };
  }

  /** Refuse, before any work, what a study's settings would do wrong on this machine. */
  function checkStudySettings(
    config: LimitedSettings & { dataset: string; dataDir?: string | undefined },
  ): void {
    const problem =
      studyLimitMessage(config) ??
      datasetSpecProblem(config.dataset) ??
      (config.dataDir !== undefined
        ? relativePathProblem(config.dataDir, 'The data folder')
        : null);
    if (problem) throw new ServiceError('invalid-argument', problem);
  }

  /**
   * Record how a study's job ended, so the list shows it after a reload: a job whose thread was
   * ended (a cancel that did not stop in time) or that failed before the engine ran could not.
   */
  async function recordEnd(id: number, status: 'cancelled' | 'failed', message: string | null) {
    try {
      const s = await getStore();
      const row = s.getStudy(id);
      if (!row) return;
      if (row.status !== status && row.status !== 'done') s.setStudyStatus(id, status);
      if (message !== null) s.setStudyMessage(id, message);
    } catch {
      // The store is closing or gone (a restore, shutdown): the event still told the person.
    }
  }

  async function requireStudy(id: number): Promise<{ s: Store; row: StudyRow }> {
    const s = await getStore();
    const row = s.getStudy(id);
    if (!row) throw new ServiceError('not-found', `There is no study ${id} in this workspace.`);
    return { s, row };
  }

  async function launch(id: number, allowed: StudyStatus[], verb: string): Promise<StudySummary> {
    const { s, row } = await requireStudy(id);
    if (activeStudies.has(id)) throw new ServiceError('busy', `Study ${id} is already running.`);
    // A study marked running that no job runs was interrupted (the app quit): it can resume.
    const interrupted = row.status === 'running';
    if (!allowed.includes(row.status) && !(interrupted && verb === 'resume')) {
      const hint = row.status === 'done' ? 'it is finished' : `its status is ${row.status}`;
      throw new ServiceError('invalid-argument', `Study ${id} cannot ${verb}: ${hint}.`);
    }
    // Another process (`deepal study --resume`) running it: refused now, naming the holder.
    const holder = studyLockHolder(opts.dbPath, id);
    if (holder !== null)
      throw new ServiceError(
        'busy',
        `Study ${id} is being run by another process (pid ${holder}, for example \`deepal study --resume\`); wait for it to finish or stop it first.`,
      );
    if (activeStudies.size > 0) {
      const other = [...activeStudies.keys()][0];
      throw new ServiceError(
        'busy',
        `Study ${other} is running; one study runs at a time. Cancel it or wait for it to finish.`,
      );
    }
    // A new start forgets why the last one failed.
    if (row.message !== null) s.setStudyMessage(id, null);
    const job = worker.run({ kind: 'study', dbPath: opts.dbPath, studyId: id }, (p) => {
      if ('type' in p) emit({ kind: 'study-progress', studyId: id, progress: p });
    });
    activeStudies.set(id, job.jobId);
    emit({ kind: 'study-status', studyId: id, status: 'running' });
    // The job releases the study's lock itself, unless its thread was ended: then it is done here.
    void job.done.catch(() => {}).finally(() => releaseOwnStudyLock(opts.dbPath, id));
    job.done.then(
      () => {
        activeStudies.delete(id);
        emit({ kind: 'study-status', studyId: id, status: 'done' });
      },
      async (err: unknown) => {
        const cancelled = err instanceof WorkerJobError && err.code === 'cancelled';
        const { code, message: text } = describeError(err);
        const message = cancelled ? null : text;
        // A study another process took first is that process's to record, not failed here.
        if (code !== 'busy') await recordEnd(id, cancelled ? 'cancelled' : 'failed', message);
        activeStudies.delete(id);
        emit({
          kind: 'study-status',
          studyId: id,
          status: cancelled ? 'cancelled' : 'failed',
          ...(message === null ? {} : { message }),
        });
      },
    );
    return studySummary(s, s.getStudy(id) ?? row);
  }

  // Annotation projects, labeling and label quality live in their own modules, on the same store,
  // worker and events.
  const handlerDeps = {
    getStore,
    worker,
    dbPath: opts.dbPath,
    emit,
    fail(code: ErrorCode, message: string): never {
      throw new ServiceError(code, message);
    },
  };
  const annotation = createAnnotationHandlers({
    ...handlerDeps,
    home: opts.homeDir ?? homedir(),
    ...(opts.chooseSavePath ? { chooseSavePath: opts.chooseSavePath } : {}),
  });
  const labelQuality = createLabelQualityHandlers(handlerDeps);
  labelQualityEvent = (e) => labelQuality.onEvent(e);

  const backups = createBackupService({
    dbPath: opts.dbPath,
    options: opts.backups ?? {},
    current: () => store,
    getStore,
    async suspend() {
      let release!: () => void;
      suspended = new Promise((r) => (release = r));
      await opening?.catch(() => {});
      store?.close();
      store = null;
      return () => {
        suspended = null;
        annotation.reset();
        labelQuality.reset();
        release();
      };
    },
    busy() {
      const study = [...activeStudies.keys()][0];
      if (study !== undefined) return `Study ${study} is running; cancel it or wait for it to end.`;
      const suspects = labelQuality.computing()[0];
      if (suspects !== undefined)
        return `Suspect labels of project ${suspects} are being looked for; wait for it to end, or stop it in the project's Review tab.`;
      const project = annotation.retraining()[0];
      if (project !== undefined)
        return `A retrain of project ${project} is running; cancel it or wait for it to end.`;
      if (writingJobs > 0) return 'An import is writing to the database.';
      return null;
    },
    emit,
    fail(code, message) {
      throw new ServiceError(code, message);
    },
  });

  /** A worker job that writes to the database: counted, so a restore waits for it to end. */
  async function writing<T>(fn: () => Promise<T>): Promise<T> {
    // The main connection opens first, so the database is backed up before anything migrates it.
    await getStore();
    writingJobs++;
    try {
      return await fn();
    } finally {
      writingJobs--;
    }
  }

  const handlers: Handlers = {
    ...annotation.handlers,
    ...labelQuality.handlers,
    ...backups.handlers,
    async 'app:info'() {
      probeBackend();
      return {
        name: 'DeepAL Studio',
        version: opts.version,
        mode: opts.mode,
        ...(opts.modeReason ? { modeReason: opts.modeReason } : {}),
        dataDir: opts.dataDir,
        dbPath: opts.dbPath,
        backend: backend?.backend ?? null,
        backendThreads: backend?.threads ?? null,
        platform: `${process.platform} ${process.arch}`,
        comingSoon: [],
      };
    },
    async 'strategies:list'() {
      return worker.run({ kind: 'strategies' }).done;
    },
    async 'datasets:list'() {
      const s = await getStore();
      return s
        .listDatasets()
        .map(datasetSummary)
        .sort((a, b) => b.id - a.id);
    },
    async 'datasets:choose'({ kind }) {
      if (!opts.choosePath) return { supported: false, path: null };
      return { supported: true, path: await opts.choosePath(kind) };
    },
    async 'datasets:preview'({ path }) {
      const relative = datasetSpecProblem(path, 'The dataset path');
      if (relative) throw new ServiceError('invalid-argument', relative);
      // Reading a large image folder takes a while: its progress goes out like an import's.
      let jobId = 0;
      const job = worker.run({ kind: 'preview', path }, (p) => {
        if ('phase' in p && p.phase === 'reading')
          emit({
            kind: 'import-progress',
            jobId,
            path,
            phase: p.phase,
            done: p.done,
            total: p.total,
          });
      });
      jobId = job.jobId;
      return job.done;
    },
    async 'datasets:import'({ path, name }) {
      const relative = datasetSpecProblem(path, 'The dataset path');
      if (relative) throw new ServiceError('invalid-argument', relative);
      // Opened first (backed up before anything migrates it); counted so a restore waits.
      await getStore();
      writingJobs++;
      let jobId = 0;
      const job = worker.run(
        { kind: 'import', dbPath: opts.dbPath, path, ...(name ? { name } : {}) },
        (p) => {
          // Import progress, not a study's feature-extraction progress (which has a type).
          if ('phase' in p && !('type' in p))
            emit({
              kind: 'import-progress',
              jobId,
              path,
              phase: p.phase,
              done: p.done,
              total: p.total,
            });
        },
      );
      jobId = job.jobId;
      const { datasetId } = await job.done.finally(() => writingJobs--);
      const row = (await getStore()).getDataset(datasetId);
      if (!row)
        throw new ServiceError(
          'internal',
          `The import finished but dataset ${datasetId} is not in the store.`,
        );
      emit({ kind: 'import-progress', jobId, path, phase: 'done', done: 1, total: 1 });
      return datasetSummary(row);
    },
    async 'studies:list'() {
      const s = await getStore();
      return s
        .listStudies()
        .map((r) => studySummary(s, r))
        .reverse();
    },
    async 'studies:create'({ config, name }) {
      checkStudySettings(config);
      const { studyId } = await writing(
        () =>
          worker.run({
            kind: 'create',
            dbPath: opts.dbPath,
            config,
            ...(name ? { name } : {}),
          }).done,
      );
      const { s, row } = await requireStudy(studyId);
      return studySummary(s, row);
    },
    async 'studies:start'({ id }) {
      return launch(id, ['created'], 'start');
    },
    async 'studies:resume'({ id }) {
      return launch(id, ['created', 'cancelled', 'failed'], 'resume');
    },
    async 'studies:cancel'({ id }) {
      await requireStudy(id);
      const jobId = activeStudies.get(id);
      if (jobId === undefined) return { cancelling: false };
      worker.cancel(jobId);
      return { cancelling: true };
    },
    async 'studies:report'({ id }) {
      const { s, row } = await requireStudy(id);
      const parsed = StudyConfigSchema.safeParse(row.config);
      if (!parsed.success) {
        throw new ServiceError(
          'failed',
          `Study ${id} has settings this version cannot read: ${describeIssues(parsed.error)}`,
        );
      }
      const cfg = parsed.data;
      const dataset = row.datasetId !== null ? s.getDataset(row.datasetId) : undefined;
      // The same pure buildReport the engine and the CLI use, so every view shows the same numbers;
      // built here from stored rows so the main thread never loads TensorFlow.js.
      return buildReport({
        config: cfg,
        dataset: {
          description: dataset?.name ?? cfg.dataset,
          pool: dataset?.counts.train ?? cfg.poolSize ?? 0,
          test: dataset?.counts.test ?? cfg.testSize ?? 0,
          classes: dataset?.classNames ?? [],
        },
        backend: backend?.backend ?? 'unknown',
        runs: s.listRuns(id).map((r) => ({
          strategy: r.strategy,
          repeat: r.repeat,
          seed: r.seed,
          status: r.status,
          rounds: s.listRounds(r.id).map((x) => ({
            round: x.round,
            labeled: x.labeled,
            accuracy: x.accuracy,
            loss: x.loss,
            trainMs: x.trainMs,
            queryMs: x.queryMs,
            confusion: x.details.confusion ?? null,
            model: (x.details.model as RoundModel | undefined) ?? null,
          })),
        })),
        expectedRounds: roundCount(cfg),
      });
    },
    async 'studies:estimate'({ config }) {
      checkStudySettings(config);
      return worker.run({ kind: 'estimate', config }).done;
    },
    async 'datasets:cancel'({ jobId }) {
      const kind = worker.kindOf(jobId);
      // Only what this channel's callers start: a study is cancelled with studies:cancel.
      if (kind !== 'preview' && kind !== 'import') return { cancelling: false };
      worker.cancel(jobId);
      return { cancelling: true };
    },
  };

  async function invoke(channel: string, raw: unknown): Promise<Result<unknown>> {
    if (!isChannel(channel)) {
      return {
        ok: false,
        error: { code: 'unknown-channel', message: `There is no channel named "${channel}".` },
      };
    }
    const parsed = parseArgs(channel, raw);
    if (!parsed.ok) return parsed;
    try {
      const handler = handlers[channel] as (a: unknown) => Promise<unknown>;
      return { ok: true, value: await handler(parsed.value) };
    } catch (err) {
      if (err instanceof ServiceError || err instanceof WorkerJobError) {
        return { ok: false, error: { code: err.code, message: err.message } };
      }
      // Readers' and the store's input errors, system errors, memory limits: each a sentence.
      return { ok: false, error: describeError(err) };
    }
  }

  return {
    invoke,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      annotation.cancelAll();
      labelQuality.cancelAll();
      await backups.close();
      await worker.close();
      store?.close();
      store = null;
      listeners.clear();
    },
  };
}

/** Channels a caller may use; re-exported for the front doors' tests. */
export type { Channel };
