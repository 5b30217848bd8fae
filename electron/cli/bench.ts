import type { Command } from 'commander';

/** `deepal bench ...` (written by the models and training work). */
export function registerBench(_program: Command): void {}
