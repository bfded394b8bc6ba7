import { expect } from 'vitest';
import {
  AWSCURRENT,
  FAULT_KINDS,
  type CallRecord,
  type FaultKind,
  type RotationRecord,
  type RotationRunnerOptions,
} from '../../../local/simulation/index.js';
import { takeSnapshot } from './call-snapshots.js';
import { checkInvariants } from './invariants.js';
import type { OperatorAction } from './operator-actions.js';
import { Scenario, SECRET_NAME, type ScenarioStart } from './scenario.js';

/**
 * Every single fault, of each kind, at every call position of a rotation. The positions come
 * from a clean run of the same scenario (same seed, so the faulted run is identical up to the
 * fault); the fault hits the nth call the rotation function makes.
 */

export interface Setup {
  readonly name: string;
  readonly start: ScenarioStart;
  /** Clean rotations before the one under test. */
  readonly rotationsBefore: number;
  /** What an operator does after those rotations, before the one under test. */
  readonly operator?: OperatorAction;
  /**
   * Days that pass before the next rotation: a key alice still uses blocks it (it is never
   * deleted) until it has been idle for staleKeyDays.
   * @default 0
   */
  readonly idleDaysBeforeNext?: number;
  /**
   * The function's grace period. The rotation under test is then followed by the end of its
   * grace period and the schedules that fire, whose calls are faulted too.
   * @default 0 (none)
   */
  readonly gracePeriodSeconds?: number;
}

export const SETUPS: readonly Setup[] = [
  { name: 'first rotation of a secret without a key', start: 'empty', rotationsBefore: 0 },
  {
    name: 'first rotation of a user with a key the secret does not hold',
    start: 'pre-existing-key',
    rotationsBefore: 0,
  },
  { name: 'first rotation of a secret holding a key', start: 'stored-key', rotationsBefore: 0 },
  {
    name: 'first rotation of a user with two keys the secret does not hold, one never used',
    start: 'two-keys-one-unused',
    rotationsBefore: 0,
    idleDaysBeforeNext: 8,
  },
  {
    name: 'steady state (AWSCURRENT and an Inactive AWSPREVIOUS key)',
    start: 'stored-key',
    rotationsBefore: 1,
  },
  {
    name: 'after a rollback (AWSCURRENT moved back, the key rolled back from Active as AWSPREVIOUS)',
    start: 'stored-key',
    rotationsBefore: 2,
    operator: 'rollback',
  },
  {
    name: 'steady state with a grace period (the Active AWSPREVIOUS key deleted, the new previous key retired when its schedule fires)',
    start: 'stored-key',
    rotationsBefore: 1,
    gracePeriodSeconds: 3_600,
  },
];

export interface RetryConfig {
  readonly name: string;
  readonly rotation: RotationRunnerOptions;
  /** Secrets Manager retries the rotation, so a single fault must not make it give up. */
  readonly retried: boolean;
}

export const CONFIGS: readonly RetryConfig[] = [
  {
    name: 'Secrets Manager retries with the same token',
    rotation: { retry: { maxAttempts: 3, delayMs: 60_000, reuseToken: true } },
    retried: true,
  },
  {
    name: 'Secrets Manager retries with a new token',
    rotation: { retry: { maxAttempts: 3, delayMs: 60_000, reuseToken: false } },
    retried: true,
  },
  {
    name: 'Secrets Manager gives up after one attempt',
    rotation: { retry: { maxAttempts: 1 } },
    retried: false,
  },
];

export const PROPAGATION_DELAY_MS = 300;

/**
 * CI (`npm test`) runs a subset: the retry configurations each setup needs, and at every call
 * position one fault, the kinds taken in turn, so that every kind hits calls of every step. Set
 * ROTATION_FULL_FAULT_MATRIX=1 (`npm run test:long` does) for every kind at every call of every
 * setup and retry configuration (about 2,900 scenarios).
 */
export const FULL_FAULT_MATRIX = process.env.ROTATION_FULL_FAULT_MATRIX === '1';
export const SEED = 7;

/**
 * Makes the next attempt of a rotation fail at finishSecret's move of AWSCURRENT (and at its one
 * retry under a fresh check): after testSecret's STS call, so the pending key has signed a request.
 */
export const failFinishSecretMove = (scenario: Scenario): void => {
  scenario.sim.injectFault({
    kind: 'access-denied',
    match: { operation: 'UpdateSecretVersionStage', step: 'finishSecret', insideInvocation: true },
    times: 2,
  });
};

/** Brings a new scenario of `setup` to the rotation under test: the rotations and operator before. */
export const bringToRotationUnderTest = async (scenario: Scenario, setup: Setup): Promise<void> => {
  for (let i = 0; i < setup.rotationsBefore; i += 1) {
    if (i === 0) await scenario.rotateNow();
    else await scenario.runScheduledRotation();
  }
  if (setup.operator !== undefined) {
    await scenario.applyOutOfBand(setup.operator);
  }
  await scenario.settle();
};

/**
 * Runs the rotation under test on a scenario {@link bringToRotationUnderTest} prepared, and
 * returns its record; `beforeRotation` runs just before it starts.
 */
export const runRotationUnderTest = async (
  scenario: Scenario,
  setup: Setup,
  beforeRotation: () => void,
): Promise<RotationRecord> => {
  beforeRotation();
  if (setup.rotationsBefore === 0) {
    const outcome = await scenario.rotateNow();
    expect(outcome.accepted).toBe(true);
  } else {
    await scenario.runScheduledRotation();
  }
  const record = scenario.lastRotation;
  if (record === undefined) throw new Error('no rotation was started');
  if (scenario.gracePeriodMs > 0) {
    // The grace period ends: the schedules fire (the one of the rotation under test retires
    // its previous key; an older one finds nothing to do).
    await scenario.sim.clock.sleep(scenario.gracePeriodMs + 2_000);
    await scenario.runDueSchedules();
  }
  return record;
};

/** The scenario options of a setup under a retry configuration. */
const scenarioOptions = (
  setup: Setup,
  config: RetryConfig,
): Parameters<typeof Scenario.run>[0] => ({
  start: setup.start,
  seed: SEED,
  propagationDelayMs: PROPAGATION_DELAY_MS,
  rotation: config.rotation,
  gracePeriodSeconds: setup.gracePeriodSeconds ?? 0,
});

/** What a clean run of the rotation under test did. */
interface CleanRun {
  /** "step Operation" of each call of the rotation function. */
  readonly calls: string[];
  /**
   * Every call in full (parameters, signer, outcome), by invocation, the clock and the world at
   * the end: what a run from a fork must share with a run that replays the setup.
   */
  readonly fingerprint: string;
}

/** The clean run of the rotation under test on `scenario`, prepared for it. */
const cleanRun = async (scenario: Scenario, setup: Setup): Promise<CleanRun> => {
  let from = 0;
  const record = await runRotationUnderTest(scenario, setup, () => {
    from = scenario.sim.callCount;
  });
  if (record.status !== 'succeeded') throw new Error(`clean run ${record.status}`);
  const calls = scenario.sim.calls.slice(from);
  const end = takeSnapshot(scenario.sim);
  return {
    calls: calls
      .filter((call) => call.invocationId !== undefined)
      .map((call) => `${String(call.step)} ${call.operation}`),
    fingerprint: withoutUuids(
      JSON.stringify({
        calls: byInvocation(calls),
        time: end.time,
        keys: [...end.keys],
        secrets: [...end.secrets].map(([arn, secret]) => [
          arn,
          { ...secret, versionIds: secret.versionIds.length, abandoned: [...secret.abandoned] },
        ]),
        ownerTags: [...end.ownerTags],
        rotations: scenario.rotations.map(({ id, status, attempts, tokens }) => ({
          id,
          status,
          attempts,
          tokens,
        })),
        invariants: checkInvariants(scenario),
      }),
    ),
  };
};

/**
 * The calls of each invocation (and those outside any), in order, without their index, time and
 * invocation id, the invocations sorted: concurrent invocations (the grace period's schedules
 * firing together) interleave by microtask turns, which differ between a function that has run
 * before and a new instance, and schedules due at once fire in the order of their names, which
 * hold version ids.
 */
const byInvocation = (calls: readonly CallRecord[]): string[] => {
  const groups = new Map<string, unknown[]>();
  for (const call of calls) {
    const key = call.invocationId ?? 'outside';
    const rest = Object.entries(call).filter(
      ([field]) => field !== 'index' && field !== 'time' && field !== 'invocationId',
    );
    groups.set(key, [...(groups.get(key) ?? []), Object.fromEntries(rest)]);
  }
  return [...groups.values()].map((group) => JSON.stringify(group)).sort();
};

/**
 * Replaces every UUID: the SDK draws the ClientRequestToken of a RotateSecret sent without one
 * from crypto.randomUUID, so two runs of the same scenario differ in those tokens (and in the
 * version ids and schedule names made of them).
 */
const withoutUuids = (text: string): string =>
  text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'uuid');

export interface FaultCase {
  readonly kind: FaultKind;
  readonly position: number;
  /** "step Operation" of the call in the clean run. */
  readonly call: string;
}

/**
 * The fault kinds that can hit a call: every kind, except the one AWS never produces, an
 * access-denied GetCallerIdentity (it needs no permission).
 */
const kindsFor = (call: string): FaultKind[] =>
  FAULT_KINDS.filter((kind) => kind !== 'access-denied' || !call.endsWith(' GetCallerIdentity'));

/**
 * With {@link FULL_FAULT_MATRIX}, every fault kind at every call of the clean run; otherwise one
 * fault at every call, the kinds in turn (call n gets kind n modulo the kinds), so every kind
 * hits several calls spread over the steps.
 */
export const faultCases = (calls: readonly string[]): FaultCase[] =>
  calls.flatMap((call, position) => {
    const kinds = kindsFor(call);
    const chosen = FULL_FAULT_MATRIX ? kinds : [kinds[position % kinds.length]];
    return chosen.flatMap((kind) => (kind === undefined ? [] : [{ kind, position, call }]));
  });

/**
 * True when the first attempt of a rotation retried under new tokens completed in substance (its
 * version is AWSCURRENT: a fault after finishSecret's move, such as a crash right after it) and
 * every later attempt was refused only because a key in use holds the slot it needs. A retry
 * under a new token is a new rotation, which needs a slot of its own; a key in use is never
 * deleted to make one. No function can avoid this failure: it is the documented refusal.
 */
const completedBeforeNewTokenRetry = (scenario: Scenario, record: RotationRecord): boolean => {
  const [first, ...later] = record.tokens;
  const secret = scenario.sim.secret(SECRET_NAME);
  if (first === undefined || later.length === 0 || secret === undefined) return false;
  if (scenario.sim.secretsManager.holderOf(secret, AWSCURRENT)?.versionId !== first) return false;
  const failures = record.invocations.filter(
    (invocation) => invocation.clientRequestToken !== first && invocation.outcome === 'failed',
  );
  return (
    failures.length > 0 &&
    failures.every(
      (invocation) =>
        invocation.error instanceof Error && invocation.error.name === 'AccessKeyInUseError',
    )
  );
};

/**
 * One faulted scenario: the fault at its call, the retries, then the next scheduled rotation
 * (which reattempts a rotation that was given up). Invariants after each; the next rotation
 * must succeed, and with retries the faulted rotation itself must (or have completed before a
 * retry under a new token that a key in use refused: {@link completedBeforeNewTokenRetry}).
 */
export const runFaultCase = async (
  { setup, config, base }: MatrixEntry,
  { kind, position }: FaultCase,
): Promise<void> => {
  const scenario = await Scenario.fork(base);
  try {
    let fired = (): number => 0;
    const faulted = await runRotationUnderTest(scenario, setup, () => {
      const fault = scenario.sim.injectFault({
        kind,
        match: { insideInvocation: true, nth: position + 1 },
      });
      fired = () => fault.fired;
    });

    expect(fired()).toBe(1);
    expect(checkInvariants(scenario)).toEqual([]);
    if (config.retried && !completedBeforeNewTokenRetry(scenario, faulted)) {
      expect(faulted.status).toBe('succeeded');
    } else if (config.retried) {
      const current = scenario.storedKeyId(AWSCURRENT) ?? '';
      expect(scenario.sim.accessKey(current)?.status, 'the AWSCURRENT key').toBe('Active');
    }

    await scenario.sim.clock.sleep((setup.idleDaysBeforeNext ?? 0) * 86_400_000);
    const next = await scenario.runScheduledRotation();

    expect(next.status).toBe('succeeded');
    expect(checkInvariants(scenario)).toEqual([]);
  } finally {
    scenario.dispose();
  }
};

export interface MatrixEntry {
  readonly setup: Setup;
  readonly config: RetryConfig;
  /** The calls of the clean run: the positions to fault. */
  readonly calls: readonly string[];
  /**
   * The scenario brought to the rotation under test once (disposed: only read): each case starts
   * from a fork of it (Scenario.fork) instead of replaying the rotations before.
   */
  readonly base: Scenario;
}

/**
 * The clean run of every combination, one scenario at a time (each captures stdout), from a fork
 * of the combination's base scenario. It must be the run a scenario replaying the whole setup
 * makes, call for call and to the state it leaves: otherwise the fork is not the state the cases
 * claim to start from, and the matrix refuses to run.
 */
export const buildMatrix = async (
  setups: readonly Setup[],
  configs: readonly RetryConfig[],
): Promise<MatrixEntry[]> => {
  const matrix: MatrixEntry[] = [];
  for (const setup of setups) {
    for (const config of configs) {
      const { base } = await Scenario.prepared(scenarioOptions(setup, config), (scenario) =>
        bringToRotationUnderTest(scenario, setup),
      );
      const forked = await Scenario.runFork(base, (scenario) => cleanRun(scenario, setup));
      const replayed = await Scenario.run(scenarioOptions(setup, config), async (scenario) => {
        await bringToRotationUnderTest(scenario, setup);
        return cleanRun(scenario, setup);
      });
      if (forked.fingerprint !== replayed.fingerprint) {
        throw new Error(
          `Setup ${setup.name}; ${config.name}: the clean run from a fork of the prepared scenario differs from the run that replays the setup:\n${forked.fingerprint}\n${replayed.fingerprint}`,
        );
      }
      matrix.push({ setup, config, calls: forked.calls, base });
    }
  }
  return matrix;
};
