/**
 * Child process of the kill test in ssl.test.ts: pretrains the tiny test encoder with a checkpoint
 * after every step, and in the middle of writing the second checkpoint prints "MID <temp file>"
 * and waits, so the test can SIGKILL it there.
 *
 *   node --import tsx electron/ml/features/sslKillChild.ts STATE_DIR
 */
import { initBackend } from '../backend.ts';
import { sslExtractor } from './ssl.ts';
import { TINY_SSL_CONFIG } from './sslTestConfig.ts';
import { textureSource } from './sslTestData.ts';

const stateDir = process.argv[2];
if (!stateDir) throw new Error('usage: sslKillChild.ts STATE_DIR');
await initBackend('wasm');
let writes = 0;
const ex = sslExtractor(
  { kind: 'ssl', budgetSec: 600, side: 16, seed: 3 },
  {
    config: TINY_SSL_CONFIG,
    checkpointEverySec: 0,
    hooks: {
      midWrite: async (tmp) => {
        if (++writes < 2) return;
        process.stdout.write(`MID ${tmp}\n`);
        // Stay alive (a pending promise alone would let Node exit) until the test kills us.
        await new Promise(() => setInterval(() => {}, 1000));
      },
    },
  },
);
await ex.prepare!(textureSource(32), { stateDir });
