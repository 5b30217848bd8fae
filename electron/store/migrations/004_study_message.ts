import type { Migration } from './index.ts';

/**
 * `studies.message`: why a study last failed, as the sentence the person was shown. It was only
 * sent with the failure event, so after a reload the app showed "failed" and nothing else. Cleared
 * when the study is started again.
 */
export const migration: Migration = {
  version: 4,
  name: 'study_message',
  up(db) {
    db.exec(
      `ALTER TABLE studies ADD COLUMN message TEXT CHECK (message IS NULL OR length(message) <= 4000);`,
    );
  },
};
