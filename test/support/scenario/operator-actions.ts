import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  UntagUserCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../../../lambda/rotation/binding.js';
import { AWSCURRENT, AWSPREVIOUS } from '../../../local/simulation/index.js';
import { runOperatorCommand, SCENARIO_STEP_TIMEOUT_MS } from './operator-cli.js';
import type { Scenario } from './scenario.js';
import {
  CLAIMANT_SECRET_NAME,
  OTHER_USER_NAME,
  SECRET_NAME,
  USER_NAME,
  errorNameOf,
} from './scenario.js';

/**
 * What people do to a rotated secret and its user outside the rotation, as the AWS CLI would:
 * - changes to alice's keys (delete, deactivate, create), to the user itself;
 * - `rollback` / `cancel`: `iam-key-rotation rollback|cancel --yes`, the command's own code
 *   (cli/commands with its adapters, see operator-cli.ts); its refusals change nothing;
 * - `put-value-by-hand`: PutSecretValue of the AWSCURRENT value again (a new current version);
 * - `retag-secret-to-other-user`: an attacker who may tag and put values on alice's secret
 *   rebinds it (tag and value) to bob, hoping the next rotation hands over bob's key;
 * - `restore-binding`: the operator's repair of that (tag back to alice, alice's value back);
 * - `remove-owner-tag` / `restore-owner-tag`: alice's user loses / regains its ownership tag;
 * - `claim-other-user`: a second secret claims bob (another stack or region, or a hand-made
 *   secret) and is rotated with the same function;
 * - `use-*`: an application signs a request with that key (GetAccessKeyLastUsed records it).
 */
export type OperatorAction =
  | 'delete-current-key'
  | 'delete-previous-key'
  | 'delete-pending-key'
  | 'deactivate-current-key'
  | 'deactivate-previous-key'
  | 'deactivate-pending-key'
  | 'create-key'
  | 'delete-user'
  | 'recreate-user'
  | 'rollback'
  | 'cancel'
  | 'put-value-by-hand'
  | 'retag-secret-to-other-user'
  | 'restore-binding'
  | 'remove-owner-tag'
  | 'restore-owner-tag'
  | 'claim-other-user'
  | 'use-current-key'
  | 'use-previous-key'
  | 'use-pre-existing-keys';

/** Actions that only read or sign: they change nothing the rotation has to repair. */
const HARMLESS: ReadonlySet<OperatorAction> = new Set([
  'use-current-key',
  'use-previous-key',
  'use-pre-existing-keys',
  'claim-other-user',
]);

export interface OperatorActionRecord {
  readonly action: OperatorAction;
  /** Rotations of alice's secret started before the action. */
  readonly rotationsBefore: number;
}

/**
 * An operator's move of alice's AWSCURRENT (a rollback or a value put by hand) that completed:
 * no rotation function call after `endCall` may move AWSCURRENT to any of `versionIds` (the
 * versions that existed then), or the function would be undoing it.
 */
export interface LabelMove {
  readonly action: OperatorAction;
  readonly endCall: number;
  readonly versionIds: ReadonlySet<string>;
  readonly currentVersionId: string;
}

/** Errors a human racing the rotation can get; the action then simply did not happen. */
const LOST_RACES = new Set([
  'NoSuchEntityException',
  'LimitExceededException',
  'DeleteConflictException',
  'InvalidParameterException',
  'InvalidRequestException',
  'ResourceNotFoundException',
  'EntityAlreadyExistsException',
]);

const valueAt = async (scenario: Scenario, stage: string): Promise<string | undefined> => {
  try {
    return (
      await scenario.sm.send(
        new GetSecretValueCommand({ SecretId: SECRET_NAME, VersionStage: stage }),
      )
    ).SecretString;
  } catch {
    return undefined;
  }
};

const parsed = (value: string | undefined): { UserName?: unknown; AccessKeyId?: unknown } => {
  try {
    return value === undefined ? {} : (JSON.parse(value) as Record<string, unknown>);
  } catch {
    return {};
  }
};

const recordLabelMove = (scenario: Scenario, action: OperatorAction): void => {
  const secret = scenario.sim.secret(SECRET_NAME);
  const current =
    secret === undefined ? undefined : scenario.sim.secretsManager.holderOf(secret, AWSCURRENT);
  scenario.labelMoves.push({
    action,
    // The index of the action's last call: every later call comes after it.
    endCall: scenario.sim.callCount - 1,
    versionIds: new Set(scenario.versionIds()),
    currentVersionId: current?.versionId ?? '',
  });
};

const setKeyStatus = async (
  scenario: Scenario,
  accessKeyId: string | undefined,
  status: 'Active' | 'Inactive',
): Promise<void> => {
  if (accessKeyId === undefined || scenario.sim.accessKey(accessKeyId)?.userName !== USER_NAME)
    return;
  await scenario.iam.send(
    new UpdateAccessKeyCommand({ UserName: USER_NAME, AccessKeyId: accessKeyId, Status: status }),
  );
};

const deleteKey = async (scenario: Scenario, accessKeyId: string | undefined): Promise<void> => {
  if (accessKeyId === undefined || scenario.sim.accessKey(accessKeyId)?.userName !== USER_NAME)
    return;
  await scenario.iam.send(
    new DeleteAccessKeyCommand({ UserName: USER_NAME, AccessKeyId: accessKeyId }),
  );
};

const putByHand = async (
  scenario: Scenario,
  value: string,
  action: OperatorAction,
): Promise<void> => {
  await scenario.sm.send(new PutSecretValueCommand({ SecretId: SECRET_NAME, SecretString: value }));
  recordLabelMove(scenario, action);
};

const run = async (scenario: Scenario, action: OperatorAction): Promise<void> => {
  switch (action) {
    case 'delete-current-key':
      return deleteKey(scenario, scenario.storedKeyId(AWSCURRENT));
    case 'delete-previous-key':
      return deleteKey(scenario, scenario.storedKeyId(AWSPREVIOUS));
    case 'delete-pending-key':
      return deleteKey(scenario, scenario.pendingKeyId());
    case 'deactivate-current-key':
      return setKeyStatus(scenario, scenario.storedKeyId(AWSCURRENT), 'Inactive');
    case 'deactivate-previous-key':
      return setKeyStatus(scenario, scenario.storedKeyId(AWSPREVIOUS), 'Inactive');
    case 'deactivate-pending-key':
      return setKeyStatus(scenario, scenario.pendingKeyId(), 'Inactive');
    case 'create-key':
      if (scenario.sim.user(USER_NAME) !== undefined && scenario.keys().length < 2) {
        await scenario.iam.send(new CreateAccessKeyCommand({ UserName: USER_NAME }));
      }
      return;
    case 'delete-user':
      if (scenario.sim.user(USER_NAME) === undefined) return;
      for (const key of scenario.keys()) await deleteKey(scenario, key.accessKeyId);
      await scenario.iam.send(new DeleteUserCommand({ UserName: USER_NAME }));
      return;
    case 'recreate-user':
      if (scenario.sim.user(USER_NAME) === undefined) {
        // Recreated with its ownership tag, as the stack's next deployment would tag it.
        await scenario.iam.send(
          new CreateUserCommand({
            UserName: USER_NAME,
            Tags: [{ Key: OWNER_TAG_KEY, Value: scenario.secretArn }],
          }),
        );
      }
      return;
    case 'rollback':
      // The command's own code: refused (nothing changed) when there is nothing to roll back to.
      await runOperatorCommand(scenario, 'rollback', { stepTimeoutMs: SCENARIO_STEP_TIMEOUT_MS });
      return;
    case 'cancel':
      await runOperatorCommand(scenario, 'cancel', { stepTimeoutMs: SCENARIO_STEP_TIMEOUT_MS });
      return;
    case 'put-value-by-hand': {
      const value = await valueAt(scenario, AWSCURRENT);
      if (value !== undefined) await putByHand(scenario, value, action);
      return;
    }
    case 'retag-secret-to-other-user':
      await scenario.sm.send(
        new TagResourceCommand({
          SecretId: SECRET_NAME,
          Tags: [{ Key: BINDING_TAG_KEY, Value: OTHER_USER_NAME }],
        }),
      );
      return putByHand(scenario, JSON.stringify({ UserName: OTHER_USER_NAME }), action);
    case 'restore-binding': {
      await scenario.sm.send(
        new TagResourceCommand({
          SecretId: SECRET_NAME,
          Tags: [{ Key: BINDING_TAG_KEY, Value: USER_NAME }],
        }),
      );
      if (parsed(await valueAt(scenario, AWSCURRENT)).UserName === USER_NAME) return;
      const previous = await valueAt(scenario, AWSPREVIOUS);
      const restored =
        parsed(previous).UserName === USER_NAME && previous !== undefined
          ? previous
          : JSON.stringify({ UserName: USER_NAME });
      return putByHand(scenario, restored, action);
    }
    case 'remove-owner-tag':
      if (scenario.sim.user(USER_NAME) === undefined) return;
      await scenario.iam.send(
        new UntagUserCommand({ UserName: USER_NAME, TagKeys: [OWNER_TAG_KEY] }),
      );
      return;
    case 'restore-owner-tag':
      if (scenario.sim.user(USER_NAME) === undefined) return;
      return scenario.tagOwner(USER_NAME, scenario.secretArn);
    case 'claim-other-user': {
      if (scenario.sim.secret(CLAIMANT_SECRET_NAME) === undefined) {
        const output = await scenario.sm.send(
          new CreateSecretCommand({
            Name: CLAIMANT_SECRET_NAME,
            SecretString: JSON.stringify({ UserName: OTHER_USER_NAME }),
            Tags: [{ Key: BINDING_TAG_KEY, Value: OTHER_USER_NAME }],
          }),
        );
        scenario.secretArns.set(CLAIMANT_SECRET_NAME, output.ARN ?? '');
      }
      await scenario.rotateSecret(CLAIMANT_SECRET_NAME);
      return;
    }
    case 'use-current-key':
      return scenario.useKey(scenario.storedKeyId(AWSCURRENT));
    case 'use-previous-key':
      return scenario.useKey(scenario.storedKeyId(AWSPREVIOUS));
    case 'use-pre-existing-keys':
      for (const id of scenario.preExistingKeyIds) await scenario.useKey(id);
      return;
  }
};

/**
 * Applies an operator action. Actions IAM or Secrets Manager refuse because the rotation got
 * there first (a key already gone, a label already moved) simply do not happen, as for a human.
 */
export const applyOperatorAction = async (
  scenario: Scenario,
  action: OperatorAction,
): Promise<void> => {
  if (!HARMLESS.has(action)) {
    scenario.outOfBandChanges.push({ action, rotationsBefore: scenario.rotations.length });
  }
  try {
    await run(scenario, action);
  } catch (error) {
    if (!LOST_RACES.has(errorNameOf(error))) throw error;
  }
};
