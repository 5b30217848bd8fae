import * as tf from '@tensorflow/tfjs';
import { BaseNetwork } from './base.ts';
import {
  applyBatchNorm,
  applyDense,
  applyDropout,
  batchNormParams,
  convFilter,
  dense,
  type BatchNorm,
  type Dense,
} from './layers.ts';
import type { ForwardMode, ForwardOutput, ModelSpec } from './network.ts';

interface Block {
  stride: number;
  conv1: tf.Variable;
  bn1: BatchNorm;
  conv2: tf.Variable;
  bn2: BatchNorm;
  /** 1x1 projection when the shape changes. */
  shortcut?: { conv: tf.Variable; bn: BatchNorm };
}

/** The stem the survey's toolkit uses for this input: 7x7 for grayscale or large images. */
export function defaultStem(inputShape: readonly number[]): '7x7' | '3x3' {
  const [h = 0, w = 0, c = 1] = inputShape;
  return c === 1 || Math.min(h, w) > 32 ? '7x7' : '3x3';
}

/**
 * ResNet18 (basic blocks [2, 2, 2, 2], widths 64-128-256-512 unless `spec.width` says otherwise) with PyTorch's padding. Stem '7x7':
 * conv7x7 stride 2 + BN + ReLU + maxpool3x3 stride 2 (the toolkit's MNIST-family variant; it feeds
 * grayscale through a 1x1 conv to 3 channels first, we take one channel directly). Stem '3x3':
 * conv3x3 stride 1 + BN + ReLU (CIFAR variant). Global average pooling gives the 512-d embedding;
 * unlike the toolkit, a real dropout layer sits before the classifier so MC dropout works.
 */
export class ResNet18 extends BaseNetwork {
  readonly embeddingDim: number;
  readonly stem: '7x7' | '3x3';
  private readonly stemConv: tf.Variable;
  private readonly stemBn: BatchNorm;
  private readonly stages: Block[][];
  private readonly head: Dense;

  constructor(spec: ModelSpec) {
    super(spec);
    if (spec.inputShape.length !== 3) {
      throw new Error(`The resnet18 model needs image input [H, W, C], got [${spec.inputShape}]`);
    }
    const cin = spec.inputShape[2]!;
    const base = spec.width ?? 64;
    if (!(Number.isInteger(base) && base >= 1)) {
      throw new Error(`resnet18 width must be a positive integer, got ${base}`);
    }
    this.embeddingDim = 8 * base;
    this.stem = spec.stem ?? defaultStem(spec.inputShape);
    const k = this.stem === '7x7' ? 7 : 3;
    this.stemConv = convFilter(this.params, 'stem/conv', k, cin, base);
    this.stemBn = batchNormParams(this.params, 'stem/bn', base);
    let inC = base;
    this.stages = [base, 2 * base, 4 * base, 8 * base].map((width, s) =>
      [0, 1].map((b) => {
        const stride = s > 0 && b === 0 ? 2 : 1;
        const name = `layer${s + 1}.${b}`;
        const block: Block = {
          stride,
          conv1: convFilter(this.params, `${name}/conv1`, 3, inC, width),
          bn1: batchNormParams(this.params, `${name}/bn1`, width),
          conv2: convFilter(this.params, `${name}/conv2`, 3, width, width),
          bn2: batchNormParams(this.params, `${name}/bn2`, width),
        };
        if (stride !== 1 || inC !== width) {
          block.shortcut = {
            conv: convFilter(this.params, `${name}/shortcut`, 1, inC, width),
            bn: batchNormParams(this.params, `${name}/shortcutBn`, width),
          };
        }
        inC = width;
        return block;
      }),
    );
    this.head = dense(this.params, 'fc', this.embeddingDim, spec.numClasses, true);
  }

  private block(x: tf.Tensor4D, b: Block, mode: ForwardMode): tf.Tensor4D {
    let out = tf.conv2d(x, b.conv1 as tf.Tensor4D, b.stride, 1);
    out = tf.relu(applyBatchNorm(b.bn1, out, mode));
    out = applyBatchNorm(b.bn2, tf.conv2d(out, b.conv2 as tf.Tensor4D, 1, 1), mode);
    const sc = b.shortcut
      ? applyBatchNorm(
          b.shortcut.bn,
          tf.conv2d(x, b.shortcut.conv as tf.Tensor4D, b.stride, 0),
          mode,
        )
      : x;
    return tf.relu(tf.add(out, sc) as tf.Tensor4D);
  }

  forward(x: tf.Tensor, mode: ForwardMode): ForwardOutput {
    const { embedding, stages } = this.trunk(x, mode);
    const logits = applyDense(
      this.head,
      applyDropout(embedding, this.dropoutRate, mode, this.dropoutStream(mode)),
    );
    return { logits, embedding, stages };
  }

  mcLogits(x: tf.Tensor, passes: number): tf.Tensor2D[] {
    // In 'mc' mode batch norm reads its moving averages, so the trunk is the same for every pass.
    const { embedding } = this.trunk(x, 'mc');
    return Array.from({ length: passes }, () =>
      applyDense(
        this.head,
        applyDropout(embedding, this.dropoutRate, 'mc', this.dropoutStream('mc')),
      ),
    );
  }

  private trunk(x: tf.Tensor, mode: ForwardMode): { embedding: tf.Tensor2D; stages: tf.Tensor[] } {
    let h: tf.Tensor4D;
    if (this.stem === '7x7') {
      h = tf.conv2d(x as tf.Tensor4D, this.stemConv as tf.Tensor4D, 2, 3);
      h = tf.relu(applyBatchNorm(this.stemBn, h, mode));
      h = tf.maxPool(h, 3, 2, 1);
    } else {
      h = tf.conv2d(x as tf.Tensor4D, this.stemConv as tf.Tensor4D, 1, 1);
      h = tf.relu(applyBatchNorm(this.stemBn, h, mode));
    }
    const stages: tf.Tensor[] = [];
    for (const stage of this.stages) {
      for (const b of stage) h = this.block(h, b, mode);
      stages.push(h);
    }
    return { embedding: tf.mean(h, [1, 2]) as tf.Tensor2D, stages };
  }
}
