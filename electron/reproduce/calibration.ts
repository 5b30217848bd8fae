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
 *
 * Issue 18 made WAAL, VAAL and BatchBALD train or query as their references do, at a far higher
 * cost. Their numbers are scaled from CPU-time ratios measured on the same machine (then shared,
 * so wall times were meaningless) against strategies calibrated above: a WAAL epoch sample costs
 * 2.32x a plain one (11.8 s against 5.1 s for 4,900); BatchBALD's 100-pass query 16.6x BALD's
 * (37.0 s against 2.2 s); a VAAL query 51 ms of CPU per pair of batches (30 epochs of 77 pairs at
 * |U| = 4,900), 23.9 ms per unlabeled sample, scaled by training's wall-to-CPU ratio (0.82).
 */
export const MEASURED: Calibration = {
  basis:
    'measured on the 2-core development machine, one wasm thread per study, two studies side by side, Fashion-MNIST CNN, pool 5,000; WAAL, VAAL and BatchBALD scaled from CPU-time ratios (docs/results/PROTOCOL.md)',
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
    // 30 epochs of max(|L|, |U|) pairs of batches, 2 VAE and 2 discriminator steps each.
    VAAL: 19.6,
    ClusterMargin: 0.25,
    DBAL: 0.22,
    // 100 MC passes (was 10: 1.06).
    BatchBALD: 10.6,
  },
  // WAAL trains a critic and the classifier on an unlabeled batch with each labeled one (2.32x a
  // plain sample), over epochs of max(|L|, |U|) samples (poolEpochs); LPL trains its loss module;
  // KCenter, MeanSTD, BatchBALD measured 0.92-0.99.
  trainFactor: { WAAL: 2.32, LPL: 1.15, KCenter: 1.15, MeanSTD: 1.1, BatchBALD: 1.08 },
  poolEpochs: ['WAAL'],
};
