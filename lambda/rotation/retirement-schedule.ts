import { createHash } from 'node:crypto';
import { AWSPREVIOUS } from '../aws/secrets-manager-secret-store.js';
import { RotationError } from '../errors.js';
import { serializeRetireEvent } from '../event.js';
import type { GracePeriodSettings } from '../settings.js';
import type { StepContext } from './step-context.js';

/**
 * The name of the schedule that retires the previous key of the rotation `token` of the secret
 * `secretArn`: the same for every attempt of that rotation's finishSecret, so a retry finds
 * the schedule already there (ConflictException) instead of creating a second one. The
 * secret's ARN is part of it because a ClientRequestToken is chosen by the caller of
 * RotateSecret and need not be unique across secrets.
 */
export const retirementScheduleName = (secretArn: string, token: string): string =>
  `retire-${createHash('sha256').update(`${secretArn}\n${token}`).digest('hex').slice(0, 40)}`;

/** The end of the grace period, rounded up to the second (at() has no fractions). */
export const gracePeriodEnd = (now: number, seconds: number): Date =>
  new Date(Math.ceil((now + seconds * 1_000) / 1_000) * 1_000);

/** The key that just became AWSPREVIOUS, and its version. */
export interface PreviousKey {
  readonly versionId: string;
  readonly accessKeyId: string;
}

/**
 * finishSecret with a grace period: instead of deactivating the previous key, create the
 * one-time schedule that invokes this function with the retirement event at the end of the
 * grace period. Idempotent by the schedule's name. The event names the rotation (its token, the
 * version now AWSCURRENT) and the deadline: it acts only while that version is still AWSCURRENT
 * and never before the deadline, so a rollback or a newer rotation makes it a no-op and a later
 * change of the grace period leaves it as it was scheduled.
 */
export const scheduleRetirement = async (
  context: StepContext,
  gracePeriod: GracePeriodSettings,
  previous: PreviousKey,
): Promise<void> => {
  const { services, log, secret, userName, event } = context;
  if (context.functionArn === undefined) {
    throw new RotationError(
      `finishSecret: a grace period is set but the invocation has no Lambda context naming the function's ARN (invokedFunctionArn), the target of the schedule that deactivates access key ${previous.accessKeyId}; AWSPENDING is kept, so the rotation is retried`,
    );
  }
  const name = retirementScheduleName(secret.arn, event.ClientRequestToken);
  const at = gracePeriodEnd(services.clock.now(), gracePeriod.seconds);
  const result = await services.scheduler.createOneTimeSchedule({
    name,
    groupName: gracePeriod.scheduleGroup,
    at,
    targetArn: context.functionArn,
    roleArn: gracePeriod.schedulerRoleArn,
    input: serializeRetireEvent({
      SecretId: secret.arn,
      VersionId: previous.versionId,
      AccessKeyId: previous.accessKeyId,
      RotationVersionId: event.ClientRequestToken,
      NotBefore: at,
    }),
    description:
      `iam-key-rotation: deactivates access key ${previous.accessKeyId} of IAM user ${userName} if it is still ${AWSPREVIOUS} (version ${previous.versionId}) of secret ${secret.arn} when its grace period ends`.slice(
        0,
        512,
      ),
  });
  log.info(
    result === 'created'
      ? 'finishSecret: the previous access key stays Active for its grace period; scheduled its deactivation'
      : 'finishSecret: the previous access key stays Active for its grace period; its deactivation was already scheduled',
    {
      accessKeyId: previous.accessKeyId,
      previousVersionId: previous.versionId,
      scheduleName: name,
      scheduleGroup: gracePeriod.scheduleGroup,
      gracePeriodSeconds: gracePeriod.seconds,
      ...(result === 'created' ? { deactivateAt: at.toISOString() } : {}),
    },
  );
};
