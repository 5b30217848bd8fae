import type { ModelFileFeatures } from '../../../shared/features.ts';
import type { FeatureExtractor } from './types.ts';

/** Not built yet: refused with the reason instead of pretending. */
export function tfjsExtractor(spec: ModelFileFeatures): FeatureExtractor {
  throw new Error(
    `Features from a ${spec.kind} model file are not available in this build yet; use --features descriptors`,
  );
}
