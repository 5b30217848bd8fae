/**
 * Trust in labels, measured (issue 20). Not a test: it prints tables for docs/label-quality.md.
 *
 * 1. Suspect labels: 1,000 labeled samples with 10% of them flipped (uniformly to another class,
 *    or to the class nearest in class-mean features: electron/study/labelNoise.ts), out-of-fold
 *    probabilities (5 folds, logistic regression on the built-in descriptors: what a project with
 *    model `linear` or a pixel model uses), then the suspect list of confident learning against the
 *    baseline "the model's most probable class disagrees with the label". Precision and recall of
 *    each list cut at k = the number flipped, mean over the seeds.
 * 2. Dawid-Skene on three simulated annotators (careful, careless, biased toward one class) over
 *    the same samples' true labels: estimated against actual accuracy, and consensus accuracy
 *    against the majority vote.
 *
 *   node --import tsx bench/labelQuality.ts [--data ../shared/datasets] [--seeds 1,2,3]
 *     [--n 1000] [--rate 0.1] [--only neu,fashion-mnist] [--head logreg|auto] [--json out.json]
 *
 * --head auto: the head a project on model `auto` uses, chosen by cross-validation on the noisy
 * labels (its candidates: logistic regression at two penalties, an MLP, logistic regression on
 * the texture blocks).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { deriveSeed, Rng } from '../shared/random.ts';
import {
  annotatorEstimates,
  dawidSkene,
  majorityVote,
  type Observation,
} from '../electron/annotation/dawidSkene.ts';
import { disagreements, findLabelIssues, outOfFoldProbs } from '../electron/annotation/suspects.ts';
import { initBackend } from '../electron/ml/backend.ts';
import { loadDataset } from '../electron/ml/datasets/index.ts';
import { computeFeatureSets } from '../electron/ml/features/compute.ts';
import { datasetSource, fileSource } from '../electron/ml/features/source.ts';
import {
  autoCandidates,
  chooseHead,
  featureData,
  LOGREG,
  viewFor,
  type FeatureData,
  type HeadCandidate,
} from '../electron/ml/heads/featureModel.ts';
import type { Dataset } from '../electron/ml/types.ts';
import { nearestClassMap, noisyLabels, type NoiseKind } from '../electron/study/labelNoise.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/datasets' },
    seeds: { type: 'string', default: '1,2,3' },
    n: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '0.1' },
    only: { type: 'string', default: 'neu,fashion-mnist' },
    cache: { type: 'string', default: join(tmpdir(), 'deepal-bench-features') },
    head: { type: 'string', default: 'logreg' },
    json: { type: 'string' },
  },
});
if (args.head !== 'logreg' && args.head !== 'auto') throw new Error('--head is logreg or auto');
const seeds = args.seeds.split(',').map(Number);
const N = Number(args.n);
const RATE = Number(args.rate);
const dataDir = resolve(args.data);
mkdirSync(args.cache, { recursive: true });

interface Loaded {
  name: string;
  data: FeatureData;
  y: Int32Array;
  K: number;
  classNames: string[];
}

async function neu(): Promise<Loaded> {
  const root = join(dataDir, 'neu-surface-defects', 'images');
  if (!existsSync(root)) throw new Error(`NEU not found in ${root}`);
  const classes = readdirSync(root).sort();
  const files: { path: string }[] = [];
  const y: number[] = [];
  classes.forEach((c, k) => {
    for (const f of readdirSync(join(root, c)).sort()) {
      files.push({ path: join(root, c, f) });
      y.push(k);
    }
  });
  const source = await fileSource(files, { nativeSize: [200, 200], channels: 1 });
  const [m] = await computeFeatureSets(
    source,
    [source],
    { kind: 'descriptors' },
    { cacheDir: args.cache },
  );
  const images: Dataset = {
    name: 'neu',
    x: new Uint8Array(0),
    y: Int32Array.from(y),
    sampleShape: [200, 200, 1],
    classNames: classes,
  };
  return {
    name: `NEU surface defects (${files.length} photographs)`,
    data: featureData(images, images, m!, m!, 'descriptors'),
    y: Int32Array.from(y),
    K: classes.length,
    classNames: classes,
  };
}

async function fashion(): Promise<Loaded> {
  // A fixed subset of the training images (the seeds draw their 1,000 from it).
  const loaded = await loadDataset('fashion-mnist', { dataDir, poolSize: 5000, seed: 11 });
  const train = loaded.train;
  const source = datasetSource(train);
  const [m] = await computeFeatureSets(
    source,
    [source],
    { kind: 'descriptors' },
    { cacheDir: args.cache },
  );
  return {
    name: `Fashion-MNIST (${train.y.length} training images)`,
    data: featureData(train, train, m!, m!, 'descriptors'),
    y: train.y,
    K: train.classNames.length,
    classNames: train.classNames,
  };
}

interface Cut {
  precision: number;
  recall: number;
  listed: number;
}

/** Precision and recall of a ranked list cut at k = the number flipped. */
function atK(ranked: readonly number[], flipped: Uint8Array): Cut {
  const k = flipped.reduce((a, b) => a + b, 0);
  const top = ranked.slice(0, k);
  const hits = top.filter((i) => flipped[i] === 1).length;
  return {
    precision: top.length > 0 ? hits / top.length : 0,
    recall: k > 0 ? hits / k : 0,
    listed: ranked.length,
  };
}

const METHODS = [
  'confident learning (self-confidence)',
  'confident learning (normalised margin)',
  'baseline: model disagrees',
] as const;

interface SuspectRow {
  dataset: string;
  noise: NoiseKind;
  method: (typeof METHODS)[number];
  precision: number;
  recall: number;
  listed: number;
  flipped: number;
  oofAccuracy: number;
  seeds: number;
  heads: string;
}

async function suspectsOn(d: Loaded): Promise<SuspectRow[]> {
  const rows: SuspectRow[] = [];
  // The confusable map from the whole subset's ground truth, as a study computes it from its pool.
  const dim = d.data.pool.sampleShape[0]!;
  const map = nearestClassMap(d.data.pool.x as Float32Array, dim, d.y, d.K);
  console.error(
    `${d.name}: most confusable class: ${[...map].map((j, k) => `${d.classNames[k]} -> ${d.classNames[j]}`).join(', ')}`,
  );
  for (const noise of ['uniform', 'confusable'] as const) {
    const acc = new Map<string, { p: number[]; r: number[]; l: number[] }>();
    let flippedTotal = 0;
    let oofAcc = 0;
    const heads: string[] = [];
    for (const seed of seeds) {
      const rng = new Rng(deriveSeed(seed, 'bench-label-quality', d.name));
      const pick = rng.sample(
        Int32Array.from({ length: d.y.length }, (_, i) => i),
        Math.min(N, d.y.length),
      );
      const truth = Int32Array.from(pick, (i) => d.y[i]!);
      const { labels, flipped } = noisyLabels(truth, d.K, RATE, noise, seed, map);
      flippedTotal += flipped.reduce((a, b) => a + b, 0);
      const started = performance.now();
      // As a project does: logistic regression (model linear, or pixel models), or the head auto
      // chooses by cross-validation on the (noisy) labels.
      let head: HeadCandidate = LOGREG;
      if (args.head === 'auto') {
        head = (await chooseHead(d.data, autoCandidates(d.data.blocks), pick, labels, d.K, seed))
          .winner;
      }
      heads.push(head.id);
      const oof = await outOfFoldProbs(viewFor(d.data, head), head, pick, labels, d.K, seed);
      const ms = performance.now() - started;
      let right = 0;
      for (let i = 0; i < pick.length; i++) {
        let best = 0;
        for (let k = 1; k < d.K; k++)
          if (oof.probs[i * d.K + k]! > oof.probs[i * d.K + best]!) best = k;
        if (best === truth[i]) right++;
      }
      oofAcc += right / pick.length;
      const lists: [string, number[]][] = [
        [METHODS[0], findLabelIssues(labels, oof.probs, d.K).ranked],
        [
          METHODS[1],
          findLabelIssues(labels, oof.probs, d.K, { rankBy: 'normalized_margin' }).ranked,
        ],
        [METHODS[2], disagreements(labels, oof.probs, d.K)],
      ];
      for (const [m, ranked] of lists) {
        const c = atK(ranked, flipped);
        const a = acc.get(m) ?? { p: [], r: [], l: [] };
        a.p.push(c.precision);
        a.r.push(c.recall);
        a.l.push(c.listed);
        acc.set(m, a);
      }
      console.error(
        `  ${noise} seed ${seed}: head ${head.id}, ${flipped.reduce((a, b) => a + b, 0)} flipped, out-of-fold accuracy against the truth ${(right / pick.length).toFixed(3)}, 5 folds in ${(ms / 1000).toFixed(1)} s`,
      );
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const m of METHODS) {
      const a = acc.get(m)!;
      rows.push({
        dataset: d.name,
        noise,
        method: m,
        precision: mean(a.p),
        recall: mean(a.r),
        listed: mean(a.l),
        flipped: flippedTotal / seeds.length,
        oofAccuracy: oofAcc / seeds.length,
        seeds: seeds.length,
        heads: [...new Set(heads)].join(', '),
      });
    }
  }
  return rows;
}

interface AnnotatorRow {
  dataset: string;
  design: string;
  annotator: string;
  actual: number;
  estimated: number;
}

interface ConsensusRow {
  dataset: string;
  design: string;
  dawidSkene: number;
  majority: number;
}

/**
 * Three annotators over the same samples: careful (95% right, errors anywhere), careless (65%
 * right, errors anywhere) and biased (labels 35% of the other classes' samples as class 0).
 * Either all three label every sample, or each sample gets two of the three (a random pair).
 */
function annotatorsOn(d: Loaded): { annotators: AnnotatorRow[]; consensus: ConsensusRow[] } {
  const names = ['careful', 'careless', 'biased'];
  const annotators: AnnotatorRow[] = [];
  const consensus: ConsensusRow[] = [];
  for (const design of ['all three label each sample', 'two of the three per sample']) {
    const actual = [0, 0, 0];
    const estimated = [0, 0, 0];
    let ds = 0;
    let mv = 0;
    for (const seed of seeds) {
      const rng = new Rng(deriveSeed(seed, 'bench-annotators', d.name, design));
      const pick = rng.sample(
        Int32Array.from({ length: d.y.length }, (_, i) => i),
        Math.min(N, d.y.length),
      );
      const truth = Array.from(pick, (i) => d.y[i]!);
      const K = d.K;
      const other = (y: number) => (y + 1 + rng.int(K - 1)) % K;
      const say = (a: number, y: number) => {
        const u = rng.next();
        if (a === 0) return u < 0.95 ? y : other(y);
        if (a === 1) return u < 0.65 ? y : other(y);
        return y !== 0 && u < 0.35 ? 0 : y;
      };
      const obs: Observation[] = [];
      truth.forEach((y, i) => {
        const who = design.startsWith('all') ? [0, 1, 2] : rng.sample([0, 1, 2], 2);
        for (const a of who) obs.push({ item: i, annotator: a, label: say(a, y) });
      });
      const r = dawidSkene(obs, truth.length, 3, K);
      const est = annotatorEstimates(r, obs, 3, K);
      for (let a = 0; a < 3; a++) {
        const mine = obs.filter((o) => o.annotator === a);
        actual[a]! += mine.filter((o) => o.label === truth[o.item]).length / mine.length;
        estimated[a]! += est.accuracy[a]!;
      }
      const right = (c: Int32Array) => c.filter((k, i) => k === truth[i]).length / truth.length;
      ds += right(r.consensus);
      mv += right(majorityVote(obs, truth.length, K, seed));
    }
    const S = seeds.length;
    names.forEach((name, a) =>
      annotators.push({
        dataset: d.name,
        design,
        annotator: name,
        actual: actual[a]! / S,
        estimated: estimated[a]! / S,
      }),
    );
    consensus.push({ dataset: d.name, design, dawidSkene: ds / S, majority: mv / S });
  }
  return { annotators, consensus };
}

const f3 = (x: number) => x.toFixed(3);

async function main(): Promise<void> {
  const backend = await initBackend('wasm');
  const only = args.only.split(',');
  const sets: Loaded[] = [];
  if (only.includes('neu')) sets.push(await neu());
  if (only.includes('fashion-mnist')) sets.push(await fashion());
  const suspects: SuspectRow[] = [];
  const annotators: AnnotatorRow[] = [];
  const consensus: ConsensusRow[] = [];
  for (const d of sets) {
    suspects.push(...(await suspectsOn(d)));
    const a = annotatorsOn(d);
    annotators.push(...a.annotators);
    consensus.push(...a.consensus);
  }
  const lines: string[] = [];
  lines.push(
    `Suspect labels: ${N} labeled samples, ${RATE * 100}% flipped, k = number flipped, mean of ${seeds.length} seeds (${seeds.join(', ')}); backend ${backend.backend}`,
    '',
    '| dataset | noise | method | precision@k | recall@k | listed | out-of-fold accuracy | head |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of suspects)
    lines.push(
      `| ${r.dataset} | ${r.noise} | ${r.method} | ${f3(r.precision)} | ${f3(r.recall)} | ${r.listed.toFixed(0)} | ${f3(r.oofAccuracy)} | ${r.heads} |`,
    );
  lines.push(
    '',
    'Dawid-Skene on simulated annotators (accuracy of their labels: actual, estimated)',
    '',
    '| dataset | design | annotator | actual | estimated | error (points) |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const r of annotators)
    lines.push(
      `| ${r.dataset} | ${r.design} | ${r.annotator} | ${f3(r.actual)} | ${f3(r.estimated)} | ${((r.estimated - r.actual) * 100).toFixed(1)} |`,
    );
  lines.push(
    '',
    '| dataset | design | consensus accuracy: Dawid-Skene | majority vote (ties at random) |',
    '| --- | --- | --- | --- |',
  );
  for (const r of consensus)
    lines.push(`| ${r.dataset} | ${r.design} | ${f3(r.dawidSkene)} | ${f3(r.majority)} |`);
  console.log(lines.join('\n'));
  if (args.json)
    writeFileSync(args.json, JSON.stringify({ suspects, annotators, consensus }, null, 2));
}

await main();
