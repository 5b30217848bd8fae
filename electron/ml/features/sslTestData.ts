/**
 * A tiny synthetic image pool for the self-supervised encoder's tests (and the child process the
 * kill test runs): four kinds of texture (horizontal and vertical stripes, checkerboards, a bright
 * disc) at random phases, brightness and noise, so two views of one image share structure that
 * views of other images lack.
 */
import { Rng } from '../../../shared/random.ts';
import type { Dataset } from '../types.ts';
import { datasetSource } from './source.ts';
import type { ImageSource } from './types.ts';

export function texturePool(n: number, size = 24, seed = 1, channels: 1 | 3 = 1): Dataset {
  const rng = new Rng(seed);
  const x = new Uint8Array(n * size * size * channels);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const kind = i % 4;
    y[i] = kind;
    const period = 3 + rng.int(4);
    const phase = rng.int(period);
    const base = 60 + rng.int(60);
    const cx = rng.int(size);
    const cy = rng.int(size);
    const tint = Array.from({ length: channels }, () => 0.7 + 0.3 * rng.next());
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        let on: boolean;
        if (kind === 0) on = (r + phase) % period < period / 2;
        else if (kind === 1) on = (c + phase) % period < period / 2;
        else if (kind === 2) on = (Math.floor(r / period) + Math.floor(c / period)) % 2 === 0;
        else on = (r - cy) ** 2 + (c - cx) ** 2 < (size / 4) ** 2;
        const v = base + (on ? 100 : 0) + rng.int(30);
        for (let k = 0; k < channels; k++) {
          x[((i * size + r) * size + c) * channels + k] = Math.min(255, Math.round(v * tint[k]!));
        }
      }
    }
  }
  return {
    name: 'textures',
    x,
    y,
    sampleShape: [size, size, channels],
    classNames: ['rows', 'columns', 'checks', 'disc'],
  };
}

export function textureSource(n: number, size = 24, seed = 1, channels: 1 | 3 = 1): ImageSource {
  return datasetSource(texturePool(n, size, seed, channels));
}
