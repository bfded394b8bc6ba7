import { ignoreNoSuchEntity } from '../aws/aws-error.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../aws/secrets-manager-secret-store.js';
import { RotationStateError } from '../errors.js';
import { giveUpRotation, removePendingLabel } from './give-up.js';
import type { TokenVersionState } from './guard.js';
import { findCurrentVersionId } from './guard.js';
import { findAccessKey } from './access-key-lookup.js';
import { requireProvenVersion } from './proven-version.js';
import { giveWayIfOvertaken, readPendingKey } from './pending-credentials.js';
import { scheduleRetirement } from './retirement-schedule.js';
import { readPreviousAccessKeyId, readSecretValue, type StepContext } from './step-context.js';

/**
 * finishSecret: move AWSCURRENT to the token's version, deactivate the previous key (now
 * AWSPREVIOUS, kept for rollback until the next rotation deletes it), then remove AWSPENDING
 * from the token's version: the rotation is complete and can never be resumed. A retry that
 * finds AWSCURRENT already moved but AWSPENDING still there completes the cleanup.
 *
 * With a grace period the previous key stays Active: instead of deactivating it, the step
 * creates the one-time schedule that retires it when the grace period ends (see
 * retirement-schedule.ts), before it removes AWSPENDING, so a retry creates it if a crash came
 * first.
 *
 * Everything the step needs is read and checked before AWSCURRENT moves; the move names the
 * version that was current when the step began, so it fails if someone moved AWSCURRENT since.
 */
export const finishSecret = async (
  context: StepContext,
  state: Exclude<TokenVersionState, 'finished'>,
): Promise<void> => {
  const { event, services, log, userName } = context;
  const token = event.ClientRequestToken;
  let newAccessKeyId: string;
  let previousAccessKeyId: string | undefined;
  /** The version that holds the previous key: AWSCURRENT before the move, AWSPREVIOUS after. */
  let previousVersionId: string | undefined;
  if (state === 'pending') {
    requireProvenVersion(context.secret, token);
    const pending = await readPendingKey(context);
    newAccessKeyId = pending.credentials.accessKeyId;
    await giveWayIfOvertaken(context, pending);
    const currentVersionId = findCurrentVersionId(context.secret);
    // The key AWSCURRENT holds now becomes AWSPREVIOUS: read (and validate) it before the move.
    const current =
      currentVersionId === undefined
        ? undefined
        : await readSecretValue(context, { versionId: currentVersionId, versionStage: AWSCURRENT });
    previousAccessKeyId = current?.credentials?.accessKeyId;
    previousVersionId = currentVersionId;
    // Never promote a key that can no longer work (deleted or deactivated since testSecret).
    const { key } = await findAccessKey(context, newAccessKeyId);
    if (key === undefined || key.status !== 'Active') {
      return giveUpRotation(
        context,
        key,
        key === undefined
          ? `access key ${newAccessKeyId} stored in ${AWSPENDING} no longer exists for IAM user ${userName}`
          : `access key ${newAccessKeyId} of IAM user ${userName} is ${key.status}, expected Active (deactivated by hand?)`,
      );
    }
    await services.secrets.moveStage({
      secretId: event.SecretId,
      versionStage: AWSCURRENT,
      moveToVersionId: token,
      ...(currentVersionId === undefined ? {} : { removeFromVersionId: currentVersionId }),
    });
    log.info('finishSecret: moved AWSCURRENT to the new version', {
      accessKeyId: newAccessKeyId,
      previousVersionId: currentVersionId,
    });
  } else {
    const current = await readSecretValue(context, { versionId: token, versionStage: AWSCURRENT });
    const id = current?.credentials?.accessKeyId;
    if (id === undefined) {
      throw new RotationStateError(
        `finishSecret: version ${token} is AWSCURRENT but holds no access key`,
      );
    }
    newAccessKeyId = id;
    previousAccessKeyId = await readPreviousAccessKeyId(
      context,
      'the previous key stays Active until the next rotation',
    );
    previousVersionId = Object.entries(context.secret.versionIdsToStages).find(([, stages]) =>
      stages.includes(AWSPREVIOUS),
    )?.[0];
  }

  const { gracePeriod } = context.settings;
  if (previousAccessKeyId === undefined || previousAccessKeyId === newAccessKeyId) {
    log.info('finishSecret: no previous access key to deactivate');
  } else if (gracePeriod !== undefined && previousVersionId !== undefined) {
    await scheduleRetirement(context, gracePeriod, {
      versionId: previousVersionId,
      accessKeyId: previousAccessKeyId,
    });
  } else {
    const found = await ignoreNoSuchEntity(() =>
      services.iam.deactivateAccessKey(userName, previousAccessKeyId),
    );
    log.info(
      found
        ? 'finishSecret: deactivated the previous access key (AWSPREVIOUS)'
        : 'finishSecret: the previous access key no longer exists',
      { accessKeyId: previousAccessKeyId },
    );
  }
  await removePendingLabel(context);
  log.info('finishSecret: removed AWSPENDING; the rotation is complete', {
    accessKeyId: newAccessKeyId,
  });
};
