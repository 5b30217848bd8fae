import type { Command } from 'commander';

/** `deepal strategies` (written by the strategies work). */
export function registerStrategies(_program: Command): void {}
