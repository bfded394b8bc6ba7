import { UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import fc from 'fast-check';
import { expect } from 'vitest';
import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import {
  AWSCURRENT,
  AWSPENDING,
  FAULT_KINDS,
  type FaultKind,
  type RotationRecord,
} from '../../../local/simulation/index.js';
import {
  applyAttackerAction,
  describeAttack,
  repairAttacks,
  runAttack,
  type AttackerAction,
} from './attacker-actions.js';
import { tallyEffects, type EffectTally } from './effects.js';
import { checkInvariants } from './invariants.js';
import type { OperatorAction } from './operator-actions.js';
import {
  CLAIMANT_SECRET_NAME,
  OTHER_SECRET_NAME,
  OTHER_USER_NAME,
  Scenario,
  USER_NAME,
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
  /** RotateSecret with RotateImmediately=false: Secrets Manager tests the configuration. */
  | { readonly kind: 'test-rotation' }
  /** RotateSecret, and another RotateSecret when the rotation makes its `atCall`-th call. */
  | { readonly kind: 'concurrent-rotate-secret'; readonly atCall: number }
  | { readonly kind: 'out-of-band'; readonly change: OperatorAction }
  /** RotateSecret, and the change when the rotation makes its `atCall`-th call. */
  | {
      readonly kind: 'out-of-band-during-rotation';
      readonly change: OperatorAction;
      readonly atCall: number;
    }
  /** Armed now; fires on the `nth` call rotation functions make from now on, `times` times. */
  | {
      readonly kind: 'fault';
      readonly fault: FaultKind;
      readonly nth: number;
      readonly times: number;
    }
  /** An attacker's move (attacker-actions.ts): look-alike secrets, retagged users, forged steps. */
  | { readonly kind: 'attack'; readonly attack: AttackerAction }
  /** RotateSecret, and a forged step (lambda:InvokeFunction) when the rotation makes its `atCall`-th call. */
  | {
      readonly kind: 'attack-during-rotation';
      readonly attack: AttackerAction & { readonly kind: 'forge-step' };
      readonly atCall: number;
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
  /** What a RotateImmediately=false test version holds: nothing, or a copy of AWSCURRENT (moto). */
  readonly testVersionValue: 'none' | 'copy-current';
  /** How long a new key is missing from ListAccessKeys (IAM's eventually consistent listings). */
  readonly listPropagationDelayMs: number;
  /**
   * The function's grace period: 0 (the previous key deactivated at once) or 1 hour.
   * @default 0
   */
  readonly gracePeriodSeconds?: number;
}

/** The grace period of the runs that have one: an hour, so the waits cross its end or not. */
export const PROPERTY_GRACE_PERIOD_SECONDS = 3_600;

export const describeAction = (action: Action): string => {
  switch (action.kind) {
    case 'scheduled-rotation':
      return 'scheduled rotation';
    case 'rotate-secret':
      return 'RotateSecret';
    case 'test-rotation':
      return 'RotateSecret RotateImmediately=false';
    case 'concurrent-rotate-secret':
      return `RotateSecret, and another RotateSecret at its call ${action.atCall}`;
    case 'out-of-band':
      return `by hand: ${action.change}`;
    case 'out-of-band-during-rotation':
      return `RotateSecret, and by hand at its call ${action.atCall}: ${action.change}`;
    case 'fault':
      return `fault: ${action.fault} at the ${action.nth}th rotation call from now, ${action.times}x`;
    case 'attack':
      return describeAttack(action.attack);
    case 'attack-during-rotation':
      return `RotateSecret, and at its call ${action.atCall} ${describeAttack(action.attack)}`;
    case 'propagation-delay':
      return `new keys propagate in ${action.ms} ms`;
    case 'wait':
      return `wait ${action.ms} ms`;
  }
};

const readable = <T extends object>(value: T, text: (value: T) => string): T =>
  Object.assign(value, { [fc.toStringMethod]: () => text(value) });

/** Changes to alice's keys and user, as before the operator actions existed. */
const KEY_CHANGES: readonly OperatorAction[] = [
  'delete-current-key',
  'delete-previous-key',
  'deactivate-current-key',
  'deactivate-previous-key',
  'create-key',
  'delete-user',
  'recreate-user',
];

/** Operators and attackers acting on the secret, the ownership tags and the keys in use. */
const OPERATOR_ACTIONS: readonly OperatorAction[] = [
  'rollback',
  'rollback',
  'put-value-by-hand',
  'retag-secret-to-other-user',
  'restore-binding',
  'remove-owner-tag',
  'restore-owner-tag',
  'claim-other-user',
  'use-current-key',
  'use-previous-key',
  'use-pre-existing-keys',
];

/**
 * What makes sense while a rotation is in flight. The user's ownership tag is not changed
 * mid-step: the function checks it when each step starts, and a step that passed the check
 * finishes its IAM writes (changing the tag takes iam:UntagUser, an IAM administrator's right,
 * and takes effect at the next step), so invariant 7 would flag that race, not a defect.
 */
const DURING_ROTATION: readonly OperatorAction[] = [
  ...KEY_CHANGES,
  'delete-pending-key',
  'deactivate-pending-key',
  'rollback',
  'put-value-by-hand',
  'retag-secret-to-other-user',
];

const callArbitrary = fc.integer({ min: 1, max: 24 });

const forgeStepArbitrary = fc.record({
  kind: fc.constant('forge-step' as const),
  step: fc.constantFrom(
    'createSecret' as const,
    'setSecret' as const,
    'testSecret' as const,
    'finishSecret' as const,
    'finishSecret' as const,
  ),
  token: fc.constantFrom(
    'pending' as const,
    'pending' as const,
    'current' as const,
    'previous' as const,
    'unknown' as const,
  ),
});

const attackArbitrary: fc.Arbitrary<AttackerAction> = fc.oneof(
  fc.constant({ kind: 'look-alike-secret' as const }),
  fc.constant({ kind: 'look-alike-from-other-stack' as const }),
  fc.constant({ kind: 'hijack-user' as const }),
  fc.constant({ kind: 'retag-user-to-other-secret' as const }),
  { weight: 3, arbitrary: forgeStepArbitrary },
);

export const actionArbitrary: fc.Arbitrary<Action> = fc
  .oneof(
    { weight: 4, arbitrary: fc.constant({ kind: 'scheduled-rotation' as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'rotate-secret' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'test-rotation' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('concurrent-rotate-secret' as const),
        atCall: callArbitrary,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('out-of-band' as const),
        change: fc.constantFrom(...KEY_CHANGES),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('out-of-band' as const),
        change: fc.constantFrom(...OPERATOR_ACTIONS),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('out-of-band-during-rotation' as const),
        change: fc.constantFrom(...DURING_ROTATION),
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
      arbitrary: fc.record({ kind: fc.constant('attack' as const), attack: attackArbitrary }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('attack-during-rotation' as const),
        attack: forgeStepArbitrary,
        atCall: callArbitrary,
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
        // Within and across the end of a one-hour grace period, and far beyond.
        ms: fc.constantFrom(
          1_000,
          1_800_000,
          3_600_000,
          3_700_000,
          8 * 86_400_000,
          30 * 86_400_000,
        ),
      }),
    },
  )
  .map((action: Action) => readable(action, describeAction));

export const parametersArbitrary: fc.Arbitrary<RunParameters> = fc
  .record({
    start: fc.constantFrom<ScenarioStart>(
      'empty',
      'pre-existing-key',
      'stored-key',
      'two-keys-in-use',
      'two-keys-one-unused',
    ),
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
    testVersionValue: fc.constantFrom('none' as const, 'copy-current' as const),
    listPropagationDelayMs: fc.constantFrom(0, 0, 0, 1_500),
    // Half the runs with a grace period, half without: the same number of runs in all.
    gracePeriodSeconds: fc.constantFrom(0, PROPERTY_GRACE_PERIOD_SECONDS),
  })
  .map((parameters) =>
    readable(
      parameters,
      (p) =>
        `${p.start}, seed ${p.seed}, ${p.maxAttempts} attempt(s), ${p.reuseToken ? 'same' : 'new'} token on retry, duplicate ${p.duplicateStep}, propagation ${p.propagationDelayMs} ms, listing lag ${p.listPropagationDelayMs} ms, test version ${p.testVersionValue}, grace period ${String(p.gracePeriodSeconds)} s`,
    ),
  );

export const errorText = (error: unknown): string => {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth += 1) {
    parts.push(`${e.name}: ${e.message}`);
    e = e.cause;
  }
  return parts.join(' <- ');
};

/**
 * Why alice's secret cannot rotate right now, whatever the rotation does: the user is gone, the
 * secret is bound to someone else, or the user's ownership tag does not name it.
 */
const blockedBecause = (scenario: Scenario): RegExp | undefined => {
  const binding = scenario.sim
    .secret(scenario.secretId)
    ?.tags.find((tag) => tag.Key === 'iam-key-rotation:user')?.Value;
  // Bound to bob, whose tag names his own secret.
  if (binding !== USER_NAME) return /UserOwnershipError|SecretBindingError/;
  const user = scenario.sim.user(USER_NAME);
  if (user === undefined) return new RegExp(`user with name ${USER_NAME} cannot be found`);
  const owner = user.tags.find((tag) => tag.Key === 'iam-key-rotation:secret')?.Value;
  if (owner !== scenario.secretArn) return /UserOwnershipError/;
  return undefined;
};

/** The rotations failed clearly and changed none of alice's keys or her AWSCURRENT. */
const expectCleanRefusal = (
  scenario: Scenario,
  started: readonly RotationRecord[],
  reason: RegExp,
  before: { current: string | undefined; keys: string },
  faultsArmed: boolean,
): void => {
  for (const rotation of started) {
    expect(rotation.status, `${rotation.id} while blocked`).not.toBe('succeeded');
    const failures = rotation.invocations.filter((i) => i.outcome === 'failed');
    if (!faultsArmed && failures.length > 0) {
      expect(errorText(failures.at(-1)?.error)).toMatch(reason);
    }
  }
  expect(scenario.storedKeyId(AWSCURRENT)).toBe(before.current);
  expect(JSON.stringify(scenario.keys().map((k) => [k.accessKeyId, k.status]))).toBe(before.keys);
};

const rotate = async (
  scenario: Scenario,
  how: 'scheduled' | 'manual' | 'test',
  during?: (base: number) => void,
): Promise<void> => {
  const blocked = during === undefined ? blockedBecause(scenario) : undefined;
  const before = {
    current: scenario.storedKeyId(AWSCURRENT),
    keys: JSON.stringify(scenario.keys().map((k) => [k.accessKeyId, k.status])),
  };
  const faultsArmed = scenario.sim.faults.pending().length > 0;
  const incompleteBefore = scenario.hasIncompleteRotation();
  const rotationsBefore = scenario.rotations.length;
  if (how === 'scheduled') {
    await scenario.runScheduledRotation();
  } else {
    during?.(scenario.sim.callCount);
    const outcome = await scenario.rotateSecret(scenario.secretId, {
      ...(how === 'test' ? { rotateImmediately: false } : {}),
    });
    await scenario.settle();
    if (incompleteBefore) {
      expect(outcome).toMatchObject({ accepted: false, errorName: 'InvalidRequestException' });
    } else {
      expect(outcome).toMatchObject({ accepted: true });
    }
  }
  scenario.clearInterleaved();
  if (blocked !== undefined) {
    expectCleanRefusal(
      scenario,
      scenario.rotations.slice(rotationsBefore),
      blocked,
      before,
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
    case 'test-rotation':
      return rotate(scenario, 'test');
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
      await scenario.applyOutOfBand(action.change);
      await scenario.settle();
      return;
    case 'out-of-band-during-rotation':
      return rotate(scenario, 'manual', (base) => {
        scenario.interleaveAt(base + action.atCall, () => scenario.applyOutOfBand(action.change));
      });
    case 'fault':
      scenario.sim.injectFault({
        kind: action.fault,
        // AWS never refuses sts:GetCallerIdentity (it needs no permission).
        match: {
          insideInvocation: true,
          nth: action.nth,
          ...(action.fault === 'access-denied' ? { where: (call) => call.service !== 'sts' } : {}),
        },
        times: action.times,
      });
      return;
    case 'attack':
      return applyAttackerAction(scenario, action.attack);
    case 'attack-during-rotation':
      return rotate(scenario, 'manual', (base) => {
        scenario.interleaveAt(base + action.atCall, () => runAttack(scenario, action.attack));
      });
    case 'propagation-delay':
      scenario.sim.setPropagationDelay(action.ms);
      return;
    case 'wait':
      await scenario.sim.clock.sleep(action.ms);
      return;
  }
};

/** An action, then the schedules that came due meanwhile (the grace period's retirements). */
export const applyActionAndSchedules = async (
  scenario: Scenario,
  action: Action,
): Promise<void> => {
  await applyAction(scenario, action);
  await scenario.runDueSchedules();
};

/**
 * What an operator does when a rotation refused to delete keys in use: deactivate the least
 * recently used key the secret does not hold (after moving its consumers), then rotate again.
 */
const freeAKeyInUse = async (scenario: Scenario): Promise<void> => {
  const held = new Set([scenario.storedKeyId(AWSCURRENT), scenario.storedKeyId('AWSPREVIOUS')]);
  const candidates = scenario
    .keys()
    .filter((key) => key.status === 'Active' && !held.has(key.accessKeyId))
    .sort((a, b) => (a.lastUsedDate ?? 0) - (b.lastUsedDate ?? 0));
  const [victim] = candidates;
  if (victim === undefined) return;
  await scenario.iam.send(
    new UpdateAccessKeyCommand({
      UserName: USER_NAME,
      AccessKeyId: victim.accessKeyId,
      Status: 'Inactive',
    }),
  );
};

/** Reasons the first recovery rotation may fail that a second, after the operator's fix, repairs. */
const RECOVERABLE =
  /no longer exists for IAM user|gave up this rotation|AccessKeyInUseError|still carries a stale AWSPENDING/;

/**
 * The command a refused superseded rotation names: remove the stale AWSPENDING label from the
 * AWSPREVIOUS version it sits on.
 */
const removeStalePending = async (scenario: Scenario): Promise<void> => {
  const secret = scenario.sim.secret(scenario.secretId);
  const pending =
    secret === undefined ? undefined : scenario.sim.secretsManager.holderOf(secret, AWSPENDING);
  if (pending === undefined || pending.stages.has(AWSCURRENT)) return;
  await scenario.sm.send(
    new UpdateSecretVersionStageCommand({
      SecretId: scenario.secretId,
      VersionStage: AWSPENDING,
      RemoveFromVersionId: pending.versionId,
    }),
  );
};

/**
 * Deploys (the construct's first RotateSecret), plays the actions with every invariant checked
 * after each, then recovers as an operator would: faults cleared, the user recreated if it was
 * deleted, alice's binding and ownership tag restored, a normal propagation delay, 4 hours
 * until the next schedule. A scheduled rotation must then succeed (a second one only when the
 * first gave up a rotation, or refused to delete a key in use and the operator freed one),
 * every invariant hold, and bob's keys and secret be as they were.
 *
 * @returns what the run made the function do (see {@link EffectTally})
 */
export const playScenario = async (
  parameters: RunParameters,
  actions: readonly Action[],
): Promise<EffectTally> => {
  const { duplicateStep } = parameters;
  return Scenario.run(
    {
      start: parameters.start,
      seed: parameters.seed,
      propagationDelayMs: parameters.propagationDelayMs,
      gracePeriodSeconds: parameters.gracePeriodSeconds ?? 0,
      rotation: {
        retry: {
          maxAttempts: parameters.maxAttempts,
          delayMs: 60_000,
          reuseToken: parameters.reuseToken,
        },
        testVersionValue: parameters.testVersionValue,
        ...(duplicateStep === 'none'
          ? {}
          : { duplicateInvocation: (invocation) => invocation.step === duplicateStep }),
      },
    },
    async (scenario) => {
      scenario.sim.setListPropagationDelay(parameters.listPropagationDelayMs);
      const bob = (): string =>
        JSON.stringify({
          keys: scenario.keys(OTHER_USER_NAME).map((key) => [key.accessKeyId, key.status]),
          current: scenario.storedKeyId(AWSCURRENT, OTHER_SECRET_NAME),
        });
      const bobBefore = bob();
      await rotate(scenario, 'manual');
      expect(checkInvariants(scenario), 'after the deployment').toEqual([]);
      for (const [index, action] of actions.entries()) {
        await applyActionAndSchedules(scenario, action);
        expect(
          checkInvariants(scenario),
          `after action ${index}: ${describeAction(action)}`,
        ).toEqual([]);
      }

      scenario.sim.faults.clear();
      scenario.sim.setPropagationDelay(1_000);
      for (const repair of ['recreate-user', 'restore-binding', 'restore-owner-tag'] as const) {
        await scenario.applyOutOfBand(repair);
      }
      await repairAttacks(scenario);
      // Scheduled rotations are at least 4 hours apart: any key propagation has long finished.
      await scenario.sim.clock.sleep(RECOVERY_WAIT_MS);
      await scenario.runDueSchedules();
      expect(checkInvariants(scenario), 'after the recovery wait').toEqual([]);
      const first = await scenario.runScheduledRotation();
      if (first.status !== 'succeeded') {
        const reasons = first.invocations
          .filter((invocation) => invocation.outcome === 'failed')
          .map((invocation) => errorText(invocation.error));
        expect(reasons[0], 'why the first recovery rotation failed').toMatch(RECOVERABLE);
        if (reasons.some((reason) => reason.includes('AccessKeyInUseError'))) {
          await freeAKeyInUse(scenario);
        }
        if (reasons.some((reason) => reason.includes('stale AWSPENDING'))) {
          await removeStalePending(scenario);
        }
        const second = await scenario.runScheduledRotation();
        expect(second.status, 'the second recovery rotation').toBe('succeeded');
      }
      expect(checkInvariants(scenario), 'after recovery').toEqual([]);
      // The recovery rotation's grace period ends: its previous key is retired.
      await scenario.sim.clock.sleep(scenario.gracePeriodMs + 2_000);
      await scenario.runDueSchedules();
      expect(checkInvariants(scenario), 'after the grace period of the recovery').toEqual([]);
      expect(
        bob(),
        `bob's keys and secret after everything (claimant: ${String(scenario.sim.secret(CLAIMANT_SECRET_NAME) !== undefined)})`,
      ).toBe(bobBefore);
      return tallyEffects(scenario);
    },
  );
};
