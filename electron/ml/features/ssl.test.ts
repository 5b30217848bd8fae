import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import { initBackend } from '../backend.ts';
import { computeFeatures, FeaturesCancelled } from './compute.ts';
import {
  PretrainingCancelled,
  sslExtractor,
  sslStateDir,
  DEFAULT_SSL_CONFIG,
  type SslOptions,
  type SslSpec,
  type SslStepInfo,
  type SslTrainConfig,
} from './ssl.ts';
import { augmentView, normalizePixel, DEFAULT_AUGMENT } from './sslAugment.ts';
import { CHECKPOINT_FILE, CheckpointDamaged, readCheckpoint } from './sslCheckpoint.ts';
import { ntXent } from './sslNet.ts';
import { TINY_SSL_CONFIG } from './sslTestConfig.ts';
import { textureSource } from './sslTestData.ts';
import type { ImageSource } from './types.ts';

before(async () => {
  // The backend the app trains with, with our gradient kernels (Conv2DBackpropFilter among them).
  await initBackend('wasm');
});

const SPEC: SslSpec = { kind: 'ssl', budgetSec: 600, side: 16, seed: 3 };
const TINY: SslTrainConfig = {
  ...DEFAULT_SSL_CONFIG,
  ...TINY_SSL_CONFIG,
} as SslTrainConfig;

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'deepal-ssl-'));
}

/** Pretrain the tiny encoder; returns its cache key and the steps this run did. */
async function pretrain(
  source: ImageSource,
  opts: SslOptions & { stateDir?: string; spec?: Partial<SslSpec>; signal?: AbortSignal } = {},
): Promise<{ key: string; steps: SslStepInfo[]; trained: { step: number } | null }> {
  const steps: SslStepInfo[] = [];
  const ex = sslExtractor(
    { ...SPEC, ...opts.spec },
    {
      config: TINY_SSL_CONFIG,
      ...opts,
      onStep: (s) => {
        steps.push(s);
        opts.onStep?.(s);
      },
    },
  );
  try {
    await ex.prepare!(source, { stateDir: opts.stateDir, signal: opts.signal });
    return { key: ex.cacheKeyExtra!(), steps, trained: ex.trained() };
  } finally {
    ex.dispose();
  }
}

describe('NT-Xent', () => {
  test('equals the cross entropy of picking the partner view, computed directly', () => {
    const rng = new Rng(5);
    const b = 3;
    const d = 4;
    const t = 0.5;
    const z = Array.from({ length: 2 * b }, () => Array.from({ length: d }, () => rng.normal()));
    const unit = z.map((r) => {
      const n = Math.hypot(...r);
      return r.map((v) => v / n);
    });
    let expected = 0;
    for (let i = 0; i < 2 * b; i++) {
      const partner = (i + b) % (2 * b);
      const logits = unit.map((r, j) =>
        j === i ? -Infinity : r.reduce((a, v, k) => a + v * unit[i]![k]!, 0) / t,
      );
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((a, l) => a + Math.exp(l - max), 0));
      expected += lse - logits[partner]!;
    }
    expected /= 2 * b;
    const got = tf.tidy(() => ntXent(tf.tensor2d(z), t).dataSync()[0]!);
    assert.ok(Math.abs(got - expected) < 1e-4, `${got} vs ${expected}`);
  });
});

describe('views', () => {
  test('a full crop without jitter is one of the 8 flips/rotations of the image', () => {
    const s = 6;
    const src = Uint8Array.from({ length: s * s }, (_, i) => (i * 37) % 251);
    const at = (r: number, c: number): number => normalizePixel(src[r * s + c]!);
    // The 8 symmetries of the square as index maps (r, c) -> source pixel.
    const maps: ((r: number, c: number) => number)[] = [];
    for (const flip of [false, true]) {
      for (let k = 0; k < 4; k++) {
        maps.push((r, c) => {
          let [rr, cc] = [r, c];
          for (let q = 0; q < k; q++) [rr, cc] = [cc, s - 1 - rr];
          if (flip) cc = s - 1 - cc;
          return at(rr, cc);
        });
      }
    }
    const cfg = { ...DEFAULT_AUGMENT, minScale: 1, maxRatio: 1, jitterProb: 0 };
    const rng = new Rng(9);
    const seen = new Set<number>();
    for (let v = 0; v < 40; v++) {
      const out = new Float32Array(s * s);
      augmentView(src, s, s, 1, s, out, 0, rng, cfg);
      const m = maps.findIndex((f) =>
        out.every((x, i) => Math.abs(x - f(Math.floor(i / s), i % s)) < 1e-4),
      );
      assert.ok(m >= 0, `view ${v} is not a symmetry of the image`);
      seen.add(m);
    }
    assert.equal(seen.size, 8, 'all 8 symmetries occur');
  });

  test('views are a function of the seed, finite, and jittered views stay in range', async () => {
    const src = textureSource(1, 24, 2);
    const make = async (seed: number): Promise<Float32Array> => {
      const px = await src.read(0, 1, [24, 24]);
      const out = new Float32Array(3 * 16 * 16);
      const rng = new Rng(seed);
      for (let v = 0; v < 3; v++) augmentView(px, 24, 24, 1, 16, out, v * 256, rng);
      return out;
    };
    const [a, b, c] = await Promise.all([make(1), make(1), make(2)]);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.ok(
      a.every((v) => Number.isFinite(v) && v >= normalizePixel(0) && v <= normalizePixel(255)),
    );
  });
});

describe('self-supervised pretraining', () => {
  test('the loss goes down on a tiny pool, and no tensor is left behind', async () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const { steps } = await pretrain(textureSource(32), {
      maxSteps: 20,
      onStep: () => counts.push(tf.memory().numTensors),
    });
    assert.equal(steps.length, 20);
    const mean = (v: SslStepInfo[]): number => v.reduce((a, s) => a + s.loss, 0) / v.length;
    const first = mean(steps.slice(0, 3));
    const last = mean(steps.slice(-5));
    assert.ok(steps.every((s) => Number.isFinite(s.loss)));
    assert.ok(last < first - 0.5, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    // Adam's moments appear at the first step; from then on a step leaves no tensor behind.
    assert.ok(
      counts.slice(1).every((c) => c === counts[1]),
      `tensors per step: ${counts}`,
    );
    assert.equal(tf.memory().numTensors, before, 'prepare + dispose free every tensor');
  });

  test('a resumed run continues the step count and time, and ends where an uninterrupted run does', async () => {
    const dir = await tempDir();
    try {
      const src = textureSource(32);
      const straight = await pretrain(src, { maxSteps: 6 });
      const first = await pretrain(src, { maxSteps: 3, stateDir: dir });
      const second = await pretrain(src, { maxSteps: 6, stateDir: dir });
      assert.deepEqual(
        first.steps.map((s) => s.step),
        [1, 2, 3],
      );
      assert.deepEqual(
        second.steps.map((s) => s.step),
        [4, 5, 6],
      );
      assert.ok(second.steps[0]!.elapsedSec > first.steps[2]!.elapsedSec);
      // Same steps, same random views, same optimizer state: bit-identical weights.
      assert.deepEqual(
        second.steps.map((s) => s.loss),
        straight.steps.slice(3).map((s) => s.loss),
      );
      assert.equal(second.key, straight.key);
      const ckpt = await readCheckpoint<{ step: number }>(sslStateDir(dir, src, SPEC, TINY));
      assert.equal(ckpt?.meta.step, 6);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('reading each batch from the source gives the same training as holding the pool', async () => {
    const src = textureSource(32);
    const reads: number[] = [];
    const counting: ImageSource = {
      ...src,
      fingerprint: src.fingerprint,
      read: (s, e, size) => {
        reads.push(e - s);
        return src.read(s, e, size);
      },
    };
    const held = await pretrain(src, { maxSteps: 3 });
    const streamed = await pretrain(counting, { maxSteps: 3, poolCacheBytes: 0 });
    assert.equal(streamed.key, held.key);
    assert.ok(
      reads.length > 0 && Math.max(...reads) <= 16,
      `reads of ${Math.max(...reads)} images`,
    );
  });

  test('a spent budget trains no more; more budget continues and changes the cache key', async () => {
    const dir = await tempDir();
    try {
      const src = textureSource(32);
      const a = await pretrain(src, { stateDir: dir, spec: { budgetSec: 1 } });
      assert.ok(a.steps.length > 0);
      assert.ok(a.steps.at(-1)!.elapsedSec >= 1);
      let trained = 0;
      const again = await pretrain(src, {
        stateDir: dir,
        spec: { budgetSec: 1 },
        onStep: () => trained++,
      });
      assert.equal(trained, 0);
      assert.equal(again.trained?.step, a.steps.length);
      assert.equal(again.key, a.key);
      const more = await pretrain(src, { stateDir: dir, spec: { budgetSec: 2 } });
      assert.ok(more.steps.length > 0);
      assert.equal(more.steps[0]!.step, a.steps.length + 1);
      assert.notEqual(more.key, a.key);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('cancel stops before the next step and keeps the checkpoint to resume from', async () => {
    const dir = await tempDir();
    try {
      const src = textureSource(32);
      const ctl = new AbortController();
      let afterAbort = 0;
      const run = pretrain(src, {
        stateDir: dir,
        signal: ctl.signal,
        // Without a working cancel the run ends here and the test fails instead of hanging.
        maxSteps: 40,
        onStep: (s) => {
          if (ctl.signal.aborted) afterAbort++;
          if (s.step === 3) ctl.abort();
        },
      });
      await assert.rejects(run, (err: unknown) => {
        assert.ok(err instanceof PretrainingCancelled);
        assert.ok(err instanceof FeaturesCancelled);
        assert.match(err.message, /cancelled.*kept/);
        return true;
      });
      assert.equal(afterAbort, 0);
      const ckpt = await readCheckpoint<{ step: number }>(sslStateDir(dir, src, SPEC, TINY));
      assert.equal(ckpt?.meta.step, 3);
      const resumed = await pretrain(src, { stateDir: dir, maxSteps: 4 });
      assert.deepEqual(
        resumed.steps.map((s) => s.step),
        [4],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test(
    'a process killed in the middle of writing a checkpoint leaves the previous one loadable',
    {
      timeout: 120_000,
    },
    async () => {
      const dir = await tempDir();
      let child: ChildProcess | undefined;
      try {
        const proc = spawn(
          process.execPath,
          ['--import', 'tsx', fileURLToPath(new URL('./sslKillChild.ts', import.meta.url)), dir],
          { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEEPAL_WASM_THREADS: '1' } },
        );
        child = proc;
        let stderr = '';
        proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const tmp = await new Promise<string>((resolve, reject) => {
          let out = '';
          proc.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            const m = /MID (\S+)\n/.exec(out);
            if (m) resolve(m[1]!);
          });
          proc.on('exit', (code) => reject(new Error(`child exited (${code}): ${stderr}`)));
        });
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
        child = undefined;
        assert.ok(existsSync(tmp), 'the half-written temporary file is there');
        const src = textureSource(32);
        const stateDir = sslStateDir(dir, src, SPEC, TINY);
        const ckpt = await readCheckpoint<{ step: number }>(stateDir);
        assert.equal(ckpt?.meta.step, 1);
        const resumed = await pretrain(src, { stateDir: dir, maxSteps: 2 });
        assert.deepEqual(
          resumed.steps.map((s) => s.step),
          [2],
        );
        assert.deepEqual(
          (await readdir(stateDir)).filter((f) => f.endsWith('.tmp')),
          [],
          'the next write clears the leftover',
        );
      } finally {
        child?.kill('SIGKILL');
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  test('a damaged checkpoint is refused, set aside, and training starts again', async () => {
    const dir = await tempDir();
    try {
      const src = textureSource(32);
      await pretrain(src, { stateDir: dir, maxSteps: 2 });
      const stateDir = sslStateDir(dir, src, SPEC, TINY);
      const file = join(stateDir, CHECKPOINT_FILE);
      const { readFile } = await import('node:fs/promises');
      const bytes = await readFile(file);
      bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
      await writeFile(file, bytes);
      await assert.rejects(readCheckpoint(stateDir), CheckpointDamaged);
      await writeFile(file, bytes.subarray(0, bytes.length - 100));
      await assert.rejects(readCheckpoint(stateDir), /damaged \(expected \d+ bytes/);
      const warn = console.warn;
      const warnings: string[] = [];
      console.warn = (m: string) => warnings.push(m);
      let again;
      try {
        again = await pretrain(src, { stateDir: dir, maxSteps: 1 });
      } finally {
        console.warn = warn;
      }
      assert.deepEqual(
        again.steps.map((s) => s.step),
        [1],
      );
      assert.match(warnings[0] ?? '', /damaged.*moved to/);
      assert.ok((await readdir(stateDir)).some((f) => f.startsWith('checkpoint.damaged-')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('fewer than two images is refused with the reason', async () => {
    await assert.rejects(pretrain(textureSource(1)), /compares pairs of images; the pool has 1/);
  });
});

describe('the embedding', () => {
  test('computeFeatures: [n, dim] finite rows, cached with the trained encoder', async () => {
    const dir = await tempDir();
    try {
      const src = textureSource(40, 24, 4, 3);
      const spec = { kind: 'ssl', budgetSec: 1, side: 16, seed: 0 } as const;
      const phases = new Set<string>();
      const opts = {
        stateDir: join(dir, 'state'),
        cacheDir: join(dir, 'cache'),
        progress: (p: { phase: string }) => phases.add(p.phase),
      };
      const m = await computeFeatures(src, spec, opts);
      assert.equal(m.n, 40);
      assert.equal(m.dim, DEFAULT_SSL_CONFIG.net.widths.at(-1));
      assert.equal(m.data.length, 40 * m.dim);
      assert.ok(m.data.every(Number.isFinite));
      assert.ok(m.data.some((v) => v !== 0));
      assert.deepEqual([...phases].sort(), ['embedding', 'pretraining', 'reading']);
      const again = await computeFeatures(src, spec, opts);
      assert.equal(again.fromCache, true);
      assert.equal(again.key, m.key);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('eval-mode rows do not depend on the batch they are embedded in', async () => {
    const src = textureSource(12);
    const ex = sslExtractor(SPEC, { config: TINY_SSL_CONFIG, maxSteps: 2 });
    try {
      await ex.prepare!(src, {});
      const px = await src.read(0, 12, [16, 16]);
      const all = await ex.embed(px, 12, [16, 16, 1], {});
      const part = await ex.embed(px.subarray(5 * 256, 8 * 256), 3, [16, 16, 1], {});
      const dim = ex.dim(src);
      assert.equal(all.length, 12 * dim);
      for (let k = 0; k < part.length; k++) {
        assert.ok(Math.abs(part[k]! - all[5 * dim + k]!) < 1e-5);
      }
      await assert.rejects(ex.embed(px, 1, [24, 24, 1], {}), /takes 16 x 16 x 1 images/);
    } finally {
      ex.dispose();
    }
  });
});
