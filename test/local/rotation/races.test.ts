import { describe, expect, it } from 'vitest';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../../../local/simulation/index.js';
import { checkInvariants } from '../../support/scenario/invariants.js';
import {
  runOperatorCommand,
  SCENARIO_STEP_TIMEOUT_MS,
} from '../../support/scenario/operator-cli.js';
import { failFinishSecretMove } from '../../support/scenario/fault-matrix.js';
import { Scenario, type ScenarioOptions } from '../../support/scenario/scenario.js';

/**
 * The six races of issue 15, replayed deterministically in the simulation: the operator steps run
 * the commands' own code (cli/commands), the function is the real handler, and every offset of
 * the operator's action within the function's requests (or the reverse) is tried, each from a
 * fork of a scenario brought once to where the offsets count from (Scenario.prepared). The simulation's
 * clock advances only when someone sleeps, so a command that does not wait out the function's
 * timeout leaves a step alive that its assertions then catch.
 */
const GRACE_SECONDS = 3_600;

/** The command's own code (operator-cli.ts), as the scenarios' operator actions run it. */
const runCommand = async (
  scenario: Scenario,
  command: 'rollback' | 'cancel',
): Promise<{ readonly exitCode: number; readonly message?: string }> => {
  const run = await runOperatorCommand(scenario, command, {
    stepTimeoutMs: SCENARIO_STEP_TIMEOUT_MS,
  });
  return {
    exitCode: run.exitCode,
    ...(run.error instanceof Error ? { message: run.error.message } : {}),
  };
};

type CommandAnswer = Awaited<ReturnType<typeof runCommand>>;

const statusOf = (scenario: Scenario, accessKeyId: string | undefined): string | undefined =>
  accessKeyId === undefined ? undefined : scenario.sim.accessKey(accessKeyId)?.status;

/** How many requests the second rotation makes when nothing interferes. */
const requestsOfOneRotation = async (options: ScenarioOptions): Promise<number> =>
  Scenario.run(options, async (scenario) => {
    await scenario.rotateNow();
    const before = scenario.sim.callCount;
    await scenario.runScheduledRotation();
    return scenario.sim.callCount - before;
  });

/** The AWSCURRENT key exists and is Active: the invariant every race broke. */
const expectWorkingCurrentKey = (scenario: Scenario): void => {
  const current = scenario.storedKeyId(AWSCURRENT);
  expect(current, 'AWSCURRENT holds a key').toBeDefined();
  expect(statusOf(scenario, current), `AWSCURRENT key ${String(current)}`).toBe('Active');
};

describe('Races of issue 15 (simulation, commands and function interleaved)', () => {
  it('1. rollback racing the retirement at every request of the rollback: AWSCURRENT ends on the rolled-back key, Active', async () => {
    const { base, prepared: rolledBackTo } = await Scenario.prepared(
      { gracePeriodSeconds: GRACE_SECONDS },
      async (scenario) => {
        await scenario.rotateNow();
        const current = scenario.storedKeyId(AWSCURRENT);
        await scenario.runScheduledRotation();
        await scenario.sim.clock.sleep(GRACE_SECONDS * 1_000 + 1_000);
        return current;
      },
    );
    for (let offset = 0; offset < 24; offset += 1) {
      await Scenario.runFork(base, async (scenario) => {
        const start = scenario.sim.callCount;
        scenario.interleaveAt(start + offset, () => scenario.sim.runDueSchedules());

        const answer = await runCommand(scenario, 'rollback');
        await scenario.settle();

        expect(answer, `offset ${String(offset)}`).toEqual({ exitCode: 0 });
        expect(scenario.storedKeyId(AWSCURRENT)).toBe(rolledBackTo);
        expectWorkingCurrentKey(scenario);
        expect(checkInvariants(scenario), `offset ${String(offset)}`).toEqual([]);
      });
    }
  });

  it('2 and 5. cancel at every request of a rotation (createSecret and finishSecret included): it succeeds only when nothing of the rotation remains, else says it completed', async () => {
    const requests = await requestsOfOneRotation({});
    const { base } = await Scenario.prepared({}, (scenario) => scenario.rotateNow());
    const outcomes = new Set<string>();
    for (let offset = 0; offset < requests; offset += 1) {
      await Scenario.runFork(base, async (scenario) => {
        const before = scenario.storedKeyId(AWSCURRENT);
        const start = scenario.sim.callCount;
        let answer: CommandAnswer | undefined;
        scenario.interleaveAt(start + offset, async () => {
          answer = await runCommand(scenario, 'cancel');
        });

        const rotation = await scenario.runScheduledRotation();
        await scenario.settle();

        const at = `offset ${String(offset)}`;
        expect(answer, at).toBeDefined();
        if (
          answer?.exitCode === 0 &&
          scenario.commandOutput.join('').includes('Nothing to cancel')
        ) {
          // AWSCURRENT had already moved: the rotation was complete when cancel looked.
          outcomes.add('nothing to cancel');
          expect(rotation.status, at).toBe('succeeded');
        } else if (answer?.exitCode === 0) {
          outcomes.add('cancelled');
          // Final: the rotation never completed and its key is gone.
          expect(rotation.status, at).not.toBe('succeeded');
          expect(scenario.storedKeyId(AWSCURRENT), at).toBe(before);
          expect(scenario.hasIncompleteRotation(), at).toBe(false);
          // Only keys the secret holds remain (the AWSPREVIOUS key when createSecret had not
          // reached its make-room yet): none the rotation created.
          const held = [before, scenario.storedKeyId(AWSPREVIOUS)];
          for (const key of scenario.keys()) expect(held, at).toContain(key.accessKeyId);
        } else {
          outcomes.add('completed first');
          expect(answer?.message, at).toMatch(/it completed before the cancel took effect/);
          expect(rotation.status, at).toBe('succeeded');
        }
        expectWorkingCurrentKey(scenario);
        expect(checkInvariants(scenario), at).toEqual([]);
      });
    }
    expect([...outcomes].sort()).toEqual(['cancelled', 'completed first', 'nothing to cancel']);
  });

  it('3. a duplicate finishSecret never undoes a rollback made at any request of the rotation', async () => {
    const options: ScenarioOptions = {
      rotation: {
        retry: { maxAttempts: 3, delayMs: 60_000 },
        duplicateInvocation: (invocation) => invocation.step === 'finishSecret',
      },
    };
    const requests = await requestsOfOneRotation(options);
    const { base } = await Scenario.prepared(options, async (scenario) => {
      await scenario.rotateNow();
      await scenario.runScheduledRotation();
    });
    for (let offset = 0; offset < requests; offset += 1) {
      await Scenario.runFork(base, async (scenario) => {
        const start = scenario.sim.callCount;
        scenario.interleaveAt(start + offset, () => scenario.applyOutOfBand('rollback'));

        await scenario.runScheduledRotation();
        await scenario.settle();

        const at = `offset ${String(offset)}`;
        const rollback = scenario.labelMoves.find((move) => move.action === 'rollback');
        if (rollback !== undefined) {
          // The rollback's version is still AWSCURRENT: nothing moved it back.
          const current = scenario.sim.versionWithStage(scenario.secretId, AWSCURRENT);
          expect(current?.versionId, at).toBe(rollback.currentVersionId);
        }
        expectWorkingCurrentKey(scenario);
        expect(checkInvariants(scenario), at).toEqual([]);
      });
    }
  });

  it('4. the retirement leaves the previous key Active (and fails, for the alarm) when the AWSCURRENT key is not Active', async () => {
    await Scenario.run({ gracePeriodSeconds: GRACE_SECONDS }, async (scenario) => {
      await scenario.rotateNow();
      await scenario.runScheduledRotation();
      const previous = scenario.storedKeyId(AWSPREVIOUS);
      await scenario.applyOutOfBand('deactivate-current-key');
      await scenario.sim.clock.sleep(GRACE_SECONDS * 1_000 + 1_000);

      const fired = await scenario.runDueSchedules();

      expect(fired.length).toBeGreaterThan(0);
      expect(fired.every((invocation) => invocation.outcome === 'failed')).toBe(true);
      expect(statusOf(scenario, previous)).toBe('Active');
      expect(scenario.logs.text).toContain('would leave the user without a working key');
    });
  });

  it('6. a key left in a version Secrets Manager abandoned for a new token does not block the next rotation, though it signed a request', async () => {
    await Scenario.run(
      { rotation: { retry: { maxAttempts: 3, delayMs: 60_000, reuseToken: false } } },
      async (scenario) => {
        await scenario.rotateNow();
        // The second rotation's first attempt fails after testSecret's STS call (its key signed),
        // at finishSecret's move; Secrets Manager retries under a new token.
        failFinishSecretMove(scenario);

        const rotation = await scenario.runScheduledRotation();

        expect(rotation.tokens.length).toBeGreaterThan(1);
        expect(rotation.status).toBe('succeeded');
        expect(scenario.logs.text).toContain('keys of abandoned versions of this secret make room');
        expect(scenario.keys()).toHaveLength(2);
        expect(scenario.hasIncompleteRotation()).toBe(false);
        expect(scenario.storedKeyId(AWSPENDING)).toBeUndefined();
        expectWorkingCurrentKey(scenario);
        expect(checkInvariants(scenario)).toEqual([]);
      },
    );
  });

  it('7. a rotation started at any request of a rollback (after its last re-read included) never deletes the key rolled back to', async () => {
    // H2: a rotation whose createSecret read the labels after the rollback's final re-read would
    // delete the AWSPREVIOUS key (the one rolled back to) to make room; createSecret now changes
    // nothing while the rollback's label is on a version.
    const { base, prepared: rolledBackTo } = await Scenario.prepared({}, async (scenario) => {
      await scenario.rotateNow();
      const current = scenario.storedKeyId(AWSCURRENT);
      await scenario.runScheduledRotation();
      return current;
    });
    const requests = await Scenario.runFork(base, async (scenario) => {
      const before = scenario.sim.callCount;
      await runCommand(scenario, 'rollback');
      return scenario.sim.callCount - before;
    });
    const outcomes = new Set<string>();
    for (let offset = 0; offset <= requests; offset += 1) {
      await Scenario.runFork(base, async (scenario) => {
        const start = scenario.sim.callCount;
        scenario.interleaveAt(start + offset, () => scenario.rotateSecret());

        const answer = await runCommand(scenario, 'rollback');
        await scenario.settle();

        const at = `offset ${String(offset)}`;
        // A rotation that deleted the AWSPREVIOUS key before the rollback looked leaves nothing
        // to roll back to (exit 1, documented); whatever happened, AWSCURRENT works.
        if (answer.exitCode === 0) {
          // The key rolled back to is AWSCURRENT, or AWSPREVIOUS of a rotation that started from
          // the rolled-back version and completed after the command.
          const holder =
            scenario.storedKeyId(AWSCURRENT) === rolledBackTo ? AWSCURRENT : AWSPREVIOUS;
          expect(scenario.storedKeyId(holder), at).toBe(rolledBackTo);
          outcomes.add(`rolled back (${holder})`);
        } else {
          outcomes.add(
            answer.message?.includes('nothing to roll back to') === true ? 'nothing' : 'stopped',
          );
        }
        expectWorkingCurrentKey(scenario);
        expect(checkInvariants(scenario), at).toEqual([]);
      });
    }
    // Every kind of meeting was tried: a rollback that won, one a later rotation followed.
    expect(outcomes).toContain('rolled back (AWSCURRENT)');
    expect(outcomes).toContain('rolled back (AWSPREVIOUS)');
  });
});
