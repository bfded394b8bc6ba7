import type { SecretMetadata, SecretStore } from '../aws/secrets-manager-secret-store.js';
import { ForeignSecretError, SecretBindingError } from '../errors.js';
import { BINDING_TAG_KEY, CLOUDFORMATION_STACK_ID_TAG_KEY, SECRET_NAME_PREFIX } from './binding.js';
import { resolveBoundUser } from './guard.js';

/** IAM user names: 1-64 characters of `[\w+=,.@-]` (no `/`, so the name ends the secret's). */
const IAM_USER_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;

const NOTHING_CHANGED = 'nothing was changed';

/**
 * The user a secret of the stack rotates, read from what no principal can change after the
 * deployment: the secret's name, `iam-key-rotation/<userName>` (names are immutable).
 */
export const userNameFromSecretName = (secret: SecretMetadata): string => {
  const { name } = secret;
  const userName = name.startsWith(SECRET_NAME_PREFIX)
    ? name.slice(SECRET_NAME_PREFIX.length)
    : undefined;
  if (userName === undefined || !IAM_USER_NAME_PATTERN.test(userName)) {
    throw new SecretBindingError(
      `Secret ${secret.arn} is named ${JSON.stringify(name.slice(0, 256))}, expected ${SECRET_NAME_PREFIX}<IAM user name>: the stack names every secret after the user it rotates; refusing to touch any key, ${NOTHING_CHANGED}`,
    );
  }
  return userName;
};

/**
 * The trust check that runs before every step and every retirement, before any IAM call:
 *
 * 1. the secret carries CloudFormation's reserved tag `aws:cloudformation:stack-id` with the
 *    function's own stack id (no principal can create, change or remove an `aws:` tag, so only
 *    a secret this stack created passes);
 * 2. the user is the one its immutable name `iam-key-rotation/<userName>` gives, and the binding
 *    tag `iam-key-rotation:user` names that same user (a retag can stop a rotation, never
 *    redirect it).
 *
 * The user's ownership tag (ownership.ts) is checked after this, as a third cross-check.
 *
 * @returns the IAM user the secret rotates
 * @throws ForeignSecretError for a secret of another stack or none; SecretBindingError when the
 *   name or the binding tag does not give the user; nothing is changed
 */
export const verifyStackSecret = (secret: SecretMetadata, stackId: string): string => {
  const found = secret.tags[CLOUDFORMATION_STACK_ID_TAG_KEY];
  if (found !== stackId) {
    throw new ForeignSecretError(
      `Secret ${secret.arn} was not created by this function's stack ${stackId}: its tag ${CLOUDFORMATION_STACK_ID_TAG_KEY} is ${
        found === undefined
          ? 'absent (a secret created outside CloudFormation)'
          : `${JSON.stringify(found.slice(0, 256))} (another stack's)`
      }. The function rotates only the secrets its own stack created, never a look-alike; refusing to touch any key, ${NOTHING_CHANGED}. Rotate that secret with the function of the stack that created it`,
    );
  }
  const userName = userNameFromSecretName(secret);
  const tagged = resolveBoundUser(secret);
  if (tagged !== userName) {
    throw new SecretBindingError(
      `Secret ${secret.arn} is named after IAM user ${userName}, but its tag ${BINDING_TAG_KEY} names ${tagged}; the name decides, the tag must agree: refusing to touch any key, ${NOTHING_CHANGED}. Restore the tag: aws secretsmanager tag-resource --secret-id ${secret.arn} --tags Key=${BINDING_TAG_KEY},Value=${userName}`,
    );
  }
  return userName;
};

/**
 * A {@link SecretStore} whose DescribeSecret answers only for this stack's secrets: every
 * description goes through {@link verifyStackSecret} before the caller sees it. The retirement
 * of a previous key (and any step that describes the secret again) reads the secret through it,
 * so no path of the function acts on a secret the trust check did not pass.
 */
export const stackSecretStore = (store: SecretStore, stackId: string): SecretStore => ({
  describeSecret: async (secretId) => {
    const secret = await store.describeSecret(secretId);
    verifyStackSecret(secret, stackId);
    return secret;
  },
  getSecretString: (secretId, selector) => store.getSecretString(secretId, selector),
  putPendingSecretString: (input) => store.putPendingSecretString(input),
  moveStage: (input) => store.moveStage(input),
  getVersionCreatedDate: (secretId, versionId) => store.getVersionCreatedDate(secretId, versionId),
  getSecretVersion: (secretId, selector) => store.getSecretVersion(secretId, selector),
  moveStageOnce: (input) => store.moveStageOnce(input),
  listVersions: (secretId, options) => store.listVersions(secretId, options),
  tagSecret: (secretId, key, value) => store.tagSecret(secretId, key, value),
});
