import type { Calibration } from './plan.ts';

/**
 * Costs measured on the development machine (2 cores, AMD EPYC, wasm backend) while the
 * `fmnist` study ran in its own process with one XNNPACK thread and the `mnist` study ran beside
 * it in another (the way `--jobs auto` runs on 2 cores), 2026-12-04:
 *
 *   DEEPAL_WASM_THREADS=1 deepal reproduce --only fmnist --jobs 1   (66 runs, 1 h 46 min wall)
 *
 * Per run (docs/results/fmnist/report.json): training time divided by its sample-epochs (0.77 to
 * 0.99 ms for the plain strategies: 0.85), query time divided by the unlabeled samples scored,
 * and the rest of the wall time (evaluation on the 2,000 test samples, setup: 587 s over 726
 * rounds) per test sample. So an estimate is the time of one process; `--jobs 2` on 2 cores runs
 * two such processes at once. Table: docs/results/PROTOCOL.md.
 */
export const MEASURED: Calibration = {
  basis:
    'measured on the 2-core development machine, one wasm thread per study, two studies side by side, Fashion-MNIST CNN, pool 5,000 (docs/results/PROTOCOL.md)',
  trainMsPerSampleEpoch: 0.85,
  roundOverheadMsPerTestSample: 0.4,
  queryMsPerPoolSample: {
    default: 0.3,
    Random: 0,
    Entropy: 0.19,
    Margin: 0.2,
    LeastConf: 0.21,
    VarRatio: 0.64,
    EntropyD: 0.59,
    MarginD: 0.61,
    LeastConfD: 0.66,
    BALD: 0.64,
    MeanSTD: 0.72,
    KMeans: 0.28,
    KCenter: 0.3,
    BADGE: 0.2,
    CEAL: 0.2,
    // Capped at maxCandidates = 2,000 candidates per round.
    AdversarialBIM: 0.7,
    AdversarialDeepFool: 7.14,
    LPL: 0.22,
    WAAL: 0.2,
    VAAL: 0.6,
    ClusterMargin: 0.25,
    DBAL: 0.22,
    BatchBALD: 1.06,
  },
  // WAAL trains a discriminator on the unlabeled pool too (2.03 ms per labeled sample-epoch);
  // LPL trains its loss module; KCenter, MeanSTD, BatchBALD measured 0.92-0.99.
  trainFactor: { WAAL: 2.4, LPL: 1.15, KCenter: 1.15, MeanSTD: 1.1, BatchBALD: 1.08 },
};
