/// <reference types="vite/client" />
import type { DeepalApi } from '../../shared/contract.ts';

declare global {
  interface Window {
    /** Present in the Electron shell only (the preload's contextBridge API). */
    deepal?: DeepalApi;
  }
}

declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
