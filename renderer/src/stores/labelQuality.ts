import { defineStore } from 'pinia';
import { ref } from 'vue';
import type {
  AnnotatorQualityView,
  SuspectDecision,
  SuspectItem,
  SuspectList,
} from '../../../shared/labelQuality.ts';
import { call } from '../bridge.ts';
import { useAppStore } from './app.ts';

/**
 * Trust in labels for the open project: the Suspects queue (labels confident learning says are
 * probably wrong) and the annotators' estimated accuracy (Dawid-Skene). The list is reloaded when
 * the back end says a search for suspects ended.
 */
export const useLabelQualityStore = defineStore('labelQuality', () => {
  const app = useAppStore();
  const projectId = ref<number | null>(null);
  const suspects = ref<SuspectList | null>(null);
  const annotators = ref<AnnotatorQualityView | null>(null);
  /** Set while a search runs (from the list, then from events). */
  const computing = ref(false);
  /** Bumped when a search ended, so open views reload. */
  const serial = ref(0);

  app.onEvent((e) => {
    if (e.kind !== 'project-suspects' || e.projectId !== projectId.value) return;
    computing.value = e.phase === 'started';
    if (e.phase === 'failed')
      app.notify('error', `Looking for suspect labels failed: ${e.message ?? ''}`);
    if (e.phase !== 'started') {
      serial.value++;
      void loadSuspects(e.projectId);
    }
  });

  async function loadSuspects(id: number): Promise<SuspectList | null> {
    if (projectId.value !== id) {
      suspects.value = null;
      annotators.value = null;
    }
    projectId.value = id;
    const r = await call('suspects:list', { projectId: id, limit: 500 });
    if (!r.ok) {
      app.notify('error', r.error.message);
      return null;
    }
    if (projectId.value !== id) return null;
    suspects.value = r.value;
    computing.value = r.value.computing;
    return r.value;
  }

  /** Keep, relabel or send for a second opinion; true when recorded. */
  async function review(
    item: SuspectItem,
    decision: SuspectDecision,
    reviewer: string,
    opts: { classIdx?: number; durationMs?: number } = {},
  ): Promise<boolean> {
    if (projectId.value === null) return false;
    const r = await call('suspects:review', {
      projectId: projectId.value,
      sampleId: item.sampleId,
      eventId: item.eventId,
      decision,
      reviewer,
      ...(opts.classIdx !== undefined ? { classIdx: opts.classIdx } : {}),
      ...(opts.durationMs !== undefined ? { durationMs: Math.round(opts.durationMs) } : {}),
    });
    if (!r.ok) {
      app.notify('error', `Not saved: ${r.error.message}`);
      return false;
    }
    const list = suspects.value;
    if (list) {
      list.items = list.items.filter((i) => i.sampleId !== item.sampleId);
      list.total = Math.max(0, list.total - 1);
      if (decision === 'second') list.awaitingSecond++;
      else list.settled++;
    }
    return true;
  }

  async function find(): Promise<void> {
    if (projectId.value === null) return;
    const r = await call('suspects:find', { projectId: projectId.value });
    if (!r.ok) app.notify('error', r.error.message);
    else {
      if (r.value.started) computing.value = true;
      app.notify('info', r.value.reason);
    }
  }

  async function cancel(): Promise<void> {
    if (projectId.value === null) return;
    const r = await call('suspects:cancel', { projectId: projectId.value });
    if (!r.ok) app.notify('error', r.error.message);
    else app.notify('info', r.value.reason);
  }

  async function loadAnnotators(id: number): Promise<void> {
    projectId.value = id;
    const r = await call('projects:annotators', { projectId: id });
    if (r.ok) annotators.value = r.value;
    else app.notify('error', r.error.message);
  }

  return {
    projectId,
    suspects,
    annotators,
    computing,
    serial,
    loadSuspects,
    review,
    find,
    cancel,
    loadAnnotators,
  };
});
