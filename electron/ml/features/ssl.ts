/**
 * Self-supervised features: an encoder pretrained on the unlabeled pool itself, with no weights
 * from anywhere else, then used as a frozen feature extractor (its representation before the
 * projection head, as in the linear evaluation of SimCLR).
 *
 * Method: SimCLR (Chen, Kornblith, Norouzi, Hinton 2020, "A Simple Framework for Contrastive
 * Learning of Visual Representations"): two random views of each image, a small CNN encoder, a
 * 2-layer MLP projection head, and the NT-Xent loss over the other 2B - 2 views of the batch as
 * negatives. Why this one for a pool of a few hundred to a few thousand images trained on a
 * laptop CPU for minutes:
 * - The negatives make a collapsed (constant) representation a bad solution of the loss itself.
 *   The methods without negatives avoid collapse through mechanisms that need tuning and long
 *   schedules: BYOL (Grill et al. 2020) a second, moving-average network (one more forward pass per
 *   view), SimSiam (Chen and He 2021) a predictor and a stop-gradient, without either of which it
 *   collapses; nobody watches a background job to see it collapse.
 * - VICReg and Barlow Twins (Bardes et al. 2022; Zbontar et al. 2021) work best with projectors
 *   thousands of units wide, whose d x d statistics cost more than our whole encoder on a CPU.
 * - SimCLR's weakness is its appetite for large batches; Chen et al. (their Fig. 9) show the gap
 *   between small and large batches closes as training runs longer. We use batches of 64 images
 *   (128 views): on a shared 2-core CPU a step then takes one to a few seconds, which is also how
 *   long a cancel can wait. The encoder is small (32-64-128-256 channels, strided first
 *   convolution) for the same reason; docs/features.md compares it with a narrower one.
 * - One network and one loss: the simplest thing that can be checked and resumed exactly.
 * Temperature 0.2: MoCo v2's (Chen, Fan, Girshick, He 2020); SimCLR found lower temperatures
 * better with normalised embeddings (their Table 5). Adam at 1e-3 without a schedule, because the
 * budget, not an epoch count, ends training.
 *
 * Views (sslAugment.ts): random resized crops of 25-100% of the image (read at up to twice the
 * encoder's side, so a small crop still has real detail), all 8 flips and 90-degree rotations
 * (textures such as defects and tissue have no up), brightness/contrast (and saturation) jitter,
 * random grayscale for colour. No blur: fine texture is what these classes differ by.
 *
 * The job (prepare): training runs until `budgetSec` seconds of training have been spent in all
 * runs together. In a state folder of its own under ctx.stateDir (keyed by the images' fingerprint
 * and every setting but the budget), the weights, Adam's moments, the step count and the elapsed
 * time are checkpointed every 30 s, at the end and on cancel, atomically (sslCheckpoint.ts). A
 * later run with the same or a larger budget resumes there; an exhausted budget trains no more.
 * Every random choice of step s (which images, which views) is drawn from a stream seeded by
 * (seed, s) and the images' order from one seeded by (seed, epoch), so the checkpoint needs no
 * generator state: a resumed run computes the same steps as one that was never interrupted.
 *
 * Memory: the pool is held as uint8 at the training read size when that fits in
 * `poolCacheBytes` (256 MB; 1,770 NEU images at 128 x 128 take 29 MB), else each batch's images
 * are read from the source; no float copy of the pool exists, only of one batch of views.
 */
import { createHash } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SslFeaturesSchema, type FeatureSpec } from '../../../shared/features.ts';
import { Rng, deriveSeed } from '../../../shared/random.ts';
import { Adam } from '../training/adam.ts';
import { FeaturesCancelled } from './compute.ts';
import { DEFAULT_AUGMENT, augmentView, normalizePixel, type AugmentConfig } from './sslAugment.ts';
import {
  CHECKPOINT_FILE,
  CheckpointDamaged,
  payloadHash,
  readCheckpoint,
  writeCheckpoint,
  type CheckpointTensor,
  type WriteHooks,
} from './sslCheckpoint.ts';
import { SslNet, ntXent, type SslNetConfig } from './sslNet.ts';
import type { FeatureExtractor, FeatureJobContext, ImageSource } from './types.ts';

/** Bumped when the same settings would train or embed differently. */
export const SSL_VERSION = 1;

export type SslSpec = Extract<FeatureSpec, { kind: 'ssl' }>;

export interface SslTrainConfig {
  net: SslNetConfig;
  /** Images per step (two views each); capped at the pool size. */
  batchSize: number;
  learningRate: number;
  temperature: number;
  /** Training crops come from images read at up to `readScale` x the encoder's side. */
  readScale: number;
  augment: AugmentConfig;
}

export const DEFAULT_SSL_CONFIG: SslTrainConfig = {
  net: { widths: [32, 64, 128, 256], projDim: 128, stemStride: 2 },
  batchSize: 64,
  learningRate: 1e-3,
  temperature: 0.2,
  readScale: 2,
  augment: DEFAULT_AUGMENT,
};

export interface SslStepInfo {
  /** Steps done in all runs together, this one included. */
  step: number;
  loss: number;
  /** Seconds of training in all runs together. */
  elapsedSec: number;
}

/** Knobs for tests and benchmarks; the app uses the defaults. */
export interface SslOptions {
  config?: Partial<SslTrainConfig>;
  /** Stop once this many steps have been done in all runs together (the budget still applies). */
  maxSteps?: number;
  /** Seconds between checkpoints (default 30). */
  checkpointEverySec?: number;
  /** Largest uint8 copy of the pool kept in memory, bytes (default 256 MB). */
  poolCacheBytes?: number;
  onStep?: (info: SslStepInfo) => void;
  hooks?: WriteHooks;
}

/** What the checkpoint header records besides the tensors. */
export interface SslCheckpointMeta {
  version: number;
  fingerprint: string;
  side: number;
  seed: number;
  channels: number;
  config: SslTrainConfig;
  step: number;
  elapsedSec: number;
  /** Adam's step count per trainable variable (by local name). */
  adamSteps: Record<string, number>;
  savedAt: string;
}

/** Thrown when pretraining stops on cancel; the latest checkpoint is kept. */
export class PretrainingCancelled extends FeaturesCancelled {
  constructor(elapsedSec: number, budgetSec: number, kept: boolean) {
    super();
    this.message = kept
      ? `Pretraining was cancelled after ${Math.round(elapsedSec)} s of its ${budgetSec} s budget; the encoder trained so far is kept and the next run continues from it.`
      : `Pretraining was cancelled after ${Math.round(elapsedSec)} s of its ${budgetSec} s budget; nothing was kept (no state folder).`;
  }
}

/** The [height, width] the pool is read at for training crops. */
export function trainReadSize(source: ImageSource, side: number, readScale: number): number {
  const native = Math.min(source.nativeSize[0], source.nativeSize[1]);
  return Math.max(side, Math.min(Math.round(side * readScale), native));
}

/** The folder of this pool's and these settings' checkpoint under a state folder. */
export function sslStateDir(
  stateDir: string,
  source: ImageSource,
  spec: SslSpec,
  config: SslTrainConfig,
): string {
  const h = createHash('sha256');
  // Everything that decides the training except the budget: more budget continues the same run.
  h.update(
    JSON.stringify({
      v: SSL_VERSION,
      fingerprint: source.fingerprint,
      channels: source.channels,
      side: spec.side,
      seed: spec.seed,
      config,
    }),
  );
  return join(stateDir, `ssl-${h.digest('hex').slice(0, 24)}`);
}

/**
 * The images a training step reads: uint8 at the read size, all in memory when they fit the cap,
 * else read from the source per batch (contiguous runs of the batch's indices in one read each).
 */
class PoolReader {
  private constructor(
    private readonly source: ImageSource,
    private readonly size: number,
    private readonly all: Uint8Array | null,
  ) {}

  get per(): number {
    return this.size * this.size * this.source.channels;
  }

  static async open(
    source: ImageSource,
    size: number,
    capBytes: number,
    ctx: FeatureJobContext,
    onCancel: () => Error,
  ): Promise<PoolReader> {
    const per = size * size * source.channels;
    if (source.count * per > capBytes) return new PoolReader(source, size, null);
    const all = new Uint8Array(source.count * per);
    const slice = 64;
    for (let s = 0; s < source.count; s += slice) {
      if (ctx.signal?.aborted) throw onCancel();
      const e = Math.min(source.count, s + slice);
      all.set(await source.read(s, e, [size, size]), s * per);
      ctx.progress?.({ phase: 'reading', done: e, total: source.count });
    }
    return new PoolReader(source, size, all);
  }

  /** The images at `indices`, each a uint8 HWC view. */
  async images(indices: Int32Array): Promise<Uint8Array[]> {
    const per = this.per;
    if (this.all) return Array.from(indices, (i) => this.all!.subarray(i * per, (i + 1) * per));
    const order = Array.from(indices).sort((a, b) => a - b);
    const runs: [number, number][] = [];
    for (const i of order) {
      const last = runs[runs.length - 1];
      if (last && last[1] === i) last[1] = i + 1;
      else runs.push([i, i + 1]);
    }
    const got = new Map<number, Uint8Array>();
    for (let r = 0; r < runs.length; r += 4) {
      await Promise.all(
        runs.slice(r, r + 4).map(async ([s, e]) => {
          const px = await this.source.read(s, e, [this.size, this.size]);
          for (let i = s; i < e; i++) got.set(i, px.subarray((i - s) * per, (i - s + 1) * per));
        }),
      );
    }
    return Array.from(indices, (i) => got.get(i)!);
  }
}

/** Image indices of each step: epoch e is a permutation seeded by (seed, e), cut in batches. */
class BatchPlan {
  private epoch = -1;
  private perm = new Int32Array(0);
  readonly stepsPerEpoch: number;

  constructor(
    private readonly n: number,
    readonly batch: number,
    private readonly seed: number,
  ) {
    this.stepsPerEpoch = Math.floor(n / batch);
  }

  indices(step: number): Int32Array {
    const epoch = Math.floor(step / this.stepsPerEpoch);
    if (epoch !== this.epoch) {
      this.perm = new Rng(deriveSeed(this.seed, 'ssl-epoch', epoch)).shuffle(
        Int32Array.from({ length: this.n }, (_, i) => i),
      );
      this.epoch = epoch;
    }
    const k = step % this.stepsPerEpoch;
    return this.perm.slice(k * this.batch, (k + 1) * this.batch);
  }
}

const yieldToEvents = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The self-supervised extractor, with what its pretraining has done so far. */
export interface SslExtractor extends FeatureExtractor {
  /** Steps and seconds of training in all runs together, once `prepare` has run; else null. */
  trained(): { step: number; elapsedSec: number } | null;
}

/** The self-supervised extractor for a spec (see the file's header). */
export function sslExtractor(specIn: SslSpec, opts: SslOptions = {}): SslExtractor {
  const spec = SslFeaturesSchema.parse(specIn);
  const config: SslTrainConfig = {
    ...DEFAULT_SSL_CONFIG,
    ...opts.config,
    augment: { ...DEFAULT_SSL_CONFIG.augment, ...opts.config?.augment },
  };
  const side = spec.side;
  let net: SslNet | null = null;
  let keyExtra: string | null = null;
  let trained: { step: number; elapsedSec: number } | null = null;

  const weightTensors = (n: SslNet): CheckpointTensor[] =>
    n.variables().map((v) => ({
      name: `w/${n.localName(v)}`,
      shape: [...v.shape],
      data: v.dataSync() as Float32Array,
    }));

  return {
    spec,
    version: SSL_VERSION,

    inputSize: () => [side, side],

    dim: () => config.net.widths[config.net.widths.length - 1]!,

    async prepare(source: ImageSource, ctx: FeatureJobContext): Promise<void> {
      if (source.count < 2) {
        throw new Error(
          `Self-supervised pretraining compares pairs of images; the pool has ${source.count}`,
        );
      }
      const c = source.channels;
      net?.dispose();
      net = new SslNet(c, config.net, deriveSeed(spec.seed, 'ssl-init'));
      const adam = new Adam(config.learningRate);
      const dir = ctx.stateDir ? sslStateDir(ctx.stateDir, source, spec, config) : undefined;
      let step = 0;
      let elapsed = 0;
      try {
        if (dir) ({ step, elapsed } = await restore(dir, net, adam));
        const save = async (): Promise<void> => {
          if (!dir) return;
          await writeCheckpoint<SslCheckpointMeta>(
            dir,
            snapshot(net!, adam, step, elapsed),
            opts.hooks,
          );
        };
        const snapshot = (
          n: SslNet,
          a: Adam,
          s: number,
          el: number,
        ): { meta: SslCheckpointMeta; tensors: CheckpointTensor[] } => {
          const tensors = weightTensors(n);
          const adamSteps: Record<string, number> = {};
          for (const v of n.params.trainable) {
            const st = a.getState(v);
            if (!st) continue;
            const name = n.localName(v);
            adamSteps[name] = st.t;
            tensors.push(
              { name: `m/${name}`, shape: [...v.shape], data: st.m.dataSync() as Float32Array },
              { name: `v/${name}`, shape: [...v.shape], data: st.v.dataSync() as Float32Array },
            );
            st.m.dispose();
            st.v.dispose();
          }
          return {
            meta: {
              version: SSL_VERSION,
              fingerprint: source.fingerprint,
              side,
              seed: spec.seed,
              channels: c,
              config,
              step: s,
              elapsedSec: el,
              adamSteps,
              savedAt: new Date().toISOString(),
            },
            tensors,
          };
        };

        const budget = spec.budgetSec;
        const report = (): void =>
          ctx.progress?.({ phase: 'pretraining', done: Math.min(elapsed, budget), total: budget });
        const cancelled = (): Error => new PretrainingCancelled(elapsed, budget, dir !== undefined);
        const more = (): boolean =>
          elapsed < budget && (opts.maxSteps === undefined || step < opts.maxSteps);
        report();
        if (more()) {
          const readSize = trainReadSize(source, side, config.readScale);
          const pool = await PoolReader.open(
            source,
            readSize,
            opts.poolCacheBytes ?? 256 * 2 ** 20,
            ctx,
            cancelled,
          );
          const plan = new BatchPlan(
            source.count,
            Math.min(config.batchSize, source.count),
            spec.seed,
          );
          const b = plan.batch;
          const perView = side * side * c;
          const views = new Float32Array(2 * b * perView);
          const everyMs = (opts.checkpointEverySec ?? 30) * 1000;
          let lastSave = performance.now();
          let lastReport = 0;
          report();
          while (more()) {
            if (ctx.signal?.aborted) {
              await save();
              throw cancelled();
            }
            const t0 = performance.now();
            const imgs = await pool.images(plan.indices(step));
            const rng = new Rng(deriveSeed(spec.seed, 'ssl-step', step));
            for (let v = 0; v < 2; v++) {
              for (let i = 0; i < b; i++) {
                augmentView(
                  imgs[i]!,
                  readSize,
                  readSize,
                  c,
                  side,
                  views,
                  (v * b + i) * perView,
                  rng,
                  config.augment,
                );
              }
            }
            const lossT = tf.tidy(() => {
              const x = tf.tensor4d(views, [2 * b, side, side, c]);
              const trainable = net!.params.trainable;
              const { value, grads } = tf.variableGrads(
                () => ntXent(net!.project(net!.encode(x, 'train')), config.temperature),
                trainable,
              );
              adam.step(trainable, grads);
              return value;
            });
            const loss = (await lossT.data())[0]!;
            lossT.dispose();
            step++;
            elapsed += (performance.now() - t0) / 1000;
            opts.onStep?.({ step, loss, elapsedSec: elapsed });
            const now = performance.now();
            if (now - lastReport > 250) {
              report();
              lastReport = now;
            }
            if (dir && now - lastSave >= everyMs) {
              await save();
              lastSave = performance.now();
            }
            // Let a cancel message in between steps.
            await yieldToEvents();
          }
          await save();
          report();
        }
        keyExtra = `${step}-${payloadHash(weightTensors(net)).slice(0, 32)}`;
        trained = { step, elapsedSec: elapsed };
      } finally {
        adam.dispose();
      }
    },

    trained: () => trained,

    cacheKeyExtra(): string {
      if (keyExtra === null) throw new Error('The self-supervised encoder is not trained yet');
      return keyExtra;
    },

    async embed(pixels, n, shape): Promise<Float32Array> {
      if (!net) throw new Error('The self-supervised encoder is not trained yet');
      const [h, w, c] = shape;
      if (h !== side || w !== side || c !== net.channels) {
        throw new Error(
          `The self-supervised encoder takes ${side} x ${side} x ${net.channels} images, got ${h} x ${w} x ${c}`,
        );
      }
      const per = h * w * c;
      const dim = net.embeddingDim;
      const out = new Float32Array(n * dim);
      const batch = 64;
      for (let s = 0; s < n; s += batch) {
        const e = Math.min(n, s + batch);
        const x = new Float32Array((e - s) * per);
        for (let k = 0; k < x.length; k++) x[k] = normalizePixel(pixels[s * per + k]!);
        const emb = tf.tidy(() => net!.encode(tf.tensor4d(x, [e - s, h, w, c]), 'eval'));
        out.set(await emb.data(), s * dim);
        emb.dispose();
      }
      return out;
    },

    dispose(): void {
      net?.dispose();
      net = null;
    },
  };

  /** Load the checkpoint in `dir` into `n` and `a`; a damaged one is set aside and training restarts. */
  async function restore(
    dir: string,
    n: SslNet,
    a: Adam,
  ): Promise<{ step: number; elapsed: number }> {
    let ckpt;
    try {
      ckpt = await readCheckpoint<SslCheckpointMeta>(dir);
      if (ckpt) checkCompatible(ckpt.meta, ckpt.tensors, n, join(dir, CHECKPOINT_FILE));
    } catch (err) {
      if (!(err instanceof CheckpointDamaged)) throw err;
      // Keep the damaged file for inspection rather than deleting anything; start over.
      const aside = join(dir, `checkpoint.damaged-${Date.now()}.bin`);
      await rename(join(dir, CHECKPOINT_FILE), aside);
      console.warn(`${err.message}; it was moved to ${aside} and pretraining starts again`);
      return { step: 0, elapsed: 0 };
    }
    if (!ckpt) return { step: 0, elapsed: 0 };
    const byName = new Map(ckpt.tensors.map((t) => [t.name, t]));
    tf.tidy(() => {
      for (const v of n.variables()) {
        const t = byName.get(`w/${n.localName(v)}`)!;
        v.assign(tf.tensor(t.data, t.shape, 'float32'));
      }
      for (const v of n.params.trainable) {
        const name = n.localName(v);
        const t = ckpt.meta.adamSteps[name];
        if (t === undefined) continue;
        const m = byName.get(`m/${name}`)!;
        const vv = byName.get(`v/${name}`)!;
        a.setState(v, {
          m: tf.tensor(m.data, m.shape, 'float32'),
          v: tf.tensor(vv.data, vv.shape, 'float32'),
          t,
        });
      }
    });
    return { step: ckpt.meta.step, elapsed: ckpt.meta.elapsedSec };
  }
}

/** A checkpoint must hold every tensor of this encoder at its shape. */
function checkCompatible(
  meta: SslCheckpointMeta,
  tensors: readonly CheckpointTensor[],
  n: SslNet,
  file: string,
): void {
  if (meta.version !== SSL_VERSION) {
    throw new CheckpointDamaged(file, `made by version ${meta.version}, expected ${SSL_VERSION}`);
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const want = (name: string, shape: readonly number[]): void => {
    const t = byName.get(name);
    if (!t || t.shape.join(',') !== shape.join(',')) {
      throw new CheckpointDamaged(file, `no tensor ${name} of shape [${shape}]`);
    }
  };
  for (const v of n.variables()) want(`w/${n.localName(v)}`, v.shape);
  for (const name of Object.keys(meta.adamSteps)) {
    const v = n.params.trainable.find((x) => n.localName(x) === name);
    if (!v) throw new CheckpointDamaged(file, `optimizer state for unknown ${name}`);
    want(`m/${name}`, v.shape);
    want(`v/${name}`, v.shape);
  }
  if (!(Number.isInteger(meta.step) && meta.step >= 0 && meta.elapsedSec >= 0)) {
    throw new CheckpointDamaged(file, 'step count or elapsed time out of range');
  }
}
