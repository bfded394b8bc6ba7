import { createHash } from 'node:crypto';
import type { OneTimeSchedule } from '../aws/scheduler-retirement-schedules.js';
import { AWSPENDING, AWSPREVIOUS } from '../aws/secrets-manager-secret-store.js';
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
  const schedule = {
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
  };
  const result = await services.scheduler.createOneTimeSchedule({
    ...schedule,
    description:
      `iam-key-rotation: deactivates access key ${previous.accessKeyId} of IAM user ${userName} if it is still ${AWSPREVIOUS} (version ${previous.versionId}) of secret ${secret.arn} when its grace period ends`.slice(
        0,
        512,
      ),
  });
  if (result === 'exists') {
    const problem = await differenceFromOwn(context, schedule, gracePeriod.seconds);
    if (problem !== undefined) {
      throw new RotationError(
        `finishSecret: the schedule ${name} in group ${schedule.groupName} that is to retire access key ${previous.accessKeyId} of secret ${secret.arn} exists already but is not the one this rotation creates: ${problem}. Someone who may create schedules in that group made or changed it. Delete it (aws scheduler delete-schedule --name ${name} --group-name ${schedule.groupName}) and the retry of this step creates the right one; until then ${AWSPENDING} is kept, the rotation is retried and the previous key stays Active`,
      );
    }
  }
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

/**
 * How the schedule of that name differs from the one this rotation creates (`undefined`: it is
 * one of its attempts'). CreateSchedule's ConflictException only says the name is taken: someone
 * allowed to create schedules in the group could have taken it first, with another target,
 * event or time (the key then never retired), or disabled it. An earlier attempt of this
 * rotation made the same schedule but for its time: the end of the grace period counted from
 * that attempt, so no earlier than from the version's creation and no later than from now.
 */
const differenceFromOwn = async (
  context: StepContext,
  own: Omit<OneTimeSchedule, 'description'>,
  graceSeconds: number,
): Promise<string | undefined> => {
  const { services, event } = context;
  const found = await services.scheduler.getOneTimeSchedule(own.name, own.groupName);
  if (found === undefined) {
    throw new RotationError(
      `finishSecret: CreateSchedule found the schedule ${own.name} in group ${own.groupName} already there, but GetSchedule no longer finds it (it fired, or was deleted meanwhile); ${AWSPENDING} is kept, so the retry of this step creates it`,
    );
  }
  if (found.targetArn !== own.targetArn) return `it invokes ${found.targetArn}, not this function`;
  if (found.roleArn !== own.roleArn) return `it runs as ${found.roleArn}, not ${own.roleArn}`;
  if (found.state !== 'ENABLED' || found.flexibleTimeWindowMode !== 'OFF') {
    return `it is ${found.state} with a ${found.flexibleTimeWindowMode} time window, not ENABLED and OFF`;
  }
  if (found.otherSettings.length > 0) return `it has ${found.otherSettings.join(', ')}`;
  const mine = JSON.parse(own.input) as Record<string, unknown>;
  let theirs: Record<string, unknown> = {};
  try {
    theirs = JSON.parse(found.input) as Record<string, unknown>;
  } catch {
    // Not JSON: differs below.
  }
  const fields = new Set([...Object.keys(mine), ...Object.keys(theirs)]);
  const differing = [...fields].filter(
    (field) => field !== 'NotBefore' && theirs[field] !== mine[field],
  );
  if (differing.length > 0) return `its event differs in ${differing.join(', ')}`;
  const created = await services.secrets.getVersionCreatedDate(
    event.SecretId,
    event.ClientRequestToken,
  );
  // A second of slack for the clocks of Secrets Manager and the function.
  const earliest = gracePeriodEnd((created?.getTime() ?? 0) - 1_000, graceSeconds);
  if (
    found.at === undefined ||
    theirs.NotBefore !== found.at.toISOString() ||
    found.at.getTime() < earliest.getTime() ||
    found.at.getTime() > own.at.getTime()
  ) {
    return `it fires at ${found.at?.toISOString() ?? 'a time that is not at(...)'} with NotBefore ${String(theirs.NotBefore)}, not at the end of this rotation's grace period (${earliest.toISOString()} to ${own.at.toISOString()}, the same in both)`;
  }
  return undefined;
};
