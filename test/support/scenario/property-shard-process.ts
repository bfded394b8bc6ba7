/**
 * A child process that plays one shard of the rotation property (see property-processes.ts):
 * `node --import tsx property-shard-process.ts` with the options as JSON in
 * PROPERTY_SHARD_OPTIONS; it sends one {@link ShardMessage} to its parent over IPC and exits.
 */
import { inspect } from 'node:util';
import { playPropertyRuns, type PropertyRunOptions } from './property-runs.js';
import type { ShardMessage } from './property-processes.js';

// As test/support/setup.ts does for the test workers.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const send = (message: ShardMessage): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined) {
      process.stderr.write(`${JSON.stringify(message)}\n`);
      resolve();
      return;
    }
    process.send(message, () => {
      resolve();
    });
  });

const options = JSON.parse(process.env.PROPERTY_SHARD_OPTIONS ?? '{}') as PropertyRunOptions;
try {
  await send({ kind: 'result', result: await playPropertyRuns(options) });
} catch (error) {
  await send({
    kind: 'failure',
    // With its cause: the invariant that failed, as vitest would print it.
    report: inspect(error, { depth: 6 }),
  });
}
if (process.connected) process.disconnect();
