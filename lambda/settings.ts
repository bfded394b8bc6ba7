import { DEFAULT_STALE_KEY_DAYS, STACK_ID_ENV, STALE_KEY_DAYS_ENV } from './rotation/binding.js';
import { InvalidSettingsError } from './errors.js';
import {
  GRACE_PERIOD_SECONDS_ENV,
  RETIREMENT_SCHEDULE_GROUP_ENV,
  RETIREMENT_SCHEDULER_ROLE_ARN_ENV,
} from './observability.js';

/**
 * Where finishSecret schedules the retirement of the previous key when a grace period is set:
 * an EventBridge Scheduler group of the stack and the role the scheduler assumes to invoke the
 * function.
 */
export interface GracePeriodSettings {
  /** Seconds the previous key stays Active after the new key became current. */
  readonly seconds: number;
  /** `RETIREMENT_SCHEDULE_GROUP`: the schedule group the one-time schedules go into. */
  readonly scheduleGroup: string;
  /** `RETIREMENT_SCHEDULER_ROLE_ARN`: the role EventBridge Scheduler assumes to invoke the function. */
  readonly schedulerRoleArn: string;
}

/** The function's settings, read once from its environment (set by the CDK stack). */
export interface RotationSettings {
  /**
   * `IAM_KEY_ROTATION_STACK_ID`: the id (ARN) of the CloudFormation stack that deployed the
   * function. Every step and every retirement acts only on a secret whose
   * `aws:cloudformation:stack-id` tag equals it: a secret this stack created.
   */
  readonly stackId: string;
  /**
   * A key the secret does not hold is deleted to make room only if it was never used or not
   * used for this many days (GetAccessKeyLastUsed).
   */
  readonly staleKeyDays: number;
  /**
   * The grace period of the previous key: finishSecret leaves it Active and schedules its
   * deactivation. Absent (GRACE_PERIOD_SECONDS unset or 0): finishSecret deactivates it at once.
   */
  readonly gracePeriod?: GracePeriodSettings;
}

export const MIN_STALE_KEY_DAYS = 1;
export const MAX_STALE_KEY_DAYS = 1000;

/** The longest grace period: the longest rotation interval (1000 days) less a second. */
export const MAX_GRACE_PERIOD_SECONDS = 1000 * 86_400 - 1;

/** EventBridge Scheduler's schedule group names: 1-64 of letters, digits, `-`, `_` and `.`. */
const SCHEDULE_GROUP_PATTERN = /^[\w.-]{1,64}$/;

/** An IAM role ARN (any partition), path allowed. */
const ROLE_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

/**
 * A CloudFormation stack id, in any partition: `arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>`.
 * Stack names are 1-128 characters of letters, digits and hyphens, starting with a letter.
 */
export const STACK_ID_PATTERN =
  /^arn:aws[a-z-]*:cloudformation:[a-z]{2}(-[a-z]+)+-\d:\d{12}:stack\/[A-Za-z][A-Za-z0-9-]{0,127}\/[A-Za-z0-9-]{1,128}$/;

type Environment = Readonly<Record<string, string | undefined>>;

const quoted = (raw: string): string => JSON.stringify(raw.slice(0, 80));

const parseStaleKeyDays = (environment: Environment): number => {
  const raw = environment[STALE_KEY_DAYS_ENV];
  if (raw === undefined || raw === '') return DEFAULT_STALE_KEY_DAYS;
  const days = /^\d{1,4}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isInteger(days) || days < MIN_STALE_KEY_DAYS || days > MAX_STALE_KEY_DAYS) {
    throw new InvalidSettingsError(
      `Environment variable ${STALE_KEY_DAYS_ENV} must be a whole number of days from ${MIN_STALE_KEY_DAYS} to ${MAX_STALE_KEY_DAYS}, got ${quoted(raw)}; fix the staleKeyDays setting of the stack and deploy again`,
    );
  }
  return days;
};

const parseStackId = (environment: Environment): string => {
  const raw = environment[STACK_ID_ENV] ?? '';
  if (!STACK_ID_PATTERN.test(raw)) {
    throw new InvalidSettingsError(
      `Environment variable ${STACK_ID_ENV} must be the id of the function's CloudFormation stack (arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>), got ${raw === '' ? 'nothing' : quoted(raw)}; the stack sets it to AWS::StackId: deploy the stack again instead of changing the function by hand`,
    );
  }
  return raw;
};

const FIX_GRACE_PERIOD = 'fix the gracePeriod setting of the stack and deploy again';

const parseGracePeriod = (environment: Environment): GracePeriodSettings | undefined => {
  const raw = environment[GRACE_PERIOD_SECONDS_ENV];
  if (raw === undefined || raw === '') return undefined;
  const seconds = /^\d{1,9}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_GRACE_PERIOD_SECONDS) {
    throw new InvalidSettingsError(
      `Environment variable ${GRACE_PERIOD_SECONDS_ENV} must be a whole number of seconds from 0 (no grace period) to ${MAX_GRACE_PERIOD_SECONDS}, got ${quoted(raw)}; ${FIX_GRACE_PERIOD}`,
    );
  }
  if (seconds === 0) return undefined;
  const scheduleGroup = environment[RETIREMENT_SCHEDULE_GROUP_ENV] ?? '';
  if (!SCHEDULE_GROUP_PATTERN.test(scheduleGroup)) {
    throw new InvalidSettingsError(
      `Environment variable ${RETIREMENT_SCHEDULE_GROUP_ENV} must name an EventBridge Scheduler schedule group (1-64 letters, digits, -, _ and .) when ${GRACE_PERIOD_SECONDS_ENV} is ${String(seconds)}, got ${scheduleGroup === '' ? 'nothing' : quoted(scheduleGroup)}; ${FIX_GRACE_PERIOD}`,
    );
  }
  const schedulerRoleArn = environment[RETIREMENT_SCHEDULER_ROLE_ARN_ENV] ?? '';
  if (!ROLE_ARN_PATTERN.test(schedulerRoleArn)) {
    throw new InvalidSettingsError(
      `Environment variable ${RETIREMENT_SCHEDULER_ROLE_ARN_ENV} must be an IAM role ARN (arn:aws:iam::<account>:role/<name>) when ${GRACE_PERIOD_SECONDS_ENV} is ${String(seconds)}, got ${schedulerRoleArn === '' ? 'nothing' : quoted(schedulerRoleArn)}; ${FIX_GRACE_PERIOD}`,
    );
  }
  return { seconds, scheduleGroup, schedulerRoleArn };
};

/**
 * Validates the environment into {@link RotationSettings}.
 *
 * @throws InvalidSettingsError naming the variable, the expected form and the value found
 */
export const parseRotationSettings = (environment: Environment): RotationSettings => {
  const stackId = parseStackId(environment);
  const staleKeyDays = parseStaleKeyDays(environment);
  const gracePeriod = parseGracePeriod(environment);
  return gracePeriod === undefined
    ? { stackId, staleKeyDays }
    : { stackId, staleKeyDays, gracePeriod };
};
