#!/usr/bin/env node
// The `deepal` command. TypeScript sources are loaded through tsx, so there is no build step
// between `npm install` and `npx deepal`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
const code = await main(process.argv);
if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
