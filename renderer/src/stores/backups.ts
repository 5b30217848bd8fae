import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { BackupList, BackupRestore } from '../../../shared/contract.ts';
import { call } from '../bridge.ts';
import { useAppStore } from './app.ts';

/** Shown once after the page reloads for a restore (the reload clears every other state). */
const RESTORED_KEY = 'deepal-restored';

/** The workspace database's rolling backups: list, back up now, restore. */
export const useBackupsStore = defineStore('backups', () => {
  const app = useAppStore();
  const list = ref<BackupList | null>(null);
  const error = ref<string | null>(null);
  const working = ref<'create' | 'restore' | null>(null);

  // After a restore every view's data is stale (studies, datasets, projects, caches): load the
  // whole app again, from whichever window asked for it.
  app.onEvent((e) => {
    if (e.kind !== 'backup-restored') return;
    sessionStorage.setItem(
      RESTORED_KEY,
      `Restored ${e.name}.${e.safetyCopy ? ` The database as it was is kept as ${e.safetyCopy}.` : ''}`,
    );
    window.location.reload();
  });
  const restoredNote = sessionStorage.getItem(RESTORED_KEY);
  if (restoredNote) {
    sessionStorage.removeItem(RESTORED_KEY);
    app.notify('success', restoredNote, 8000);
  }

  async function load(): Promise<void> {
    const r = await call('backups:list', {});
    if (r.ok) {
      list.value = r.value;
      error.value = null;
    } else if (r.error.code === 'unauthorized') {
      // The page says so once, at the top; the card stays quiet.
      error.value = null;
    } else error.value = r.error.message;
  }

  async function create(): Promise<void> {
    working.value = 'create';
    const r = await call('backups:create', {});
    working.value = null;
    if (r.ok) app.notify('success', `Backed up to ${r.value.name}.`);
    else app.notify('error', r.error.message);
    await load();
  }

  /** Restore a listed backup; resolves to null when refused (the reason is shown). */
  async function restore(name: string): Promise<BackupRestore | null> {
    working.value = 'restore';
    const r = await call('backups:restore', { name });
    working.value = null;
    if (!r.ok) {
      app.notify('error', r.error.message);
      await load();
      return null;
    }
    return r.value;
  }

  return { list, error, working, load, create, restore };
});
