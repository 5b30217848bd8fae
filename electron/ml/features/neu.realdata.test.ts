/**
 * The feature layer on real industrial photographs: NEU surface defects (1,770 images of steel
 * strip, 6 classes, 200 x 200). Looked up in DEEPAL_DATA_DIR, then ../shared/datasets beside the
 * repository; skipped with the reason when missing, except under CI, where it fails.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { Rng } from '../../../shared/random.ts';
import { initBackend } from '../backend.ts';
import { chooseHead, featureData, fitHead, LOGREG, autoCandidates } from '../heads/featureModel.ts';
import { predict } from '../training/predict.ts';
import type { Dataset } from '../types.ts';
import { computeFeatures } from './compute.ts';
import { fileSource } from './source.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

function findNeu(t: TestContext): string | null {
  const candidates = [
    ...(process.env.DEEPAL_DATA_DIR ? [resolve(process.env.DEEPAL_DATA_DIR)] : []),
    resolve(repoRoot, '..', 'shared', 'datasets'),
  ].map((base) => join(base, 'neu-surface-defects', 'images'));
  const found = candidates.find((c) => existsSync(join(c, 'crazing')));
  if (found) return found;
  const reason = `NEU surface defects not found; looked in ${candidates.join(', ')}`;
  if (process.env.CI) assert.fail(`${reason}. CI must provide the data (set DEEPAL_DATA_DIR).`);
  t.skip(reason);
  return null;
}

test('NEU: descriptors + logistic regression learn the defects from 10 labels per class', async (t) => {
  const root = findNeu(t);
  if (!root) return;
  await initBackend('wasm');
  const classes = readdirSync(root).sort();
  assert.equal(classes.length, 6);
  // 50 photographs per class (the first by name), 300 in all: 60 labeled, 240 to predict.
  const files: { path: string }[] = [];
  const y: number[] = [];
  classes.forEach((c, k) => {
    for (const f of readdirSync(join(root, c)).sort().slice(0, 50)) {
      files.push({ path: join(root, c, f) });
      y.push(k);
    }
  });
  const source = await fileSource(files, { nativeSize: [200, 200], channels: 1 });
  const started = performance.now();
  const m = await computeFeatures(source, { kind: 'descriptors' });
  t.diagnostic(
    `descriptors of ${m.n} photographs at 200 x 200 in ${(performance.now() - started).toFixed(0)} ms`,
  );
  const images: Dataset = {
    name: 'neu',
    x: new Uint8Array(0),
    y: Int32Array.from(y),
    sampleShape: [200, 200, 1],
    classNames: classes,
  };
  const data = featureData(images, images, m, m, 'descriptors');
  const rng = new Rng(3);
  const train: number[] = [];
  const rest: number[] = [];
  classes.forEach((_, k) => {
    const rows = rng.shuffle(y.map((c, i) => (c === k ? i : -1)).filter((i) => i >= 0));
    train.push(...rows.slice(0, 10));
    rest.push(...rows.slice(10));
  });
  const rows = Int32Array.from(train);
  const labels = Int32Array.from(train, (i) => y[i]!);
  const { net } = await fitHead(data, LOGREG, rows, labels, 6, 1);
  try {
    const { probs } = await predict(net, data.pool, Int32Array.from(rest), data.norm);
    let ok = 0;
    rest.forEach((r, j) => {
      const p = probs.subarray(j * 6, j * 6 + 6);
      if (p.indexOf(Math.max(...p)) === y[r]) ok++;
    });
    const acc = ok / rest.length;
    t.diagnostic(`accuracy on ${rest.length} unlabeled photographs: ${(acc * 100).toFixed(1)}%`);
    // Raw 32 x 32 pixels reach 37% at 60 labels on NEU, chance is 17%.
    assert.ok(acc > 0.7, `accuracy ${acc}`);
  } finally {
    net.dispose();
  }
  // auto's cross-validation runs on real features and reports every candidate.
  const choice = await chooseHead(data, autoCandidates(data.blocks), rows, labels, 6, 2);
  assert.equal(choice.scores.length, 4);
  assert.ok(
    choice.scores.every((s) => s.balancedAccuracy > 0.5),
    JSON.stringify(choice.scores),
  );
});
