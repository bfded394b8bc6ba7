import { errorName } from '../../lambda/aws/aws-error.js';
import type {
  AccessKeyLastUse,
  AccessKeyStore,
  AccessKeyMetadata,
} from '../../lambda/aws/iam-access-key-store.js';
import { AWSCURRENT, AWSPENDING } from '../../lambda/aws/secrets-manager-secret-store.js';
import {
  CLOUDFORMATION_STACK_ID_TAG_KEY,
  SECRET_NAME_PREFIX,
} from '../../lambda/rotation/binding.js';
import type { StackResources } from '../../lambda/aws/cloudformation-stack-resources.js';
import type { OperatorSecretStore, SecretDescription } from '../aws/operator-secret-store.js';
import { describeFailure } from '../failure.js';
import { stackNameOfStackId, type ReadUser, type UserFacts } from './user-plan.js';

/** The calls `plan` makes: Get, List and Describe only (never GetSecretValue). */
export interface PlanReadDependencies {
  readonly secrets: Pick<OperatorSecretStore, 'describe' | 'listVersions'>;
  readonly iam: Pick<AccessKeyStore, 'getUser' | 'listAccessKeys' | 'getAccessKeyLastUsed'>;
  readonly stackResources: StackResources;
}

/** CloudFormation's tag on every resource of a stack: its logical id in the template. */
const LOGICAL_ID_TAG_KEY = 'aws:cloudformation:logical-id';

const absentOn =
  (name: string) =>
  (error: unknown): undefined => {
    if (errorName(error) === name) return undefined;
    throw error;
  };

/**
 * Reads what {@link planUser} judges: GetUser (with its tags), ListAccessKeys and
 * GetAccessKeyLastUsed of every key, DescribeSecret of `iam-key-rotation/<user>` and, for a secret
 * that exists, ListSecretVersionIds (when its AWSCURRENT and AWSPENDING versions were created) and, when its
 * stack-id tag names `stackName`, CloudFormation DescribeStackResource (does that stack still
 * hold it?).
 */
export const readUserFacts = async (
  deps: PlanReadDependencies,
  userName: string,
  stackName: string,
): Promise<UserFacts> => {
  const secretName = `${SECRET_NAME_PREFIX}${userName}`;
  const [user, secret] = await Promise.all([
    deps.iam
      .getUser(userName)
      .then((info): ReadUser => ({ arn: info.arn, tags: info.tags }))
      .catch(absentOn('NoSuchEntityException')),
    deps.secrets.describe(secretName).catch(absentOn('ResourceNotFoundException')),
  ]);
  const keys: AccessKeyMetadata[] =
    user === undefined ? [] : await deps.iam.listAccessKeys(userName);
  const lastUse = new Map<string, AccessKeyLastUse>();
  for (const key of keys) {
    lastUse.set(key.accessKeyId, await deps.iam.getAccessKeyLastUsed(userName, key.accessKeyId));
  }
  const { currentVersionCreated, pendingVersionCreated } = await versionDates(deps, secret);
  const heldByStack = await readHeldByStack(deps, secret, stackName);
  return {
    ...(user === undefined ? {} : { user }),
    keys,
    lastUse,
    ...(secret === undefined ? {} : { secret }),
    ...(currentVersionCreated === undefined ? {} : { currentVersionCreated }),
    ...(pendingVersionCreated === undefined ? {} : { pendingVersionCreated }),
    ...(heldByStack === undefined ? {} : { heldByStack }),
  };
};

/** CloudFormation's "does not exist" answers: no such stack, or no such resource in it. */
const NOT_IN_STACK = /does not exist/i;

const readHeldByStack = async (
  deps: PlanReadDependencies,
  secret: SecretDescription | undefined,
  stackName: string,
): Promise<UserFacts['heldByStack']> => {
  // A secret scheduled for deletion is asked about too: if its stack still holds it, the fix is
  // to restore it (a deployment does not create it again), not to delete it for good.
  if (secret === undefined) return undefined;
  const stackId = secret.tags[CLOUDFORMATION_STACK_ID_TAG_KEY];
  const logicalId = secret.tags[LOGICAL_ID_TAG_KEY];
  if (stackId === undefined || stackNameOfStackId(stackId) !== stackName) return undefined;
  if (logicalId === undefined) {
    return { held: 'unknown', why: `the secret has no tag ${LOGICAL_ID_TAG_KEY}` };
  }
  try {
    const resource = await deps.stackResources.describeStackResource(stackName, logicalId);
    if (resource.physicalResourceId !== secret.arn) {
      return {
        held: false,
        why: `its resource ${logicalId} is ${resource.physicalResourceId ?? 'without a physical id'}`,
      };
    }
    // A first creation that rolled back (the stack in ROLLBACK_COMPLETE) or a deleted stack
    // leaves the resource DELETE_SKIPPED (retained) or DELETE_COMPLETE: the stack no longer holds it.
    return resource.status.startsWith('DELETE_')
      ? {
          held: false,
          why: `its resource ${logicalId} is ${resource.status}: the stack's first creation rolled back (ROLLBACK_COMPLETE) or the stack was deleted, and the secret was kept`,
        }
      : { held: true };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (errorName(error) === 'ValidationError' && NOT_IN_STACK.test(message)) {
      return { held: false, why: `CloudFormation: ${message}` };
    }
    return { held: 'unknown', why: describeFailure(error) };
  }
};

/** When the secret's AWSCURRENT and AWSPENDING versions were created (ListSecretVersionIds). */
const versionDates = async (
  deps: PlanReadDependencies,
  secret: SecretDescription | undefined,
): Promise<{ currentVersionCreated?: Date; pendingVersionCreated?: Date }> => {
  if (secret === undefined || secret.deletedDate !== undefined) return {};
  const versions = await deps.secrets.listVersions(secret.arn);
  const current = versions.find((version) => version.stages.includes(AWSCURRENT))?.createdDate;
  const pending = versions.find(
    (version) => version.stages.includes(AWSPENDING) && !version.stages.includes(AWSCURRENT),
  )?.createdDate;
  return {
    ...(current === undefined ? {} : { currentVersionCreated: current }),
    ...(pending === undefined ? {} : { pendingVersionCreated: pending }),
  };
};
