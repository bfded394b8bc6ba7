import type { Logger } from '@aws-lambda-powertools/logger';
import { ignoreNoSuchEntity } from '../aws/aws-error.js';
import {
  AWSCURRENT,
  AWSPREVIOUS,
  type SecretMetadata,
  type VersionSelector,
} from '../aws/secrets-manager-secret-store.js';
import { RotationStateError, SecretBindingError } from '../errors.js';
import type { RetirePreviousKeyEvent } from '../event.js';
import type { InvocationMeasurements } from '../invocation-metrics.js';
import { RETIRE_OPERATION } from '../observability.js';
import { ROLLBACK_STAGE } from './binding.js';
import { findCurrentVersionId, resolveBoundUser } from './guard.js';
import { gracePeriodEnd } from './retirement-schedule.js';
import { verifyOwnership } from './ownership.js';
import { parseSecretValue, type AccessKeySecretValue } from './secret-value.js';
import type { RotationServices } from './step-context.js';

export interface RetireContext {
  readonly event: RetirePreviousKeyEvent;
  readonly services: RotationServices;
  /** The grace period now configured, if any (see the check of a later rotation's grace). */
  readonly gracePeriodSeconds: number | undefined;
  readonly log: Logger;
  readonly measurements: InvocationMeasurements;
}

const OP = RETIRE_OPERATION;

const describeSelector = (selector: VersionSelector): string =>
  'versionId' in selector
    ? `${selector.versionId} (${selector.versionStage ?? 'by id'})`
    : selector.versionStage;

/**
 * One version's value, validated, that must name the bound user, with the version's creation
 * date; undefined when it has none.
 */
const readValue = async (
  context: RetireContext,
  secret: SecretMetadata,
  userName: string,
  selector: VersionSelector,
): Promise<(AccessKeySecretValue & { readonly createdDate?: Date }) | undefined> => {
  const version = await context.services.secrets.getSecretVersion(secret.arn, selector);
  if (version === undefined) return undefined;
  const value = parseSecretValue(version.secretString, {
    secretId: secret.arn,
    version: describeSelector(selector),
  });
  if (value.userName !== userName) {
    throw new SecretBindingError(
      `${OP}: secret ${secret.arn} version ${describeSelector(selector)} names UserName ${value.userName}, but the secret is bound to IAM user ${userName}; nothing was changed`,
    );
  }
  return version.createdDate === undefined ? value : { ...value, createdDate: version.createdDate };
};

/**
 * Why the event has nothing left to do, judged on the secret's labels: its version is no longer
 * AWSPREVIOUS (a rollback made it AWSCURRENT again, a newer rotation or a value put by hand
 * superseded it), or `undefined` when it still is.
 */
const supersededBecause = (secret: SecretMetadata, versionId: string): string | undefined => {
  const rollback = Object.entries(secret.versionIdsToStages).find(([, labels]) =>
    labels.includes(ROLLBACK_STAGE),
  )?.[0];
  if (rollback !== undefined) {
    return `a rollback is in progress (version ${rollback} carries ${ROLLBACK_STAGE})`;
  }
  const stages = secret.versionIdsToStages[versionId];
  if (stages?.includes(AWSPREVIOUS) === true) return undefined;
  if (stages?.includes(AWSCURRENT) === true) {
    return `version ${versionId} is ${AWSCURRENT} again (rolled back within the grace period)`;
  }
  return `version ${versionId} is no longer ${AWSPREVIOUS}${
    stages === undefined || stages.length === 0
      ? ' (a newer rotation or a value put by hand superseded it)'
      : ` (it carries [${stages.join(', ')}])`
  }`;
};

/** Which rotation the event belongs to, or why it has nothing left to do. */
type RotationOfEvent =
  | { readonly kind: 'rotation'; readonly versionId: string }
  | { readonly kind: 'none'; readonly why: string };

/**
 * The event's rotation: `RotationVersionId`, which must still be AWSCURRENT. An event of the
 * first format (no `RotationVersionId`) belongs to the AWSCURRENT version only when that
 * version's value names the event's version as the one it replaced (checked once it is read).
 */
const rotationOfEvent = (
  secret: SecretMetadata,
  event: RetirePreviousKeyEvent,
): RotationOfEvent => {
  const currentVersionId = findCurrentVersionId(secret);
  if (currentVersionId === undefined) {
    return { kind: 'none', why: `no version carries ${AWSCURRENT}` };
  }
  if (event.RotationVersionId !== undefined && event.RotationVersionId !== currentVersionId) {
    return {
      kind: 'none',
      why: `the rotation that scheduled it (version ${event.RotationVersionId}) is no longer ${AWSCURRENT}: version ${currentVersionId} is (a rollback, a value put by hand or a newer rotation)`,
    };
  }
  return { kind: 'rotation', versionId: currentVersionId };
};

/**
 * The grace period's end: deactivates the event's access key, but only while
 * - the rotation that scheduled it (`RotationVersionId`) is still AWSCURRENT: a rollback (which
 *   writes a new version), a value put by hand or a newer rotation makes the event a no-op;
 * - its version is still AWSPREVIOUS and holds that key, and the key is not the AWSCURRENT key;
 * - the deadline has passed: the later of the event's `NotBefore` and the AWSCURRENT version's
 *   creation plus the grace period recorded in its value (`GracePeriodSeconds`, else the one
 *   configured now), rounded up to the second. An event sent straight to the function with an
 *   earlier `NotBefore` therefore retires nothing early; a later change of the grace period
 *   leaves a scheduled retirement as it was;
 * - the AWSCURRENT key is Active: otherwise deactivating the previous key would leave the user
 *   without a working key, and the step fails (nothing changed) so that the Errors alarm shows it.
 * The secret's user must be owned by the secret (its ownership tag). The labels are read once
 * more right before the deactivation. A key already Inactive or deleted is a no-op, so the event
 * can be delivered any number of times. When the key signed a request after the AWSCURRENT key
 * was created, a consumer still uses it: a warning names the service and region,
 * `OldKeyStillUsed` is 1 (the stack alarms on it), and the key is deactivated anyway, since the
 * grace period was the promise.
 */
export const retirePreviousKey = async (context: RetireContext): Promise<void> => {
  const { event, services, log, measurements } = context;
  const keyId = event.AccessKeyId;
  const secret = await services.secrets.describeSecret(event.SecretId);
  const userName = resolveBoundUser(secret);
  const superseded = supersededBecause(secret, event.VersionId);
  if (superseded !== undefined) {
    log.info(`${OP}: ${superseded}; nothing to do, the key is left as it is`);
    return;
  }
  const rotation = rotationOfEvent(secret, event);
  if (rotation.kind === 'none') {
    log.info(`${OP}: ${rotation.why}; nothing to do, the key is left as it is`);
    return;
  }
  const currentVersionId = rotation.versionId;
  await verifyOwnership(services.iam, secret, userName);
  const previous = await readValue(context, secret, userName, {
    versionId: event.VersionId,
    versionStage: AWSPREVIOUS,
  });
  const storedKeyId = previous?.credentials?.accessKeyId;
  if (storedKeyId !== keyId) {
    throw new RotationStateError(
      `${OP}: secret ${secret.arn} version ${event.VersionId} holds ${storedKeyId === undefined ? 'no access key' : `access key ${storedKeyId}`}, not ${keyId} as the event says; refusing to touch either, nothing was changed`,
    );
  }
  const current = await readValue(context, secret, userName, {
    versionId: currentVersionId,
    versionStage: AWSCURRENT,
  });
  const currentKeyId = current?.credentials?.accessKeyId;
  if (currentKeyId === keyId) {
    log.info(`${OP}: the key is the ${AWSCURRENT} key; nothing to do, it stays Active`);
    return;
  }
  const replaces = current?.replacesVersionId;
  if (
    replaces !== event.VersionId &&
    (replaces !== undefined || event.RotationVersionId === undefined)
  ) {
    log.info(
      `${OP}: the ${AWSCURRENT} version ${currentVersionId} ${replaces === undefined ? 'does not say which version it replaced' : `replaced version ${replaces}`}, not version ${event.VersionId}: the event does not belong to the rotation that made it ${AWSCURRENT}; nothing to do, the key is left as it is (the next rotation deletes it)`,
    );
    return;
  }
  if (!deadlinePassed(context, currentVersionId, current)) return;
  const keys = await services.iam.listAccessKeys(userName);
  const key = keys.find((candidate) => candidate.accessKeyId === keyId);
  if (key === undefined) {
    log.info(
      `${OP}: IAM user ${userName} has no access key ${keyId} any more (deleted by a newer rotation or by hand); nothing to do`,
    );
    return;
  }
  if (key.status !== 'Active') {
    log.info(`${OP}: the key is already ${key.status}; nothing to do`);
    return;
  }
  const currentKey = keys.find((candidate) => candidate.accessKeyId === currentKeyId);
  if (currentKey?.status !== 'Active') {
    throw new RotationStateError(
      `${OP}: the ${AWSCURRENT} version ${currentVersionId} of secret ${secret.arn} holds ${
        currentKeyId === undefined
          ? 'no access key'
          : `access key ${currentKeyId}, which ${currentKey === undefined ? `IAM user ${userName} no longer has` : `is ${currentKey.status}`}`
      }: deactivating the previous access key ${keyId} would leave the user without a working key, so it stays Active; nothing was changed. Make the ${AWSCURRENT} key work again (aws iam update-access-key --user-name ${userName} --access-key-id ${currentKeyId ?? '<id>'} --status Active) or roll back (iam-key-rotation rollback ${secret.name})`,
    );
  }
  const lastUse = await services.iam.getAccessKeyLastUsed(userName, keyId);
  const usedAt = lastUse.lastUsedDate;
  measurements.oldKeyStillUsed =
    usedAt !== undefined && usedAt.getTime() > currentKey.createDate.getTime();
  if (usedAt !== undefined && measurements.oldKeyStillUsed) {
    log.warn(
      `${OP}: the previous access key is still used: it signed a request for ${lastUse.serviceName ?? 'an unknown service'} in ${lastUse.region ?? 'an unknown region'} at ${usedAt.toISOString()}, after the ${AWSCURRENT} key ${currentKey.accessKeyId} was created (${currentKey.createDate.toISOString()}); deactivating it anyway, as the grace period has ended. Move that consumer to the secret's ${AWSCURRENT} value`,
      {
        userName,
        serviceName: lastUse.serviceName,
        region: lastUse.region,
        lastUsedDate: usedAt.toISOString(),
        currentAccessKeyId: currentKey.accessKeyId,
      },
    );
  }

  // Read the labels once more right before acting: a rollback that began meanwhile wins.
  const now = await services.secrets.describeSecret(event.SecretId);
  const movedAway = supersededBecause(now, event.VersionId);
  if (movedAway !== undefined || findCurrentVersionId(now) !== currentVersionId) {
    log.info(
      `${OP}: ${movedAway ?? `${AWSCURRENT} moved while the key was checked`}; nothing to do, the key is left as it is`,
    );
    return;
  }
  const found = await ignoreNoSuchEntity(() => services.iam.deactivateAccessKey(userName, keyId));
  log.info(
    found
      ? `${OP}: deactivated the previous access key (${AWSPREVIOUS}) at the end of its grace period`
      : `${OP}: the previous access key no longer exists; nothing to do`,
    { userName },
  );
};

/**
 * Whether the grace period has ended: now is at or after the event's `NotBefore` and the
 * AWSCURRENT version's creation date (GetSecretValue's CreatedDate) plus the grace period its value recorded (or, for a value
 * of an earlier release, the one configured now), rounded up to the second. Logs why not.
 */
const deadlinePassed = (
  context: RetireContext,
  currentVersionId: string,
  current: { readonly createdDate?: Date; readonly gracePeriodSeconds?: number } | undefined,
): boolean => {
  const { event, services, log } = context;
  const createdDate = current?.createdDate;
  if (createdDate === undefined) {
    log.info(
      `${OP}: Secrets Manager gave no creation date for version ${currentVersionId}, so the grace period's end cannot be judged; nothing to do, the key is left as it is`,
    );
    return false;
  }
  const graceSeconds = current?.gracePeriodSeconds ?? context.gracePeriodSeconds ?? 0;
  const notBefore = Math.max(
    event.NotBefore === undefined ? Number.NEGATIVE_INFINITY : Date.parse(event.NotBefore),
    gracePeriodEnd(createdDate.getTime(), graceSeconds).getTime(),
  );
  const now = services.clock.now();
  if (now >= notBefore) return true;
  const message = `${OP}: the grace period ends at ${new Date(notBefore).toISOString()} (${String(graceSeconds)} s after version ${currentVersionId} was created${event.NotBefore === undefined ? '' : `, and not before ${event.NotBefore}`}), not yet`;
  if (event.RotationVersionId === undefined) {
    // An event of the first format: its schedule judged with the setting of its day.
    log.warn(
      `${message}; this schedule of an earlier release fired early for the grace period now in force, so the key stays Active until the next rotation deletes it (or deactivate it by hand)`,
    );
  } else {
    log.warn(
      `${message}: an event sent before its time (not by its schedule?); nothing was changed`,
    );
  }
  return false;
};
