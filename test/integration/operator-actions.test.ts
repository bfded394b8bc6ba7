import {
  GetAccessKeyLastUsedCommand,
  GetUserCommand,
  TagUserCommand,
  UntagUserCommand,
} from '@aws-sdk/client-iam';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINDING_TAG_KEY, OWNER_TAG_KEY, TESTED_STAGE } from '../../lambda/rotation/binding.js';
import { invokeBundledHandlerInChild } from '../support/bundled-handler-process.js';
import { AuthenticatedDeployment } from '../support/moto/authenticated-deployment.js';
import {
  bundledHandlerEnvironment,
  byAccessKeyId,
  callerArnSignedWith,
  invokeStep,
  rotate,
  ROTATION_STEPS,
  STACK_ID,
  waitForNextSecond,
  type AccessKeyPair,
  type KeyState,
  type VersionState,
} from '../support/moto/moto-aws.js';
import { MOTO_ACCOUNT_ID } from '../support/moto/moto-server.js';
import {
  deactivateAccessKey,
  rollBack,
  tagOwner,
  tagSecretWithUser,
  untagOwner,
} from '../support/moto/operator-actions.js';

/**
 * What operators do by hand to a deployed stack (roll back, put a value, retag a secret, claim a
 * user with a second secret, untag a user, deactivate a key, test the rotation configuration),
 * and what the bundled rotation function does afterwards, against moto with request
 * authentication on: the function signs as a principal whose only policies are the rotation
 * role's policies from the synthesized template ({@link AuthenticatedDeployment}). Each case has
 * a user (and secret) of its own, so the cases do not depend on each other.
 */
const ROLLBACK_USER = 'rollback-user';
const PUT_BY_HAND_USER = 'put-by-hand-user';
const RETAGGED_USER = 'retagged-user';
const RETAG_TARGET_USER = 'retag-target-user'; // exists before the stack: tagged by Custom::AWS
const RETAG_TARGET_PATH = '/automation/';
const CLAIMED_USER = 'claimed-user';
const UNTAGGED_USER = 'untagged-user';
const INACTIVE_PENDING_USER = 'inactive-pending-user';
const TWO_KEYS_IN_USE_USER = 'two-keys-in-use-user';
const ONE_KEY_UNUSED_USER = 'one-key-unused-user';
const POLICY_USER = 'policy-user';
const NEVER_ROTATED_USER = 'never-rotated-user';
const CONFIGURATION_TEST_USER = 'configuration-test-user';
const UNCONFIGURED_USER = 'unconfigured-user';
const OTHER_DEPLOYMENT_PRINCIPAL = 'other-deployment-rotation-function';

const CONFIG = {
  users: [
    ...[
      ROLLBACK_USER,
      PUT_BY_HAND_USER,
      RETAGGED_USER,
      CLAIMED_USER,
      UNTAGGED_USER,
      INACTIVE_PENDING_USER,
      TWO_KEYS_IN_USE_USER,
      ONE_KEY_UNUSED_USER,
      POLICY_USER,
      NEVER_ROTATED_USER,
      CONFIGURATION_TEST_USER,
    ].map((userName) => ({ userName, createUser: true, schedule: 'rate(30 days)' })),
    {
      userName: RETAG_TARGET_USER,
      path: RETAG_TARGET_PATH,
      createUser: false,
      schedule: 'rate(30 days)',
    },
  ],
};

/** Users with two Active keys from before the stack existed (older than their secrets). */
const USERS_WITH_TWO_OLD_KEYS = [TWO_KEYS_IN_USE_USER, ONE_KEY_UNUSED_USER];

const userArn = (userName: string, path = '/'): string =>
  `arn:aws:iam::${MOTO_ACCOUNT_ID}:user${path}${userName}`;

let deployment: AuthenticatedDeployment | undefined;
const oldKeysByUser = new Map<string, AccessKeyPair[]>();

beforeAll(async () => {
  deployment = await AuthenticatedDeployment.start({
    config: CONFIG,
    otherUsers: [{ userName: UNCONFIGURED_USER }],
    beforeDeploy: async (setup) => {
      for (const userName of USERS_WITH_TWO_OLD_KEYS) {
        oldKeysByUser.set(userName, [
          await setup.createAccessKey(userName),
          await setup.createAccessKey(userName),
        ]);
      }
      // Second precision: the keys must be strictly older than the secrets' first versions.
      await waitForNextSecond();
    },
  });
});

afterAll(async () => {
  await deployment?.dispose();
});

const given = (): AuthenticatedDeployment => {
  if (deployment === undefined) throw new Error('beforeAll did not complete');
  return deployment;
};

const oldKeysOf = (userName: string): [AccessKeyPair, AccessKeyPair] => {
  const [first, second] = oldKeysByUser.get(userName) ?? [];
  if (first === undefined || second === undefined) throw new Error(`${userName} has no old keys`);
  return [first, second];
};

/** The step's failure, as the bundled handler threw it. */
const failureOf = async (action: Promise<unknown>): Promise<Error> => {
  const outcome: unknown = await action.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome, 'expected the step to fail').toBeInstanceOf(Error);
  return outcome as Error;
};

/** Everything an operator action or a step could change: every version, every key. */
interface Snapshot {
  readonly versions: Record<string, VersionState>;
  readonly keys: Record<string, KeyState[]>;
}

const snapshot = async (secretArn: string, userNames: readonly string[]): Promise<Snapshot> => {
  const { admin } = given();
  const keys: Record<string, KeyState[]> = {};
  for (const userName of userNames) keys[userName] = await admin.listKeys(userName);
  return { versions: await admin.versions(secretArn), keys };
};

const stagesOf = async (secretArn: string, versionId: string): Promise<string[]> =>
  [...((await given().admin.versionStages(secretArn))[versionId] ?? [])].sort();

const keyIdIn = async (secretArn: string, stage: string, versionId?: string): Promise<string> => {
  const keyId = (await given().admin.secretValue(secretArn, stage, versionId)).AccessKeyId;
  if (typeof keyId !== 'string') throw new Error(`${stage} of ${secretArn} holds no access key`);
  return keyId;
};

/** The AWSCURRENT key is Active and signs as the user (moto checks the signature). */
const expectCurrentKeySignsAs = async (
  secretArn: string,
  userName: string,
  path = '/',
): Promise<string> => {
  const { admin, moto } = given();
  const current = await admin.secretValue(secretArn, 'AWSCURRENT');
  const key: AccessKeyPair = {
    accessKeyId: String(current.AccessKeyId),
    secretAccessKey: String(current.SecretAccessKey),
  };
  await expect(callerArnSignedWith(moto.endpoint, key)).resolves.toBe(userArn(userName, path));
  // moto's STS accepts Inactive keys: the status is checked separately.
  expect(await admin.listKeys(userName)).toContainEqual({
    accessKeyId: key.accessKeyId,
    status: 'Active',
  });
  return key.accessKeyId;
};

describe('Bundled rotation function under operator actions, with its template policy enforced by moto', () => {
  describe('Rollback', () => {
    it('never undoes a rollback: a retried finishSecret of the rolled-back rotation fails and changes nothing; the next rotation retires the key rolled back from', async () => {
      // Arrange: two rotations, then the README's rollback (AWSPENDING removed where it is not
      // AWSCURRENT, the AWSPREVIOUS key reactivated, AWSCURRENT moved back).
      const { admin, handler } = given();
      const secretArn = given().secretOf(ROLLBACK_USER);
      const firstToken = await rotate(admin, handler, secretArn);
      const rolledBackToKey = await keyIdIn(secretArn, 'AWSCURRENT');
      const secondToken = await rotate(admin, handler, secretArn);
      const rolledBackFromKey = await keyIdIn(secretArn, 'AWSCURRENT');
      const rollback = await rollBack(admin, secretArn, ROLLBACK_USER);
      expect(rollback).toEqual({ rolledBackTo: firstToken, rolledBackFrom: secondToken });
      const before = await snapshot(secretArn, [ROLLBACK_USER]);
      expect(before.keys[ROLLBACK_USER]).toEqual(
        byAccessKeyId([
          { accessKeyId: rolledBackToKey, status: 'Active' },
          { accessKeyId: rolledBackFromKey, status: 'Active' },
        ]),
      );

      // Act: Secrets Manager's retry of the rolled-back rotation's last step
      const error = await failureOf(invokeStep(handler, 'finishSecret', secretArn, secondToken));

      // Assert
      expect(error.name).toBe('RotationStateError');
      expect(error.message).toContain(
        `Secret ${secretArn} version ${secondToken} is AWSPREVIOUS: its rotation completed and AWSCURRENT has since moved to version ${firstToken}`,
      );
      expect(error.message).toContain('refusing to resume it, nothing was changed');
      expect(error.message).not.toContain('stale AWSPENDING');
      expect(await snapshot(secretArn, [ROLLBACK_USER])).toEqual(before);
      expect(await expectCurrentKeySignsAs(secretArn, ROLLBACK_USER)).toBe(rolledBackToKey);

      // Act: the next rotation starts from the rolled-back-to version
      const thirdToken = await rotate(admin, handler, secretArn);

      // Assert
      const newKey = await expectCurrentKeySignsAs(secretArn, ROLLBACK_USER);
      expect(await admin.listKeys(ROLLBACK_USER)).toEqual(
        byAccessKeyId([
          { accessKeyId: rolledBackToKey, status: 'Inactive' },
          { accessKeyId: newKey, status: 'Active' },
        ]),
      );
      expect(await stagesOf(secretArn, thirdToken)).toEqual(['AWSCURRENT', TESTED_STAGE]);
      expect(await stagesOf(secretArn, firstToken)).toEqual(['AWSPREVIOUS']);
      expect(await stagesOf(secretArn, secondToken)).toEqual([]);
      expect(await keyIdIn(secretArn, 'AWSPREVIOUS')).toBe(rolledBackToKey);
      expect((await admin.secretValue(secretArn, 'AWSCURRENT')).ReplacesVersionId).toBe(firstToken);
    });
  });

  describe('Value put by hand', () => {
    it('keeps a value put by hand: finishSecret of the rotation it superseded fails and changes nothing; the next rotation starts from it', async () => {
      // Arrange: one rotation, then PutSecretValue of the current value (a new AWSCURRENT version)
      const { admin, handler } = given();
      const secretArn = given().secretOf(PUT_BY_HAND_USER);
      const rotatedToken = await rotate(admin, handler, secretArn);
      const key = await keyIdIn(secretArn, 'AWSCURRENT');
      const currentValue = await admin.secretValue(secretArn, 'AWSCURRENT');
      const handVersion = await admin.putSecretValueByHand(secretArn, JSON.stringify(currentValue));
      const before = await snapshot(secretArn, [PUT_BY_HAND_USER]);
      expect(before.versions[handVersion]).toEqual({ stages: ['AWSCURRENT'], value: currentValue });
      expect(before.versions[rotatedToken]?.stages).toEqual(['AWSPREVIOUS', TESTED_STAGE]);
      expect(before.keys[PUT_BY_HAND_USER]).toEqual([{ accessKeyId: key, status: 'Active' }]);

      // Act: a late finishSecret of the superseded rotation
      const error = await failureOf(invokeStep(handler, 'finishSecret', secretArn, rotatedToken));

      // Assert
      expect(error.name).toBe('RotationStateError');
      expect(error.message).toContain(
        `version ${rotatedToken} is AWSPREVIOUS: its rotation completed and AWSCURRENT has since moved to version ${handVersion}`,
      );
      expect(error.message).toContain('nothing was changed');
      expect(await snapshot(secretArn, [PUT_BY_HAND_USER])).toEqual(before);

      // Act
      const nextToken = await rotate(admin, handler, secretArn);

      // Assert: the value put by hand became AWSPREVIOUS, its key deactivated
      const newKey = await expectCurrentKeySignsAs(secretArn, PUT_BY_HAND_USER);
      expect(await admin.listKeys(PUT_BY_HAND_USER)).toEqual(
        byAccessKeyId([
          { accessKeyId: key, status: 'Inactive' },
          { accessKeyId: newKey, status: 'Active' },
        ]),
      );
      expect(await stagesOf(secretArn, nextToken)).toEqual(['AWSCURRENT', TESTED_STAGE]);
      expect(await stagesOf(secretArn, handVersion)).toEqual(['AWSPREVIOUS']);
      expect(await stagesOf(secretArn, rotatedToken)).toEqual([]);
      expect((await admin.secretValue(secretArn, 'AWSCURRENT')).ReplacesVersionId).toBe(
        handVersion,
      );
    });
  });

  describe('Ownership', () => {
    it('fails when a stack secret is retagged and re-valued to another configured user: every step refuses, naming both users, and neither user’s keys change', async () => {
      // Arrange: both users rotated once; then the secret of one is bound (tag and value) to the
      // other, and a rotation starts.
      const { admin, handler } = given();
      const secretArn = given().secretOf(RETAGGED_USER);
      const targetSecretArn = given().secretOf(RETAG_TARGET_USER);
      await rotate(admin, handler, secretArn);
      await rotate(admin, handler, targetSecretArn);
      const ownValue = await admin.secretValue(secretArn, 'AWSCURRENT');
      await tagSecretWithUser(admin, secretArn, RETAG_TARGET_USER);
      await admin.putSecretValueByHand(secretArn, JSON.stringify({ UserName: RETAG_TARGET_USER }));
      const token = await admin.startRotation(secretArn);
      const before = await snapshot(secretArn, [RETAGGED_USER, RETAG_TARGET_USER]);
      const targetBefore = await admin.versions(targetSecretArn);

      // Act / Assert
      for (const step of ROTATION_STEPS) {
        const error = await failureOf(invokeStep(handler, step, secretArn, token));
        expect(error.name, step).toBe('SecretBindingError');
        expect(error.message, step).toContain(
          `Secret ${secretArn} is named after IAM user ${RETAGGED_USER}, but its tag ${BINDING_TAG_KEY} names ${RETAG_TARGET_USER}; the name decides, the tag must agree: refusing to touch any key, nothing was changed`,
        );
      }
      expect(await snapshot(secretArn, [RETAGGED_USER, RETAG_TARGET_USER])).toEqual(before);
      expect(await admin.versions(targetSecretArn)).toEqual(targetBefore);
      expect(await admin.hasNoValue(secretArn, token, 'AWSPENDING')).toBe(true);

      // Arrange: tag and value restored (the value put by hand abandons the refused rotation)
      await tagSecretWithUser(admin, secretArn, RETAGGED_USER);
      await admin.putSecretValueByHand(secretArn, JSON.stringify(ownValue));

      // Act
      await rotate(admin, handler, secretArn);

      // Assert
      const newKey = await expectCurrentKeySignsAs(secretArn, RETAGGED_USER);
      expect(await admin.listKeys(RETAGGED_USER)).toEqual(
        byAccessKeyId([
          { accessKeyId: String(ownValue.AccessKeyId), status: 'Inactive' },
          { accessKeyId: newKey, status: 'Active' },
        ]),
      );
      expect(await admin.listKeys(RETAG_TARGET_USER)).toEqual(before.keys[RETAG_TARGET_USER]);
      expect(await admin.versions(targetSecretArn)).toEqual(targetBefore);
    });

    it('fails when another deployment’s function rotates a look-alike secret claiming a user this stack owns: every step refuses, the owner’s key untouched', async () => {
      // Arrange: the owner's secret rotated once; a second secret, created by the admin and
      // bound to the same user, rotated by the same function deployed elsewhere: its principal
      // has the template's policy, resolved so that the user's secret is the second secret.
      // That function runs in child processes (invokeBundledHandlerInChild): the bundle caches
      // its credentials, so a second principal needs a process of its own.
      const { admin, handler, values, synthesized, moto, functionEnvironment } = given();
      const ownerSecretArn = given().secretOf(CLAIMED_USER);
      await rotate(admin, handler, ownerSecretArn);
      const ownerKey = await keyIdIn(ownerSecretArn, 'AWSCURRENT');
      // Named and tagged like a stack secret, so that the other deployment's policy (which
      // covers the secrets iam-key-rotation/* tagged with its stack name) lets it act on it.
      const claimant = await admin.secrets.send(
        new CreateSecretCommand({
          Name: `iam-key-rotation/${CLAIMED_USER}-elsewhere`,
          SecretString: JSON.stringify({ UserName: CLAIMED_USER }),
          Tags: [
            { Key: BINDING_TAG_KEY, Value: CLAIMED_USER },
            { Key: 'iam-key-rotation:stack', Value: 'IamKeyRotation' },
          ],
        }),
      );
      const claimantArn = claimant.ARN ?? '';
      const otherFunction = await given().createFunctionPrincipal(OTHER_DEPLOYMENT_PRINCIPAL, {
        ...values,
        refs: { ...values.refs, [given().secretLogicalIdOf(CLAIMED_USER)]: claimantArn },
      });
      // The policy names no secret and no user: it is scoped by the name prefix and by tags, so
      // only the function's trust check (CloudFormation's stack-id tag) tells the two apart.
      const otherPolicies = JSON.stringify(otherFunction.policies);
      expect(otherPolicies).not.toContain(ownerSecretArn);
      expect(otherPolicies).not.toContain(claimantArn);
      expect(otherPolicies).toContain(':secret:iam-key-rotation/*');
      const token = await admin.startRotation(claimantArn);
      const before = await snapshot(ownerSecretArn, [CLAIMED_USER]);

      // Act / Assert
      for (const step of ROTATION_STEPS) {
        const invocation = await invokeBundledHandlerInChild({
          handlerFile: synthesized.handlerFile,
          handlerExport: synthesized.handlerExport,
          environment: bundledHandlerEnvironment(
            synthesized.handlerFile,
            moto.endpoint,
            otherFunction.key,
            functionEnvironment,
          ),
          event: { Step: step, SecretId: claimantArn, ClientRequestToken: token },
        });
        expect(invocation, step).toMatchObject({
          outcome: 'rejected',
          error: { name: 'ForeignSecretError' },
        });
        const message = invocation.outcome === 'rejected' ? invocation.error.message : '';
        expect(message, step).toContain(
          `Secret ${claimantArn} was not created by this function's stack ${STACK_ID}: its tag aws:cloudformation:stack-id is absent`,
        );
      }
      expect(await snapshot(ownerSecretArn, [CLAIMED_USER])).toEqual(before);
      expect(await expectCurrentKeySignsAs(ownerSecretArn, CLAIMED_USER)).toBe(ownerKey);
      expect(await admin.hasNoValue(claimantArn, token, 'AWSPENDING')).toBe(true);
      expect(await admin.secretValue(claimantArn, 'AWSCURRENT')).toEqual({
        UserName: CLAIMED_USER,
      });
    });

    it('fails when the user has lost its ownership tag: every step refuses and nothing changes; tagged again, the same rotation continues', async () => {
      // Arrange: one rotation; a second one stores its key, then the user's tag is removed.
      const { admin, handler } = given();
      const secretArn = given().secretOf(UNTAGGED_USER);
      await rotate(admin, handler, secretArn);
      const oldKey = await keyIdIn(secretArn, 'AWSCURRENT');
      const token = await admin.startRotation(secretArn);
      await invokeStep(handler, 'createSecret', secretArn, token);
      const pendingKey = await keyIdIn(secretArn, 'AWSPENDING', token);
      await untagOwner(admin, UNTAGGED_USER);
      const before = await snapshot(secretArn, [UNTAGGED_USER]);

      // Act / Assert
      for (const step of ROTATION_STEPS) {
        const error = await failureOf(invokeStep(handler, step, secretArn, token));
        expect(error.name, step).toBe('UserOwnershipError');
        expect(error.message, step).toContain(
          `IAM user ${UNTAGGED_USER} has no tag ${OWNER_TAG_KEY}; expected it to name the secret that owns the user's keys, ${secretArn}`,
        );
      }
      expect(await snapshot(secretArn, [UNTAGGED_USER])).toEqual(before);
      expect(before.keys[UNTAGGED_USER]).toEqual(
        byAccessKeyId([
          { accessKeyId: oldKey, status: 'Active' },
          { accessKeyId: pendingKey, status: 'Active' },
        ]),
      );
      expect(before.versions[token]?.stages).toEqual(['AWSPENDING']);

      // Arrange
      await tagOwner(admin, UNTAGGED_USER, secretArn);

      // Act: Secrets Manager's retries of the same rotation
      for (const step of ['setSecret', 'testSecret', 'finishSecret'] as const) {
        await invokeStep(handler, step, secretArn, token);
      }

      // Assert
      expect(await expectCurrentKeySignsAs(secretArn, UNTAGGED_USER)).toBe(pendingKey);
      expect(await admin.listKeys(UNTAGGED_USER)).toEqual(
        byAccessKeyId([
          { accessKeyId: oldKey, status: 'Inactive' },
          { accessKeyId: pendingKey, status: 'Active' },
        ]),
      );
      expect(await stagesOf(secretArn, token)).toEqual(['AWSCURRENT', TESTED_STAGE]);
    });
  });

  describe('Keys changed by hand', () => {
    it('gives the rotation up when its pending key was deactivated: setSecret deletes the key and removes AWSPENDING; the next rotation succeeds', async () => {
      // Arrange
      const { admin, handler } = given();
      const secretArn = given().secretOf(INACTIVE_PENDING_USER);
      await rotate(admin, handler, secretArn);
      const currentKey = await keyIdIn(secretArn, 'AWSCURRENT');
      const versionsBefore = await admin.versions(secretArn);
      const token = await admin.startRotation(secretArn);
      await invokeStep(handler, 'createSecret', secretArn, token);
      const pendingKey = await keyIdIn(secretArn, 'AWSPENDING', token);
      await deactivateAccessKey(admin, INACTIVE_PENDING_USER, pendingKey);

      // Act
      const error = await failureOf(invokeStep(handler, 'setSecret', secretArn, token));

      // Assert
      expect(error.name).toBe('RotationGivenUpError');
      expect(error.message).toContain(
        `setSecret: gave up this rotation: access key ${pendingKey} of IAM user ${INACTIVE_PENDING_USER} is Inactive, expected Active`,
      );
      expect(error.message).toContain(
        `Deleted access key ${pendingKey} and removed AWSPENDING from version ${token}`,
      );
      expect(await admin.listKeys(INACTIVE_PENDING_USER)).toEqual([
        { accessKeyId: currentKey, status: 'Active' },
      ]);
      const { [token]: givenUp, ...others } = await admin.versions(secretArn);
      expect(givenUp?.stages).toEqual([]);
      expect(others).toEqual(versionsBefore);

      // Act
      await rotate(admin, handler, secretArn);

      // Assert
      const newKey = await expectCurrentKeySignsAs(secretArn, INACTIVE_PENDING_USER);
      expect(await admin.listKeys(INACTIVE_PENDING_USER)).toEqual(
        byAccessKeyId([
          { accessKeyId: currentKey, status: 'Inactive' },
          { accessKeyId: newKey, status: 'Active' },
        ]),
      );
    });

    it('fails when both keys the user already has are in use: the first rotation changes no key and removes AWSPENDING; once one is deactivated, a rotation deletes it', async () => {
      // Arrange: two Active keys from before the stack, both signing a request (moto 5.2.1
      // records a key's last use, service and region on every request it signs)
      const { admin, handler, moto } = given();
      const secretArn = given().secretOf(TWO_KEYS_IN_USE_USER);
      const [kept, retired] = oldKeysOf(TWO_KEYS_IN_USE_USER);
      for (const key of [kept, retired]) {
        expect(await callerArnSignedWith(moto.endpoint, key)).toBe(userArn(TWO_KEYS_IN_USE_USER));
      }
      const token = await admin.startRotation(secretArn);
      const before = await snapshot(secretArn, [TWO_KEYS_IN_USE_USER]);

      // Act
      const error = await failureOf(invokeStep(handler, 'createSecret', secretArn, token));

      // Assert
      expect(error.name).toBe('AccessKeyInUseError');
      expect(error.message).toContain(
        `IAM user ${TWO_KEYS_IN_USE_USER} holds 2 access keys and none may be deleted to make room for a new one`,
      );
      for (const key of [kept, retired]) {
        expect(error.message).toMatch(
          new RegExp(`${key.accessKeyId} \\(not held by the secret, last used \\S+ by sts`),
        );
      }
      expect(error.message).toContain(
        `Removed AWSPENDING from version ${token} (it held no value); no key was changed`,
      );
      const { [token]: refused, ...others } = await admin.versions(secretArn);
      expect(refused).toEqual({ stages: [], value: undefined });
      const { [token]: placeholder, ...othersBefore } = before.versions;
      expect(placeholder).toEqual({ stages: ['AWSPENDING'], value: undefined });
      expect(others).toEqual(othersBefore);
      expect(await admin.listKeys(TWO_KEYS_IN_USE_USER)).toEqual(
        byAccessKeyId([
          { accessKeyId: kept.accessKeyId, status: 'Active' },
          { accessKeyId: retired.accessKeyId, status: 'Active' },
        ]),
      );

      // Arrange: the operator retires one key, as the message says
      await deactivateAccessKey(admin, TWO_KEYS_IN_USE_USER, retired.accessKeyId);

      // Act
      await rotate(admin, handler, secretArn);

      // Assert
      const newKey = await expectCurrentKeySignsAs(secretArn, TWO_KEYS_IN_USE_USER);
      expect(await admin.listKeys(TWO_KEYS_IN_USE_USER)).toEqual(
        byAccessKeyId([
          { accessKeyId: kept.accessKeyId, status: 'Active' },
          { accessKeyId: newKey, status: 'Active' },
        ]),
      );
    });

    it('deletes the key nobody ever used to make room at the first rotation and keeps the one in use', async () => {
      // Arrange: two Active keys from before the stack; only one has signed a request
      const { admin, handler, moto } = given();
      const secretArn = given().secretOf(ONE_KEY_UNUSED_USER);
      const [used, unused] = oldKeysOf(ONE_KEY_UNUSED_USER);
      expect(await callerArnSignedWith(moto.endpoint, used)).toBe(userArn(ONE_KEY_UNUSED_USER));

      // Act
      await rotate(admin, handler, secretArn);

      // Assert
      const newKey = await expectCurrentKeySignsAs(secretArn, ONE_KEY_UNUSED_USER);
      expect(await admin.listKeys(ONE_KEY_UNUSED_USER)).toEqual(
        byAccessKeyId([
          { accessKeyId: used.accessKeyId, status: 'Active' },
          { accessKeyId: newKey, status: 'Active' },
        ]),
      );
      expect(newKey).not.toBe(unused.accessKeyId);
    });
  });

  describe('The function’s policy', () => {
    it('lets the function read a configured user and its keys’ last use; reads of other users only by a tag-conditioned statement', async () => {
      // Arrange
      const { admin, functionPrincipal } = given();
      const asFunction = given().clientsSigningWith(functionPrincipal.key);
      const configuredKey = await admin.createAccessKey(POLICY_USER);
      const unconfiguredKey = await admin.createAccessKey(UNCONFIGURED_USER);

      // Act / Assert
      const user = await asFunction.iam.send(new GetUserCommand({ UserName: POLICY_USER }));
      expect(user.User?.Tags).toContainEqual({
        Key: OWNER_TAG_KEY,
        Value: given().secretOf(POLICY_USER),
      });
      const lastUsed = await asFunction.iam.send(
        new GetAccessKeyLastUsedCommand({ AccessKeyId: configuredKey.accessKeyId }),
      );
      expect(lastUsed.UserName).toBe(POLICY_USER);
      // moto does not evaluate iam:ResourceTag, so it lets GetUser through for a user without
      // the ownership tag; AWS denies it: the only statement with iam:GetUser requires the tag to
      // name a secret iam-key-rotation/* of this region and account. GetAccessKeyLastUsed, which
      // names only a key id, is allowed on every user of the account (read-only, see README).
      const getUserStatements = functionPrincipal.policies
        .flatMap(({ document }) => (document as { Statement: Record<string, unknown>[] }).Statement)
        .filter((statement) => [statement.Action].flat().includes('iam:GetUser'));
      expect(getUserStatements.map((statement) => statement.Condition)).toEqual([
        {
          StringLike: {
            [`iam:ResourceTag/${OWNER_TAG_KEY}`]: `arn:aws:secretsmanager:us-east-1:${MOTO_ACCOUNT_ID}:secret:iam-key-rotation/*`,
          },
        },
      ]);
      const unconfiguredLastUse = await asFunction.iam.send(
        new GetAccessKeyLastUsedCommand({ AccessKeyId: unconfiguredKey.accessKeyId }),
      );
      expect(unconfiguredLastUse.UserName).toBe(UNCONFIGURED_USER);
    });

    it('fails when the function tries to change which secret owns a user: TagUser and UntagUser are denied even on a configured user', async () => {
      // Arrange
      const { admin, functionPrincipal } = given();
      const asFunction = given().clientsSigningWith(functionPrincipal.key);
      const tagsBefore = (await admin.iam.send(new GetUserCommand({ UserName: POLICY_USER }))).User
        ?.Tags;

      // Act / Assert
      await expect(
        asFunction.iam.send(
          new TagUserCommand({
            UserName: POLICY_USER,
            Tags: [{ Key: OWNER_TAG_KEY, Value: given().secretOf(CLAIMED_USER) }],
          }),
        ),
      ).rejects.toThrow(/not authorized to perform: iam:TagUser/);
      await expect(
        asFunction.iam.send(
          new UntagUserCommand({ UserName: POLICY_USER, TagKeys: [OWNER_TAG_KEY] }),
        ),
      ).rejects.toThrow(/not authorized to perform: iam:UntagUser/);
      expect(
        (await admin.iam.send(new GetUserCommand({ UserName: POLICY_USER }))).User?.Tags,
      ).toEqual(tagsBefore);
    });
  });

  describe('Test of the rotation configuration (RotateImmediately=false)', () => {
    /*
     * What moto 5.2.1 does with RotateSecret(RotateImmediately=false) and the undeployed
     * function ARN of the harness (see MotoAws.startConfigurationTest): it creates the test
     * version with AWSPENDING alone, enables rotation, and fails with ResourceNotFoundException
     * before invoking anything. It fills the version with the value the secret was *created*
     * with ({"UserName"}), not with AWSCURRENT: for a secret that never rotated that is a copy of
     * AWSCURRENT, after a rotation it holds no key at all. AWS leaves the version empty, and
     * removes AWSPENDING after the test; the harness removes it.
     */
    it.each([
      { secret: 'a secret that never rotated', userName: NEVER_ROTATED_USER, rotationsBefore: 0 },
      { secret: 'a secret that rotated', userName: CONFIGURATION_TEST_USER, rotationsBefore: 1 },
    ])(
      'passes testSecret on $secret and changes nothing',
      async ({ userName, rotationsBefore }) => {
        // Arrange
        const { admin, handler } = given();
        const secretArn = given().secretOf(userName);
        for (let rotation = 0; rotation < rotationsBefore; rotation++) {
          await rotate(admin, handler, secretArn);
        }
        const before = await snapshot(secretArn, [userName]);
        const { token, value } = await admin.startConfigurationTest(secretArn);
        expect(value).toEqual({ UserName: userName });

        // Act
        await invokeStep(handler, 'testSecret', secretArn, token);

        // Assert
        expect(await snapshot(secretArn, [userName])).toEqual({
          ...before,
          versions: { ...before.versions, [token]: { stages: ['AWSPENDING'], value } },
        });
        await admin.endConfigurationTest(secretArn, token);
        if (rotationsBefore > 0) await expectCurrentKeySignsAs(secretArn, userName);
        else expect(await admin.listKeys(userName)).toEqual([]);
      },
    );
  });
});
