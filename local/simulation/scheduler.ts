import type { Clock } from './clock.js';
import { AwsServiceError } from './errors.js';
import { LAMBDA_ASYNC_RETRY_DELAYS_MS, type ScheduledInvocationRecord } from './rotation.js';

/**
 * EventBridge Scheduler's one-time schedules, as far as the grace period uses them: schedule
 * groups, and schedules with an `at(yyyy-mm-ddThh:mm:ss)` expression that invoke a Lambda
 * function once with their `Target.Input`.
 *
 * What AWS documents and this model follows: names and group names are 1-64 of
 * `[0-9a-zA-Z-_.]`; a schedule goes into the `default` group unless `GroupName` names another,
 * which must exist (ResourceNotFoundException); a second schedule of the same name in a group is
 * a ConflictException, unless the request repeats the `ClientToken` of the one that created it
 * (the SDK's retries do), which is answered as a success; `FlexibleTimeWindow` is required (`OFF`,
 * or `FLEXIBLE` with `MaximumWindowInMinutes` 1-1440); `Target.Arn` and `Target.RoleArn` are
 * required, `Target.Input` is up to 8,192 characters; `ActionAfterCompletion` `DELETE` deletes a
 * one-time schedule once it has invoked its target.
 *
 * What the model leaves out: recurring `rate()`/`cron()` expressions, time zones other than UTC,
 * start and end dates, KMS keys and tags (all refused with a ValidationException that says so,
 * rather than accepted and ignored), and flexible windows (a `FLEXIBLE` schedule fires at its
 * time). Whether AWS accepts an `at()` time in the past is unverified: the model accepts it and
 * fires it at the next {@link SchedulerModel.dueSchedules}.
 */

export const DEFAULT_SCHEDULE_GROUP = 'default';

const NAME_PATTERN = /^[0-9a-zA-Z._-]{1,64}$/;
const ROLE_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const AT_EXPRESSION = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/;
const MAX_INPUT_LENGTH = 8_192;

export interface ScheduleTarget {
  readonly Arn: string;
  readonly RoleArn: string;
  readonly Input?: string;
  readonly RetryPolicy: { MaximumEventAgeInSeconds: number; MaximumRetryAttempts: number };
}

export interface ScheduleState {
  readonly name: string;
  readonly groupName: string;
  readonly arn: string;
  readonly scheduleExpression: string;
  readonly scheduleExpressionTimezone: string;
  /** When the one-time schedule fires, epoch ms. */
  readonly at: number;
  readonly flexibleTimeWindow: { Mode: 'OFF' | 'FLEXIBLE'; MaximumWindowInMinutes?: number };
  readonly target: ScheduleTarget;
  readonly actionAfterCompletion: 'NONE' | 'DELETE';
  readonly state: 'ENABLED' | 'DISABLED';
  readonly description?: string;
  readonly clientToken?: string;
  readonly creationDate: number;
  /** Set once it has invoked its target (a one-time schedule never fires again). */
  firedAt?: number;
}

export interface ScheduleGroupState {
  readonly name: string;
  readonly arn: string;
  readonly creationDate: number;
}

export interface CreateScheduleInput {
  readonly Name?: unknown;
  readonly GroupName?: unknown;
  readonly ScheduleExpression?: unknown;
  readonly ScheduleExpressionTimezone?: unknown;
  readonly FlexibleTimeWindow?: unknown;
  readonly Target?: unknown;
  readonly ActionAfterCompletion?: unknown;
  readonly State?: unknown;
  readonly Description?: unknown;
  readonly ClientToken?: unknown;
  readonly StartDate?: unknown;
  readonly EndDate?: unknown;
  readonly KmsKeyArn?: unknown;
}

const validation = (message: string): AwsServiceError =>
  new AwsServiceError('ValidationException', message, 400);

const notFound = (message: string): AwsServiceError =>
  new AwsServiceError('ResourceNotFoundException', message, 404);

const requireName = (value: unknown, field: string): string => {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw validation(
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-zA-Z-_.]+$ and have length between 1 and 64`,
    );
  }
  return value;
};

const optionalString = (value: unknown, field: string, max: number): string | undefined => {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length < 1 || value.length > max) {
    throw validation(
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length between 1 and ${String(max)}`,
    );
  }
  return value;
};

/** The time an `at(yyyy-mm-ddThh:mm:ss)` expression names, in UTC; a ValidationException otherwise. */
export const parseAtExpression = (expression: string): number => {
  const match = AT_EXPRESSION.exec(expression);
  if (match === null) {
    throw validation(
      /^(rate|cron)\(/.test(expression)
        ? `The simulation models one-time schedules only: at(yyyy-mm-ddThh:mm:ss), got ${expression}`
        : `Invalid Schedule Expression ${expression}.`,
    );
  }
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const time = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(time);
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    back.getUTCHours() !== h ||
    back.getUTCMinutes() !== mi ||
    back.getUTCSeconds() !== s
  ) {
    throw validation(`Invalid Schedule Expression ${expression}.`);
  }
  return time;
};

const parseWindow = (value: unknown): ScheduleState['flexibleTimeWindow'] => {
  const window = (typeof value === 'object' && value !== null ? value : undefined) as
    { Mode?: unknown; MaximumWindowInMinutes?: unknown } | undefined;
  if (window === undefined) {
    throw validation('FlexibleTimeWindow is required');
  }
  if (window.Mode === 'OFF') {
    if (window.MaximumWindowInMinutes !== undefined) {
      throw validation('MaximumWindowInMinutes is not allowed when Mode is OFF');
    }
    return { Mode: 'OFF' };
  }
  if (window.Mode === 'FLEXIBLE') {
    const minutes = window.MaximumWindowInMinutes;
    if (
      typeof minutes !== 'number' ||
      !Number.isInteger(minutes) ||
      minutes < 1 ||
      minutes > 1440
    ) {
      throw validation('MaximumWindowInMinutes must be between 1 and 1440 when Mode is FLEXIBLE');
    }
    return { Mode: 'FLEXIBLE', MaximumWindowInMinutes: minutes };
  }
  throw validation(
    `1 validation error detected: Value at 'flexibleTimeWindow.mode' failed to satisfy constraint: Member must satisfy enum value set: [OFF, FLEXIBLE]`,
  );
};

const parseTarget = (value: unknown): ScheduleTarget => {
  const target = (typeof value === 'object' && value !== null ? value : undefined) as
    Record<string, unknown> | undefined;
  if (target === undefined) throw validation('Target is required');
  const arn = optionalString(target.Arn, 'target.arn', 1600);
  if (arn === undefined) throw validation('Target.Arn is required');
  const roleArn = target.RoleArn;
  if (typeof roleArn !== 'string' || !ROLE_ARN_PATTERN.test(roleArn)) {
    throw validation(
      `1 validation error detected: Value at 'target.roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ^arn:aws(-[a-z]+)?:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+$`,
    );
  }
  const input = optionalString(target.Input, 'target.input', MAX_INPUT_LENGTH);
  return {
    Arn: arn,
    RoleArn: roleArn,
    ...(input === undefined ? {} : { Input: input }),
    RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
  };
};

const oneOf = <T extends string>(
  value: unknown,
  allowed: readonly T[],
  field: string,
  fallback: T,
): T => {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) {
    return value as T;
  }
  throw validation(
    `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`,
  );
};

/** The schedule groups and schedules of one account and region. */
export class SchedulerModel {
  private readonly groups = new Map<string, ScheduleGroupState>();
  /** By `group/name`, in creation order. */
  private readonly schedules = new Map<string, ScheduleState>();

  public constructor(
    private readonly region: string,
    private readonly accountId: string,
    private readonly clock: Clock,
  ) {
    this.groups.set(DEFAULT_SCHEDULE_GROUP, {
      name: DEFAULT_SCHEDULE_GROUP,
      arn: this.groupArn(DEFAULT_SCHEDULE_GROUP),
      creationDate: clock.now(),
    });
  }

  public createScheduleGroup(name: unknown): ScheduleGroupState {
    const groupName = requireName(name, 'name');
    if (this.groups.has(groupName)) {
      throw new AwsServiceError(
        'ConflictException',
        `Schedule group ${groupName} already exists.`,
        409,
      );
    }
    const group = {
      name: groupName,
      arn: this.groupArn(groupName),
      creationDate: this.clock.now(),
    };
    this.groups.set(groupName, group);
    return group;
  }

  public findGroup(name: string): ScheduleGroupState | undefined {
    return this.groups.get(name);
  }

  public createSchedule(input: CreateScheduleInput): ScheduleState {
    const name = requireName(input.Name, 'name');
    const groupName =
      input.GroupName === undefined || input.GroupName === null
        ? DEFAULT_SCHEDULE_GROUP
        : requireName(input.GroupName, 'groupName');
    for (const unsupported of ['StartDate', 'EndDate', 'KmsKeyArn'] as const) {
      if (input[unsupported] !== undefined && input[unsupported] !== null) {
        throw validation(`The simulation does not model ${unsupported}`);
      }
    }
    if (typeof input.ScheduleExpression !== 'string' || input.ScheduleExpression === '') {
      throw validation('ScheduleExpression is required');
    }
    const at = parseAtExpression(input.ScheduleExpression);
    const timezone =
      optionalString(input.ScheduleExpressionTimezone, 'scheduleExpressionTimezone', 50) ?? 'UTC';
    if (timezone !== 'UTC' && timezone !== 'Etc/UTC') {
      throw validation(`The simulation models the UTC time zone only, got ${timezone}`);
    }
    const flexibleTimeWindow = parseWindow(input.FlexibleTimeWindow);
    const target = parseTarget(input.Target);
    const actionAfterCompletion = oneOf(
      input.ActionAfterCompletion,
      ['NONE', 'DELETE'] as const,
      'actionAfterCompletion',
      'NONE',
    );
    const state = oneOf(input.State, ['ENABLED', 'DISABLED'] as const, 'state', 'ENABLED');
    const description = optionalString(input.Description, 'description', 512);
    const clientToken = optionalString(input.ClientToken, 'clientToken', 64);
    if (!this.groups.has(groupName)) {
      throw notFound(`Schedule group ${groupName} does not exist.`);
    }
    const existing = this.schedules.get(`${groupName}/${name}`);
    if (existing !== undefined) {
      // A retry of the request that created it (same ClientToken) succeeds, as on AWS.
      if (clientToken !== undefined && existing.clientToken === clientToken) return existing;
      throw new AwsServiceError('ConflictException', `Schedule ${name} already exists.`, 409);
    }
    const schedule: ScheduleState = {
      name,
      groupName,
      arn: `arn:aws:scheduler:${this.region}:${this.accountId}:schedule/${groupName}/${name}`,
      scheduleExpression: input.ScheduleExpression,
      scheduleExpressionTimezone: timezone,
      at,
      flexibleTimeWindow,
      target,
      actionAfterCompletion,
      state,
      ...(description === undefined ? {} : { description }),
      ...(clientToken === undefined ? {} : { clientToken }),
      creationDate: this.clock.now(),
    };
    this.schedules.set(`${groupName}/${name}`, schedule);
    return schedule;
  }

  public getSchedule(name: unknown, groupName: unknown): ScheduleState {
    const { schedule, label } = this.lookUp(name, groupName);
    if (schedule === undefined) throw notFound(`Schedule ${label} does not exist.`);
    return schedule;
  }

  public deleteSchedule(name: unknown, groupName: unknown): void {
    const schedule = this.getSchedule(name, groupName);
    this.schedules.delete(`${schedule.groupName}/${schedule.name}`);
  }

  /** The schedules of a group (or of every group), optionally by name prefix and state. */
  public listSchedules(filter: {
    groupName?: string;
    namePrefix?: string;
    state?: string;
  }): ScheduleState[] {
    if (filter.groupName !== undefined && !this.groups.has(filter.groupName)) {
      throw notFound(`Schedule group ${filter.groupName} does not exist.`);
    }
    return [...this.schedules.values()].filter(
      (schedule) =>
        (filter.groupName === undefined || schedule.groupName === filter.groupName) &&
        (filter.namePrefix === undefined || schedule.name.startsWith(filter.namePrefix)) &&
        (filter.state === undefined || schedule.state === filter.state),
    );
  }

  /** Every schedule, any group (inspection). */
  public all(): ScheduleState[] {
    return [...this.schedules.values()];
  }

  /**
   * The enabled one-time schedules due at `now` that have not fired, earliest first (then by
   * group and name, so the order is deterministic).
   */
  public dueSchedules(now: number): ScheduleState[] {
    return [...this.schedules.values()]
      .filter((schedule) => schedule.state === 'ENABLED' && schedule.firedAt === undefined)
      .filter((schedule) => schedule.at <= now)
      .sort(
        (left, right) =>
          left.at - right.at ||
          left.groupName.localeCompare(right.groupName) ||
          left.name.localeCompare(right.name),
      );
  }

  /** The earliest time a schedule that has not fired is due, if any. */
  public nextDueTime(): number | undefined {
    const times = [...this.schedules.values()]
      .filter((schedule) => schedule.state === 'ENABLED' && schedule.firedAt === undefined)
      .map((schedule) => schedule.at);
    return times.length === 0 ? undefined : Math.min(...times);
  }

  /** The schedule invoked its target: a one-time schedule is done; DELETE removes it. */
  public complete(schedule: ScheduleState): void {
    schedule.firedAt = this.clock.now();
    if (schedule.actionAfterCompletion === 'DELETE') {
      this.schedules.delete(`${schedule.groupName}/${schedule.name}`);
    }
  }

  private lookUp(
    name: unknown,
    groupName: unknown,
  ): { schedule: ScheduleState | undefined; label: string } {
    const scheduleName = requireName(name, 'name');
    const group =
      groupName === undefined || groupName === null || groupName === ''
        ? DEFAULT_SCHEDULE_GROUP
        : requireName(groupName, 'groupName');
    if (!this.groups.has(group)) throw notFound(`Schedule group ${group} does not exist.`);
    return { schedule: this.schedules.get(`${group}/${scheduleName}`), label: scheduleName };
  }

  private groupArn(name: string): string {
    return `arn:aws:scheduler:${this.region}:${this.accountId}:schedule-group/${name}`;
  }
}

/** Who invokes a schedule's target (the simulation's rotation runner). */
export interface ScheduleTargetInvoker {
  invokeScheduled(
    functionArn: string,
    input: string,
    scheduleArn: string,
    attempt: number,
  ): Promise<ScheduledInvocationRecord>;
}

/**
 * Fires every schedule due on the clock, earliest first, one at a time: the schedule completes
 * (deleted with `ActionAfterCompletion: DELETE`) as it invokes its target, as Lambda accepts an
 * asynchronous invocation at once; a failed invocation is retried as Lambda retries
 * asynchronous ones (after 1 and 2 minutes on the clock), before the next schedule fires.
 * Schedules that come due during those waits fire in the same call.
 */
export const fireDueSchedules = async (
  model: SchedulerModel,
  invoker: ScheduleTargetInvoker,
  clock: Clock,
): Promise<ScheduledInvocationRecord[]> => {
  const records: ScheduledInvocationRecord[] = [];
  for (;;) {
    const [next] = model.dueSchedules(clock.now());
    if (next === undefined) return records;
    model.complete(next);
    for (let attempt = 1; ; attempt += 1) {
      const record = await invoker.invokeScheduled(
        next.target.Arn,
        next.target.Input ?? '',
        next.arn,
        attempt,
      );
      records.push(record);
      const delay = LAMBDA_ASYNC_RETRY_DELAYS_MS[attempt - 1];
      if (record.outcome === 'succeeded' || delay === undefined) break;
      await clock.sleep(delay);
    }
  }
};
