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
import { findCurrentVersionId, resolveBoundUser } from './guard.js';
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
    ? `${selector.versionId} (${selector.versionStage})`
    : selector.versionStage;

/** One version's value, validated, that must name the bound user; undefined when it has none. */
const readValue = async (
  context: RetireContext,
  secret: SecretMetadata,
  userName: string,
  selector: VersionSelector,
): Promise<AccessKeySecretValue | undefined> => {
  const secretString = await context.services.secrets.getSecretString(secret.arn, selector);
  if (secretString === undefined) return undefined;
  const value = parseSecretValue(secretString, {
    secretId: secret.arn,
    version: describeSelector(selector),
  });
  if (value.userName !== userName) {
    throw new SecretBindingError(
      `${OP}: secret ${secret.arn} version ${describeSelector(selector)} names UserName ${value.userName}, but the secret is bound to IAM user ${userName}; nothing was changed`,
    );
  }
  return value;
};

/**
 * Why the event has nothing left to do, judged on the secret's labels: its version is no longer
 * AWSPREVIOUS (a rollback made it AWSCURRENT again, a newer rotation or a value put by hand
 * superseded it), or `undefined` when it still is.
 */
const supersededBecause = (secret: SecretMetadata, versionId: string): string | undefined => {
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

/**
 * The grace period's end: deactivates the event's access key, but only while it is still the key
 * of the event's version and that version is still AWSPREVIOUS of the secret, the secret's
 * user is owned by the secret (its ownership tag) and the key is that user's. A rollback or a
 * newer rotation makes the event a no-op (logged), as does a key already Inactive or deleted,
 * so the event can be delivered any number of times. When the key signed a request after the
 * AWSCURRENT key was created, a consumer still uses it: a warning names the service and
 * region, `OldKeyStillUsed` is 1 (the stack alarms on it), and the key is deactivated anyway,
 * since the grace period was the promise.
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
  const currentKeyId = (await readValue(context, secret, userName, { versionStage: AWSCURRENT }))
    ?.credentials?.accessKeyId;
  if (currentKeyId === keyId) {
    log.info(`${OP}: the key is the ${AWSCURRENT} key; nothing to do, it stays Active`);
    return;
  }
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
  // A key rolled back to and then made AWSPREVIOUS again by a later rotation has a newer
  // schedule; an older one must not cut that rotation's grace period short. The AWSCURRENT key
  // was created before the rotation that made this key AWSPREVIOUS scheduled its retirement.
  const { gracePeriodSeconds } = context;
  if (
    currentKey !== undefined &&
    gracePeriodSeconds !== undefined &&
    services.clock.now() < currentKey.createDate.getTime() + gracePeriodSeconds * 1_000
  ) {
    log.info(
      `${OP}: the grace period of the rotation that created the ${AWSCURRENT} key ${currentKey.accessKeyId} (${currentKey.createDate.toISOString()}) has not ended; that rotation's own schedule retires the key, nothing to do now`,
    );
    return;
  }
  if (currentKey === undefined) {
    log.info(
      `${OP}: the ${AWSCURRENT} key ${String(currentKeyId)} is not among the user's keys, so whether the previous key is still used after it cannot be judged`,
    );
  } else {
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
  }

  // Read the labels once more right before acting: a rollback that began meanwhile wins.
  const now = await services.secrets.describeSecret(event.SecretId);
  const movedAway = supersededBecause(now, event.VersionId);
  if (movedAway !== undefined || findCurrentVersionId(now) !== findCurrentVersionId(secret)) {
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
