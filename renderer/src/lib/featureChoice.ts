import type { FeatureSpec } from '../../../shared/features.ts';

/** Where a feature model's image features come from, as the New project and settings forms hold it. */
export interface FeatureChoice {
  kind: FeatureSpec['kind'];
  /** Pretraining budget of the self-supervised encoder, seconds. */
  sslBudget: number;
  /** The team's ONNX or TF.js encoder file. */
  path: string;
}

/** The form's fields for an existing spec (a new project starts from the built-in descriptors). */
export function choiceOf(spec: FeatureSpec = { kind: 'descriptors' }): FeatureChoice {
  return {
    kind: spec.kind,
    sslBudget: spec.kind === 'ssl' ? spec.budgetSec : 600,
    path: spec.kind === 'onnx' || spec.kind === 'tfjs' ? spec.path : '',
  };
}

/**
 * The spec the form asks for. `current` (the stored spec) is kept as it is where the choice does
 * not change it, so its other settings (an encoder's input size, SSL's image side) survive.
 */
export function specOf(choice: FeatureChoice, current?: FeatureSpec): FeatureSpec {
  if (choice.kind === 'descriptors')
    return current?.kind === 'descriptors' ? current : { kind: 'descriptors' };
  if (choice.kind === 'ssl') {
    const budgetSec = Number(choice.sslBudget) || 600;
    // A new encoder with the schema's defaults written out (image side 64, seed 0).
    const base = current?.kind === 'ssl' ? current : { kind: 'ssl' as const, side: 64, seed: 0 };
    return { ...base, budgetSec };
  }
  const path = choice.path.trim();
  if (current && current.kind === choice.kind && current.path === path) return current;
  return { kind: choice.kind, path };
}
