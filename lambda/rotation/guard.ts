import type { SecretMetadata } from '../aws/secrets-manager-secret-store.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../aws/secrets-manager-secret-store.js';
import { RotationStateError, SecretBindingError } from '../errors.js';
import { BINDING_TAG_KEY } from './binding.js';

/** IAM user names: 1-64 characters of `[\w+=,.@-]`. */
const IAM_USER_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;

/**
 * Where the token's version stands:
 * - `pending`: AWSPENDING and nothing else of ours: the rotation is in progress.
 * - `promoted`: AWSCURRENT and still AWSPENDING: finishSecret moved AWSCURRENT but has not
 *   finished its cleanup (or a rotation of an earlier release left the label behind).
 * - `finished`: AWSCURRENT without AWSPENDING: the rotation is complete.
 */
export type TokenVersionState = 'pending' | 'promoted' | 'finished';

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
 * The check AWS's rotation template runs before every step, made strict: rotation is enabled,
 * the token is a version of the secret, and that version is either still AWSPENDING or the
 * AWSCURRENT version this rotation produced. A version that carries AWSPREVIOUS was current
 * once and has been superseded (a rollback, a value put by hand, a newer rotation): resuming
 * its rotation would undo what came after, so it is refused.
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
      `Secret ${secret.arn} has no version ${token} (the ClientRequestToken) that carries a staging label: its rotation was cancelled or given up (a version without labels is not listed), or the token is wrong; nothing to do, nothing was changed. It has versions ${Object.keys(secret.versionIdsToStages).join(', ') || 'none'}`,
    );
  }
  const pending = stages.includes(AWSPENDING);
  if (stages.includes(AWSCURRENT)) return pending ? 'promoted' : 'finished';
  if (stages.includes(AWSPREVIOUS)) {
    const current = findCurrentVersionId(secret) ?? 'none';
    throw new RotationStateError(
      `Secret ${secret.arn} version ${token} is ${AWSPREVIOUS}: its rotation completed and ${AWSCURRENT} has since moved to version ${current} (a rollback, a value put by hand, or a newer rotation); refusing to resume it, nothing was changed${
        pending
          ? `. It still carries a stale ${AWSPENDING}, which blocks new rotations; remove it with: aws secretsmanager update-secret-version-stage --secret-id ${secret.arn} --version-stage ${AWSPENDING} --remove-from-version-id ${token}`
          : ''
      }`,
    );
  }
  if (!pending) {
    throw new RotationStateError(
      `Secret ${secret.arn} version ${token} is not ${AWSPENDING}; it carries [${stages.join(', ')}]: its rotation was cancelled, given up or abandoned (a value put by hand removes ${AWSPENDING}); nothing to do, nothing was changed`,
    );
  }
  return 'pending';
};

/** The id of the version that carries AWSCURRENT, if any. */
export const findCurrentVersionId = (secret: SecretMetadata): string | undefined =>
  Object.entries(secret.versionIdsToStages).find(([, stages]) => stages.includes(AWSCURRENT))?.[0];
