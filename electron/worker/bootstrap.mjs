// Worker entry in development and browser mode: TypeScript runs through tsx, as everywhere else
// in the project, so the worker needs tsx's loader registered in its own thread first.
import { register } from 'tsx/esm/api';

register();
await import('./ml.worker.ts');
