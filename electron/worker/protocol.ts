import type {
  DatasetPreview,
  ErrorCode,
  StrategyInfo,
  StudyEstimate,
  StudyProgress,
} from '../../shared/contract.ts';
import type { StudyConfig } from '../../shared/study.ts';

/**
 * Messages between the main thread and the one long-lived ML worker. Every job has an id; its
 * life is `start -> progress* -> done | error | cancelled`. `cancel` is honoured between batches.
 */
export type WorkerJob =
  | { kind: 'study'; dbPath: string; studyId: number }
  | { kind: 'import'; dbPath: string; path: string; name?: string }
  | { kind: 'preview'; path: string }
  | { kind: 'estimate'; config: StudyConfig }
  | { kind: 'backend' }
  | { kind: 'strategies' }
  | { kind: 'create'; dbPath: string; config: StudyConfig; name?: string };

/** What each job kind resolves to. */
export interface WorkerJobResult {
  study: { studyId: number };
  import: { datasetId: number };
  preview: DatasetPreview;
  estimate: StudyEstimate;
  backend: { backend: string; threads: number };
  strategies: StrategyInfo[];
  create: { studyId: number };
}

export type ImportProgress = { phase: 'reading' | 'saving'; done: number; total: number };

export type ToWorker =
  { type: 'start'; jobId: number; job: WorkerJob } | { type: 'cancel'; jobId: number };

export type FromWorker =
  | { type: 'progress'; jobId: number; progress: StudyProgress | ImportProgress }
  | { type: 'done'; jobId: number; value: WorkerJobResult[WorkerJob['kind']] }
  | { type: 'error'; jobId: number; code: ErrorCode; message: string }
  | { type: 'cancelled'; jobId: number }
  | { type: 'ready' };
