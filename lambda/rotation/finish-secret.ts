import { errorName, ignoreNoSuchEntity } from '../aws/aws-error.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../aws/secrets-manager-secret-store.js';
import { RotationStateError } from '../errors.js';
import { CURRENT_KEY_TAG_KEY, ROLLBACK_STAGE } from './binding.js';
import { giveUpRotation, removePendingLabel } from './give-up.js';
import type { TokenVersionState } from './guard.js';
import { findCurrentVersionId } from './guard.js';
import { findAccessKey } from './access-key-lookup.js';
import { requireProvenVersion } from './proven-version.js';
import { giveWayIfOvertaken, readPendingKey } from './pending-credentials.js';
import { scheduleRetirement } from './retirement-schedule.js';
import { readPreviousAccessKeyId, readSecretValue, type StepContext } from './step-context.js';

/** How many times finishSecret sends the AWSCURRENT move, each after a fresh check. */
const MOVE_ATTEMPTS = 2;

/**
 * Reads the labels right before the move: `moved` when AWSCURRENT is already on the token's
 * version (an earlier attempt whose answer was lost took effect), `ready` when AWSPENDING is
 * still on it and AWSCURRENT still on `replacedVersionId`; otherwise the rotation was cancelled
 * or overtaken and the step fails, changing nothing.
 */
const checkBeforeMove = async (
  context: StepContext,
  replacedVersionId: string | undefined,
): Promise<'ready' | 'moved'> => {
  const { event, services } = context;
  const token = event.ClientRequestToken;
  const secret = await services.secrets.describeSecret(event.SecretId);
  const stages = secret.versionIdsToStages[token] ?? [];
  if (stages.includes(AWSCURRENT)) return 'moved';
  const current = findCurrentVersionId(secret);
  if (!stages.includes(AWSPENDING)) {
    throw new RotationStateError(
      `finishSecret: version ${token} of secret ${context.secret.arn} no longer carries ${AWSPENDING} (the rotation was cancelled, given up or abandoned meanwhile); ${AWSCURRENT} was not moved, nothing was changed`,
    );
  }
  if (current !== replacedVersionId) {
    throw new RotationStateError(
      `finishSecret: ${AWSCURRENT} of secret ${context.secret.arn} moved from version ${replacedVersionId ?? 'none'} to ${current ?? 'none'} while the step ran (a rollback or a value put by hand); ${AWSCURRENT} was not moved, nothing was changed. The retry gives way to it`,
    );
  }
  return 'ready';
};

/** Moves AWSCURRENT to the token's version, fenced as {@link finishSecret} describes. */
const promote = async (
  context: StepContext,
  replacedVersionId: string | undefined,
): Promise<void> => {
  const { event, services, log } = context;
  for (let attempt = 1; ; attempt += 1) {
    if ((await checkBeforeMove(context, replacedVersionId)) === 'moved') return;
    try {
      await services.secrets.moveStageOnce({
        secretId: event.SecretId,
        versionStage: AWSCURRENT,
        moveToVersionId: event.ClientRequestToken,
        ...(replacedVersionId === undefined ? {} : { removeFromVersionId: replacedVersionId }),
      });
      return;
    } catch (error) {
      if (attempt >= MOVE_ATTEMPTS) throw error;
      log.warn('finishSecret: the AWSCURRENT move failed; reading the labels before trying again', {
        errorName: errorName(error),
        attempt,
      });
    }
  }
};

/**
 * Whether AWSCURRENT is still on the token's version and no rollback is in progress (no version
 * carries ROLLBACK_STAGE), read now.
 */
const stillCurrent = async (context: StepContext): Promise<boolean> => {
  const secret = await context.services.secrets.describeSecret(context.event.SecretId);
  return (
    findCurrentVersionId(secret) === context.event.ClientRequestToken &&
    !Object.values(secret.versionIdsToStages).some((stages) => stages.includes(ROLLBACK_STAGE))
  );
};

/**
 * Records which key AWSCURRENT holds in the secret's tag {@link CURRENT_KEY_TAG_KEY}, for
 * `status`. A failure is logged, never fails the rotation: the tag is a convenience.
 */
const recordCurrentKey = async (context: StepContext, accessKeyId: string): Promise<void> => {
  const { event, services, log } = context;
  try {
    await services.secrets.tagSecret(
      event.SecretId,
      CURRENT_KEY_TAG_KEY,
      `${event.ClientRequestToken}:${accessKeyId}`,
    );
  } catch (error) {
    log.warn(
      `finishSecret: could not record the AWSCURRENT key in the tag ${CURRENT_KEY_TAG_KEY}`,
      {
        errorName: errorName(error),
        accessKeyId,
      },
    );
  }
};

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
 * Right before the move the labels are read again (AWSPENDING still on the token, AWSCURRENT
 * still on the version it replaces: a cancel or a rollback wins), and the move is sent once,
 * without the SDK's retries: a retry stalled in backoff could land after a rollback moved
 * AWSCURRENT back and undo it (V1 -> V2 -> V1 looks like V1). After an error the labels are
 * read to learn whether the move took effect, and it is tried once more under a fresh check.
 * After the move the secret's tag CURRENT_KEY_TAG_KEY records `<versionId>:<accessKeyId>`; the
 * previous key is deactivated only while AWSCURRENT is still on the token's version.
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
    await promote(context, currentVersionId);
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
    // A retry after the move (or a version someone else made AWSCURRENT with AWSPENDING): the
    // previous key is deactivated only while the AWSCURRENT key is the user's and Active, so that
    // the retry never leaves the user without a working key.
    const { key } = await findAccessKey(context, id);
    if (key === undefined || key.status !== 'Active') {
      throw new RotationStateError(
        `finishSecret: version ${token} is ${AWSCURRENT}, but its access key ${id} ${
          key === undefined ? `is not a key of IAM user ${userName}` : `is ${key.status}`
        }; refusing to deactivate the previous key, nothing was changed. Reactivate access key ${id} (aws iam update-access-key --user-name ${userName} --access-key-id ${id} --status Active) or roll back (iam-key-rotation rollback ${context.secret.arn})`,
      );
    }
    previousAccessKeyId = await readPreviousAccessKeyId(
      context,
      'the previous key stays Active until the next rotation',
    );
    previousVersionId = Object.entries(context.secret.versionIdsToStages).find(([, stages]) =>
      stages.includes(AWSPREVIOUS),
    )?.[0];
  }

  await recordCurrentKey(context, newAccessKeyId);

  const { gracePeriod } = context.settings;
  if (previousAccessKeyId === undefined || previousAccessKeyId === newAccessKeyId) {
    log.info('finishSecret: no previous access key to deactivate');
  } else if (gracePeriod !== undefined && previousVersionId !== undefined) {
    await scheduleRetirement(context, gracePeriod, {
      versionId: previousVersionId,
      accessKeyId: previousAccessKeyId,
    });
  } else if (!(await stillCurrent(context))) {
    log.info(
      `finishSecret: ${AWSCURRENT} is no longer on this rotation's version, or a rollback is in progress (a rollback or a value put by hand took over); the previous access key is left as it is`,
      { accessKeyId: previousAccessKeyId },
    );
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
