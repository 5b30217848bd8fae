// electron-builder.yml names this file for beforePack, beforeBuild and afterPack. electron-builder loads plain
// JavaScript only, so hooks.ts is loaded through tsx here (packaging tooling only: the packaged
// app has no TypeScript and no tsx).
import { tsImport } from 'tsx/esm/api';

const hooks = await tsImport('./hooks.ts', import.meta.url);

export const beforePack = hooks.beforePack;
export const beforeBuild = hooks.beforeBuild;
export const afterPack = hooks.afterPack;
