import type { z } from 'zod';

/**
 * Declares a channel of the app's contract: its argument schema, a one-line summary, and its result
 * type (type-level only). Used by contract.ts and the channel groups it gathers (annotation.ts,
 * labelQuality.ts), which cannot import contract.ts without a cycle.
 */
export function channel<A extends z.ZodType, R>(
  args: A,
  summary: string,
): { args: A; summary: string; result?: R } {
  return { args, summary };
}
