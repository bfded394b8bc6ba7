import type { AccessKeyMetadata, CreatedAccessKey } from '../aws/iam-access-key-store.js';
import { errorName } from '../aws/aws-error.js';
import {
  AWSCURRENT,
  AWSPENDING,
  type SecretVersionInfo,
} from '../aws/secrets-manager-secret-store.js';
import {
  AccessKeyInUseError,
  InvalidSecretValueError,
  PendingAccessKeyError,
  RotationError,
  RotationStateError,
  SecretBindingError,
} from '../errors.js';
import type { AccessKeyCredentials } from './access-key-credentials.js';
import { giveUpRotation, removePendingLabel } from './give-up.js';
import { findCurrentVersionId } from './guard.js';
import { ROLLBACK_STAGE, TESTED_STAGE } from './binding.js';
import { keyMadeForVersion } from './key-lineage.js';
import { ACCESS_KEYS_PER_USER } from './key-plan.js';
import { makeRoom, removeAccessKey } from './key-removal.js';
import { giveWayIfOvertaken } from './pending-credentials.js';
import { ABSENCE_CONFIRMATION_DELAYS_MS, findAccessKey } from './access-key-lookup.js';
import { serializeSecretValue, type AccessKeySecretValue } from './secret-value.js';
import { SesSmtpCredentials } from './ses-smtp-credentials.js';
import { parseSesSmtpSettings } from './ses-smtp-settings.js';
import { readSecretValue, type StepContext } from './step-context.js';

/**
 * createSecret: create the user's new access key and store it in the token's AWSPENDING
 * version at once. Safe to run again: a retry finds the stored key and stops, and a key left
 * by an attempt that died before storing it is found and removed. A key that may be in use is
 * never deleted to make room. With SES SMTP regions (the secret's tags), the same value also holds
 * the key's SMTP user name and its password for each region.
 */
export const createSecret = async (context: StepContext): Promise<void> => {
  const { event, services, log, userName } = context;
  await refuseDuringRollback(context);
  // Validated before anything is read or changed: a bad tag stops the step here.
  const smtpSettings = parseSesSmtpSettings(context.secret);
  const current = await readSecretValue(context, { versionStage: AWSCURRENT });
  if (current === undefined) {
    throw new RotationStateError(
      `Secret ${context.secret.arn} has no ${AWSCURRENT} value; expected at least {"UserName": "${userName}"}`,
    );
  }
  const currentAccessKeyId = current.credentials?.accessKeyId;

  const pending = await readSecretValue(context, {
    versionId: event.ClientRequestToken,
    versionStage: AWSPENDING,
  });
  if (pending !== undefined) {
    await resumeStoredKey(context, pending, currentAccessKeyId);
    return;
  }

  const created = await createAccessKeyWithRoom(context, current);
  try {
    await services.secrets.putPendingSecretString({
      secretId: event.SecretId,
      clientRequestToken: event.ClientRequestToken,
      secretString: serializeSecretValue(
        userName,
        created,
        findCurrentVersionId(context.secret),
        smtpSettings === undefined
          ? undefined
          : SesSmtpCredentials.derive(created, smtpSettings.regions),
        context.settings.gracePeriod?.seconds,
      ),
      rotationToken: event.RotationToken,
    });
  } catch (error) {
    if (await wasStoredDespite(context, created)) {
      log.warn('createSecret: PutSecretValue reported an error but the new access key is stored', {
        accessKeyId: created.accessKeyId,
        errorName: errorName(error),
      });
      return;
    }
    await deleteUnstoredKey(context, created);
    throw new RotationError(
      `createSecret: PutSecretValue of version ${event.ClientRequestToken} failed (${errorName(error) ?? 'unknown error'}); the new access key ${created.accessKeyId} was deleted`,
      { cause: error },
    );
  }
  log.info('createSecret: stored the new access key in AWSPENDING', {
    accessKeyId: created.accessKeyId,
    ...(smtpSettings === undefined ? {} : { sesSmtpRegions: smtpSettings.regions }),
  });
};

/**
 * While a version carries the rollback's label (iam-key-rotation rollback writes it before it
 * waits out the function's timeout, and removes it once AWSCURRENT is on its version),
 * createSecret changes no key: making room would delete the AWSPREVIOUS key, the very key being
 * rolled back to, after the rollback's last check. It removes AWSPENDING from the token's version
 * (so no step of this rotation acts later, after the rollback) and fails. A createSecret that
 * read the labels before the label appeared has ended by the time the rollback acts; one that
 * reads them after it was removed finds AWSCURRENT on the rolled-back version.
 */
const refuseDuringRollback = async (context: StepContext): Promise<void> => {
  const fence = Object.entries(context.secret.versionIdsToStages).find(([, stages]) =>
    stages.includes(ROLLBACK_STAGE),
  )?.[0];
  if (fence === undefined) return;
  const arn = context.secret.arn;
  await removePendingLabel(context);
  throw new RotationStateError(
    `createSecret: a rollback is in progress (version ${fence} of secret ${arn} carries ${ROLLBACK_STAGE}); no key was changed, and ${AWSPENDING} was removed from version ${context.event.ClientRequestToken}, so this rotation ends here. Rotate again once the rollback is done (aws secretsmanager rotate-secret --secret-id ${arn}). If no rollback is running (the command was interrupted), remove the label first: aws secretsmanager update-secret-version-stage --secret-id ${arn} --version-stage ${ROLLBACK_STAGE} --remove-from-version-id ${fence}`,
  );
};

/**
 * A retry: the token's version already holds a value. If it is the key an earlier attempt
 * stored and that key is still Active, only tidy up what a first pass would have removed (a key
 * made by hand or left behind since). A key that was deleted or deactivated meanwhile can
 * never become current: give the rotation up.
 */
const resumeStoredKey = async (
  context: StepContext,
  pending: AccessKeySecretValue,
  currentAccessKeyId: string | undefined,
): Promise<void> => {
  const { event, log, userName } = context;
  const where = `version ${event.ClientRequestToken} (${AWSPENDING}) of secret ${context.secret.arn}`;
  const pendingAccessKeyId = pending.credentials?.accessKeyId;
  if (pendingAccessKeyId === undefined || pendingAccessKeyId === currentAccessKeyId) {
    throw new RotationStateError(
      `createSecret: ${where} already holds ${
        pendingAccessKeyId === undefined ? 'a value without an access key' : 'the AWSCURRENT key'
      }, which no rotation stores (a value put by hand?); expected no value yet or a new key. Nothing was changed; to start over remove the label: aws secretsmanager update-secret-version-stage --secret-id ${context.secret.arn} --version-stage ${AWSPENDING} --remove-from-version-id ${event.ClientRequestToken}`,
    );
  }
  await giveWayIfOvertaken(context, pending);
  const { key, keys } = await findAccessKey(context, pendingAccessKeyId);
  if (key === undefined) {
    return giveUpRotation(
      context,
      undefined,
      `access key ${pendingAccessKeyId} stored in ${AWSPENDING} no longer exists for IAM user ${userName}`,
    );
  }
  if (key.status !== 'Active') {
    return giveUpRotation(
      context,
      key,
      `access key ${pendingAccessKeyId} stored in ${AWSPENDING} is ${key.status}, expected Active (deactivated by hand?)`,
    );
  }
  await makeRoom(
    context,
    keys.filter((candidate) => candidate.accessKeyId !== pendingAccessKeyId),
    { currentAccessKeyId, reservedSlots: 1, slotsNeeded: 0 },
  );
  log.info('createSecret: AWSPENDING already holds a new access key; nothing to create', {
    accessKeyId: pendingAccessKeyId,
  });
};

/**
 * Makes room, refusing before any change when that would delete a key in use: then the
 * valueless placeholder's AWSPENDING is removed too, so that the operator can rotate again
 * once a key is freed instead of being told a previous rotation is incomplete. Only when a key
 * would block does it look for keys of abandoned versions of this secret (see
 * {@link findAbandonedKeys}); those go whatever their last use.
 */
const makeRoomForNewKey = async (
  context: StepContext,
  current: AccessKeySecretValue,
  keys: readonly AccessKeyMetadata[],
): Promise<ReadonlySet<string>> => {
  const currentAccessKeyId = current.credentials?.accessKeyId;
  const options = { currentAccessKeyId, reservedSlots: 0, slotsNeeded: 1 };
  let refusal: AccessKeyInUseError;
  try {
    return await makeRoom(context, keys, options);
  } catch (error) {
    if (!(error instanceof AccessKeyInUseError)) throw error;
    refusal = error;
  }
  const abandonedKeyIds = await findAbandonedKeys(context, keys, current);
  if (abandonedKeyIds.size > 0) {
    context.log.info('createSecret: keys of abandoned versions of this secret make room', {
      accessKeyIds: [...abandonedKeyIds],
    });
    try {
      return await makeRoom(context, keys, { ...options, abandonedKeyIds });
    } catch (error) {
      if (!(error instanceof AccessKeyInUseError)) throw error;
      refusal = error;
    }
  }
  await removePendingLabel(context);
  throw new AccessKeyInUseError(
    `${refusal.message}. Removed ${AWSPENDING} from version ${context.event.ClientRequestToken} (it held no value); no key was changed`,
  );
};

/** How many abandoned versions createSecret reads at most (newest first). */
const ABANDONED_VERSIONS_READ = 10;

/**
 * Keys of `keys` stored in a version of this secret that never became AWSCURRENT: the version
 * of a rotation Secrets Manager retried under a new token, or that a value put by hand, a
 * cancel or a give-up abandoned. Such a key was made by this secret's own rotation and can only
 * have been used by its testSecret, so it is removed whatever its last use. A version counts
 * when all of these hold:
 * - it is not the token's and carries no label but AWSPENDING and testSecret's
 *   IAM_KEY_ROTATION_TESTED (no AWSCURRENT, AWSPREVIOUS, the rollback's fence, nor a label put by
 *   hand);
 * - its value names this user and a key of `keys` other than the AWSCURRENT key;
 * - that key was created no earlier than the version ({@link keyMadeForVersion}): createSecret
 *   made it for the valueless version RotateSecret created, which no value put by hand does;
 * - it never held AWSCURRENT: it was created after the AWSCURRENT version, or it replaced (its
 *   `ReplacesVersionId`) the AWSCURRENT version or the version the AWSCURRENT value replaced
 *   (not whichever version carries AWSPREVIOUS: a label anyone who may stage labels can move).
 *   Had it become AWSCURRENT since, it would carry AWSCURRENT or AWSPREVIOUS now, or a later
 *   rotation would have named it (and deleted its key as AWSPREVIOUS); only moves of AWSCURRENT
 *   by hand back to older versions escape this.
 */
const findAbandonedKeys = async (
  context: StepContext,
  keys: readonly AccessKeyMetadata[],
  current: AccessKeySecretValue,
): Promise<ReadonlySet<string>> => {
  const { services, event, userName } = context;
  const currentAccessKeyId = current.credentials?.accessKeyId;
  const candidates = new Map(
    keys
      .filter((key) => key.accessKeyId !== currentAccessKeyId)
      .map((key) => [key.accessKeyId, key]),
  );
  const found = new Set<string>();
  if (candidates.size === 0) return found;
  const versions = await services.secrets.listVersions(event.SecretId, { includeDeprecated: true });
  const holder = (stage: string): SecretVersionInfo | undefined =>
    versions.find((version) => version.stages.includes(stage));
  const currentVersion = holder(AWSCURRENT);
  const currentCreated = currentVersion?.createdDate?.getTime();
  if (currentVersion === undefined || currentCreated === undefined) return found;
  const lineage = new Set(
    // Not the AWSPREVIOUS label's holder: anyone who may stage labels can move it to the version a
    // key in use replaced, which would make that key's own version look abandoned.
    [currentVersion.versionId, current.replacesVersionId].filter((id) => id !== undefined),
  );
  const unlabelled = versions
    .filter(
      (version) =>
        version.versionId !== event.ClientRequestToken &&
        version.createdDate !== undefined &&
        // No label but those a rotation in progress leaves (not the rollback's fence).
        version.stages.every((stage) => stage === AWSPENDING || stage === TESTED_STAGE),
    )
    .sort((left, right) => (right.createdDate?.getTime() ?? 0) - (left.createdDate?.getTime() ?? 0))
    .slice(0, ABANDONED_VERSIONS_READ);
  for (const version of unlabelled) {
    let value: AccessKeySecretValue | undefined;
    try {
      value = await readSecretValue(context, { versionId: version.versionId });
    } catch (error) {
      // A value that is not this user's, or not ours at all, proves nothing: skip it.
      if (error instanceof InvalidSecretValueError || error instanceof SecretBindingError) continue;
      throw error;
    }
    const key = candidates.get(value?.credentials?.accessKeyId ?? '');
    const created = version.createdDate;
    if (value?.userName !== userName || key === undefined || created === undefined) continue;
    const neverCurrent =
      created.getTime() > currentCreated ||
      (value.replacesVersionId !== undefined && lineage.has(value.replacesVersionId));
    if (neverCurrent && keyMadeForVersion(key.createDate, created)) found.add(key.accessKeyId);
  }
  return found;
};

/**
 * How many times createSecret lists and makes room again after CreateAccessKey hits the two-key
 * limit. Each time means a key appeared since the last listing: one made by hand, or one created
 * by an attempt of ours whose answer was lost (a timeout after IAM acted: the SDK's retry then
 * meets the limit). Two covers two lost answers in one step; beyond that the step fails and
 * Secrets Manager's retry starts over.
 */
const CREATE_RECONCILIATIONS = 2;

const createAccessKeyWithRoom = async (
  context: StepContext,
  current: AccessKeySecretValue,
): Promise<AccessKeyCredentials> => {
  const { services, log, userName } = context;
  const currentAccessKeyId = current.credentials?.accessKeyId;
  let kept = await makeRoomForNewKey(context, current, await services.iam.listAccessKeys(userName));
  let created: CreatedAccessKey | undefined;
  for (let reconciled = 0; created === undefined; reconciled += 1) {
    try {
      created = await services.iam.createAccessKey(userName);
    } catch (error) {
      if (errorName(error) !== 'LimitExceededException') throw error;
      if (reconciled === CREATE_RECONCILIATIONS) {
        throw new PendingAccessKeyError(
          `createSecret: IAM user ${userName} still has ${ACCESS_KEYS_PER_USER} access keys after reconciling ${String(reconciled)} times (a key too new to be listed yet?); expected room for one more. Nothing was created; the rotation will be retried`,
          { cause: error },
        );
      }
      // Someone, or an attempt of ours whose answer was lost (its key and secret with it), added
      // a key since we listed: list again and make room again.
      log.warn('createSecret: CreateAccessKey hit the two-key limit; reconciling', {
        userName,
        reconciliation: reconciled + 1,
        of: CREATE_RECONCILIATIONS,
      });
      kept = await makeRoomForNewKey(context, current, await listAllKeys(context));
    }
  }
  if (created.retried) {
    await removeKeysCreatedAlongside(context, created.credentials, kept, currentAccessKeyId);
  }
  return created.credentials;
};

/**
 * The user's keys after a LimitExceeded: all of them, once IAM lists them. A key created a
 * moment ago (by hand, or by a concurrent attempt) counts against the quota before listings
 * show it, so while fewer than two keys are listed, list again after the confirmation delays.
 */
const listAllKeys = async (context: StepContext): Promise<AccessKeyMetadata[]> => {
  const { services, userName, deadline, log } = context;
  let keys = await services.iam.listAccessKeys(userName);
  for (const delay of ABSENCE_CONFIRMATION_DELAYS_MS) {
    if (keys.length >= ACCESS_KEYS_PER_USER || services.clock.now() + delay > deadline) break;
    log.info('createSecret: IAM lists fewer keys than its quota counts; listing again', {
      listed: keys.length,
      retryInMs: delay,
    });
    await services.clock.sleep(delay);
    keys = await services.iam.listAccessKeys(userName);
  }
  return keys;
};

/**
 * When the SDK retried CreateAccessKey (a timeout after IAM created the key, say), an earlier
 * attempt may have created a key whose secret never arrived. With room for two keys no
 * LimitExceeded reveals it, so look: a key that is neither the one returned nor one kept
 * before the call appeared during it, and nobody can use it.
 */
const removeKeysCreatedAlongside = async (
  context: StepContext,
  created: AccessKeyCredentials,
  kept: ReadonlySet<string>,
  currentAccessKeyId: string | undefined,
): Promise<void> => {
  const keys = await context.services.iam.listAccessKeys(context.userName);
  for (const key of keys) {
    if (key.accessKeyId === created.accessKeyId || kept.has(key.accessKeyId)) continue;
    await removeAccessKey(context, key, currentAccessKeyId, 'created by a retried CreateAccessKey');
  }
};

/** After a failed PutSecretValue (a timeout, say), checks whether the value landed anyway. */
const wasStoredDespite = async (
  context: StepContext,
  created: AccessKeyCredentials,
): Promise<boolean> => {
  try {
    const pending = await readSecretValue(context, {
      versionId: context.event.ClientRequestToken,
      versionStage: AWSPENDING,
    });
    return pending?.credentials?.accessKeyId === created.accessKeyId;
  } catch {
    return false;
  }
};

/** Removes the new key whose secret could not be stored: nobody can ever use it. */
const deleteUnstoredKey = async (
  context: StepContext,
  created: AccessKeyCredentials,
): Promise<void> => {
  try {
    await removeAccessKey(
      context,
      { accessKeyId: created.accessKeyId, status: 'Active' },
      undefined,
      'its secret could not be stored',
    );
  } catch (cleanupError) {
    // The next attempt finds the key by its creation date and removes it.
    context.log.error('createSecret: could not delete the unstored access key', {
      accessKeyId: created.accessKeyId,
      errorName: errorName(cleanupError),
    });
  }
};
