import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';
import type { Network } from '../models/network.ts';
import type { TrainingPlugin } from '../training/plugin.ts';
import type { Dataset } from '../types.ts';
import {
  LossPredictionPlugin,
  lossRankingLoss,
  lpl,
  lplDetachEpoch,
  strategies,
  vaal,
  vaalDiscriminatorLoss,
  vaalVaeLoss,
  waal,
  waalScores,
  WaalPlugin,
} from './enhanced.ts';
import { fakeContext, networkModelView, tinyNetwork } from './testing.ts';
import type { QueryContext, Strategy, TrainingContext } from './types.ts';

await tf.setBackend('cpu');

const F = 6;
const C = 3;

/** Three Gaussian classes in F dims; `shift` moves samples from `shiftFrom` on to a new region. */
function makePool(n: number, seed: number, shiftFrom = n): Dataset {
  const rng = new Rng(seed);
  const x = new Float32Array(n * F);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % C;
    y[i] = c;
    for (let j = 0; j < F; j++) {
      x[i * F + j] = (j === c ? 2 : 0) + rng.normal() * 0.8 + (i >= shiftFrom && j >= 3 ? 6 : 0);
    }
  }
  return { name: 'enhanced-test', x, y, sampleShape: [F], classNames: ['a', 'b', 'c'] };
}

function batchOf(pool: Dataset, idx: Int32Array): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const x = new Float32Array(idx.length * F);
  idx.forEach((p, r) => x.set(pool.x.subarray(p * F, p * F + F) as Float32Array, r * F));
  return {
    x: tf.tensor2d(x, [idx.length, F]),
    y: tf.tensor1d(
      Array.from(idx, (p) => pool.y[p]!),
      'int32',
    ),
  };
}

/**
 * What electron/ml/training/train.ts does with a plugin, in small: per batch, cross-entropy plus
 * batchLoss inside tf.variableGrads over the network's and the plugin's variables, one step for
 * each (the plugin's own learning rate), with beforeBatch and afterBatch given an unlabeled-batch
 * source.
 */
async function trainWithPlugin(
  net: Network,
  plugin: TrainingPlugin,
  pool: Dataset,
  labeled: Int32Array,
  unlabeled: Int32Array,
  epochs: number,
  batch = 16,
): Promise<void> {
  const netOpt = tf.train.adam(1e-2);
  const plugOpt = tf.train.adam(plugin.learningRate ?? 1e-2);
  const netVars = net.trainableVariables();
  const plugVars = plugin.variables?.() ?? [];
  const rng = new Rng(77);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = rng.shuffle(Int32Array.from(labeled));
    for (let s = 0, bi = 0; s < order.length; s += batch, bi++) {
      const { x, y } = batchOf(pool, order.subarray(s, s + batch));
      const unlabeledBatch = (size: number): tf.Tensor | null => {
        if (!unlabeled.length) return null;
        const u = batchOf(pool, new Rng(bi).sample(unlabeled, size));
        u.y.dispose();
        return u.x;
      };
      await plugin.beforeBatch?.({ epoch, batchIndex: bi, size: x.shape[0], unlabeledBatch });
      const { grads, value } = tf.variableGrads(() => {
        const out = net.forward(x, 'train');
        const per = tf.losses.softmaxCrossEntropy(
          tf.oneHot(y, C),
          out.logits,
          undefined,
          undefined,
          tf.Reduction.NONE,
        ) as tf.Tensor1D;
        let loss = tf.mean(per) as tf.Scalar;
        if (plugin.batchLoss) {
          loss = tf.add(
            loss,
            plugin.batchLoss({ x, y, out, perSampleLoss: per, epoch }),
          ) as tf.Scalar;
        }
        return loss;
      }, [...netVars, ...plugVars]);
      const named = (vs: tf.Variable[]): { name: string; tensor: tf.Tensor }[] =>
        vs.map((v) => ({ name: v.name, tensor: grads[v.name]! }));
      netOpt.applyGradients(named(netVars));
      if (plugVars.length) plugOpt.applyGradients(named(plugVars));
      tf.dispose(grads);
      value.dispose();
      await plugin.afterBatch?.({ epoch, batchIndex: bi, x, y, unlabeledBatch });
      x.dispose();
      y.dispose();
    }
    plugin.onEpochEnd?.(epoch);
  }
  netOpt.dispose();
  plugOpt.dispose();
}

function trainingContext(
  net: Network,
  pool: Dataset,
  labeled: Int32Array,
  unlabeled: Int32Array,
  epochs: number,
): TrainingContext {
  return { pool, labeled, unlabeled, net, params: {}, seed: 5, epochs };
}

/** The contract every strategy keeps (as in diversity.test.ts; copied, not imported). */
function checkContract(
  strategy: Strategy,
  make: (over: Partial<QueryContext>) => QueryContext,
): void {
  test(`${strategy.id}: min(b, |U|) distinct unlabeled picks, deterministic, no leaked tensors`, async () => {
    const ctx = make({});
    const before = tf.memory().numTensors;
    const a = await strategy.query(ctx);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    const U = new Set(ctx.unlabeled);
    assert.equal(a.selected.length, Math.min(ctx.budget, ctx.unlabeled.length));
    assert.equal(new Set(a.selected).size, a.selected.length, 'duplicates');
    for (const i of a.selected) assert.ok(U.has(i), `${i} is not unlabeled`);
    assert.deepEqual((await strategy.query(make({}))).selected, a.selected, 'not deterministic');
  });
  test(`${strategy.id}: whole pool when b >= |U|; empty pool throws; abort honoured`, async () => {
    const base = make({});
    const whole = await strategy.query(make({ budget: base.unlabeled.length }));
    assert.deepEqual(
      Array.from(whole.selected).sort((x, y) => x - y),
      Array.from(base.unlabeled).sort((x, y) => x - y),
    );
    await assert.rejects(
      strategy.query(make({ unlabeled: new Int32Array(0) })),
      /no unlabeled samples left to query/,
    );
    const ac = new AbortController();
    ac.abort(new Error('cancelled by test'));
    await assert.rejects(strategy.query(make({ signal: ac.signal })), /cancelled by test/);
  });
}

describe('catalog entries', () => {
  test('ids and families', () => {
    assert.deepEqual(
      strategies.map((s) => [s.id, s.family]),
      [
        ['LPL', 'enhanced'],
        ['WAAL', 'hybrid'],
        ['VAAL', 'diversity'],
      ],
    );
    assert.equal(typeof lpl.trainingPlugin, 'function');
    assert.equal(typeof waal.trainingPlugin, 'function');
  });
});

describe('LPL', () => {
  test('ranking loss matches hand-computed values', () => {
    const pred = tf.tensor1d([3, 1, 0, 2]);
    // Pairs (0,3) and (1,2): prediction differences 1 and 1.
    const cases: [number[], number][] = [
      [[1, 0, 0, 2], 2], // both true differences <= 0: each pair costs 1 + 1
      [[5, 0, 0, 2], 1], // pair (0,3) ordered right with margin 1: 0; pair (1,2): 2
    ];
    for (const [t, want] of cases) {
      const target = tf.tensor1d(t);
      const l = lossRankingLoss(pred, target, 1);
      assert.ok(Math.abs(l.dataSync()[0]! - want) < 1e-6, `${t}: ${l.dataSync()[0]}`);
      l.dispose();
      target.dispose();
    }
    pred.dispose();
  });

  test('features are detached after 60% of the epochs, as Yoo & Kweon (120 of 200)', () => {
    assert.equal(lplDetachEpoch(0.6, 200), 120);
    assert.equal(lplDetachEpoch(0.6, 10), 6);
    assert.equal(lplDetachEpoch(0.6, 1), 1, 'one epoch: never detached');
    assert.equal(lplDetachEpoch(0, 10), 0);
    const net = tinyNetwork([F], C, 3);
    const pool = makePool(20, 1);
    const plugin = lpl.trainingPlugin!(
      trainingContext(net, pool, Int32Array.from([0]), Int32Array.from([1]), 10),
    ) as LossPredictionPlugin;
    assert.equal(plugin.detachFrom, 6, 'the protocol’s 10 epochs: epochs 7-10 detached');
    plugin.dispose();
    net.dispose();
  });

  test('trains with the backbone, detaches after 60% of training, queries the highest predicted loss', async () => {
    const pool = makePool(240, 1);
    const labeled = Int32Array.from({ length: 60 }, (_, i) => i);
    const unlabeled = Int32Array.from({ length: 180 }, (_, i) => i + 60);
    const net = tinyNetwork([F], C, 3);
    const start = tf.memory().numTensors;
    const plugin = lpl.trainingPlugin!(trainingContext(net, pool, labeled, unlabeled, 4));
    assert.ok(plugin instanceof LossPredictionPlugin);
    assert.equal(plugin.learningRate, 0.01);
    assert.equal(plugin.detachFrom, 2);
    // Before the detach epoch the module's loss reaches the backbone; from it on, it does not.
    const { x, y } = batchOf(pool, labeled.subarray(0, 16));
    const backboneGradNorm = (epoch: number): number =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const out = net.forward(x, 'eval');
          const per = tf.losses.softmaxCrossEntropy(
            tf.oneHot(y, C),
            out.logits,
            undefined,
            undefined,
            tf.Reduction.NONE,
          ) as tf.Tensor1D;
          // Only the module's term: keep the module's own variables in the graph too.
          return plugin.batchLoss!({ x, y, out, perSampleLoss: per, epoch });
        }, [net.trainableVariables()[0]!, ...plugin.variables!()]);
        return tf.norm(grads[net.trainableVariables()[0]!.name]!).dataSync()[0]!;
      });
    assert.ok(backboneGradNorm(0) > 0, 'the module should shape the features before detaching');
    assert.ok(backboneGradNorm(1) > 0, 'still joint in the epoch before the detach epoch');
    assert.equal(backboneGradNorm(2), 0, 'detached features must not receive gradients');
    x.dispose();
    y.dispose();

    const before = plugin.variables!().map((v) => v.dataSync().slice());
    await trainWithPlugin(net, plugin, pool, labeled, unlabeled, 4);
    const moved = plugin.variables!().some((v, i) =>
      v.dataSync().some((a, j) => a !== before[i]![j]),
    );
    assert.ok(moved, 'the module did not train');

    const model = networkModelView(net, pool);
    const make = (over: Partial<QueryContext>): QueryContext => ({
      ...fakeContext({ model, poolSize: 240, budget: 10, unlabeled, pool, seed: 4 }),
      plugin,
      ...over,
    });
    const r = await lpl.query(make({}));
    // The same ranking by hand.
    const pred = tf.tidy(() => plugin.predict(net.forward(model.inputs(unlabeled), 'eval').stages));
    const vals = pred.dataSync();
    pred.dispose();
    const want = Array.from(unlabeled)
      .map((p, i) => [p, vals[i]!] as const)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, 10)
      .map((e) => e[0]);
    assert.deepEqual(Array.from(r.selected), want);
    await assert.rejects(lpl.query({ ...make({}), plugin: undefined }), /loss-prediction module/);
    plugin.dispose();
    assert.equal(tf.memory().numTensors, start, 'the plugin left tensors behind');
    net.dispose();
  });
});

describe('LPL and WAAL contract', async () => {
  const pool = makePool(200, 2);
  const labeled = Int32Array.from({ length: 40 }, (_, i) => i);
  const unlabeled = Int32Array.from({ length: 160 }, (_, i) => i + 40);
  for (const s of [lpl, waal]) {
    const net = tinyNetwork([F], C, 9);
    const plugin = s.trainingPlugin!(trainingContext(net, pool, labeled, unlabeled, 2));
    await trainWithPlugin(net, plugin, pool, labeled, unlabeled, 2);
    const model = networkModelView(net, pool);
    checkContract(s, (over) => ({
      ...fakeContext({ model, poolSize: 200, budget: 8, unlabeled, pool, seed: 4 }),
      plugin,
      ...over,
    }));
  }
});

describe('WAAL', () => {
  test('score: flat predictions and unlabeled-looking samples come first', () => {
    const probs = Float32Array.from([1 / 3, 1 / 3, 1 / 3, 0.98, 0.01, 0.01]);
    const s = waalScores(probs, 3, Float32Array.from([0, 0]), 10);
    assert.ok(s[0]! < s[1]!, 'flat should score lower (picked first)');
    const s2 = waalScores(
      Float32Array.from([0.5, 0.25, 0.25, 0.5, 0.25, 0.25]),
      3,
      Float32Array.from([0.9, 0.1]),
      10,
    );
    assert.ok(s2[0]! < s2[1]!, 'a higher critic score should be picked first');
  });

  test('epochs of max(|L|, |U|) as the reference, unless poolEpochs is off; gamma 1', () => {
    const pool = makePool(60, 3);
    const net = tinyNetwork([F], C, 4);
    const ctx = trainingContext(net, pool, Int32Array.from([0, 1]), Int32Array.from([2, 3]), 1);
    const ref = waal.trainingPlugin!(ctx);
    assert.equal(ref.epochSamples!(100, 4900), 4900);
    assert.equal(ref.epochSamples!(3000, 2000), 3000);
    const short = waal.trainingPlugin!({ ...ctx, params: { poolEpochs: false } });
    assert.equal(short.epochSamples!(100, 4900), 100);
    assert.equal(waal.params.find((p) => p.name === 'gamma')?.default, 1);
    ref.dispose();
    short.dispose();
    net.dispose();
  });

  test('the critic learns labeled vs unlabeled; its variables stay out of the classifier’s step', async () => {
    // Unlabeled samples from index 60 on live in a shifted region.
    const pool = makePool(240, 3, 60);
    const labeled = Int32Array.from({ length: 60 }, (_, i) => i);
    const unlabeled = Int32Array.from({ length: 180 }, (_, i) => i + 60);
    const net = tinyNetwork([F], C, 4);
    const start = tf.memory().numTensors;
    const plugin = waal.trainingPlugin!({
      ...trainingContext(net, pool, labeled, unlabeled, 6),
      params: { discLr: 1e-2 },
    }) as WaalPlugin;
    assert.deepEqual(plugin.variables(), []);
    await trainWithPlugin(net, plugin, pool, labeled, unlabeled, 6);
    const model = networkModelView(net, pool);
    const score = async (idx: Int32Array): Promise<number> => {
      const { embeddings } = await model.probsAndEmbeddings(idx);
      const t = tf.tensor2d(embeddings, [idx.length, net.embeddingDim]);
      const c = plugin.critic(t);
      const mt = tf.mean(c);
      const m = mt.dataSync()[0]!;
      tf.dispose([t, c, mt]);
      return m;
    };
    const sl = await score(labeled);
    const su = await score(unlabeled);
    assert.ok(su > sl + 0.05, `critic: unlabeled ${su} vs labeled ${sl}`);
    await assert.rejects(
      waal.query({ ...fakeContext({ model, poolSize: 240, budget: 5, unlabeled, pool }) }),
      /critic trained with this model/,
    );
    plugin.dispose();
    assert.equal(tf.memory().numTensors, start, 'the plugin left tensors behind');
    net.dispose();
  });
});

describe('WAAL gradient penalty', () => {
  test('its gradient with respect to every critic weight matches central finite differences', () => {
    const net = tinyNetwork([F], C, 4);
    const plugin = new WaalPlugin(net, 3, {
      seed: 8,
      hidden: 4,
      alpha: 1e-3,
      gpWeight: 2,
      gamma: 1,
      discLr: 1e-3,
    });
    const vars = plugin.criticVariables();
    const z = tf.tensor2d(
      Array.from({ length: 15 }, (_, i) => Math.sin(1.7 * i + 0.3) * 1.5),
      [5, 3],
    );
    // The written-out input gradient is tf.grad's (first-order gradients are right in tf.js).
    const byHand = tf.tidy(() => plugin.criticInputGradient(z).dataSync());
    const byGrad = tf.tidy(() =>
      tf
        .grad((x) => tf.sum(plugin.critic(x as tf.Tensor2D)))(z)
        .dataSync(),
    );
    byHand.forEach((v, i) => assert.ok(Math.abs(v - byGrad[i]!) < 1e-6, `input gradient ${i}`));
    const penalty = (): number => tf.tidy(() => plugin.penaltyAt(z).dataSync()[0]!);
    for (const v of vars) v.trainable = true;
    const { value, grads } = tf.variableGrads(() => plugin.penaltyAt(z), vars);
    value.dispose();
    const h = 1e-3;
    for (const v of vars) {
      const analytic = grads[v.name];
      assert.ok(analytic, `no gradient for ${v.name}`);
      const got = analytic.dataSync();
      const base = v.dataSync().slice();
      for (let j = 0; j < base.length; j++) {
        const at = (delta: number): number => {
          const w = base.slice();
          w[j] = w[j]! + delta;
          tf.tidy(() => v.assign(tf.tensor(w, v.shape)));
          return penalty();
        };
        const fd = (at(h) - at(-h)) / (2 * h);
        tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
        const err = Math.abs(got[j]! - fd);
        assert.ok(err < 2e-3 + 0.02 * Math.abs(fd), `${v.name}[${j}]: ${got[j]} vs ${fd}`);
      }
    }
    tf.dispose(Object.values(grads));
    z.dispose();
    plugin.dispose();
    net.dispose();
  });
});

describe('VAAL', () => {
  test('the discriminator is trained with labeled = 1 and unlabeled = 0', () => {
    const hi = tf.tensor1d([8, 8]);
    const lo = tf.tensor1d([-8, -8]);
    const right = vaalDiscriminatorLoss(hi, lo).dataSync()[0]!;
    const wrong = vaalDiscriminatorLoss(hi, hi).dataSync()[0]!;
    assert.ok(right < 0.01, `labeled->1, unlabeled->0 should cost ~0, got ${right}`);
    assert.ok(wrong > 4, `unlabeled predicted labeled should cost a lot, got ${wrong}`);
    tf.dispose([hi, lo]);
  });

  // A weak KL term (beta) keeps the few steps of a unit test from collapsing the latent codes
  // onto the prior; the default (1, summed) is checked on its own above.
  const params = {
    maxSteps: 40,
    vaeSteps: 1,
    hidden: 32,
    latentDim: 8,
    batchSize: 32,
    lr: 1e-2,
    beta: 0.01,
  };
  test('the VAE loss: mean squared error plus the KL divergence summed over the batch', () => {
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const recon = tf.tensor2d([
      [1, 2],
      [3, 2],
    ]);
    // Two samples, three latent dimensions, mu = 1 and logvar = 0: KL = 0.5 x 6 x 1 = 3.
    const mu = tf.ones([2, 3]) as tf.Tensor2D;
    const logvar = tf.zeros([2, 3]) as tf.Tensor2D;
    const v = vaalVaeLoss(x, recon, mu, logvar, 2).dataSync()[0]!;
    // MSE = (2^2) / 4 = 1; plus 2 x 3.
    assert.ok(Math.abs(v - 7) < 1e-5, `VAE loss ${v}`);
    tf.dispose([x, recon, mu, logvar]);
  });

  test('trains epochs of max(|L|, |U|) pairs, two VAE and discriminator steps each', () => {
    const p = Object.fromEntries(vaal.params.map((q) => [q.name, q.default]));
    assert.deepEqual([p.epochs, p.vaeSteps, p.maxSteps], [30, 2, 0]);
  });

  test('picks the unlabeled samples least like the labeled set', async () => {
    // Labeled: 0..59; unlabeled: 60..179 like the labeled, 180..239 from a new region.
    const pool = makePool(240, 5, 180);
    const net = tinyNetwork([F], C, 1);
    const model = networkModelView(net, pool);
    const ctx = fakeContext({
      model,
      poolSize: 240,
      budget: 20,
      labeledCount: 60,
      pool,
      seed: 3,
      params,
    });
    const sel = (await vaal.query(ctx)).selected;
    const novel = Array.from(sel).filter((i) => i >= 180).length;
    console.log('NOVEL', novel);
    assert.ok(novel >= 16, `only ${novel} of 20 picks are from the new region`);
    net.dispose();
  });

  const pool = makePool(150, 6);
  const net = tinyNetwork([F], C, 2);
  const model = networkModelView(net, pool);
  checkContract(vaal, (over) => ({
    ...fakeContext({
      model,
      poolSize: 150,
      budget: 7,
      labeledCount: 30,
      pool,
      seed: 2,
      params: { ...params, maxSteps: 10 },
    }),
    ...over,
  }));
});
