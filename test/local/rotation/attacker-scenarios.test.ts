import { describe, expect, it } from 'vitest';
import { TESTED_STAGE } from '../../../lambda/rotation/binding.js';
import { AWSCURRENT, AWSPENDING } from '../../../local/simulation/index.js';
import { errorText } from '../../support/scenario/actions.js';
import {
  applyAttackerAction,
  LOOK_ALIKE_SECRET_NAME,
  OTHER_STACK_SECRET_NAME,
  runAttack,
  type AttackerAction,
} from '../../support/scenario/attacker-actions.js';
import { checkInvariants, checkOwnership } from '../../support/scenario/invariants.js';
import { OTHER_SECRET_NAME, OTHER_USER_NAME, Scenario } from '../../support/scenario/scenario.js';

/**
 * Issue 14's attacks, played against the simulated AWS with the real handler: no principal
 * outside the deployment can steer the function to a key. Each refusal comes before any IAM call
 * of the refused invocation, and invariant 7 (no key of a user stored in or touched through a
 * secret the deployment did not bind to it) holds.
 */
const bobState = (scenario: Scenario): string =>
  JSON.stringify({
    keys: scenario.keys(OTHER_USER_NAME).map((key) => [key.accessKeyId, key.status]),
    current: scenario.storedKeyId(AWSCURRENT, OTHER_SECRET_NAME),
  });

/** The failed invocations on `secretName` and whether any of them made an IAM call. */
const refusalsOn = (
  scenario: Scenario,
  secretName: string,
): { errors: string[]; iamCalls: number } => {
  const arn = scenario.secretArns.get(secretName);
  const invocations = scenario.sim.invocations.filter((i) => i.secretArn === arn);
  const ids = new Set(invocations.map((i) => i.id));
  return {
    errors: invocations.filter((i) => i.outcome === 'failed').map((i) => errorText(i.error)),
    iamCalls: scenario.sim.calls.filter(
      (call) =>
        call.invocationId !== undefined && ids.has(call.invocationId) && call.service === 'iam',
    ).length,
  };
};

describe('Rotation: attackers against the simulated AWS (issue 14)', () => {
  it.each([
    [
      'a look-alike secret created by hand',
      { kind: 'look-alike-secret' } as const,
      LOOK_ALIKE_SECRET_NAME,
      /ForeignSecretError: .* its tag aws:cloudformation:stack-id is absent/,
    ],
    [
      'a secret of another stack',
      { kind: 'look-alike-from-other-stack' } as const,
      OTHER_STACK_SECRET_NAME,
      /ForeignSecretError: .* its tag aws:cloudformation:stack-id is "arn:aws:cloudformation:[^"]+:stack\/SomeoneElsesStack\/[^"]+" \(another stack's\)/,
    ],
    [
      'a look-alike that bob’s ownership tag was pointed at',
      { kind: 'hijack-user' } as const,
      LOOK_ALIKE_SECRET_NAME,
      /ForeignSecretError/,
    ],
  ])(
    'refuses %s, rotated with the stack’s function, before any IAM call; bob keeps his key',
    async (_, attack: AttackerAction, secretName, reason) => {
      await Scenario.run({}, async (scenario) => {
        await scenario.rotateNow();
        const bobBefore = bobState(scenario);

        await applyAttackerAction(scenario, attack);

        const { errors, iamCalls } = refusalsOn(scenario, secretName);
        expect(errors.length).toBeGreaterThan(0);
        for (const error of errors) expect(error).toMatch(reason);
        expect(iamCalls).toBe(0);
        expect(scenario.storedKeyId(AWSPENDING, secretName)).toBeUndefined();
        expect(bobState(scenario)).toBe(bobBefore);
        expect(checkInvariants(scenario)).toEqual([]);
      });
    },
  );

  it('stops alice’s rotations while her ownership tag names bob’s secret, and never touches bob', async () => {
    await Scenario.run({ rotation: { retry: { maxAttempts: 1 } } }, async (scenario) => {
      await scenario.rotateNow();
      const bobBefore = bobState(scenario);
      await applyAttackerAction(scenario, { kind: 'retag-user-to-other-secret' });

      const refused = await scenario.runScheduledRotation();

      expect(refused.status).toBe('failed');
      expect(errorText(refused.invocations.at(-1)?.error)).toMatch(
        /UserOwnershipError: IAM user alice is owned by secret arn:\S+:secret:iam-key-rotation\/bob-\w+/,
      );
      expect(bobState(scenario)).toBe(bobBefore);
      expect(checkInvariants(scenario)).toEqual([]);
    });
  });

  it('refuses a forged finishSecret sent before testSecret: AWSCURRENT stays, the rotation then completes', async () => {
    await Scenario.run({}, async (scenario) => {
      await scenario.rotateNow();
      const current = scenario.storedKeyId(AWSCURRENT);
      // The rotation is held after createSecret: the attacker sends finishSecret straight away.
      const forged = { kind: 'forge-step', step: 'finishSecret', token: 'pending' } as const;
      let sent = false;
      scenario.sim.setStepInvocationGate((step) => {
        if (step !== 'setSecret' || sent) return undefined;
        sent = true;
        return runAttack(scenario, forged);
      });

      await scenario.rotateNow();

      const direct = scenario.sim.scheduledInvocations.filter(
        (i) => i.scheduleArn === 'lambda:InvokeFunction',
      );
      expect(direct).toHaveLength(1);
      expect(errorText(direct[0]?.error)).toMatch(
        /RotationStateError: finishSecret: secret \S+ version \S+ does not carry the staging label IAM_KEY_ROTATION_TESTED: testSecret has not proved its key/,
      );
      // Secrets Manager's own testSecret then marked the version, and its finishSecret promoted it.
      expect(scenario.lastRotation?.status).toBe('succeeded');
      expect(scenario.storedKeyId(AWSCURRENT)).not.toBe(current);
      expect(scenario.sim.versionWithStage(scenario.secretId, TESTED_STAGE)?.stages).toContain(
        AWSCURRENT,
      );
      expect(checkInvariants(scenario)).toEqual([]);
    });
  });

  it('invariant 7 flags a key stored through a secret the deployment did not bind (self-test)', async () => {
    await Scenario.run({}, async (scenario) => {
      await scenario.rotateNow();
      expect(checkOwnership(scenario)).toEqual([]);
      // As if the function had stored bob's key in alice's secret: the call log is the record.
      const put = scenario.sim.calls.find(
        (call) => call.invocationId !== undefined && call.operation === 'PutSecretValue',
      );
      if (put === undefined) throw new Error('no PutSecretValue in the rotation');
      const snapshot = scenario.snapshots.get(put.index);
      const bobKey = scenario.keys(OTHER_USER_NAME)[0]?.accessKeyId ?? '';
      if (snapshot === undefined) throw new Error('no snapshot');
      scenario.snapshots.set(put.index, { ...snapshot, storedAccessKeyId: bobKey });

      expect(checkOwnership(scenario)).toEqual([
        expect.stringMatching(
          /^7: call \d+ PutSecretValue .* touches a key of bob through a secret the deployment did not bind to it/,
        ),
      ]);
    });
  });
});
