import type { AccessKeyStore, IamUserInfo } from '../aws/iam-access-key-store.js';
import type { SecretMetadata } from '../aws/secrets-manager-secret-store.js';
import { UserOwnershipError } from '../errors.js';
import { OWNER_TAG_KEY } from './binding.js';

/**
 * Why the function refuses to touch `user`'s keys through the secret `secretArn`, or undefined
 * when the user's ownership tag names that secret (the message {@link verifyOwnership} throws,
 * and `iam-key-rotation plan` shows).
 */
export const ownershipProblem = (
  user: Pick<IamUserInfo, 'tags'>,
  secretArn: string,
  userName: string,
): string | undefined => {
  const owner = user.tags[OWNER_TAG_KEY];
  if (owner === undefined) {
    return `IAM user ${userName} has no tag ${OWNER_TAG_KEY}; expected it to name the secret that owns the user's keys, ${secretArn}. The stack sets this tag when it deploys; until it is there nothing is changed. If the user was moved to this secret by hand, tag it: aws iam tag-user --user-name ${userName} --tags Key=${OWNER_TAG_KEY},Value=${secretArn}`;
  }
  if (owner !== secretArn) {
    return `IAM user ${userName} is owned by secret ${owner.slice(0, 2048)} (its tag ${OWNER_TAG_KEY}), not by secret ${secretArn}; refusing to touch its keys, nothing was changed. If the user should move to this secret, see "Move a user to another secret" in the README`;
  }
  return undefined;
};

/**
 * Reads the bound user and checks that its ownership tag names this secret, by full ARN. The
 * stack sets that tag at deploy time and the function cannot change it (it has no
 * iam:TagUser), so a secret retagged to another user, or a second secret claiming a user that
 * is already rotated elsewhere, can never reach that user's keys.
 *
 * @throws UserOwnershipError naming both secrets (or the missing tag); nothing is changed
 */
export const verifyOwnership = async (
  iam: AccessKeyStore,
  secret: SecretMetadata,
  userName: string,
): Promise<IamUserInfo> => {
  const user = await iam.getUser(userName);
  const problem = ownershipProblem(user, secret.arn, userName);
  if (problem !== undefined) throw new UserOwnershipError(problem);
  return user;
};
