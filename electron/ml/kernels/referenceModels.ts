import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../shared/random.ts';

/**
 * Small models written with raw tf ops, used to find and check the kernels training needs on the
 * wasm backend (tests) and to measure training throughput (bench/). They mirror the shapes of the
 * product's models, not their code, so that this folder does not depend on the models helper.
 */
export interface RefModel {
  readonly vars: tf.Variable[];
  /** Logits for a batch; `training` turns dropout and batch statistics on. */
  logits(x: tf.Tensor4D | tf.Tensor2D, training: boolean): tf.Tensor2D;
  dispose(): void;
}

function randn(rng: Rng, shape: number[], scale: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * scale;
  return tf.tensor(v, shape);
}

function heVar<R extends tf.Rank>(
  rng: Rng,
  shape: number[],
  fanIn: number,
  name: string,
): tf.Variable<R> {
  return tf.variable(randn(rng, shape, Math.sqrt(2 / fanIn)), true, name) as tf.Variable<R>;
}

/** Unique variable names, so several models can live in one process. */
let modelCounter = 0;

/**
 * The reference CNN: conv3x3(32, valid)-relu-maxpool2, conv3x3(64, valid)-relu-maxpool2, flatten,
 * dropout 0.25, dense 128 relu, dense 10. Input [N, 28, 28, 1].
 */
export function referenceCnn(seed: number, dropoutRate = 0.25): RefModel {
  const rng = new Rng(seed);
  const p = `cnn${modelCounter++}`;
  const w1 = heVar<tf.Rank.R4>(rng, [3, 3, 1, 32], 9, `${p}w1`);
  const b1 = tf.variable(tf.zeros([32]), true, `${p}b1`);
  const w2 = heVar<tf.Rank.R4>(rng, [3, 3, 32, 64], 288, `${p}w2`);
  const b2 = tf.variable(tf.zeros([64]), true, `${p}b2`);
  const w3 = heVar(rng, [1600, 128], 1600, `${p}w3`);
  const b3 = tf.variable(tf.zeros([128]), true, `${p}b3`);
  const w4 = heVar(rng, [128, 10], 128, `${p}w4`);
  const b4 = tf.variable(tf.zeros([10]), true, `${p}b4`);
  const vars = [w1, b1, w2, b2, w3, b3, w4, b4];
  return {
    vars,
    logits(x, training) {
      let h: tf.Tensor = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, w1, 1, 'valid'), b1));
      h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
      h = tf.relu(tf.add(tf.conv2d(h as tf.Tensor4D, w2, 1, 'valid'), b2));
      h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
      h = tf.reshape(h, [h.shape[0]!, -1]);
      if (training && dropoutRate > 0) h = tf.dropout(h, dropoutRate, undefined, seed);
      h = tf.relu(tf.add(tf.matMul(h as tf.Tensor2D, w3), b3));
      return tf.add(tf.matMul(h as tf.Tensor2D, w4), b4) as tf.Tensor2D;
    },
    dispose: () => vars.forEach((v) => v.dispose()),
  };
}

/** A two-hidden-layer MLP on feature vectors. */
export function referenceMlp(seed: number, inDim: number, hidden = 64, classes = 10): RefModel {
  const rng = new Rng(seed);
  const p = `mlp${modelCounter++}`;
  const w1 = heVar(rng, [inDim, hidden], inDim, `${p}w1`);
  const b1 = tf.variable(tf.zeros([hidden]), true, `${p}b1`);
  const w2 = heVar(rng, [hidden, hidden], hidden, `${p}w2`);
  const b2 = tf.variable(tf.zeros([hidden]), true, `${p}b2`);
  const w3 = heVar(rng, [hidden, classes], hidden, `${p}w3`);
  const b3 = tf.variable(tf.zeros([classes]), true, `${p}b3`);
  const vars = [w1, b1, w2, b2, w3, b3];
  return {
    vars,
    logits(x, training) {
      let h: tf.Tensor = tf.relu(tf.add(tf.matMul(x as tf.Tensor2D, w1), b1));
      if (training) h = tf.dropout(h, 0.2, undefined, seed);
      h = tf.relu(tf.add(tf.matMul(h as tf.Tensor2D, w2), b2));
      return tf.add(tf.matMul(h as tf.Tensor2D, w3), b3) as tf.Tensor2D;
    },
    dispose: () => vars.forEach((v) => v.dispose()),
  };
}

/**
 * ResNet18-style pieces: a 'same' stem conv, a stride-1 basic block, a stride-2 basic block with a
 * 1x1 stride-2 projection, batch norm from tf.moments, residual adds, global average pooling.
 */
export function referenceResNet(seed: number, inC: number, width = 8, classes = 10): RefModel {
  const rng = new Rng(seed);
  const p = `res${modelCounter++}`;
  const vars: tf.Variable[] = [];
  const conv = (k: number, ci: number, co: number, n: string): tf.Variable<tf.Rank.R4> => {
    const v = heVar<tf.Rank.R4>(rng, [k, k, ci, co], k * k * ci, `${p}${n}`);
    vars.push(v);
    return v;
  };
  const bnParams = (c: number, n: string): [tf.Variable, tf.Variable] => {
    const g = tf.variable(tf.ones([c]), true, `${p}${n}g`);
    const b = tf.variable(tf.zeros([c]), true, `${p}${n}b`);
    vars.push(g, b);
    return [g, b];
  };
  const c = width;
  const stem = conv(3, inC, c, 'stem');
  const stemBn = bnParams(c, 'stembn');
  const a1 = conv(3, c, c, 'a1');
  const a1Bn = bnParams(c, 'a1bn');
  const a2 = conv(3, c, c, 'a2');
  const a2Bn = bnParams(c, 'a2bn');
  const d1 = conv(3, c, 2 * c, 'd1');
  const d1Bn = bnParams(2 * c, 'd1bn');
  const d2 = conv(3, 2 * c, 2 * c, 'd2');
  const d2Bn = bnParams(2 * c, 'd2bn');
  const proj = conv(1, c, 2 * c, 'proj');
  const projBn = bnParams(2 * c, 'projbn');
  const fc = heVar(rng, [2 * c, classes], 2 * c, `${p}fc`);
  const fcB = tf.variable(tf.zeros([classes]), true, `${p}fcb`);
  vars.push(fc, fcB);

  const bn = (x: tf.Tensor4D, [g, b]: [tf.Variable, tf.Variable]): tf.Tensor4D => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, b, g, 1e-5) as tf.Tensor4D;
  };
  return {
    vars,
    logits(x) {
      const x4 = x as tf.Tensor4D;
      let h = tf.relu(bn(tf.conv2d(x4, stem, 1, 'same'), stemBn));
      // Stride-1 basic block.
      let r = tf.relu(bn(tf.conv2d(h, a1, 1, 'same'), a1Bn));
      r = bn(tf.conv2d(r, a2, 1, 'same'), a2Bn);
      h = tf.relu(tf.add(h, r)) as tf.Tensor4D;
      // Stride-2 basic block with projection shortcut.
      let s = tf.relu(bn(tf.conv2d(h, d1, 2, 'same'), d1Bn));
      s = bn(tf.conv2d(s, d2, 1, 'same'), d2Bn);
      const sc = bn(tf.conv2d(h, proj, 2, 'same'), projBn);
      h = tf.relu(tf.add(s, sc)) as tf.Tensor4D;
      const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
      return tf.add(tf.matMul(pooled, fc), fcB) as tf.Tensor2D;
    },
    dispose: () => vars.forEach((v) => v.dispose()),
  };
}

/** Softmax cross-entropy of logits against integer labels, averaged over the batch. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const oneHot = tf.oneHot(labels, logits.shape[1]);
  return tf.losses.softmaxCrossEntropy(oneHot, logits) as tf.Scalar;
}

/** A fixed random batch: images (or features) and labels, reproducible from the seed. */
export function randomBatch(
  seed: number,
  shape: number[],
  classes: number,
): { x: tf.Tensor; y: tf.Tensor1D } {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.next();
  const labels = new Int32Array(shape[0]!);
  for (let i = 0; i < labels.length; i++) labels[i] = rng.int(classes);
  return { x: tf.tensor(v, shape), y: tf.tensor1d(labels, 'int32') };
}

/** One optimiser step; returns the loss value. The caller keeps the optimiser across steps. */
export function trainStep(
  model: RefModel,
  opt: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor1D,
): number {
  const loss = opt.minimize(
    () => crossEntropy(model.logits(x as tf.Tensor4D, true), y),
    true,
    model.vars,
  );
  const v = loss!.dataSync()[0]!;
  loss!.dispose();
  return v;
}
