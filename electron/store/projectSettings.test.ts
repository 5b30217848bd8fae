import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  changeClasses,
  classHistory,
  settingsHistory,
  updateProjectSettings,
} from './annotation.ts';
import { importTiny, tempDir } from './fixtures/helpers.ts';
import { openStore } from './store.ts';

const tmp = tempDir();
after(tmp.cleanup);

describe('project settings changes in the store', () => {
  const store = openStore(join(tmp.dir, 'w.db'));
  after(() => store.close());
  const datasetId = importTiny(store);
  const projectId = store.createProject({
    name: 'p',
    datasetId,
    settings: { batchSize: 40, epochs: 15 },
    createdBy: 'ann',
  });

  test('updates the settings and records who changed which field from what to what', () => {
    const r = updateProjectSettings(
      store,
      projectId,
      (s) => ({ ...s, batchSize: 8, strategy: 'Margin' }),
      'bob',
    );
    assert.deepEqual(store.getProject(projectId)!.settings, {
      batchSize: 8,
      epochs: 15,
      strategy: 'Margin',
    });
    assert.deepEqual(r.change!.changes, [
      { field: 'batchSize', from: 40, to: 8 },
      { field: 'strategy', from: null, to: 'Margin' },
    ]);
    const h = settingsHistory(store, projectId);
    assert.equal(h.length, 1);
    assert.equal(h[0]!.changedBy, 'bob');
    assert.match(h[0]!.createdAt, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(h[0]!.changes, r.change!.changes);
  });

  test('a field removed is recorded as going to null; no change records nothing', () => {
    updateProjectSettings(store, projectId, (s) => ({ ...s, budget: 9 }), 'ann');
    const r = updateProjectSettings(store, projectId, ({ budget: _drop, ...rest }) => rest, 'ann');
    assert.deepEqual(r.change!.changes, [{ field: 'budget', from: 9, to: null }]);
    assert.equal('budget' in store.getProject(projectId)!.settings, false);
    const same = updateProjectSettings(store, projectId, (s) => ({ ...s }), 'ann');
    assert.equal(same.change, null);
    assert.equal(settingsHistory(store, projectId).length, 3);
  });

  test('an update that throws changes nothing and records nothing', () => {
    const before = store.getProject(projectId)!.settings;
    assert.throws(
      () =>
        updateProjectSettings(
          store,
          projectId,
          () => {
            throw new Error('refused');
          },
          'ann',
        ),
      /refused/,
    );
    assert.deepEqual(store.getProject(projectId)!.settings, before);
    assert.equal(settingsHistory(store, projectId).length, 3);
  });

  test('needs an author and an existing project', () => {
    assert.throws(() => updateProjectSettings(store, projectId, (s) => s, ' '), /who makes/);
    assert.throws(() => updateProjectSettings(store, 999, (s) => s, 'ann'), /no project 999/);
  });

  test('class history and settings history do not mix', () => {
    changeClasses(store, projectId, { op: 'add', name: 'fox' }, 'ann');
    assert.deepEqual(
      classHistory(store, projectId).map((h) => (h.change as { op: string }).op),
      ['create', 'add'],
    );
    assert.deepEqual(
      store.projectClassHistory(projectId).map((h) => h.classNames.length),
      [3, 4],
    );
    assert.equal(settingsHistory(store, projectId).length, 3);
    // A settings change keeps the class list as it is.
    updateProjectSettings(store, projectId, (s) => ({ ...s, epochs: 3 }), 'ann');
    assert.deepEqual(store.getProject(projectId)!.classNames, ['cat', 'dog', 'bird', 'fox']);
    assert.equal(classHistory(store, projectId).length, 2);
  });

  test('the history is append-only', () => {
    assert.throws(() => store.prepared('DELETE FROM project_class_history').run(), /append-only/);
  });
});
