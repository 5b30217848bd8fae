import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { DatasetPreview, DatasetSummary } from '../../../shared/contract.ts';
import { call } from '../bridge.ts';
import { useAppStore } from './app.ts';

export type PreviewState = 'idle' | 'loading' | 'ready' | 'error';
export type ImportState = 'idle' | 'importing' | 'done' | 'error';

export const useDatasetsStore = defineStore('datasets', () => {
  const app = useAppStore();
  const list = ref<DatasetSummary[]>([]);
  const loaded = ref(false);
  const preview = ref<DatasetPreview | null>(null);
  const previewState = ref<PreviewState>('idle');
  const previewError = ref<string | null>(null);
  const importState = ref<ImportState>('idle');
  const importProgress = ref<{ phase: string; done: number; total: number } | null>(null);
  /** Files read so far while a preview reads a large folder. */
  const previewProgress = ref<{ done: number; total: number } | null>(null);
  let previewingPath: string | null = null;
  const importError = ref<string | null>(null);
  const lastImported = ref<DatasetSummary | null>(null);
  let importPath: string | null = null;

  app.onEvent((e) => {
    if (
      e.kind === 'import-progress' &&
      e.path === importPath &&
      importState.value === 'importing'
    ) {
      importProgress.value = { phase: e.phase, done: e.done, total: e.total };
    }
    if (
      e.kind === 'import-progress' &&
      e.phase === 'reading' &&
      e.path === previewingPath &&
      previewState.value === 'loading'
    ) {
      previewProgress.value = { done: e.done, total: e.total };
    }
  });

  async function load(): Promise<void> {
    const r = await call('datasets:list', {});
    if (r.ok) list.value = r.value;
    else app.notify('error', r.error.message);
    loaded.value = true;
  }

  async function previewPath(path: string): Promise<void> {
    previewState.value = 'loading';
    previewError.value = null;
    preview.value = null;
    previewProgress.value = null;
    previewingPath = path.trim();
    // A new preview starts a new import: the last one's outcome no longer applies.
    importState.value = 'idle';
    importError.value = null;
    importProgress.value = null;
    const r = await call('datasets:preview', { path });
    previewProgress.value = null;
    if (r.ok) {
      preview.value = r.value;
      previewState.value = 'ready';
    } else {
      previewError.value = r.error.message;
      previewState.value = 'error';
    }
  }

  async function importDataset(path: string, name?: string): Promise<DatasetSummary | null> {
    importState.value = 'importing';
    importError.value = null;
    importProgress.value = { phase: 'reading', done: 0, total: 1 };
    importPath = path.trim();
    const r = await call('datasets:import', { path, ...(name ? { name } : {}) });
    if (!r.ok) {
      importState.value = 'error';
      importError.value = r.error.message;
      return null;
    }
    importState.value = 'done';
    lastImported.value = r.value;
    app.notify('success', `Imported ${r.value.name}`);
    await load();
    return r.value;
  }

  function resetPreview(): void {
    preview.value = null;
    previewState.value = 'idle';
    previewError.value = null;
    importState.value = 'idle';
    importError.value = null;
    importProgress.value = null;
  }

  return {
    list,
    loaded,
    preview,
    previewState,
    previewError,
    importState,
    importProgress,
    previewProgress,
    importError,
    lastImported,
    load,
    previewPath,
    importDataset,
    resetPreview,
  };
});
