import fc from 'fast-check';
import { expect } from 'vitest';
import {
  AWSCURRENT,
  FAULT_KINDS,
  type FaultKind,
  type RotationRecord,
} from '../../../local/simulation/index.js';
import { checkInvariants } from './invariants.js';
import {
  Scenario,
  USER_NAME,
  type OutOfBandChange,
  type RotateSecretOutcome,
  type ScenarioStart,
} from './scenario.js';

/**
 * Random scenarios for the property tests: a readable list of actions played against a
 * {@link Scenario}, with every invariant checked after each action, then a recovery phase.
 * Each action prints as one line, so a shrunk counterexample reads as a script.
 */

/** The shortest rotation schedule AWS accepts: rate(4 hours). */
const RECOVERY_WAIT_MS = 4 * 3_600_000;

export type Action =
  | { readonly kind: 'scheduled-rotation' }
  | { readonly kind: 'rotate-secret' }
  /** RotateSecret, and another RotateSecret when the rotation makes its `atCall`-th call. */
  | { readonly kind: 'concurrent-rotate-secret'; readonly atCall: number }
  | { readonly kind: 'out-of-band'; readonly change: OutOfBandChange }
  /** RotateSecret, and the change when the rotation makes its `atCall`-th call. */
  | {
      readonly kind: 'out-of-band-during-rotation';
      readonly change: OutOfBandChange;
      readonly atCall: number;
    }
  /** Armed now; fires on the `nth` call rotation functions make from now on, `times` times. */
  | {
      readonly kind: 'fault';
      readonly fault: FaultKind;
      readonly nth: number;
      readonly times: number;
    }
  | { readonly kind: 'propagation-delay'; readonly ms: number }
  | { readonly kind: 'wait'; readonly ms: number };

export interface RunParameters {
  readonly start: ScenarioStart;
  readonly seed: number;
  readonly maxAttempts: number;
  readonly reuseToken: boolean;
  /** At-least-once delivery: every successful invocation of this step is delivered twice. */
  readonly duplicateStep: 'none' | 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
  readonly propagationDelayMs: number;
}

export const describeAction = (action: Action): string => {
  switch (action.kind) {
    case 'scheduled-rotation':
      return 'scheduled rotation';
    case 'rotate-secret':
      return 'RotateSecret';
    case 'concurrent-rotate-secret':
      return `RotateSecret, and another RotateSecret at its call ${action.atCall}`;
    case 'out-of-band':
      return `by hand: ${action.change}`;
    case 'out-of-band-during-rotation':
      return `RotateSecret, and by hand at its call ${action.atCall}: ${action.change}`;
    case 'fault':
      return `fault: ${action.fault} at the ${action.nth}th rotation call from now, ${action.times}x`;
    case 'propagation-delay':
      return `new keys propagate in ${action.ms} ms`;
    case 'wait':
      return `wait ${action.ms} ms`;
  }
};

const readable = <T extends object>(value: T, text: (value: T) => string): T =>
  Object.assign(value, { [fc.toStringMethod]: () => text(value) });

const OUT_OF_BAND_CHANGES: readonly OutOfBandChange[] = [
  'delete-current-key',
  'delete-previous-key',
  'deactivate-current-key',
  'deactivate-previous-key',
  'create-key',
  'delete-user',
  'recreate-user',
];

const callArbitrary = fc.integer({ min: 1, max: 24 });
const changeArbitrary = fc.constantFrom(...OUT_OF_BAND_CHANGES);

export const actionArbitrary: fc.Arbitrary<Action> = fc
  .oneof(
    { weight: 4, arbitrary: fc.constant({ kind: 'scheduled-rotation' as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'rotate-secret' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('concurrent-rotate-secret' as const),
        atCall: callArbitrary,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant('out-of-band' as const), change: changeArbitrary }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('out-of-band-during-rotation' as const),
        change: changeArbitrary,
        atCall: callArbitrary,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('fault' as const),
        fault: fc.constantFrom(...FAULT_KINDS),
        nth: callArbitrary,
        times: fc.integer({ min: 1, max: 3 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('propagation-delay' as const),
        ms: fc.constantFrom(0, 500, 4_000, 15_000, 45_000),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('wait' as const),
        ms: fc.constantFrom(1_000, 3_600_000, 30 * 86_400_000),
      }),
    },
  )
  .map((action: Action) => readable(action, describeAction));

export const parametersArbitrary: fc.Arbitrary<RunParameters> = fc
  .record({
    start: fc.constantFrom<ScenarioStart>('empty', 'pre-existing-key', 'stored-key'),
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    maxAttempts: fc.integer({ min: 1, max: 3 }),
    reuseToken: fc.boolean(),
    duplicateStep: fc.constantFrom(
      'none' as const,
      'none' as const,
      'createSecret' as const,
      'setSecret' as const,
      'testSecret' as const,
      'finishSecret' as const,
    ),
    propagationDelayMs: fc.constantFrom(0, 0, 1_000, 5_000),
  })
  .map((parameters) =>
    readable(
      parameters,
      (p) =>
        `${p.start}, seed ${p.seed}, ${p.maxAttempts} attempt(s), ${p.reuseToken ? 'same' : 'new'} token on retry, duplicate ${p.duplicateStep}, propagation ${p.propagationDelayMs} ms`,
    ),
  );

const errorText = (error: unknown): string => {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth += 1) {
    parts.push(e.message);
    e = e.cause;
  }
  return parts.join(' <- ');
};

/** The rotation, started with the user deleted, failed clearly and changed nothing. */
const expectCleanFailureWithoutUser = (
  scenario: Scenario,
  started: readonly RotationRecord[],
  currentBefore: string | undefined,
  faultsArmed: boolean,
): void => {
  for (const rotation of started) {
    expect(rotation.status, `${rotation.id} without the user`).not.toBe('succeeded');
    const failures = rotation.invocations.filter((i) => i.outcome === 'failed');
    if (!faultsArmed) {
      expect(failures.length, `${rotation.id} has failed invocations`).toBeGreaterThan(0);
      expect(errorText(failures.at(-1)?.error)).toContain(
        `user with name ${USER_NAME} cannot be found`,
      );
    }
  }
  expect(scenario.storedKeyId(AWSCURRENT)).toBe(currentBefore);
};

const rotate = async (
  scenario: Scenario,
  how: 'scheduled' | 'manual',
  during?: (base: number) => void,
): Promise<void> => {
  const userExisted = scenario.sim.user(USER_NAME) !== undefined;
  const currentBefore = scenario.storedKeyId(AWSCURRENT);
  const faultsArmed = scenario.sim.faults.pending().length > 0;
  const incompleteBefore = scenario.hasIncompleteRotation();
  const rotationsBefore = scenario.sim.rotations.length;
  if (how === 'scheduled') {
    await scenario.runScheduledRotation();
  } else {
    during?.(scenario.sim.callCount);
    const outcome = await scenario.rotateSecret();
    await scenario.settle();
    if (incompleteBefore) {
      expect(outcome).toMatchObject({ accepted: false, errorName: 'InvalidRequestException' });
    } else {
      expect(outcome).toMatchObject({ accepted: true });
    }
  }
  scenario.clearInterleaved();
  if (!userExisted && during === undefined) {
    expectCleanFailureWithoutUser(
      scenario,
      scenario.sim.rotations.slice(rotationsBefore),
      currentBefore,
      faultsArmed,
    );
  }
};

export const applyAction = async (scenario: Scenario, action: Action): Promise<void> => {
  switch (action.kind) {
    case 'scheduled-rotation':
      return rotate(scenario, 'scheduled');
    case 'rotate-secret':
      return rotate(scenario, 'manual');
    case 'concurrent-rotate-secret': {
      const second: RotateSecretOutcome[] = [];
      await rotate(scenario, 'manual', (base) => {
        scenario.interleaveAt(base + action.atCall, async () => {
          second.push(await scenario.rotateSecret());
        });
      });
      for (const outcome of second) {
        if (!outcome.accepted) expect(outcome.errorName).toBe('InvalidRequestException');
      }
      return;
    }
    case 'out-of-band':
      return scenario.applyOutOfBand(action.change);
    case 'out-of-band-during-rotation':
      return rotate(scenario, 'manual', (base) => {
        scenario.interleaveAt(base + action.atCall, () => scenario.applyOutOfBand(action.change));
      });
    case 'fault':
      scenario.sim.injectFault({
        kind: action.fault,
        match: { insideInvocation: true, nth: action.nth },
        times: action.times,
      });
      return;
    case 'propagation-delay':
      scenario.sim.setPropagationDelay(action.ms);
      return;
    case 'wait':
      await scenario.sim.clock.sleep(action.ms);
      return;
  }
};

/**
 * Deploys (the construct's first RotateSecret), plays the actions with every invariant checked
 * after each, then recovers: faults cleared, the user recreated if it was deleted, a normal
 * propagation delay, 4 hours until the next schedule. A scheduled rotation must then succeed
 * (a second one only when the first gave up an incomplete rotation whose stored key no longer
 * exists), and every invariant hold.
 */
export const playScenario = async (
  parameters: RunParameters,
  actions: readonly Action[],
): Promise<void> => {
  const { duplicateStep } = parameters;
  await Scenario.run(
    {
      start: parameters.start,
      seed: parameters.seed,
      propagationDelayMs: parameters.propagationDelayMs,
      rotation: {
        retry: {
          maxAttempts: parameters.maxAttempts,
          delayMs: 60_000,
          reuseToken: parameters.reuseToken,
        },
        ...(duplicateStep === 'none'
          ? {}
          : { duplicateInvocation: (invocation) => invocation.step === duplicateStep }),
      },
    },
    async (scenario) => {
      await rotate(scenario, 'manual');
      expect(checkInvariants(scenario), 'after the deployment').toEqual([]);
      for (const [index, action] of actions.entries()) {
        await applyAction(scenario, action);
        expect(
          checkInvariants(scenario),
          `after action ${index}: ${describeAction(action)}`,
        ).toEqual([]);
      }

      scenario.sim.faults.clear();
      scenario.sim.setPropagationDelay(1_000);
      if (scenario.sim.user(USER_NAME) === undefined)
        await scenario.applyOutOfBand('recreate-user');
      // Scheduled rotations are at least 4 hours apart: any key propagation has long finished.
      await scenario.sim.clock.sleep(RECOVERY_WAIT_MS);
      const first = await scenario.runScheduledRotation();
      if (first.status !== 'succeeded') {
        const reasons = first.invocations
          .filter((invocation) => invocation.outcome === 'failed')
          .map((invocation) => errorText(invocation.error));
        expect(reasons[0], 'why the first recovery rotation failed').toMatch(
          /no longer exists for IAM user/,
        );
        const second = await scenario.runScheduledRotation();
        expect(second.status, 'the second recovery rotation').toBe('succeeded');
      }
      expect(checkInvariants(scenario), 'after recovery').toEqual([]);
    },
  );
};
