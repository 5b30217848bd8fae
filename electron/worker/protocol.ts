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
  | { kind: 'create'; dbPath: string; config: StudyConfig; name?: string }
  | { kind: 'annotation-train'; dbPath: string; projectId: number }
  | { kind: 'annotation-pixels'; dbPath: string; sampleId: number }
  | { kind: 'annotation-suspects'; dbPath: string; projectId: number; force: boolean };

/** What each job kind resolves to. */
export interface WorkerJobResult {
  study: { studyId: number };
  import: { datasetId: number };
  preview: DatasetPreview;
  estimate: StudyEstimate;
  backend: { backend: string; threads: number };
  strategies: StrategyInfo[];
  create: { studyId: number };
  'annotation-train': {
    projectId: number;
    batchId: number;
    trainingId: number | null;
    coldStart: boolean;
    labels: number;
    accuracy: number | null;
    missing: number;
  };
  'annotation-pixels': { width: number; height: number; channels: number; pixels: string };
  'annotation-suspects': {
    projectId: number;
    runId: number | null;
    flagged: number;
    skipped?: string;
  };
}

export type ImportProgress = { phase: 'reading' | 'saving'; done: number; total: number };
/** Progress of an annotation project's retrain. */
export type AnnotationProgress = {
  stage: 'loading' | 'training' | 'querying';
  done: number;
  total: number;
};
/** Any job's progress. */
export type JobProgress = StudyProgress | ImportProgress | AnnotationProgress;

export type ToWorker =
  { type: 'start'; jobId: number; job: WorkerJob } | { type: 'cancel'; jobId: number };

export type FromWorker =
  | { type: 'progress'; jobId: number; progress: JobProgress }
  | { type: 'done'; jobId: number; value: WorkerJobResult[WorkerJob['kind']] }
  | { type: 'error'; jobId: number; code: ErrorCode; message: string }
  | { type: 'cancelled'; jobId: number }
  | { type: 'ready' };
