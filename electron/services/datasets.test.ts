import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { AppEvent, DatasetPreview, DatasetSummary } from '../../shared/contract.ts';
import { createServices, type Services } from './services.ts';

async function png(size: number, shade: number): Promise<Buffer> {
  return sharp({
    create: { width: size, height: size, channels: 3, background: { r: shade, g: 90, b: 30 } },
  })
    .png()
    .toBuffer();
}

/**
 * The import screen's back end over the real ML worker: reading progress while an image folder is
 * previewed and imported, and previews of unlabeled (flat) folders.
 */
describe('dataset preview and import through the services', { timeout: 120_000 }, () => {
  let dir: string;
  let services: Services;
  const events: AppEvent[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deepal-datasets-'));
    for (const name of ['ant', 'bee']) {
      mkdirSync(join(dir, 'bugs', name), { recursive: true });
      for (let i = 0; i < 6; i++)
        writeFileSync(join(dir, 'bugs', name, `${i}.png`), await png(12, 20 * i));
    }
    writeFileSync(join(dir, 'bugs', 'bee', 'corrupt.png'), 'not a png');
    mkdirSync(join(dir, 'flat'));
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'flat', `${i}.png`), await png(10, 40 * i));
    services = createServices({
      dataDir: dir,
      dbPath: join(dir, 'workspace.db'),
      mode: 'browser',
      version: 'test',
    });
    services.onEvent((e) => events.push(e));
  });

  after(async () => {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const readingOf = (path: string) =>
    events.filter(
      (e): e is Extract<AppEvent, { kind: 'import-progress' }> =>
        e.kind === 'import-progress' && e.path === path && e.phase === 'reading',
    );

  test('a preview reports reading progress up to every file, and what it skipped', async () => {
    const path = join(dir, 'bugs');
    events.length = 0;
    const r = await services.invoke('datasets:preview', { path });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    const p = r.value as DatasetPreview;
    assert.deepEqual(
      p.classes.map((c) => [c.name, c.train + c.test]),
      [
        ['ant', 6],
        ['bee', 6],
      ],
    );
    assert.deepEqual(
      p.skipped.map((s) => s.path),
      [join(path, 'bee', 'corrupt.png')],
    );
    const reading = readingOf(path);
    assert.ok(reading.length > 0, 'no reading progress was emitted');
    const last = reading[reading.length - 1]!;
    assert.equal(last.done, last.total);
    // The headers of the 13 files are read (12 images and the corrupt one); nothing is decoded
    // but the thumbnails.
    assert.ok(
      reading.every((e) => e.total === 13),
      JSON.stringify(reading),
    );
    for (const e of reading) assert.ok(e.done <= e.total);
  });

  test('an import reads with progress, then saves, then says done', async () => {
    const path = join(dir, 'bugs');
    events.length = 0;
    const r = await services.invoke('datasets:import', { path, name: 'Bugs' });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.equal((r.value as DatasetSummary).name, 'Bugs');
    const phases = events
      .filter((e) => e.kind === 'import-progress' && e.path === path)
      .map((e) => (e.kind === 'import-progress' ? e.phase : ''));
    const firstSaving = phases.indexOf('saving');
    assert.ok(firstSaving > 0, phases.join(','));
    assert.ok(phases.slice(0, firstSaving).every((ph) => ph === 'reading'));
    assert.ok(readingOf(path).some((e) => e.total === 13 && e.done === 13));
    assert.equal(phases[phases.length - 1], 'done');
  });

  test('a flat folder previews its images as unlabeled, and says a study needs labels', async () => {
    const r = await services.invoke('datasets:preview', { path: join(dir, 'flat') });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    const p = r.value as DatasetPreview;
    assert.equal(p.trainCount, 5);
    assert.deepEqual(p.classes, []);
    assert.equal(p.thumbnails.length, 5);
    assert.ok(p.thumbnails.every((t) => t.className === 'unlabeled'));
    assert.deepEqual(p.notes, [
      'No class labels: all 5 images are unlabeled (a flat folder). Import them to label them; a study needs labeled data.',
    ]);
  });
});
