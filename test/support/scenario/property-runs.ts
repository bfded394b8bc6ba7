import fc from 'fast-check';
import { actionArbitrary, parametersArbitrary, playScenario } from './actions.js';
import { addTally, type Effect } from './effects.js';

/** Which runs of a property a process plays (see {@link playPropertyRuns}). */
export interface PropertyShard {
  /** 0-based: this process plays the runs whose index modulo `count` is `index`. */
  readonly index: number;
  readonly count: number;
}

export interface PropertyRunOptions {
  /** Runs of the whole property (all shards together). */
  readonly runs: number;
  /** fast-check's seed; undefined for a random one. */
  readonly seed: number | undefined;
  /** @default the whole property in one process */
  readonly shard?: PropertyShard;
}

/** What the runs a process played made the function do. */
export interface PropertyRunResult {
  readonly effects: readonly (readonly [Effect, number])[];
  /** How many runs this process played (the others it generated and left to other shards). */
  readonly played: number;
}

/**
 * Plays the rotation property's random scenarios (actions.ts) with fast-check: `runs` runs from
 * `seed`, or, with a `shard`, the runs whose index falls to it. Every shard generates the same
 * sequence of runs from the same seed (fast-check draws each run's values from the seed and
 * the run's index, never from earlier outcomes) and plays only its own, so N shards together
 * play the scenarios one process would, and a failure's seed and path replay in one process.
 * (How concurrent actors of a scenario interleave can still differ by a few microtask turns with
 * what the process ran before, such as the SDK's signing-key cache: the effects counted by one
 * process and by N differ slightly.) Once a run has failed, every later call is fast-check shrinking that failure: those
 * are all played.
 *
 * Throws fast-check's report (seed, path, shrunk counterexample) when a run breaks an invariant.
 */
export const playPropertyRuns = async (options: PropertyRunOptions): Promise<PropertyRunResult> => {
  const shard = options.shard ?? { index: 0, count: 1 };
  const total = new Map<Effect, number>();
  let generated = 0;
  let played = 0;
  let failed = false;
  await fc.assert(
    fc.asyncProperty(
      parametersArbitrary,
      fc.array(actionArbitrary, { maxLength: 8 }),
      async (parameters, actions) => {
        const run = generated;
        generated += 1;
        if (!failed && run % shard.count !== shard.index) return;
        played += 1;
        try {
          addTally(total, await playScenario(parameters, actions));
        } catch (error) {
          failed = true;
          throw error;
        }
      },
    ),
    { numRuns: options.runs, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  );
  return { effects: [...total], played };
};
