import type { AccessKeyMetadata, CreatedAccessKey } from '../aws/iam-access-key-store.js';
import { errorName, ignoreNoSuchEntity } from '../aws/aws-error.js';
import { AWSCURRENT, AWSPENDING } from '../aws/secrets-manager-secret-store.js';
import { PendingAccessKeyError, RotationError, RotationStateError } from '../errors.js';
import type { AccessKeyCredentials } from './access-key-credentials.js';
import { findCurrentVersionId } from './guard.js';
import { ACCESS_KEYS_PER_USER, needsOrphanCutoff, planKeyRemoval } from './key-plan.js';
import { serializeSecretValue } from './secret-value.js';
import { readSecretValue, type StepContext } from './step-context.js';

/**
 * createSecret: create the user's new access key and store it in the token's AWSPENDING
 * version at once. Safe to run again: a retry finds the stored key and stops, and a key left
 * by an attempt that died before storing it is found and removed.
 */
export const createSecret = async (context: StepContext): Promise<void> => {
  const { event, services, log, userName } = context;
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
  const pendingAccessKeyId = pending?.credentials?.accessKeyId;
  if (pendingAccessKeyId !== undefined && pendingAccessKeyId !== currentAccessKeyId) {
    const keys = await services.iam.listAccessKeys(userName);
    if (keys.some((key) => key.accessKeyId === pendingAccessKeyId)) {
      // A resumed rotation: the key is stored. Still remove what a first pass would have
      // (a key made by hand or left behind since), so the rotation ends without strays.
      await makeRoom(
        context,
        currentAccessKeyId,
        keys.filter((key) => key.accessKeyId !== pendingAccessKeyId),
      );
      log.info('createSecret: AWSPENDING already holds a new access key; nothing to create', {
        accessKeyId: pendingAccessKeyId,
      });
      return;
    }
    // The stored key was deleted behind our back. The version's value cannot be replaced
    // under the same token, so give this rotation up cleanly: without AWSPENDING the next
    // RotateSecret can start a fresh one.
    await services.secrets.moveStage({
      secretId: event.SecretId,
      versionStage: AWSPENDING,
      removeFromVersionId: event.ClientRequestToken,
    });
    throw new PendingAccessKeyError(
      `createSecret: access key ${pendingAccessKeyId} stored in version ${event.ClientRequestToken} no longer exists for IAM user ${userName}; removed ${AWSPENDING} from that version so the next rotation can start`,
    );
  }

  const created = await createAccessKeyWithRoom(context, currentAccessKeyId);
  try {
    await services.secrets.putPendingSecretString({
      secretId: event.SecretId,
      clientRequestToken: event.ClientRequestToken,
      secretString: serializeSecretValue(userName, created),
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
  });
};

const createAccessKeyWithRoom = async (
  context: StepContext,
  currentAccessKeyId: string | undefined,
): Promise<AccessKeyCredentials> => {
  const { services, log, userName } = context;
  let kept = await makeRoom(
    context,
    currentAccessKeyId,
    await services.iam.listAccessKeys(userName),
  );
  let created: CreatedAccessKey | undefined;
  try {
    created = await services.iam.createAccessKey(userName);
  } catch (error) {
    if (errorName(error) !== 'LimitExceededException') throw error;
    // Someone (or a concurrent attempt) added a key since we listed: reconcile once.
    log.warn('createSecret: CreateAccessKey hit the two-key limit; reconciling once', {
      userName,
    });
  }
  if (created === undefined) {
    kept = await makeRoom(context, currentAccessKeyId, await services.iam.listAccessKeys(userName));
    try {
      created = await services.iam.createAccessKey(userName);
    } catch (error) {
      if (errorName(error) !== 'LimitExceededException') throw error;
      throw new PendingAccessKeyError(
        `createSecret: IAM user ${userName} still has ${ACCESS_KEYS_PER_USER} access keys after reconciling; expected room for one more`,
        { cause: error },
      );
    }
  }
  if (created.retried) {
    await removeKeysCreatedAlongside(context, created.credentials, kept, currentAccessKeyId);
  }
  return created.credentials;
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

const makeRoom = async (
  context: StepContext,
  currentAccessKeyId: string | undefined,
  keys: readonly AccessKeyMetadata[],
): Promise<ReadonlySet<string>> => {
  const { services, event } = context;
  let orphanCutoff: Date | undefined;
  if (needsOrphanCutoff(keys, currentAccessKeyId)) {
    const currentVersionId = findCurrentVersionId(context.secret);
    orphanCutoff =
      currentVersionId === undefined
        ? undefined
        : await services.secrets.getVersionCreatedDate(event.SecretId, currentVersionId);
  }
  const plan = planKeyRemoval({ keys, currentAccessKeyId, orphanCutoff });
  for (const key of plan.orphans) {
    await removeAccessKey(context, key, currentAccessKeyId, 'orphan left by an earlier attempt');
  }
  for (const key of plan.retire) {
    await removeAccessKey(context, key, currentAccessKeyId, 'not the AWSCURRENT key');
  }
  const removed = new Set([...plan.orphans, ...plan.retire]);
  return new Set(keys.filter((key) => !removed.has(key)).map((key) => key.accessKeyId));
};

const removeAccessKey = async (
  context: StepContext,
  key: AccessKeyMetadata,
  currentAccessKeyId: string | undefined,
  reason: string,
): Promise<void> => {
  const { services, log, userName } = context;
  if (key.accessKeyId === currentAccessKeyId) {
    throw new RotationError(
      `createSecret: refusing to remove access key ${key.accessKeyId}: it is the AWSCURRENT key`,
    );
  }
  await ignoreNoSuchEntity(async () => {
    if (key.status === 'Active') {
      await services.iam.deactivateAccessKey(userName, key.accessKeyId);
    }
    await services.iam.deleteAccessKey(userName, key.accessKeyId);
  });
  log.info('createSecret: removed access key', {
    accessKeyId: key.accessKeyId,
    previousStatus: key.status,
    reason,
  });
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

const deleteUnstoredKey = async (
  context: StepContext,
  created: AccessKeyCredentials,
): Promise<void> => {
  try {
    await context.services.iam.deleteAccessKey(context.userName, created.accessKeyId);
  } catch (cleanupError) {
    // The next attempt finds the key by its creation date and removes it.
    context.log.error('createSecret: could not delete the unstored access key', {
      accessKeyId: created.accessKeyId,
      errorName: errorName(cleanupError),
    });
  }
};
