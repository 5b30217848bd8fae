import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type {
  AppEvent,
  ArgsOf,
  Channel,
  DeepalApi,
  Result,
  ResultOf,
} from '../../shared/contract.ts';

/**
 * The renderer's only door to the app: one named function per capability (never a generic
 * `send(channel)`), each bound to its own channel. Arguments are validated again in main.
 * This file is bundled to one CommonJS script (sandboxed preloads cannot import modules), so it
 * imports types only from the contract.
 */
const EVENTS_CHANNEL = 'events:app';

function invoker<C extends Channel>(channel: C) {
  return (args: ArgsOf<C>) => ipcRenderer.invoke(channel, args) as Promise<Result<ResultOf<C>>>;
}

const api: DeepalApi = {
  appInfo: invoker('app:info'),
  listStrategies: invoker('strategies:list'),
  listDatasets: invoker('datasets:list'),
  chooseDatasetPath: invoker('datasets:choose'),
  previewDataset: invoker('datasets:preview'),
  importDataset: invoker('datasets:import'),
  cancelDatasetJob: invoker('datasets:cancel'),
  listStudies: invoker('studies:list'),
  createStudy: invoker('studies:create'),
  startStudy: invoker('studies:start'),
  resumeStudy: invoker('studies:resume'),
  cancelStudy: invoker('studies:cancel'),
  studyReport: invoker('studies:report'),
  estimateStudy: invoker('studies:estimate'),
  listBackups: invoker('backups:list'),
  createBackup: invoker('backups:create'),
  restoreBackup: invoker('backups:restore'),
  listProjects: invoker('projects:list'),
  createProject: invoker('projects:create'),
  projectStatus: invoker('projects:status'),
  changeProjectClasses: invoker('projects:classes'),
  retrainProject: invoker('projects:retrain'),
  changeProjectSettings: invoker('projects:settings'),
  cancelRetrain: invoker('projects:cancelRetrain'),
  exportProject: invoker('projects:export'),
  exportTarget: invoker('projects:exportTarget'),
  chooseExportPath: invoker('projects:chooseExport'),
  importProject: invoker('projects:import'),
  labelQueue: invoker('labels:queue'),
  labelSample: invoker('labels:sample'),
  submitLabel: invoker('labels:submit'),
  undoLabel: invoker('labels:undo'),
  labelAgreement: invoker('labels:agreement'),
  listSuspects: invoker('suspects:list'),
  reviewSuspect: invoker('suspects:review'),
  findSuspects: invoker('suspects:find'),
  cancelSuspects: invoker('suspects:cancel'),
  annotatorQuality: invoker('projects:annotators'),
  lastAnnotator: invoker('labels:annotator'),
  rememberAnnotator: invoker('labels:setAnnotator'),
  onEvent(listener: (event: AppEvent) => void) {
    const handler = (_e: IpcRendererEvent, event: AppEvent) => listener(event);
    ipcRenderer.on(EVENTS_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(EVENTS_CHANNEL, handler);
    };
  },
};

contextBridge.exposeInMainWorld('deepal', api);
