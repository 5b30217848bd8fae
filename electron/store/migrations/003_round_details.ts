import type { Migration } from './index.ts';

/**
 * `rounds.details`: what a round recorded beyond its accuracy and loss, as one JSON object. The
 * study engine puts the test set's confusion matrix there (`confusion`: counts, true class x
 * predicted class), from which the reports compute balanced accuracy, macro-F1 and per-class
 * recall; model selection may add its choice and scores. Rounds recorded before this version read
 * as `{}` (no confusion: their per-class metrics are unknown, never guessed).
 *
 * Adding a column does not touch existing rows, so the append-only triggers stay as they are: a
 * round's details are written with it and never changed.
 */
export const migration: Migration = {
  version: 3,
  name: 'round_details',
  up(db) {
    db.exec(`
ALTER TABLE rounds ADD COLUMN details TEXT NOT NULL DEFAULT '{}'
  CHECK (json_valid(details) AND json_type(details) = 'object'
         AND coalesce(json_type(details, '$.confusion'), 'array') = 'array');
`);
  },
};
