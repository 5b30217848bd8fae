import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { AppEvent, AppInfo } from '../../../shared/contract.ts';
import { call, subscribe, type ConnectionState } from '../bridge.ts';

export type View =
  'home' | 'datasets' | 'new-study' | 'monitor' | 'dashboard' | 'ablation' | 'label';

const VIEWS: readonly View[] = [
  'home',
  'datasets',
  'new-study',
  'monitor',
  'dashboard',
  'ablation',
  'label',
];

export interface Toast {
  id: number;
  kind: 'info' | 'error' | 'success';
  text: string;
}

/** Parse `#/monitor/3` into a view and study id. */
function parseHash(hash: string): { view: View; studyId: number | null } {
  const [, view = 'home', id] = hash.replace(/^#/, '').split('/');
  const v = (VIEWS as readonly string[]).includes(view) ? (view as View) : 'home';
  const n = Number(id);
  return { view: v, studyId: Number.isInteger(n) && n > 0 ? n : null };
}

/** App-wide state: where the app runs, navigation, the event stream, notifications. */
export const useAppStore = defineStore('app', () => {
  const info = ref<AppInfo | null>(null);
  const infoError = ref<string | null>(null);
  const connection = ref<ConnectionState>('connecting');
  const initial = parseHash(window.location.hash);
  const view = ref<View>(initial.view);
  const studyId = ref<number | null>(initial.studyId);
  const toasts = ref<Toast[]>([]);
  let nextToast = 1;
  let infoPolls = 0;
  const eventListeners = new Set<(e: AppEvent) => void>();
  let unsubscribe: (() => void) | null = null;

  const ready = computed(() => info.value !== null);

  async function loadInfo(): Promise<void> {
    const r = await call('app:info', {});
    if (r.ok) {
      info.value = r.value;
      infoError.value = null;
      // The ML backend starts in the background; ask again until it is named.
      if (r.value.backend === null && infoPolls++ < 30) setTimeout(() => void loadInfo(), 2000);
    } else infoError.value = r.error.message;
  }

  /** The study last opened, so the monitor and comparison tabs return to it. */
  const lastStudyId = ref<number | null>(initial.studyId);

  function navigate(next: View, id: number | null = null): void {
    // The label view's id is a project, not a study.
    if (id !== null && next !== 'label') lastStudyId.value = id;
    view.value = next;
    studyId.value = id;
    const hash = id !== null ? `#/${next}/${id}` : `#/${next}`;
    if (window.location.hash !== hash) history.pushState(null, '', hash);
  }

  function onPopState(): void {
    const p = parseHash(window.location.hash);
    view.value = p.view;
    studyId.value = p.studyId;
  }

  function notify(kind: Toast['kind'], text: string, ms = kind === 'error' ? 8000 : 4000): void {
    const id = nextToast++;
    toasts.value.push({ id, kind, text });
    setTimeout(() => dismiss(id), ms);
  }

  function dismiss(id: number): void {
    toasts.value = toasts.value.filter((t) => t.id !== id);
  }

  /** The one subscription to back-end events; other stores register handlers here. */
  function start(): void {
    if (unsubscribe) return;
    window.addEventListener('popstate', onPopState);
    unsubscribe = subscribe(
      (e) => {
        for (const l of eventListeners) l(e);
      },
      (s) => {
        connection.value = s;
      },
    );
    void loadInfo();
  }

  function stop(): void {
    window.removeEventListener('popstate', onPopState);
    unsubscribe?.();
    unsubscribe = null;
  }

  function onEvent(listener: (e: AppEvent) => void): () => void {
    eventListeners.add(listener);
    return () => eventListeners.delete(listener);
  }

  return {
    info,
    infoError,
    connection,
    view,
    studyId,
    lastStudyId,
    toasts,
    ready,
    loadInfo,
    navigate,
    notify,
    dismiss,
    start,
    stop,
    onEvent,
  };
});
