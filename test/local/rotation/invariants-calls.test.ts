import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  IAMClient,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import {
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { AWSCURRENT, AWSPREVIOUS, type RotationFunction } from '../../../local/simulation/index.js';
import {
  checkCurrentKeyNeverRemoved,
  checkInvariants,
  checkKeyLimit,
  checkKeysInUseKept,
  checkOperatorChangesKept,
  checkOwnership,
} from '../../support/scenario/invariants.js';
import {
  OTHER_SECRET_NAME,
  OTHER_USER_NAME,
  Scenario,
  USER_NAME,
  type ScenarioOptions,
} from '../../support/scenario/scenario.js';

/**
 * The call-based invariants catch what they claim to, through the scenario's real
 * instrumentation: each is shown a deliberately broken rotation function that runs inside a
 * real invocation (its calls are attributed to it and judged by the world they found), next to
 * the real function in the same setup, which keeps it.
 */

/** The real handler, preceded in `step` by `mischief` made with the function's own role. */
const broken =
  (
    step: string,
    mischief: (
      clients: { iam: IAMClient; sm: SecretsManagerClient },
      scenario: Scenario,
    ) => Promise<unknown>,
  ): NonNullable<ScenarioOptions['rotationFunction']> =>
  (real: RotationFunction, scenario: Scenario): RotationFunction =>
  async (event, context) => {
    if (event.Step === step && event.SecretId === scenario.secretArn) {
      const config = scenario.sim.lambdaClientConfig();
      const clients = {
        iam: new IAMClient({ ...config }),
        sm: new SecretsManagerClient({ ...config }),
      };
      try {
        await mischief(clients, scenario);
      } catch {
        // A refused call still shows the intent in the call log.
      }
    }
    return real(event, context);
  };

const deactivate = (
  iam: IAMClient,
  userName: string,
  accessKeyId: string | undefined,
): Promise<unknown> =>
  iam.send(
    new UpdateAccessKeyCommand({
      UserName: userName,
      AccessKeyId: accessKeyId,
      Status: 'Inactive',
    }),
  );

describe('Module: scenario invariants, judged call by call', () => {
  it('holds for the real function in every setup used below', async () => {
    for (const start of ['stored-key', 'two-keys-in-use'] as const) {
      await Scenario.run({ start }, async (scenario) => {
        await scenario.rotateNow();
        await scenario.runScheduledRotation().catch(() => undefined);
        await scenario.applyOutOfBand('rollback');
        await scenario.runScheduledRotation();

        expect(checkInvariants(scenario)).toEqual([]);
        expect(scenario.snapshots.size).toBe(scenario.sim.callCount);
      });
    }
  });

  describe('Function: checkCurrentKeyNeverRemoved (4)', () => {
    it('fails when a call of the function deactivates the AWSCURRENT key it found', async () => {
      const rotationFunction = broken('createSecret', ({ iam }, scenario) =>
        deactivate(iam, USER_NAME, scenario.storedKeyId(AWSCURRENT)),
      );
      await Scenario.run({ start: 'stored-key', rotationFunction }, async (scenario) => {
        const current = scenario.storedKeyId(AWSCURRENT);

        await scenario.rotateNow();

        expect(checkCurrentKeyNeverRemoved(scenario)).toEqual([
          expect.stringMatching(
            new RegExp(
              `^4: call \\d+ UpdateAccessKey by inv-1 \\(createSecret\\) of .* targets the AWSCURRENT key ${String(current)}$`,
            ),
          ),
        ]);
      });
    });
  });

  describe('Function: checkKeyLimit (2)', () => {
    it('fails when a user holds a third key (an IAM that allowed it)', async () => {
      // In finishSecret, after createSecret made room: nothing removes the third key.
      const rotationFunction = broken('finishSecret', ({ iam }) =>
        iam.send(new CreateAccessKeyCommand({ UserName: USER_NAME })),
      );
      await Scenario.run(
        { start: 'stored-key', accessKeysPerUser: 3, rotationFunction },
        async (scenario) => {
          await scenario.rotateNow();
          await scenario.runScheduledRotation();

          expect(checkKeyLimit(scenario)).toEqual([
            expect.stringMatching(/^2: alice holds 3 keys: AKIA\w+, AKIA\w+, AKIA\w+$/),
            expect.stringMatching(/^2: alice held 3 keys when call \d+ arrived$/),
          ]);
        },
      );
    });
  });

  describe('Function: checkOperatorChangesKept (6)', () => {
    it('fails when the function moves AWSCURRENT back to a version older than an operator’s rollback', async () => {
      let rolledBackFrom = '';
      const rotationFunction = broken('createSecret', ({ sm }, scenario) => {
        const current = scenario.sim.versionWithStage(scenario.secretId, AWSCURRENT)?.versionId;
        return sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: scenario.secretId,
            VersionStage: AWSCURRENT,
            MoveToVersionId: rolledBackFrom,
            RemoveFromVersionId: current,
          }),
        );
      });
      await Scenario.run({ start: 'stored-key', rotationFunction }, async (scenario) => {
        await scenario.rotateNow();
        await scenario.runScheduledRotation();
        await scenario.applyOutOfBand('rollback');
        rolledBackFrom =
          scenario.sim.versionWithStage(scenario.secretId, AWSPREVIOUS)?.versionId ?? '';

        await scenario.runScheduledRotation();

        expect(checkOperatorChangesKept(scenario)).toEqual([
          expect.stringContaining(
            `moves AWSCURRENT to version ${rolledBackFrom}, older than the rollback`,
          ),
        ]);
      });
    });
  });

  describe('Function: checkOwnership (7)', () => {
    it('fails when the function touches a key of a user its secret does not own', async () => {
      const rotationFunction = broken('createSecret', ({ iam }, scenario) =>
        deactivate(iam, OTHER_USER_NAME, scenario.storedKeyId(AWSCURRENT, OTHER_SECRET_NAME)),
      );
      await Scenario.run({ rotationFunction }, async (scenario) => {
        await scenario.rotateNow();

        expect(checkOwnership(scenario)).toEqual([
          expect.stringMatching(
            new RegExp(
              `^7: call \\d+ UpdateAccessKey by inv-1 \\(createSecret\\) of .* touches a key of bob through a secret the deployment did not bind to it \\(the deployment bound ${scenario.secretArns.get(OTHER_SECRET_NAME) ?? ''}\\)$`,
            ),
          ),
        ]);
      });
    });
  });

  describe('Function: checkKeysInUseKept (8 and 9)', () => {
    it('fails when the function deactivates a key the secret does not hold that signed a request within staleKeyDays', async () => {
      const rotationFunction = broken('createSecret', ({ iam }, scenario) =>
        deactivate(iam, USER_NAME, [...scenario.preExistingKeyIds][0]),
      );
      await Scenario.run({ start: 'two-keys-in-use', rotationFunction }, async (scenario) => {
        await scenario.rotateNow();

        expect(checkKeysInUseKept(scenario)).toEqual([
          expect.stringMatching(
            /^8: call \d+ UpdateAccessKey by inv-1 \(createSecret\) .* removes key AKIA\w+, which the secret does not hold and which signed a request \d+ min before$/,
          ),
        ]);
      });
    });

    it('fails when the function deletes an Active key without deactivating it first', async () => {
      const rotationFunction = broken('createSecret', ({ iam }, scenario) =>
        iam.send(
          new DeleteAccessKeyCommand({
            UserName: USER_NAME,
            AccessKeyId: [...scenario.preExistingKeyIds][0],
          }),
        ),
      );
      await Scenario.run({ start: 'pre-existing-key', rotationFunction }, async (scenario) => {
        await scenario.rotateNow();

        expect(checkKeysInUseKept(scenario)).toEqual([
          expect.stringMatching(
            /^9: call \d+ DeleteAccessKey by inv-1 \(createSecret\) .* deletes the Active key AKIA\w+ without deactivating it first$/,
          ),
        ]);
      });
    });
  });
});
