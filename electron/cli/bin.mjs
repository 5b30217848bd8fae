#!/usr/bin/env node
// The `deepal` command. TypeScript sources are loaded through tsx, so there is no build step
// between `npm install` and `npx deepal`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../electron/cli/main.ts');
process.exitCode = await main(process.argv);
