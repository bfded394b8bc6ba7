import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { addTally, type Effect } from './effects.js';
import type { PropertyRunOptions, PropertyRunResult } from './property-runs.js';

/** What a shard's process sends its parent. */
export type ShardMessage =
  | { readonly kind: 'result'; readonly result: PropertyRunResult }
  | { readonly kind: 'failure'; readonly report: string };

const SHARD_ENTRY = fileURLToPath(new URL('./property-shard-process.ts', import.meta.url));

/** Plays shard `index` of `count` in a child process (`node --import tsx`). */
const playShard = (
  options: PropertyRunOptions & { readonly seed: number },
  index: number,
  count: number,
  children: Set<number>,
): Promise<PropertyRunResult> =>
  new Promise((resolve, reject) => {
    const child = fork(SHARD_ENTRY, [], {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        PROPERTY_SHARD_OPTIONS: JSON.stringify({ ...options, shard: { index, count } }),
      },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    if (child.pid !== undefined) children.add(child.pid);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
    });
    let message: ShardMessage | undefined;
    child.on('message', (received) => {
      message = received as ShardMessage;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (child.pid !== undefined) children.delete(child.pid);
      if (message?.kind === 'result') resolve(message.result);
      else if (message?.kind === 'failure') {
        reject(
          new Error(
            `Shard ${index + 1} of ${count} (runs ${index}, ${index + count}, ... of seed ${options.seed}; replay the path below with ROTATION_PROPERTY_PROCESSES=1): ${message.report}`,
          ),
        );
      } else {
        reject(
          new Error(
            `Shard ${index + 1} of ${count} exited with ${String(code ?? signal)} and reported nothing:\n${stderr}`,
          ),
        );
      }
    });
  });

/**
 * Plays the property's runs in `count` child processes at once, each its share of the same
 * seeded sequence (see playPropertyRuns), so the soak uses every core; resolves with the
 * effects of all runs together, or rejects with the first failure, after stopping (by pid)
 * the shards still running.
 */
export const playPropertyRunsInProcesses = async (
  options: PropertyRunOptions & { readonly seed: number },
  count: number,
): Promise<{ effects: Map<Effect, number>; played: number }> => {
  const children = new Set<number>();
  try {
    const results = await Promise.all(
      Array.from({ length: count }, (_, index) => playShard(options, index, count, children)),
    );
    const effects = new Map<Effect, number>();
    for (const result of results) addTally(effects, new Map(result.effects));
    return { effects, played: results.reduce((sum, result) => sum + result.played, 0) };
  } finally {
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
};
