import type { SecretMetadata } from '../aws/secrets-manager-secret-store.js';
import { AWSCURRENT, AWSPENDING } from '../aws/secrets-manager-secret-store.js';
import { RotationStateError, SecretBindingError } from '../errors.js';
import { BINDING_TAG_KEY } from './binding.js';

/** IAM user names: 1-64 characters of `[\w+=,.@-]`. */
const IAM_USER_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;

/** Where the token's version stands: still to be rotated, or already promoted. */
export type TokenVersionState = 'pending' | 'current';

/** The IAM user the secret is bound to by its `iam-key-rotation:user` tag. */
export const resolveBoundUser = (secret: SecretMetadata): string => {
  const userName = secret.tags[BINDING_TAG_KEY];
  if (userName === undefined) {
    throw new SecretBindingError(
      `Secret ${secret.arn} has no tag ${BINDING_TAG_KEY}; expected the name of the IAM user whose key it rotates`,
    );
  }
  if (!IAM_USER_NAME_PATTERN.test(userName)) {
    throw new SecretBindingError(
      `Secret ${secret.arn} tag ${BINDING_TAG_KEY} must be an IAM user name (1-64 characters of letters, digits and +=,.@_-), got ${JSON.stringify(userName.slice(0, 80))}`,
    );
  }
  return userName;
};

/**
 * The check AWS's rotation template runs before every step: rotation is enabled, the token
 * is a version of the secret, and that version is AWSPENDING (or already AWSCURRENT).
 */
export const checkTokenVersion = (secret: SecretMetadata, token: string): TokenVersionState => {
  if (!secret.rotationEnabled) {
    throw new RotationStateError(
      `Secret ${secret.arn} is not enabled for rotation (RotationEnabled is false or absent)`,
    );
  }
  const stages = secret.versionIdsToStages[token];
  if (stages === undefined) {
    throw new RotationStateError(
      `Secret ${secret.arn} has no version ${token} (the ClientRequestToken); it has versions ${Object.keys(secret.versionIdsToStages).join(', ') || 'none'}`,
    );
  }
  if (stages.includes(AWSCURRENT)) return 'current';
  if (!stages.includes(AWSPENDING)) {
    throw new RotationStateError(
      `Secret ${secret.arn} version ${token} is not ${AWSPENDING}; it carries [${stages.join(', ')}]`,
    );
  }
  return 'pending';
};

/** The id of the version that carries AWSCURRENT, if any. */
export const findCurrentVersionId = (secret: SecretMetadata): string | undefined =>
  Object.entries(secret.versionIdsToStages).find(([, stages]) => stages.includes(AWSCURRENT))?.[0];
