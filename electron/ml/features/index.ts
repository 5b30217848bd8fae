/**
 * The feature layer: extractors that turn an image dataset into an embedding matrix, computed in
 * the ML worker, cancellable, and cached in the workspace. Heads (electron/ml/heads) train on the
 * matrices.
 */
import type { FeatureSpec } from '../../../shared/features.ts';
import { descriptorExtractor } from './descriptors.ts';
import type { FeatureExtractor } from './types.ts';

export type { FeatureExtractor, FeatureMatrix, ImageSource } from './types.ts';

/** The extractor for a spec. Model-file and self-supervised extractors load on first use. */
export async function createExtractor(spec: FeatureSpec): Promise<FeatureExtractor> {
  switch (spec.kind) {
    case 'descriptors':
      return descriptorExtractor(spec);
    case 'ssl': {
      const { sslExtractor } = await import('./ssl.ts');
      return sslExtractor(spec);
    }
    case 'onnx': {
      const { onnxExtractor } = await import('./onnx.ts');
      return onnxExtractor(spec);
    }
    case 'tfjs': {
      const { tfjsExtractor } = await import('./tfjsModel.ts');
      return tfjsExtractor(spec);
    }
  }
}
