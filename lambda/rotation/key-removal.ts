import { ignoreNoSuchEntity } from '../aws/aws-error.js';
import type { AccessKeyLastUse, AccessKeyMetadata } from '../aws/iam-access-key-store.js';
import { AccessKeyInUseError, RotationError } from '../errors.js';
import { findCurrentVersionId } from './guard.js';
import {
  describeKeyUse,
  keysAwaitingLastUse,
  needsOrphanCutoff,
  noRoomMessage,
  planKeyRemoval,
  staleBefore,
} from './key-plan.js';
import { readPreviousAccessKeyId, type StepContext } from './step-context.js';

/**
 * Deactivates (if Active) and then deletes one key of the bound user. An Active key is never
 * deleted directly: should the delete fail, the key is at least disabled. The AWSCURRENT key is
 * refused outright. A key already gone (NoSuchEntity) is fine.
 */
export const removeAccessKey = async (
  context: StepContext,
  key: { readonly accessKeyId: string; readonly status?: string },
  currentAccessKeyId: string | undefined,
  reason: string,
): Promise<void> => {
  const { services, log, userName } = context;
  if (key.accessKeyId === currentAccessKeyId) {
    throw new RotationError(
      `${context.event.Step}: refusing to remove access key ${key.accessKeyId}: it is the AWSCURRENT key`,
    );
  }
  const existed = await ignoreNoSuchEntity(async () => {
    if (key.status !== 'Inactive' && key.status !== 'Expired') {
      await services.iam.deactivateAccessKey(userName, key.accessKeyId);
    }
    await services.iam.deleteAccessKey(userName, key.accessKeyId);
  });
  if (existed) context.measurements.keysDeleted += 1;
  log.info(
    existed
      ? `${context.event.Step}: removed access key`
      : `${context.event.Step}: access key to remove does not exist (already gone, or not this user's)`,
    { accessKeyId: key.accessKeyId, previousStatus: key.status, reason },
  );
};

export interface RoomOptions {
  /** The AccessKeyId stored in AWSCURRENT: never removed. */
  readonly currentAccessKeyId: string | undefined;
  /** Slots held by keys left out of `keys` that stay (the key of a resumed rotation). */
  readonly reservedSlots: number;
  /** Slots needed afterwards: 1 before CreateAccessKey, 0 to only tidy up. */
  readonly slotsNeeded: number;
  /** Keys of abandoned versions of this secret, removed whatever their last use. */
  readonly abandonedKeyIds?: ReadonlySet<string>;
}

/**
 * Plans (see {@link planKeyRemoval}) and performs the removal of the user's keys that must go,
 * asking IAM for the last use of the keys whose fate depends on it.
 *
 * @returns the ids of the keys that remain
 * @throws AccessKeyInUseError before any change, when room is needed and only keys that may be
 *   in use could make it; the message names them with their last use and what to do
 */
export const makeRoom = async (
  context: StepContext,
  keys: readonly AccessKeyMetadata[],
  options: RoomOptions,
): Promise<ReadonlySet<string>> => {
  const { services, event, userName } = context;
  const { currentAccessKeyId } = options;
  const activeOther = keys.some(
    (key) => key.status === 'Active' && key.accessKeyId !== currentAccessKeyId,
  );
  const previousAccessKeyId = activeOther
    ? await readPreviousAccessKeyId(context, 'treating its key as one the secret does not hold')
    : undefined;
  let orphanCutoff: Date | undefined;
  if (needsOrphanCutoff(keys, currentAccessKeyId)) {
    const currentVersionId = findCurrentVersionId(context.secret);
    orphanCutoff =
      currentVersionId === undefined
        ? undefined
        : await services.secrets.getVersionCreatedDate(event.SecretId, currentVersionId);
  }
  const base = { ...options, keys, previousAccessKeyId, orphanCutoff };
  const lastUse = new Map<string, AccessKeyLastUse>();
  for (const key of keysAwaitingLastUse(base)) {
    lastUse.set(
      key.accessKeyId,
      await services.iam.getAccessKeyLastUsed(userName, key.accessKeyId),
    );
  }
  const plan = planKeyRemoval({
    ...base,
    lastUse,
    staleBefore: staleBefore(services.clock.now(), context.settings.staleKeyDays),
  });
  if (plan.kind === 'no-room') {
    throw new AccessKeyInUseError(
      noRoomMessage({
        step: event.Step,
        userName,
        keyCount: keys.length + options.reservedSlots,
        blocking: plan.blocking,
        staleKeyDays: context.settings.staleKeyDays,
        secretId: context.secret.arn,
      }),
    );
  }
  for (const removal of plan.removals) {
    const reason =
      removal.reason === 'unused' || removal.reason === 'orphan'
        ? `${removal.reason} (${describeKeyUse(removal.lastUse)})`
        : removal.reason;
    await removeAccessKey(context, removal.key, currentAccessKeyId, reason);
  }
  const removed = new Set(plan.removals.map((removal) => removal.key));
  return new Set(keys.filter((key) => !removed.has(key)).map((key) => key.accessKeyId));
};
