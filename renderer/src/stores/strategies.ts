import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { StrategyInfo } from '../../../shared/contract.ts';
import { call } from '../bridge.ts';

/** Display order and headings of the strategy families (the survey's taxonomy). */
export const FAMILY_LABELS: Record<string, string> = {
  baseline: 'Baseline',
  uncertainty: 'Uncertainty',
  diversity: 'Diversity and representativeness',
  hybrid: 'Hybrid',
  enhanced: 'Enhanced training',
};

export const useStrategiesStore = defineStore('strategies', () => {
  const list = ref<StrategyInfo[]>([]);
  const error = ref<string | null>(null);
  const loading = ref(false);

  const byFamily = computed(() => {
    const order = Object.keys(FAMILY_LABELS);
    const groups = new Map<string, StrategyInfo[]>();
    for (const s of list.value) {
      const g = groups.get(s.family) ?? [];
      g.push(s);
      groups.set(s.family, g);
    }
    return [...groups.entries()]
      .sort((a, b) => ((order.indexOf(a[0]) + 99) % 99) - ((order.indexOf(b[0]) + 99) % 99))
      .map(([family, items]) => ({ family, label: FAMILY_LABELS[family] ?? family, items }));
  });

  async function load(): Promise<void> {
    if (list.value.length > 0 || loading.value) return;
    loading.value = true;
    const r = await call('strategies:list', {});
    loading.value = false;
    if (r.ok) {
      list.value = r.value;
      error.value = null;
    } else error.value = r.error.message;
  }

  return { list, error, loading, byFamily, load };
});
