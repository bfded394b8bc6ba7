import { errorName } from '../../lambda/aws/aws-error.js';
import type {
  AccessKeyLastUse,
  AccessKeyStore,
  AccessKeyMetadata,
} from '../../lambda/aws/iam-access-key-store.js';
import { AWSCURRENT } from '../../lambda/aws/secrets-manager-secret-store.js';
import { SECRET_NAME_PREFIX } from '../../lambda/rotation/binding.js';
import type { OperatorSecretStore, SecretDescription } from '../aws/operator-secret-store.js';
import type { ReadUser, UserFacts } from './user-plan.js';

/** The calls `plan` makes: Get, List and Describe only (never GetSecretValue). */
export interface PlanReadDependencies {
  readonly secrets: Pick<OperatorSecretStore, 'describe' | 'listVersions'>;
  readonly iam: Pick<AccessKeyStore, 'getUser' | 'listAccessKeys' | 'getAccessKeyLastUsed'>;
}

const absentOn =
  (name: string) =>
  (error: unknown): undefined => {
    if (errorName(error) === name) return undefined;
    throw error;
  };

/**
 * Reads what {@link planUser} judges: GetUser (with its tags), ListAccessKeys and
 * GetAccessKeyLastUsed of every key, DescribeSecret of `iam-key-rotation/<user>` and, for a secret
 * that exists, ListSecretVersionIds (when its AWSCURRENT version was created).
 */
export const readUserFacts = async (
  deps: PlanReadDependencies,
  userName: string,
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
  const currentVersionCreated = await currentVersionCreatedDate(deps, secret);
  return {
    ...(user === undefined ? {} : { user }),
    keys,
    lastUse,
    ...(secret === undefined ? {} : { secret }),
    ...(currentVersionCreated === undefined ? {} : { currentVersionCreated }),
  };
};

const currentVersionCreatedDate = async (
  deps: PlanReadDependencies,
  secret: SecretDescription | undefined,
): Promise<Date | undefined> => {
  if (secret === undefined || secret.deletedDate !== undefined) return undefined;
  const versions = await deps.secrets.listVersions(secret.arn);
  return versions.find((version) => version.stages.includes(AWSCURRENT))?.createdDate;
};
