/**
 * The pool features the ML worker keeps in memory between a project's jobs (retrains and suspect
 * searches), keyed by workspace, dataset and feature choice. Loading them again from the disk
 * cache resolves, stats and reads every image's entry: 6-12 s a retrain at 60,000 images. One
 * dataset is kept at a time, so a workspace of many projects does not fill the memory; files
 * changed while the app runs are read again after a restart (the disk cache checks them then).
 */
import type { FeatureSpec } from '../../shared/features.ts';
import type { Store } from '../store/store.ts';
import type { PoolFeatures } from './features.ts';

export const workerFeatures = new Map<string, PoolFeatures>();

const datasetPrefix = (store: Store, datasetId: number) => `${store.file}|${datasetId}|`;

/** The key of a dataset's pool features with one feature choice, in a feature cache map. */
export function poolFeatureKey(store: Store, datasetId: number, spec: FeatureSpec): string {
  return `${datasetPrefix(store, datasetId)}${JSON.stringify(spec)}`;
}

/** Forget every dataset's features but `datasetId`'s (of this workspace). */
export function keepFeaturesOf(store: Store, datasetId: number | undefined): void {
  for (const key of workerFeatures.keys())
    if (datasetId === undefined || !key.startsWith(datasetPrefix(store, datasetId)))
      workerFeatures.delete(key);
}
