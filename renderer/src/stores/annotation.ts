import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type {
  AgreementView,
  ClassChange,
  ExportFormat,
  ExportSummary,
  ExportTarget,
  ProjectSettingsPatch,
  ProjectStatus,
  ProjectSummary,
  QueueMode,
  QueueView,
  SampleView,
} from '../../../shared/annotation.ts';
import type { ArgsOf } from '../../../shared/contract.ts';
import { call } from '../bridge.ts';
import { useAppStore } from './app.ts';

const ANNOTATOR_KEY = 'deepal-annotator';
/** Set by the Datasets view's "Label" button (sessionStorage): the dataset to start a project on. */
export const LABEL_DATASET_KEY = 'deepal-label-dataset';

/**
 * Annotation projects and the labeling session: the project list, the open project's status,
 * the annotator, the queue being worked through and a small cache of sample images so the next
 * image is ready when a key is pressed.
 */
export const useAnnotationStore = defineStore('annotation', () => {
  const app = useAppStore();
  const projects = ref<ProjectSummary[]>([]);
  const loaded = ref(false);
  const status = ref<ProjectStatus | null>(null);
  const statusError = ref<string | null>(null);
  const annotator = ref<string>(localStorage.getItem(ANNOTATOR_KEY) ?? '');
  /**
   * False until the remembered name is known: browser mode starts on a new port (a new origin,
   * empty localStorage) at every launch, so the data folder's copy is asked for once.
   */
  const annotatorKnown = ref(annotator.value !== '');
  /** Why "Retrain now" did not start one at once, until the running retrain ends. */
  const retrainNote = ref<string | null>(null);
  const queue = ref<QueueView | null>(null);
  const agreementView = ref<AgreementView | null>(null);
  const training = ref<{ phase: string; done?: number; total?: number; message?: string } | null>(
    null,
  );
  /** Bumped when a new batch arrives, so the labeling screen can refresh its queue. */
  const batchSerial = ref(0);
  const images = new Map<string, Promise<SampleView | null>>();

  const projectId = computed(() => status.value?.id ?? null);

  app.onEvent((e) => {
    if (e.kind === 'project-training' && e.projectId === projectId.value) {
      training.value =
        e.phase === 'done'
          ? null
          : {
              phase: e.phase,
              ...(e.done !== undefined ? { done: e.done } : {}),
              ...(e.total !== undefined ? { total: e.total } : {}),
              ...(e.message ? { message: e.message } : {}),
            };
      if (e.phase === 'cancelled') training.value = null;
      if (e.phase === 'done' || e.phase === 'failed' || e.phase === 'cancelled') {
        retrainNote.value = null;
        void refreshStatus();
      }
      if (e.phase === 'failed') app.notify('error', `Retrain failed: ${e.message ?? ''}`);
    }
    if (e.kind === 'project-queue' && e.projectId === projectId.value) {
      batchSerial.value++;
      images.clear();
    }
  });

  function setAnnotator(name: string): void {
    annotator.value = name.trim();
    annotatorKnown.value = true;
    localStorage.setItem(ANNOTATOR_KEY, annotator.value);
    images.clear();
    void call('labels:setAnnotator', { annotator: annotator.value }).then((r) => {
      if (!r.ok) app.notify('error', r.error.message);
    });
  }

  async function loadRememberedAnnotator(): Promise<void> {
    if (annotator.value === '') {
      const r = await call('labels:annotator', {});
      if (r.ok && r.value.annotator && annotator.value === '') {
        annotator.value = r.value.annotator;
        localStorage.setItem(ANNOTATOR_KEY, annotator.value);
      }
    }
    annotatorKnown.value = true;
  }
  void loadRememberedAnnotator();

  async function loadProjects(): Promise<void> {
    const r = await call('projects:list', {});
    if (r.ok) projects.value = r.value;
    else app.notify('error', r.error.message);
    loaded.value = true;
  }

  async function open(id: number): Promise<void> {
    if (status.value?.id !== id) {
      status.value = null;
      queue.value = null;
      agreementView.value = null;
      training.value = null;
      images.clear();
    }
    const r = await call('projects:status', { projectId: id });
    if (r.ok) {
      status.value = r.value;
      statusError.value = null;
      if (r.value.training.running) training.value = { phase: r.value.training.phase ?? 'started' };
    } else statusError.value = r.error.message;
  }

  async function refreshStatus(): Promise<void> {
    if (projectId.value !== null) await open(projectId.value);
  }

  /** The review counts after an answer that changes them (the status, without resetting). */
  async function refreshCounts(): Promise<void> {
    const id = projectId.value;
    if (id === null) return;
    const r = await call('projects:status', { projectId: id });
    if (r.ok && status.value?.id === id) {
      status.value.unsure = r.value.unsure;
      status.value.disagreements = r.value.disagreements;
    }
  }

  async function create(args: ArgsOf<'projects:create'>): Promise<ProjectSummary | null> {
    const r = await call('projects:create', args);
    if (!r.ok) {
      app.notify('error', r.error.message);
      return null;
    }
    await loadProjects();
    return r.value;
  }

  async function importExport(args: ArgsOf<'projects:import'>): Promise<ProjectSummary | null> {
    const r = await call('projects:import', args);
    if (!r.ok) {
      app.notify('error', r.error.message);
      return null;
    }
    await loadProjects();
    return r.value;
  }

  async function loadQueue(mode: QueueMode): Promise<QueueView | null> {
    if (projectId.value === null || !annotator.value) return null;
    const r = await call('labels:queue', {
      projectId: projectId.value,
      annotator: annotator.value,
      mode,
      limit: 200,
    });
    if (!r.ok) {
      app.notify('error', r.error.message);
      return null;
    }
    queue.value = r.value;
    return r.value;
  }

  /** A sample's view (cached; guesses are never cached, they are asked for on demand). */
  function sample(sampleId: number, guesses = false): Promise<SampleView | null> {
    const key = `${sampleId}|${guesses ? 'g' : ''}`;
    let p = images.get(key);
    if (!p) {
      p = call('labels:sample', {
        projectId: projectId.value!,
        sampleId,
        annotator: annotator.value,
        guesses,
      }).then((r) => {
        if (r.ok) return r.value;
        images.delete(key);
        app.notify('error', r.error.message);
        return null;
      });
      if (!guesses) images.set(key, p);
    }
    return p;
  }

  /** Forget a sample's cached view (its labels changed). */
  function forget(sampleId: number): void {
    images.delete(`${sampleId}|`);
  }

  async function submit(
    args: Omit<ArgsOf<'labels:submit'>, 'projectId' | 'annotator'>,
  ): Promise<boolean> {
    const r = await call('labels:submit', {
      ...args,
      projectId: projectId.value!,
      annotator: annotator.value,
    });
    if (!r.ok) {
      app.notify('error', `Not saved: ${r.error.message}`);
      return false;
    }
    forget(args.sampleId);
    if (status.value) {
      status.value.labeled = r.value.labeled;
      status.value.sinceTraining++;
    }
    if (queue.value) {
      queue.value.labeled = r.value.labeled;
      // A label or an unsure takes the sample out of this queue (a skip keeps it), so the count
      // follows the keys instead of waiting for the next batch.
      if (args.kind !== 'skip' && queue.value.items.some((i) => i.sampleId === args.sampleId))
        queue.value.total = Math.max(0, queue.value.total - 1);
    }
    if (r.value.retrainStarted) training.value = { phase: 'started' };
    // Unsure and review answers change what waits in Review (the tab's badge).
    if (args.kind === 'unsure' || args.via === 'review') void refreshCounts();
    return true;
  }

  async function undo(): Promise<number | null> {
    const r = await call('labels:undo', {
      projectId: projectId.value!,
      annotator: annotator.value,
    });
    if (!r.ok) {
      app.notify('error', r.error.message);
      return null;
    }
    if (!r.value.undone) {
      app.notify('info', 'Nothing of yours left to undo in this project.');
      return null;
    }
    const undone = r.value.undone;
    forget(undone.sampleId);
    if (status.value) status.value.labeled = r.value.labeled;
    if (queue.value) {
      queue.value.labeled = r.value.labeled;
      if (undone.kind !== 'skip' && queue.value.items.some((i) => i.sampleId === undone.sampleId))
        queue.value.total++;
    }
    void refreshCounts();
    return undone.sampleId;
  }

  /**
   * No toast: the retrain's state is in the project's header until it ends (a toast outlived
   * a one-second retrain and covered the chart).
   */
  async function retrain(): Promise<void> {
    const r = await call('projects:retrain', { projectId: projectId.value! });
    if (!r.ok) app.notify('error', r.error.message);
    else if (r.value.started) training.value = { phase: 'started' };
    else retrainNote.value = r.value.reason;
  }

  /** Cancel the running retrain; the previous model and queue stay. */
  async function cancelRetrain(): Promise<void> {
    const r = await call('projects:cancelRetrain', { projectId: projectId.value! });
    if (!r.ok) app.notify('error', r.error.message);
    else {
      if (r.value.cancelled) training.value = null;
      app.notify('info', r.value.reason);
      await refreshStatus();
    }
  }

  /** Change some settings; returns null when saved, else the reason it was refused. */
  async function changeSettings(settings: ProjectSettingsPatch): Promise<string | null> {
    const r = await call('projects:settings', {
      projectId: projectId.value!,
      settings,
      changedBy: annotator.value || 'unknown',
    });
    if (!r.ok) return r.error.message;
    status.value = r.value;
    return null;
  }

  async function changeClasses(change: ClassChange): Promise<boolean> {
    const r = await call('projects:classes', {
      projectId: projectId.value!,
      change,
      changedBy: annotator.value || 'unknown',
    });
    if (!r.ok) {
      app.notify('error', r.error.message);
      return false;
    }
    status.value = r.value;
    images.clear();
    return true;
  }

  async function loadAgreement(): Promise<void> {
    const r = await call('labels:agreement', { projectId: projectId.value! });
    if (r.ok) agreementView.value = r.value;
    else app.notify('error', r.error.message);
  }

  async function exportProject(
    args: Omit<ArgsOf<'projects:export'>, 'projectId'>,
  ): Promise<ExportSummary | string> {
    const r = await call('projects:export', { ...args, projectId: projectId.value! });
    return r.ok ? r.value : r.error.message;
  }

  /** Where a typed export path leads, before anything is written. */
  async function exportTarget(out: string): Promise<ExportTarget | null> {
    if (out.trim() === '') return null;
    const r = await call('projects:exportTarget', { out });
    return r.ok ? r.value : { path: null, problem: r.error.message, exists: null };
  }

  /** The native save dialog (desktop); null when cancelled or in browser mode. */
  async function chooseExportPath(format: ExportFormat): Promise<string | null> {
    const r = await call('projects:chooseExport', { projectId: projectId.value!, format });
    if (!r.ok) {
      app.notify('error', r.error.message);
      return null;
    }
    return r.value.path;
  }

  return {
    projects,
    loaded,
    status,
    statusError,
    annotator,
    annotatorKnown,
    retrainNote,
    queue,
    agreementView,
    training,
    batchSerial,
    projectId,
    setAnnotator,
    loadProjects,
    open,
    refreshStatus,
    create,
    importExport,
    loadQueue,
    sample,
    forget,
    submit,
    undo,
    retrain,
    cancelRetrain,
    changeSettings,
    changeClasses,
    loadAgreement,
    exportProject,
    exportTarget,
    chooseExportPath,
  };
});
