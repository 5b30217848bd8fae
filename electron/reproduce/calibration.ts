import type { Calibration } from './plan.ts';

/**
 * Costs measured on the development machine (2 shared CPU cores, wasm backend with 2 XNNPACK
 * threads, load average about 4 from other work) with
 *
 *   deepal study --dataset fashion-mnist --strategies all --repeats 1 --seed 100 --init 100 \
 *     --batch 100 --budget 100 --epochs 10 --model cnn --pool-size 5000 --test-size 2000
 *
 * (221 s wall for 22 strategies x 2 rounds). Training: 1.2-1.7 s for 100 labeled x 10 epochs,
 * 2.5-3.1 s for 200 x 10, so ~1.35 ms per sample-epoch; evaluation and setup ~0.25 ms per test
 * sample per round; query time over the 4,900 unlabeled samples divided by 4,900. Table:
 * docs/results/PROTOCOL.md. An idle machine is faster; the estimate is meant to be pessimistic.
 */
export const MEASURED: Calibration = {
  basis:
    'measured on a shared 2-core CPU (wasm), Fashion-MNIST CNN, pool 5,000 (docs/results/PROTOCOL.md)',
  trainMsPerSampleEpoch: 1.35,
  roundOverheadMsPerTestSample: 0.25,
  queryMsPerPoolSample: {
    default: 0.3,
    Random: 0,
    Entropy: 0.25,
    Margin: 0.27,
    LeastConf: 0.23,
    VarRatio: 0.73,
    EntropyD: 0.64,
    MarginD: 0.75,
    LeastConfD: 0.71,
    BALD: 0.73,
    MeanSTD: 0.71,
    KMeans: 0.29,
    KCenter: 0.31,
    BADGE: 0.47,
    CEAL: 0.38,
    // Capped at maxCandidates = 2,000 candidates per round: 5.0 s and 39.2 s a round measured.
    AdversarialBIM: 1.03,
    AdversarialDeepFool: 8.0,
    LPL: 0.3,
    WAAL: 0.27,
    VAAL: 0.44,
    ClusterMargin: 0.29,
    DBAL: 0.27,
    BatchBALD: 1.04,
  },
  // WAAL trains a discriminator on the unlabeled pool too (4.2 s / 8.2 s vs 1.3 s / 2.7 s); CEAL
  // adds its pseudo-labelled samples to the training set; LPL trains its loss module.
  trainFactor: { WAAL: 3, CEAL: 1.5, LPL: 1.2, BADGE: 1.1 },
};
