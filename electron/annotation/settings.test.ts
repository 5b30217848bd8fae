import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readProjectSettings } from '../../shared/annotation.ts';
import { importTiny, tempDir } from '../store/fixtures/helpers.ts';
import { settingsHistory } from '../store/annotation.ts';
import { openStore } from '../store/store.ts';
import {
  changeProjectSettings,
  createAnnotationProject,
  projectStatus,
  submitEvent,
} from './projects.ts';

const tmp = tempDir();
after(tmp.cleanup);

describe('editing a project’s settings', () => {
  const store = openStore(join(tmp.dir, 'w.db'));
  after(() => store.close());
  // 10 pool + 4 test images: a pool of 14.
  const datasetId = importTiny(store);
  const projectId = store.createProject({
    name: 'p',
    datasetId,
    settings: readProjectSettings({ batchSize: 6, retrainEvery: 3 }),
    createdBy: 'ann',
  });
  const settings = () => readProjectSettings(store.getProject(projectId)!.settings);
  const catalog = { strategies: ['Random', 'Entropy', 'Margin', 'LPL', 'WAAL'] };

  test('merges the change into the stored settings and keeps every other field', () => {
    const before = settings();
    const change = changeProjectSettings(
      store,
      projectId,
      { batchSize: 10, strategy: 'Margin', epochs: 4 },
      'bob',
      catalog,
    );
    assert.deepEqual(
      change!.changes.map((c) => [c.field, c.from, c.to]),
      [
        ['batchSize', 6, 10],
        ['strategy', 'Entropy', 'Margin'],
        ['epochs', 15, 4],
      ],
    );
    assert.deepEqual(settings(), { ...before, batchSize: 10, strategy: 'Margin', epochs: 4 });
    const status = projectStatus(store, projectId, {
      running: false,
      phase: null,
      error: null,
      cancelled: false,
    });
    assert.equal(status.settings.batchSize, 10);
    assert.equal(status.settingsHistory.length, 1);
    assert.equal(status.settingsHistory[0]!.changedBy, 'bob');
  });

  test('budget: set, then null goes back to the pool size', () => {
    changeProjectSettings(store, projectId, { budget: 12 }, 'ann');
    assert.equal(settings().budget, 12);
    changeProjectSettings(store, projectId, { budget: null }, 'ann');
    assert.equal(settings().budget, undefined);
    assert.deepEqual(settingsHistory(store, projectId).at(-1)!.changes, [
      { field: 'budget', from: 12, to: null },
    ]);
  });

  test('the same value again records nothing', () => {
    const n = settingsHistory(store, projectId).length;
    assert.equal(changeProjectSettings(store, projectId, { batchSize: 10 }, 'ann'), null);
    assert.equal(settingsHistory(store, projectId).length, n);
  });

  test('refuses what cannot work, with the reason, and changes nothing', () => {
    const ids = store.sampleIds(datasetId, 'train');
    for (const sampleId of ids.slice(0, 5)) {
      submitEvent(store, {
        projectId,
        sampleId,
        annotator: 'ann',
        kind: 'label',
        classIdx: 0,
        via: 'queue',
      });
    }
    const before = settings();
    const n = settingsHistory(store, projectId).length;
    const refused: [Parameters<typeof changeProjectSettings>[2], RegExp][] = [
      [{ batchSize: 15 }, /batch of 15 is larger than the pool of 14 images/],
      [{ budget: 20 }, /budget of 20 labels is more than the 14 images/],
      [{ budget: 4 }, /budget of 4 labels is below the 5 already made/],
      [{ strategy: 'LPL' }, /strategy LPL changes how the model trains/],
      [{ strategy: 'WAAL' }, /strategy WAAL changes how the model trains/],
      [
        { strategy: 'Nope' },
        /there is no strategy "Nope"; choose one of Random, Entropy, Margin\./,
      ],
      [{ seed: 2 }, /seed cannot change after the project is created/],
      [{ holdoutFraction: 0.3 }, /holdoutFraction cannot change/],
      [{}, /nothing to change/],
    ];
    for (const [patch, message] of refused) {
      assert.throws(
        () => changeProjectSettings(store, projectId, patch, 'ann', catalog),
        (err: Error) => err.name === 'ProjectInputError' && message.test(err.message),
        JSON.stringify(patch),
      );
    }
    // The same seed as stored is not a change, so it is accepted (a form sends every field).
    changeProjectSettings(store, projectId, { seed: before.seed, epochs: 5 }, 'ann');
    assert.deepEqual(settings(), { ...before, epochs: 5 });
    assert.equal(settingsHistory(store, projectId).length, n + 1);
  });

  test('creation refuses what the person chose that cannot work, never a default', () => {
    const make = (settings: Parameters<typeof createAnnotationProject>[1]['settings']) =>
      createAnnotationProject(store, { name: 'q', datasetId, settings, createdBy: 'ann' });
    assert.throws(() => make({ batchSize: 15 }), /batch of 15 is larger than the pool of 14/);
    assert.throws(() => make({ strategy: 'WAAL' }), /WAAL changes how the model trains/);
    // Defaults are never refused, and they do not block changing something else later.
    const id = make(undefined);
    assert.equal(readProjectSettings(store.getProject(id)!.settings).batchSize, 10);
    assert.ok(changeProjectSettings(store, id, { epochs: 3 }, 'ann'));
    assert.throws(
      () => changeProjectSettings(store, id, { batchSize: 20 }, 'ann'),
      /batch of 20 is larger than the pool of 14/,
    );
  });

  test('an unknown project is refused', () => {
    assert.throws(() => changeProjectSettings(store, 999, { epochs: 3 }, 'ann'), /no project 999/);
  });
});
