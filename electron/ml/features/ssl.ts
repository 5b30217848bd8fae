import type { FeatureSpec } from '../../../shared/features.ts';
import type { FeatureExtractor } from './types.ts';

/** Not built yet: refused with the reason instead of pretending. */
export function sslExtractor(spec: Extract<FeatureSpec, { kind: 'ssl' }>): FeatureExtractor {
  throw new Error(
    `Features of kind "${spec.kind}" are not available in this build yet; use --features descriptors`,
  );
}
