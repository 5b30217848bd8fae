import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  applyMigrations,
  checkMigrationOrder,
  MIGRATIONS,
  type Migration,
} from './migrations/index.ts';
import { APPLICATION_ID, NewerSchemaError, openStore } from './store.ts';
import { tempDir } from './fixtures/helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);
let n = 0;
const fresh = () => join(tmp.dir, `m${n++}.sqlite`);
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('migration 001_init', () => {
  test('applies on an empty database and creates the STRICT schema', () => {
    const db = new Database(':memory:');
    assert.deepEqual(applyMigrations(db, MIGRATIONS.slice(0, 1)), [1]);
    assert.equal(db.pragma('user_version', { simple: true }), 1);

    const tables = db
      .prepare(
        `SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
      )
      .all() as { name: string; strict: number }[];
    assert.deepEqual(
      tables.map((t) => t.name),
      [
        'datasets',
        'label_events',
        'project_class_history',
        'projects',
        'rounds',
        'runs',
        'samples',
        'studies',
      ],
    );
    for (const t of tables) assert.equal(t.strict, 1, `${t.name} is not STRICT`);

    const columns = (table: string) =>
      (
        db.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).all(table) as {
          name: string;
        }[]
      ).map((c) => c.name);
    assert.deepEqual(columns('label_events'), [
      'id',
      'sample_id',
      'class_idx',
      'kind',
      'undoes_event_id',
      'annotator',
      'source',
      'project_id',
      'study_run_id',
      'round',
      'duration_ms',
      'created_at',
    ]);
    assert.deepEqual(columns('samples'), [
      'id',
      'dataset_id',
      'idx',
      'split',
      'source_path',
      'pixels',
      'ground_truth',
    ]);
    assert.deepEqual(columns('rounds'), [
      'id',
      'run_id',
      'round',
      'labeled',
      'accuracy',
      'loss',
      'train_ms',
      'query_ms',
      'selected',
      'created_at',
    ]);

    const names = (type: string) =>
      (
        db.prepare(`SELECT name FROM sqlite_schema WHERE type = ? ORDER BY name`).all(type) as {
          name: string;
        }[]
      ).map((r) => r.name);
    assert.deepEqual(names('view'), ['current_labels']);
    const triggers = names('trigger');
    for (const t of [
      'label_events_no_update',
      'label_events_no_delete',
      'rounds_no_update',
      'rounds_no_delete',
      'project_class_history_no_update',
      'project_class_history_no_delete',
      'label_events_validate',
    ]) {
      assert.ok(triggers.includes(t), `trigger ${t} missing`);
    }
    // Unique keys the API relies on.
    const uniques = db
      .prepare(
        `SELECT il.name, group_concat(ii.name) AS cols FROM pragma_index_list('samples') il
                JOIN pragma_index_info(il.name) ii WHERE il."unique" = 1 GROUP BY il.name`,
      )
      .all() as { cols: string }[];
    assert.ok(
      uniques.some((u) => u.cols === 'dataset_id,split,idx'),
      JSON.stringify(uniques),
    );
    db.close();
  });

  test('a failing migration rolls back entirely and leaves user_version alone', () => {
    const db = new Database(':memory:');
    const broken: Migration = {
      version: 2,
      name: 'broken',
      up(d) {
        d.exec('CREATE TABLE extra (x INTEGER) STRICT');
        throw new Error('boom');
      },
    };
    assert.throws(() => applyMigrations(db, [...MIGRATIONS.slice(0, 1), broken]), /boom/);
    assert.equal(db.pragma('user_version', { simple: true }), 1);
    const extra = db
      .prepare(`SELECT count(*) AS n FROM sqlite_schema WHERE name = 'extra'`)
      .get() as { n: number };
    assert.equal(extra.n, 0);
    db.close();
  });

  test('the migration list must be 1, 2, 3, ... in order', () => {
    assert.doesNotThrow(() => checkMigrationOrder(MIGRATIONS));
    const m = (version: number): Migration => ({ version, name: `m${version}`, up() {} });
    assert.throws(
      () => checkMigrationOrder([m(1), m(3)]),
      /entry 1 \(m3\) has version 3, expected 2/,
    );
    assert.throws(() => checkMigrationOrder([m(2), m(1)]), /out of order/);
    assert.throws(() => checkMigrationOrder([m(1), m(1)]), /expected 2/);
  });
});

describe('openStore and schema versions', () => {
  test('creates, migrates and stamps a new file; reopening applies nothing', () => {
    const file = fresh();
    const s = openStore(file);
    assert.equal(s.schemaVersion, MIGRATIONS.length);
    assert.equal(s.pragma('application_id'), APPLICATION_ID);
    s.close();
    const again = openStore(file);
    assert.equal(again.schemaVersion, MIGRATIONS.length);
    again.close();
  });

  test('a database from a newer app is refused and left byte-identical', () => {
    const file = fresh();
    const future: Migration = {
      version: MIGRATIONS.length + 1,
      name: 'from-the-future',
      up(d) {
        d.exec('CREATE TABLE future (x INTEGER) STRICT');
      },
    };
    const newer = openStore(file, { migrations: [...MIGRATIONS, future] });
    assert.equal(newer.schemaVersion, MIGRATIONS.length + 1);
    newer.close();
    const before = sha(file);
    const mtime = statSync(file).mtimeMs;

    assert.throws(
      () => openStore(file),
      (err: unknown) => {
        assert.ok(err instanceof NewerSchemaError);
        assert.equal(
          err.message,
          `${file} was written by a newer DeepAL Studio (schema ${MIGRATIONS.length + 1}, this app knows ${MIGRATIONS.length}); open it with a newer version`,
        );
        return true;
      },
    );
    assert.throws(() => openStore(file, { readonly: true }), NewerSchemaError);
    assert.equal(sha(file), before);
    assert.equal(statSync(file).mtimeMs, mtime);
    // The newer app still opens it.
    const ok = openStore(file, { migrations: [...MIGRATIONS, future] });
    ok.close();
  });

  test('a foreign SQLite file or a non-database file is refused untouched', () => {
    const foreign = fresh();
    const db = new Database(foreign);
    db.exec('CREATE TABLE theirs (x INTEGER)');
    db.close();
    const before = sha(foreign);
    assert.throws(
      () => openStore(foreign),
      /is not a DeepAL Studio database \(it is another application's/,
    );
    assert.equal(sha(foreign), before);

    const text = fresh();
    writeFileSync(
      text,
      'this is not a database, just some text that is long enough to have a header........',
    );
    assert.throws(() => openStore(text), /is not a DeepAL Studio database/);
  });

  test('read-only opens never create or migrate', () => {
    const missing = fresh();
    assert.throws(() => openStore(missing, { readonly: true }), /does not exist/);
    assert.equal(existsSync(missing), false);

    const old = fresh();
    openStore(old, { migrations: [] }).close(); // an empty database at schema 0
    assert.throws(
      () => openStore(old, { readonly: true }),
      new RegExp(`uses schema 0 and this app needs ${MIGRATIONS.length}; open it once read-write`),
    );
  });
});
