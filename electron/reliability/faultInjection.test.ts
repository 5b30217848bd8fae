import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../shared/random.ts';
import { roundCount, type StudyConfigInput } from '../../shared/study.ts';
import { writeIdxDataset } from '../../e2e/helpers.ts';
import { exportProject } from '../annotation/exporter.ts';
import { createAnnotationProject, projectStatus } from '../annotation/projects.ts';
import { datasetSamples, listBatches, listTrainings, predictions } from '../store/annotation.ts';
import { createBackup, listBackups } from '../store/backup.ts';
import { openStore, type Store } from '../store/store.ts';

/**
 * Fault injection: the workspace database survives `kill -9` at many points.
 *
 * Each phase runs a child process (fixtures/faultDriver.ts) that does one kind of work and prints
 * an acknowledgement after each commit; the parent kills it with SIGKILL at a seeded random moment,
 * then reopens the database and checks: it opens, integrity_check is ok, everything acknowledged
 * is there, and nothing half-done is presented as complete. Generations run back to back on the
 * same database, so later generations also test recovery from the earlier kills.
 *
 * The seed is fixed; DEEPAL_FAULT_SEED=<n> runs other kill points. To cover new work (an export,
 * a background retrain), add a mode to the driver and a test that kills it and checks what it acknowledged.
 */
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const driver = join(here, 'fixtures', 'faultDriver.ts');
const SEED = Number(process.env.DEEPAL_FAULT_SEED ?? 20_240_817);

interface Outcome {
  acks: Record<string, unknown>[];
  /** The child was killed (false: it finished, or died on its own, which fails the test). */
  killed: boolean;
  done: boolean;
  stderr: string;
}

/**
 * Run the driver; after READY, SIGKILL it once `acks` acknowledgements arrived or `ms` passed,
 * whichever comes first. Only complete lines count: a line cut by the kill was not reported.
 */
function runDriver(
  phase: string,
  db: string,
  args: Record<string, unknown>,
  kill: { acks?: number; ms: number } | null,
  /** Run when `kill.acks` acknowledgements arrived, before the kill (which waits for it). */
  beforeKill?: () => Promise<void>,
): Promise<Outcome> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', driver, phase, db, JSON.stringify(args)],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DEEPAL_BACKEND: 'wasm' },
      },
    );
    let out = '';
    let stderr = '';
    let killed = false;
    let hooked = false;
    let timer: NodeJS.Timeout | undefined;
    const killNow = () => {
      if (killed) return;
      killed = true;
      proc.kill('SIGKILL');
    };
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      const ready = out.includes('READY\n');
      out += chunk;
      if (!kill) return;
      if (!ready && out.includes('READY\n')) timer = setTimeout(killNow, kill.ms);
      if (kill.acks !== undefined && (out.match(/^ACK /gm)?.length ?? 0) >= kill.acks) {
        if (!beforeKill) killNow();
        else if (!hooked) {
          hooked = true;
          beforeKill().then(killNow, (err: unknown) => {
            killNow();
            reject(err as Error);
          });
        }
      }
    });
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = out.split('\n');
      lines.pop();
      const done = lines.includes('DONE');
      if (signal !== 'SIGKILL' && !(code === 0 && done)) {
        reject(new Error(`${phase} driver exited with ${code ?? signal}:\n${stderr}`));
        return;
      }
      resolvePromise({
        acks: lines
          .filter((l) => l.startsWith('ACK '))
          .map((l) => JSON.parse(l.slice(4)) as Record<string, unknown>),
        killed: signal === 'SIGKILL',
        done,
        stderr,
      });
    });
  });
}

/** Open after a crash; the store must open and pass integrity_check. */
function reopen(file: string): Store {
  const s = openStore(file);
  const check = s.integrityCheck();
  if (check !== 'ok') {
    s.close();
    assert.fail(`${file} fails integrity_check after a kill: ${check.join('; ')}`);
  }
  return s;
}

function labelEventCount(s: Store, datasetId: number): number {
  let n = 0;
  for (const id of s.sampleIds(datasetId, 'train')) if (id > 0) n += s.labelHistory(id).length;
  return n;
}

function labelEventIds(s: Store, datasetId: number): Set<number> {
  const ids = new Set<number>();
  for (const id of s.sampleIds(datasetId, 'train')) {
    if (id > 0) for (const e of s.labelHistory(id)) ids.add(e.id);
  }
  return ids;
}

/** Every complete dataset holds exactly the samples its counts say; nothing half-imported shows. */
function checkDatasets(s: Store): void {
  for (const d of s.listDatasets()) {
    assert.equal(d.status, 'complete');
    for (const split of ['train', 'test', 'unlabeled'] as const) {
      const ids = s.sampleIds(d.id, split);
      assert.equal(ids.length, d.counts[split], `dataset ${d.id} ${split}: count vs rows`);
      assert.ok(!ids.includes(-1), `dataset ${d.id} ${split} has a hole`);
    }
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'deepal-fault-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Kill points actually landed, per phase (the closing note reports these). */
const landed: Record<string, number> = {};
function count(phase: string, o: Outcome): void {
  if (o.killed) landed[phase] = (landed[phase] ?? 0) + 1;
}

function importTiny(file: string, train: number, pixelBytes = 4): number {
  const s = openStore(file);
  try {
    return s.importDataset(
      {
        name: 'pool',
        source: 'fault-injection',
        format: 'test',
        classNames: ['a', 'b', 'c'],
        sampleShape: [pixelBytes],
        fingerprint: `fp-pool-${train}-${pixelBytes}`,
      },
      (function* () {
        for (let i = 0; i < train; i++) {
          const pixels = new Uint8Array(pixelBytes);
          pixels[0] = i & 255;
          pixels[pixelBytes - 1] = (i * 7) & 255;
          yield { split: 'train' as const, idx: i, groundTruth: i % 3, pixels };
        }
      })(),
    );
  } finally {
    s.close();
  }
}

describe(`fault injection: kill -9 at seeded points (seed ${SEED})`, { timeout: 900_000 }, () => {
  const rng = new Rng(SEED);

  before(() => {
    process.stdout.write(`# fault-injection seed ${SEED}\n`);
  });

  after(() => {
    const total = Object.values(landed).reduce((a, b) => a + b, 0);
    process.stdout.write(
      `# kill points landed: ${total} (${Object.entries(landed)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})\n`,
    );
  });

  test('a burst of label submissions: every acknowledged label survives every kill', async () => {
    const file = join(tmp, 'labels.db');
    const datasetId = importTiny(file, 60);
    const setup = openStore(file);
    const projectId = setup.createProject({ name: 'p', datasetId, createdBy: 'person' });
    setup.close();

    const acked = new Map<number, Record<string, unknown>>();
    const kills = 30;
    for (let gen = 0; gen < kills; gen++) {
      const o = await runDriver(
        'labels',
        file,
        { datasetId, projectId, seed: rng.fork() },
        { acks: 1 + rng.int(150), ms: 200 + rng.int(1500) },
      );
      assert.ok(o.killed, 'the label burst never ends by itself');
      count('labels', o);
      for (const a of o.acks) acked.set(a.id as number, a);

      const s = reopen(file);
      try {
        const stored = new Map<number, ReturnType<Store['labelHistory']>[number]>();
        for (const id of s.sampleIds(datasetId, 'train'))
          for (const e of s.labelHistory(id)) stored.set(e.id, e);
        for (const [id, a] of acked) {
          const e = stored.get(id);
          assert.ok(e, `generation ${gen}: acknowledged event ${id} (${a.kind}) is missing`);
          assert.equal(e.kind, a.kind);
          if (a.kind === 'undo') assert.equal(e.undoesEventId, a.undoes);
          else {
            assert.equal(e.sampleId, a.sampleId);
            assert.equal(e.classIdx, a.classIdx);
          }
        }
        // Unacknowledged: at most the one commit (a batch of up to 5) in flight per kill.
        assert.ok(stored.size - acked.size <= 5 * (gen + 1), `${stored.size} vs ${acked.size}`);
      } finally {
        s.close();
      }
    }
    assert.ok(acked.size > 0);
    process.stdout.write(`# labels: ${acked.size} acknowledged, all found after ${kills} kills\n`);
  });

  test('imports: a killed import is never listed as complete, and the next one completes', async () => {
    const file = join(tmp, 'import.db');
    openStore(file).close();
    const total = 3000;
    let fingerprint = 0;
    let completed = 0;
    for (let gen = 0; gen < 14; gen++) {
      const fp = `fp-import-${fingerprint}`;
      const o = await runDriver(
        'slow-import',
        file,
        { name: `import ${fingerprint}`, fingerprint: fp, samples: total, chunk: 250, pauseMs: 15 },
        { acks: 1 + rng.int(14), ms: 50 + rng.int(600) },
      );
      count('import', o);
      const s = reopen(file);
      try {
        checkDatasets(s);
        const row = s.listDatasets({ includeIncomplete: true }).find((d) => d.fingerprint === fp);
        if (o.acks.some((a) => 'complete' in a))
          assert.equal(row?.status, 'complete', `${fp} was acknowledged complete`);
        // A kill between the final commit and its acknowledgement leaves it complete, and whole.
        if (row?.status === 'complete') {
          assert.equal(row!.counts.train + row!.counts.test, total);
          completed++;
          fingerprint++;
        } else {
          assert.ok(!s.listDatasets().some((d) => d.fingerprint === fp), `${fp} listed`);
          const written = Math.max(0, ...o.acks.map((a) => Number(a.written ?? 0)));
          if (row) {
            const rows = s.sampleIds(row.id, 'train').length + s.sampleIds(row.id, 'test').length;
            assert.ok(rows >= written, `${rows} rows, ${written} acknowledged`);
          }
        }
      } finally {
        s.close();
      }
    }
    // Finish the last one unkilled: the leftover of the killed attempts is replaced.
    const fp = `fp-import-${fingerprint}`;
    const o = await runDriver(
      'slow-import',
      file,
      { name: 'last', fingerprint: fp, samples: total, chunk: 1000, pauseMs: 0 },
      null,
    );
    assert.ok(o.done);
    const s = reopen(file);
    try {
      checkDatasets(s);
      assert.deepEqual(
        s.listDatasets({ includeIncomplete: true }).filter((d) => d.status !== 'complete'),
        [],
      );
      assert.equal(s.listDatasets().length, completed + 1);
    } finally {
      s.close();
    }
  });

  test("the app's import job of an IDX folder, killed at random moments", async () => {
    const data = join(tmp, 'idx');
    writeIdxDataset(data, 6000, 1000, 4);
    let completed = 0;
    for (let gen = 0; gen < 8; gen++) {
      // A fresh database after each completed import (a second import of the same data is
      // instant); after a kill, the same one, so the next import meets the leftover.
      const file = join(tmp, `app-import-${completed}.db`);
      const o = await runDriver('app-import', file, { path: data }, { ms: rng.int(250) });
      count('app-import', o);
      const s = reopen(file);
      try {
        checkDatasets(s);
        const listed = s.listDatasets();
        if (o.acks.some((a) => 'complete' in a)) assert.equal(listed.length, 1);
        // A kill between the import's commit and its acknowledgement leaves it listed: allowed,
        // as long as it is whole (the counts below). Never more than the one import.
        else assert.ok(listed.length <= 1, `${listed.length} datasets listed after one import`);
        if (listed.length === 1) completed++;
        for (const d of listed) assert.deepEqual([d.counts.train, d.counts.test], [6000, 1000]);
      } finally {
        s.close();
      }
    }
  });

  test('a study killed mid-round resumes each time and ends with the uninterrupted result', async () => {
    const { createStudy } = await import('../study/engine.ts');
    const config: StudyConfigInput = {
      dataset: 'demo',
      strategies: ['Random', 'Entropy'],
      repeats: 1,
      seed: 5,
      initial: 20,
      batch: 10,
      budget: 100,
      epochs: 3,
      model: 'mlp',
      trainBatchSize: 16,
      learningRate: 1e-3,
      poolSize: 400,
      testSize: 150,
    };
    const make = (file: string) => {
      const s = openStore(file);
      try {
        return createStudy(s, config);
      } finally {
        s.close();
      }
    };
    const file = join(tmp, 'study.db');
    const studyId = make(file);
    const ackedRounds = new Set<string>();
    let finished = false;
    let gens = 0;
    // Fourteen kills at seeded moments (startup, data loading, training, the round commit), then
    // one generation left alone to finish: it must resume, not start over. Each generation takes
    // over the study lock the killed one left.
    for (; gens < 15 && !finished; gens++) {
      const kill = gens < 14 ? { ms: 300 + rng.int(1000) + 30 * gens } : null;
      const o = await runDriver('study', file, { studyId }, kill);
      count('study', o);
      finished = o.done;
      if (kill === null) assert.ok(o.done, 'the unkilled generation finishes the study');
      for (const a of o.acks) {
        const key = `${a.strategy}/${a.repeat}/${a.round}`;
        assert.ok(!ackedRounds.has(key), `round ${key} was run again after a resume`);
        ackedRounds.add(key);
      }
      const s = reopen(file);
      try {
        checkDatasets(s);
        const recorded = new Set<string>();
        for (const run of s.listRuns(studyId)) {
          const rounds = s.listRounds(run.id);
          rounds.forEach((r, i) => {
            assert.equal(r.round, i, `run ${run.id}: rounds are contiguous from 0`);
            recorded.add(`${run.strategy}/${run.repeat}/${r.round}`);
          });
          // A round and its simulated labels commit together: one label per selected sample.
          const selected = rounds.reduce((n, r) => n + r.selected.length, 0);
          assert.equal(s.currentLabels({ studyRunId: run.id }).length, selected);
          if (rounds.length > 0) assert.equal(rounds.at(-1)!.labeled, selected);
        }
        for (const k of ackedRounds) assert.ok(recorded.has(k), `acknowledged round ${k} lost`);
      } finally {
        s.close();
      }
    }
    assert.ok(finished, `the study did not finish within ${gens} generations`);

    const refFile = join(tmp, 'study-ref.db');
    const refId = make(refFile);
    const ref = await runDriver('study', refFile, { studyId: refId }, null);
    assert.ok(ref.done);
    const curves = (f: string, id: number) => {
      const s = openStore(f, { readonly: true });
      try {
        assert.equal(s.getStudy(id)!.status, 'done');
        return s.listRuns(id).map((r) => ({
          run: `${r.strategy}/${r.repeat}`,
          rounds: s.listRounds(r.id).map((x) => [x.labeled, x.accuracy, x.selected]),
        }));
      } finally {
        s.close();
      }
    };
    const got = curves(file, studyId);
    for (const r of got) assert.equal(r.rounds.length, roundCount({ budget: 100, batch: 10 }) + 1);
    assert.deepEqual(got, curves(refFile, refId));
    process.stdout.write(
      `# study: finished after ${gens} generations (${landed.study ?? 0} kills)\n`,
    );
  });

  test('rolling backups: a kill mid-backup never lists a partial backup; listed ones are whole', async () => {
    const file = join(tmp, 'backups.db');
    // Large enough (about 6 MB) that a backup takes long enough to be killed inside.
    const datasetId = importTiny(file, 8000, 784);
    const keep = 3;
    const ackedLabels = new Set<number>();
    for (let gen = 0; gen < 8; gen++) {
      const o = await runDriver(
        'backups',
        file,
        { datasetId, keep, seed: rng.fork() },
        { ms: 100 + rng.int(900) },
      );
      count('backups', o);
      for (const a of o.acks) if ('label' in a) ackedLabels.add(a.label as number);
      const lastBackup = o.acks.filter((a) => 'backup' in a).at(-1)?.backup as string | undefined;
      const s = reopen(file);
      try {
        const ids = labelEventIds(s, datasetId);
        for (const id of ackedLabels) assert.ok(ids.has(id), `acknowledged label ${id} lost`);
      } finally {
        s.close();
      }
      const listed = listBackups(file);
      // A kill between the rename and the pruning can leave one extra.
      assert.ok(listed.length <= keep + 1, `${listed.length} backups kept`);
      if (lastBackup)
        assert.ok(
          listed.some((b) => b.name === lastBackup),
          `${lastBackup} listed`,
        );
      for (const b of listed) {
        const copy = openStore(b.file, { readonly: true });
        try {
          assert.equal(copy.integrityCheck(), 'ok', `${b.name} is whole`);
          assert.equal(copy.listDatasets().length, 1);
        } finally {
          copy.close();
        }
      }
    }
  });

  test('restores: a kill mid-restore leaves the old or the restored database, and no label is lost', async () => {
    const file = join(tmp, 'restore.db');
    const datasetId = importTiny(file, 2000, 784);
    const s = openStore(file);
    const names: string[] = [];
    const sizes: number[] = [];
    const all = new Set<number>();
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < 10; i++) {
        all.add(
          s.appendLabelEvent({ sampleId: 1 + k * 10 + i, classIdx: i % 3, annotator: 'person' }),
        );
      }
      sizes.push(all.size);
      if (k < 3) names.push((await createBackup(s, { keep: 0 })).name);
    }
    s.close();
    for (let gen = 0; gen < 8; gen++) {
      const o = await runDriver(
        'restores',
        file,
        { names, seed: rng.fork() },
        { ms: 80 + rng.int(700) },
      );
      count('restores', o);
      const db = reopen(file);
      try {
        assert.ok(sizes.includes(labelEventCount(db, datasetId)), 'the old or a restored state');
      } finally {
        db.close();
      }
      // Nothing lost: every label is in the database or in a backup (the safety copies).
      const everywhere = new Set<number>();
      for (const f of [file, ...listBackups(file).map((b) => b.file)]) {
        const c = openStore(f, { readonly: true });
        try {
          for (const id of labelEventIds(c, datasetId)) everywhere.add(id);
        } finally {
          c.close();
        }
      }
      for (const id of all) assert.ok(everywhere.has(id), `label ${id} is nowhere`);
    }
  });

  test('a background retrain with labels coming in: no label lost, no half retrain shown as done', async () => {
    const data = join(tmp, 'retrain-idx');
    writeIdxDataset(data, 400, 0, 3);
    const file = join(tmp, 'retrain.db');
    const imported = await runDriver('app-import', file, { path: data }, null);
    assert.ok(imported.done, 'the dataset imports');
    const setup = openStore(file);
    const datasetId = setup.listDatasets()[0]!.id;
    const samples = datasetSamples(setup, datasetId).map((x) => x.id);
    const projectId = createAnnotationProject(setup, {
      name: 'retrain',
      datasetId,
      classNames: ['a', 'b', 'c'],
      // Small and quick: the kills must land in every part of a retrain, many times.
      settings: { model: 'mlp', epochs: 2, modelSide: 8, batchSize: 10, stopSetSize: 20 },
      createdBy: 'person',
    });
    // Enough labels of every class that each retrain trains a model (not a cold start).
    setup.appendLabelEvents(
      samples.slice(0, 30).map((sampleId, i) => ({
        sampleId,
        kind: 'label' as const,
        classIdx: i % 3,
        annotator: 'person',
        projectId,
      })),
    );
    setup.close();

    const idle = { running: false, phase: null, error: null, cancelled: false };
    const ackedLabels = new Map<number, Record<string, unknown>>();
    const ackedTrainings = new Set<number>();
    /** Check the store after a generation; returns the number of trainings recorded. */
    const check = (gen: number): number => {
      const s = reopen(file);
      try {
        const stored = new Map(
          samples.flatMap((id) => s.labelHistory(id)).map((e) => [e.id, e] as const),
        );
        for (const [id, a] of ackedLabels) {
          const e = stored.get(id);
          assert.ok(e, `generation ${gen}: acknowledged label ${id} is missing`);
          assert.equal(e.sampleId, a.sampleId);
          assert.equal(e.classIdx, a.classIdx);
          assert.equal(e.projectId, projectId);
        }
        // Each retrain's model, guesses and batch commit together, or not at all.
        const trainings = listTrainings(s, projectId);
        for (const id of ackedTrainings)
          assert.ok(
            trainings.some((t) => t.id === id),
            `acknowledged retrain ${id} lost`,
          );
        const batches = listBatches(s, projectId);
        for (const t of trainings)
          assert.ok(
            batches.some((b) => b.trainingId === t.id),
            `retrain ${t.id} has no batch: a half-recorded retrain`,
          );
        const guesses = [...predictions(s, projectId).values()];
        const latest = trainings.at(-1);
        if (latest) {
          assert.equal(guesses.length, samples.length, 'the latest model guessed every sample');
          assert.ok(
            guesses.every((g) => g.trainingId === latest.id),
            'guesses of one model',
          );
          assert.equal(batches[0]!.trainingId, latest.id, 'the queue is the latest model’s');
        } else assert.equal(guesses.length, 0);
        // What the app shows after a restart: the last whole retrain, nothing running.
        const status = projectStatus(s, projectId, idle);
        assert.equal(status.lastTraining?.id ?? null, latest?.id ?? null);
        assert.equal(status.training.running, false);
        assert.doesNotMatch(status.queueMethod, /\?/, 'the queue names a stored model');
        return trainings.length;
      } finally {
        s.close();
      }
    };

    let recorded = check(-1);
    const stages = new Map<string, number>();
    const kills = 12;
    for (let gen = 0; gen < kills; gen++) {
      const o = await runDriver(
        'retrain',
        file,
        { projectId, samples, seed: rng.fork() },
        { ms: 300 + rng.int(1500) },
      );
      assert.ok(o.killed, 'the retrain loop never ends by itself');
      count('retrain', o);
      for (const a of o.acks) {
        if ('eventId' in a) ackedLabels.set(a.eventId as number, a);
        if ('trainingId' in a) ackedTrainings.add(a.trainingId as number);
      }
      // The retrain's last reported stage when the kill came ('recorded': between retrains).
      const lastStage = o.acks.findLast((a) => 'stage' in a || 'trainingId' in a);
      const stage = lastStage ? String(lastStage.stage ?? 'recorded') : 'startup';
      stages.set(stage, (stages.get(stage) ?? 0) + 1);
      const now = check(gen);
      const acked = o.acks.filter((a) => 'trainingId' in a).length;
      // At most one retrain committed without its acknowledgement reaching us.
      assert.ok(now - recorded >= acked && now - recorded <= acked + 1, `${recorded} -> ${now}`);
      recorded = now;
    }
    // Left alone, a retrain runs to the end again after all those kills.
    const last = await runDriver(
      'retrain',
      file,
      { projectId, samples, seed: rng.fork(), rounds: 1 },
      null,
    );
    assert.ok(last.done, 'the retrain runs again and finishes');
    for (const a of last.acks) {
      if ('eventId' in a) ackedLabels.set(a.eventId as number, a);
      if ('trainingId' in a) ackedTrainings.add(a.trainingId as number);
    }
    assert.equal(check(kills), recorded + 1, 'the unkilled retrain recorded one model');
    process.stdout.write(
      `# retrain: ${landed.retrain ?? 0} kills (last stage: ${[...stages].map(([k, v]) => `${k} ${v}`).join(', ')}), ${ackedLabels.size} labels acknowledged and all found, ${ackedTrainings.size} retrains acknowledged, ${recorded + 1} recorded\n`,
    );
  });

  test("a second writer of a running study is refused, naming it; a killed holder's lock is taken over", async () => {
    const { createStudy } = await import('../study/engine.ts');
    const file = join(tmp, 'second-writer.db');
    const s = openStore(file);
    // Long enough (hundreds of rounds) that the holder is still training when the second starts.
    const studyId = createStudy(s, {
      dataset: 'demo',
      strategies: ['Random'],
      repeats: 1,
      seed: 9,
      initial: 20,
      batch: 1,
      budget: 300,
      epochs: 2,
      model: 'mlp',
      trainBatchSize: 16,
      learningRate: 1e-3,
      poolSize: 400,
      testSize: 100,
    });
    s.close();
    const refusals: string[] = [];
    for (let gen = 0; gen < 3; gen++) {
      const o = await runDriver('study', file, { studyId }, { acks: 1, ms: 300_000 }, async () => {
        const r = await runDriver('study-second', file, { studyId }, null);
        refusals.push(String(r.acks[0]?.refused ?? `not refused: ${JSON.stringify(r.acks)}`));
      });
      assert.ok(o.killed, 'the holder was still running when the second writer was refused');
      count('second-writer', o);
      const db = reopen(file);
      try {
        const rounds = db.listRounds(db.listRuns(studyId)[0]!.id);
        rounds.forEach((r, i) => assert.equal(r.round, i, 'no round recorded twice'));
      } finally {
        db.close();
      }
    }
    assert.equal(refusals.length, 3);
    for (const r of refusals)
      assert.match(
        r,
        /^JobBusyError: Study \d+ of .*second-writer\.db is being run by process \d+/,
      );
  });

  test('label imports: a killed import leaves a whole project or none, never half the labels', async () => {
    const data = join(tmp, 'label-import-idx');
    writeIdxDataset(data, 300, 0, 3);
    const file = join(tmp, 'label-import.db');
    const imported = await runDriver('app-import', file, { path: data }, null);
    assert.ok(imported.done, 'the dataset imports');
    const setup = openStore(file);
    const datasetId = setup.listDatasets()[0]!.id;
    const samples = datasetSamples(setup, datasetId).map((x) => x.id);
    const source = createAnnotationProject(setup, {
      name: 'source',
      datasetId,
      classNames: ['a', 'b', 'c'],
      createdBy: 'person',
    });
    const labelCount = 250;
    setup.appendLabelEvents(
      samples.slice(0, labelCount).map((sampleId, i) => ({
        sampleId,
        kind: 'label' as const,
        classIdx: i % 3,
        annotator: 'person',
        projectId: source,
      })),
    );
    const exportFile = join(tmp, 'labels-export.json');
    await exportProject(setup, {
      projectId: source,
      format: 'json',
      out: exportFile,
      includePseudo: false,
      includePredictions: false,
      overwrite: false,
    });
    setup.close();
    const acked = new Set<number>();
    for (let gen = 0; gen < 12; gen++) {
      const o = await runDriver(
        'label-import',
        file,
        { path: exportFile },
        { acks: 1 + rng.int(6), ms: 50 + rng.int(400) },
      );
      assert.ok(o.killed, 'the import loop never ends by itself');
      count('label-import', o);
      for (const a of o.acks) acked.add(a.projectId as number);
      const s = reopen(file);
      try {
        const projects = s.listProjects().filter((p) => p.id !== source);
        for (const id of acked)
          assert.ok(
            projects.some((p) => p.id === id),
            `acknowledged project ${id} lost`,
          );
        for (const p of projects)
          assert.equal(
            s.currentLabels({ projectId: p.id }).length,
            labelCount,
            `project ${p.id} holds all ${labelCount} labels or does not exist`,
          );
      } finally {
        s.close();
      }
    }
  });

  test('enough kill points landed', () => {
    const total = Object.values(landed).reduce((a, b) => a + b, 0);
    // README's reliability section quotes this figure.
    assert.ok(total >= 100, `only ${total} kills landed: ${JSON.stringify(landed)}`);
  });
});
