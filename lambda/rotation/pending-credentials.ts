import { AWSCURRENT, AWSPENDING } from '../aws/secrets-manager-secret-store.js';
import { RotationStateError } from '../errors.js';
import type { AccessKeyCredentials } from './access-key-credentials.js';
import { giveUpRotation } from './give-up.js';
import { findCurrentVersionId } from './guard.js';
import { readSecretValue, type StepContext } from './step-context.js';

/** The key a rotation stored in its AWSPENDING version, and the version it replaces. */
export interface PendingKey {
  readonly credentials: AccessKeyCredentials;
  /** The AWSCURRENT version when createSecret stored the key (absent for older values). */
  readonly replacesVersionId?: string;
}

/** The key stored in the token's AWSPENDING version; createSecret must have run. */
export const readPendingKey = async (context: StepContext): Promise<PendingKey> => {
  const token = context.event.ClientRequestToken;
  const pending = await readSecretValue(context, { versionId: token, versionStage: AWSPENDING });
  if (pending?.credentials === undefined) {
    throw new RotationStateError(
      `Secret ${context.secret.arn} version ${token} (${AWSPENDING}) holds no access key; expected createSecret to have stored one`,
    );
  }
  return pending.replacesVersionId === undefined
    ? { credentials: pending.credentials }
    : { credentials: pending.credentials, replacesVersionId: pending.replacesVersionId };
};

/**
 * A rotation replaces the AWSCURRENT version createSecret found. If AWSCURRENT has moved since
 * (an operator rolled back or put a value by hand), finishing would undo that: the rotation
 * gives way instead (its key deleted, AWSPENDING removed) and the next one starts from the
 * operator's version. Costs no call while AWSCURRENT has not moved (the step's guard read it).
 *
 * @returns `copy-of-current` when the pending version merely holds a copy of the AWSCURRENT
 *   value (a configuration test on an emulator that copies it): nothing to give way to
 */
export const giveWayIfOvertaken = async (
  context: StepContext,
  pending: { readonly credentials?: AccessKeyCredentials; readonly replacesVersionId?: string },
): Promise<'not overtaken' | 'copy of current'> => {
  const replaced = pending.replacesVersionId;
  const current = findCurrentVersionId(context.secret);
  if (replaced === undefined || replaced === current) return 'not overtaken';
  const pendingKeyId = pending.credentials?.accessKeyId;
  if (pendingKeyId !== undefined) {
    const currentValue = await readSecretValue(context, { versionStage: AWSCURRENT });
    if (currentValue?.credentials?.accessKeyId === pendingKeyId) return 'copy of current';
  }
  return giveUpRotation(
    context,
    pendingKeyId === undefined ? undefined : { accessKeyId: pendingKeyId },
    `${AWSCURRENT} moved from version ${replaced}, which this rotation replaces, to version ${current ?? 'none'} since the rotation began (a rollback or a value put by hand); the rotation gives way to it`,
  );
};
