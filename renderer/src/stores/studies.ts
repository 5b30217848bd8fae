import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { StudyReport } from '../../../shared/report.ts';
import type { StudyConfig, StudyConfigInput } from '../../../shared/study.ts';
import type {
  AppEvent,
  StudyEstimate,
  StudyProgress,
  StudyStatus,
  StudySummary,
} from '../../../shared/contract.ts';
import { call } from '../bridge.ts';
import { useAppStore } from './app.ts';

/** One strategy x repeat of a study, as the monitor shows it. */
export interface LiveRun {
  key: string;
  strategy: string;
  repeat: number;
  /** Rounds recorded (round 0 = the seed counts as one). */
  roundsDone: number;
  roundsTotal: number;
  state: 'waiting' | 'running' | 'done' | 'cancelled' | 'failed';
  points: { labeled: number; accuracy: number }[];
  epoch: { round: number; epoch: number; epochs: number; loss: number } | null;
  trainMs: number;
  queryMs: number;
}

/** A study's live state: seeded from its stored report, then advanced by progress events. */
export interface LiveStudy {
  id: number;
  status: StudyStatus;
  message: string | null;
  config: StudyConfig;
  dataset: string | null;
  runs: LiveRun[];
  startedAt: number | null;
}

const runKey = (strategy: string, repeat: number) => `${strategy}#${repeat}`;

export const useStudiesStore = defineStore('studies', () => {
  const app = useAppStore();
  const list = ref<StudySummary[]>([]);
  const loaded = ref(false);
  /** Live state per study id, mutated in place by progress events (a few per second at most). */
  const live = ref(new Map<number, LiveStudy>());
  const reports = ref(new Map<number, StudyReport>());

  function runsFor(config: StudyConfig, report: StudyReport | null): LiveRun[] {
    const rounds = Math.ceil(config.budget / config.batch);
    const out: LiveRun[] = [];
    for (let repeat = 0; repeat < config.repeats; repeat++) {
      for (const strategy of config.strategies) {
        const rr = report?.runs.find((r) => r.strategy === strategy && r.repeat === repeat);
        out.push({
          key: runKey(strategy, repeat),
          strategy,
          repeat,
          roundsDone: rr?.curve.length ?? 0,
          roundsTotal: rounds + 1,
          state: rr?.complete
            ? 'done'
            : rr && rr.status === 'failed'
              ? 'failed'
              : rr?.status === 'cancelled'
                ? 'cancelled'
                : 'waiting',
          points: rr?.curve.map((p) => ({ labeled: p.labeled, accuracy: p.accuracy })) ?? [],
          epoch: null,
          trainMs: rr?.trainMs ?? 0,
          queryMs: rr?.queryMs ?? 0,
        });
      }
    }
    return out;
  }

  function apply(studyId: number, p: StudyProgress): void {
    const study = live.value.get(studyId);
    if (!study) return;
    if (p.type === 'dataset') {
      study.dataset = `${p.description} (pool ${p.pool}, test ${p.test})`;
    } else if (p.type === 'features') {
      study.dataset = `Computing features: ${p.description}, ${p.phase} ${p.done}/${p.total}`;
    } else {
      const run = study.runs.find((r) => r.strategy === p.strategy && r.repeat === p.repeat);
      if (!run) return;
      if (p.type === 'run-start') {
        run.state = run.roundsDone >= run.roundsTotal ? 'done' : 'running';
      } else if (p.type === 'epoch') {
        run.state = 'running';
        run.epoch = { round: p.round, epoch: p.epoch, epochs: p.epochs, loss: p.loss };
      } else if (p.type === 'round') {
        // Already in the loaded report (a replayed event): nothing new.
        if (run.roundsDone > p.round) return;
        run.state = 'running';
        run.points = run.points.filter((x) => x.labeled < p.labeled);
        run.points.push({ labeled: p.labeled, accuracy: p.accuracy });
        run.roundsDone = p.round + 1;
        run.roundsTotal = p.rounds + 1;
        run.trainMs += p.trainMs;
        run.queryMs += p.queryMs;
        run.epoch = null;
      } else if (p.type === 'run-end') {
        run.state = p.status;
        run.epoch = null;
      }
    }
  }

  /**
   * Events that arrive while a study's state is being (re)loaded are buffered and replayed on the
   * loaded state, so a round or a status change in that window is neither lost nor overwritten.
   */
  const tracking = new Map<number, AppEvent[]>();

  app.onEvent((e) => {
    if ((e.kind === 'study-progress' || e.kind === 'study-status') && tracking.has(e.studyId)) {
      tracking.get(e.studyId)!.push(e);
    }
    handle(e);
  });

  function handle(e: AppEvent, replay = false): void {
    if (e.kind === 'study-progress') apply(e.studyId, e.progress);
    else if (e.kind === 'study-status') {
      const study = live.value.get(e.studyId);
      if (study) {
        study.status = e.status;
        study.message = e.message ?? null;
        if (e.status !== 'running') {
          for (const r of study.runs)
            if (r.state === 'running')
              r.state =
                e.status === 'done' ? 'done' : e.status === 'failed' ? 'failed' : 'cancelled';
        }
      }
      if (replay) return;
      if (e.status === 'failed' && e.message)
        app.notify('error', `Study ${e.studyId} failed: ${e.message}`);
      if (e.status === 'done') app.notify('success', `Study ${e.studyId} finished.`);
      reports.value.delete(e.studyId);
      void load();
    }
  }

  async function load(): Promise<void> {
    const r = await call('studies:list', {});
    if (r.ok) list.value = r.value;
    else app.notify('error', r.error.message);
    loaded.value = true;
  }

  async function loadReport(id: number, force = false): Promise<StudyReport | null> {
    if (!force && reports.value.has(id)) return reports.value.get(id)!;
    const r = await call('studies:report', { id });
    if (!r.ok) {
      app.notify('error', r.error.message);
      return null;
    }
    reports.value.set(id, r.value);
    return r.value;
  }

  /** Seed (or refresh) a study's live state from the store. */
  async function track(id: number): Promise<LiveStudy | null> {
    const buffered: AppEvent[] = [];
    tracking.set(id, buffered);
    let summary: StudySummary | undefined;
    let report: StudyReport | null;
    try {
      await load();
      summary = list.value.find((s) => s.id === id);
      report = await loadReport(id, true);
    } finally {
      tracking.delete(id);
    }
    if (!summary || !report) return null;
    // Marked running in the store but run by no job: the app stopped mid-study; it can resume.
    const status: StudyStatus = summary.active
      ? 'running'
      : summary.status === 'running'
        ? 'cancelled'
        : summary.status;
    const study: LiveStudy = {
      id,
      status,
      // Why it failed, kept by the back end: the failure event is gone after a reload.
      message: summary.status === 'failed' ? summary.message : null,
      config: report.config,
      dataset: report.dataset.description,
      runs: runsFor(report.config, report),
      startedAt: summary.active ? Date.now() : null,
    };
    const next = new Map(live.value);
    next.set(id, study);
    live.value = next;
    for (const e of buffered) handle(e, true);
    return study;
  }

  async function create(config: StudyConfigInput, name?: string): Promise<StudySummary | null> {
    const r = await call('studies:create', { config, ...(name ? { name } : {}) });
    if (!r.ok) {
      app.notify('error', r.error.message);
      return null;
    }
    await load();
    return r.value;
  }

  async function startOrResume(id: number, verb: 'start' | 'resume'): Promise<boolean> {
    const r = await call(verb === 'start' ? 'studies:start' : 'studies:resume', { id });
    if (!r.ok) {
      app.notify('error', r.error.message);
      return false;
    }
    const study = live.value.get(id);
    if (study) {
      study.status = 'running';
      study.startedAt = Date.now();
    }
    void load();
    return true;
  }

  /** Create a study and start it at once; returns its id. */
  async function createAndStart(config: StudyConfigInput, name?: string): Promise<number | null> {
    const s = await create(config, name);
    if (!s) return null;
    await track(s.id);
    return (await startOrResume(s.id, 'start')) ? s.id : null;
  }

  async function cancel(id: number): Promise<void> {
    const r = await call('studies:cancel', { id });
    if (!r.ok) app.notify('error', r.error.message);
    else if (r.value.cancelling)
      app.notify('info', 'Stopping after the current batch; completed rounds are kept.');
  }

  async function estimate(
    config: StudyConfigInput,
  ): Promise<{ ok: true; value: StudyEstimate } | { ok: false; message: string }> {
    const r = await call('studies:estimate', { config });
    return r.ok ? { ok: true, value: r.value } : { ok: false, message: r.error.message };
  }

  return {
    list,
    loaded,
    live,
    reports,
    load,
    loadReport,
    track,
    create,
    createAndStart,
    startOrResume,
    cancel,
    estimate,
  };
});
