import type { Duration } from 'aws-cdk-lib';

/** Smallest interval Secrets Manager allows between two rotations. */
const MIN_RATE_HOURS = 4;
/** `AutomaticallyAfterDays` / `rate(N days)` range accepted by Secrets Manager. */
const MIN_RATE_DAYS = 1;
const MAX_RATE_DAYS = 1000;
const HOURS_PER_DAY = 24;

/** The unit of a rotation schedule, which decides where its rotation windows open. */
export type KeyRotationScheduleKind = 'rate-days' | 'rate-hours' | 'cron';

/** Thrown when a schedule expression or rotation window breaks a Secrets Manager rule. */
export class InvalidRotationScheduleError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'InvalidRotationScheduleError';
  }
}

const EXPECTED_EXPRESSION =
  'expected rate(N days) with N 1-1000, rate(N hours) with N >= 4, or cron(0 H D M W *) in UTC';

/**
 * A Secrets Manager rotation schedule (always UTC), validated against the rules in
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_schedule.html.
 */
export class KeyRotationSchedule {
  /** Rotate every `days` days (1-1000); the window opens at 00:00 UTC. */
  public static rateDays(days: number): KeyRotationSchedule {
    if (!Number.isInteger(days) || days < MIN_RATE_DAYS || days > MAX_RATE_DAYS) {
      throw new InvalidRotationScheduleError(
        `rate in days must be a whole number from ${MIN_RATE_DAYS} to ${MAX_RATE_DAYS}, got ${days}`,
      );
    }
    return new KeyRotationSchedule('rate-days', `rate(${days} ${days === 1 ? 'day' : 'days'})`, {
      startHours: [0],
      intervalHours: days * HOURS_PER_DAY,
    });
  }

  /** Rotate every `hours` hours (at least 4); windows open at 00:00 UTC and every `hours` after. */
  public static rateHours(hours: number): KeyRotationSchedule {
    if (!Number.isInteger(hours) || hours < MIN_RATE_HOURS) {
      throw new InvalidRotationScheduleError(
        `rate in hours must be a whole number of at least ${MIN_RATE_HOURS}, got ${hours}`,
      );
    }
    return new KeyRotationSchedule('rate-hours', `rate(${hours} hours)`, {
      startHours: [0],
      intervalHours: hours,
    });
  }

  /**
   * A Secrets Manager cron schedule: six fields `Minutes Hours Day-of-month Month Day-of-week
   * Year`, minutes must be 0, year must be `*`, one of day-of-month and day-of-week must be `?`,
   * and the hours must be at least 4 apart.
   *
   * @param fields the six fields, without the surrounding `cron(...)`
   */
  public static cron(fields: string): KeyRotationSchedule {
    const expression = `cron(${fields})`;
    const parts = fields.trim().split(/\s+/);
    const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = parts;
    if (
      parts.length !== 6 ||
      minutes === undefined ||
      hours === undefined ||
      dayOfMonth === undefined ||
      month === undefined ||
      dayOfWeek === undefined ||
      year === undefined
    ) {
      throw new InvalidRotationScheduleError(
        `cron expression must have 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), got ${parts.length} in "${expression}"`,
      );
    }
    if (minutes !== '0') {
      throw new InvalidRotationScheduleError(
        `cron minutes field must be 0 (rotation windows open on the hour), got "${minutes}" in "${expression}"`,
      );
    }
    if (year !== '*') {
      throw new InvalidRotationScheduleError(
        `cron year field must be *, got "${year}" in "${expression}"`,
      );
    }
    if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
      throw new InvalidRotationScheduleError(
        `cron needs ? in exactly one of day-of-month and day-of-week, got "${dayOfMonth}" and "${dayOfWeek}" in "${expression}"`,
      );
    }
    if (!/^[0-9LW,*?/-]+$/.test(dayOfMonth)) {
      throw new InvalidRotationScheduleError(
        `cron day-of-month field may hold 1-31 and , - * ? / L W, got "${dayOfMonth}" in "${expression}"`,
      );
    }
    if (!/^([0-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|[,*/-])+$/i.test(month)) {
      throw new InvalidRotationScheduleError(
        `cron month field may hold 1-12, JAN-DEC and , - * /, got "${month}" in "${expression}"`,
      );
    }
    if (!/^([0-9]|SUN|MON|TUE|WED|THU|FRI|SAT|[L#,*?/-])+$/i.test(dayOfWeek)) {
      throw new InvalidRotationScheduleError(
        `cron day-of-week field may hold 1-7, SUN-SAT and # , - * ? / L, got "${dayOfWeek}" in "${expression}"`,
      );
    }
    const startHours = expandCronHours(hours, expression);
    for (let i = 1; i < startHours.length; i++) {
      const gap = (startHours[i] ?? 0) - (startHours[i - 1] ?? 0);
      if (gap < MIN_RATE_HOURS) {
        throw new InvalidRotationScheduleError(
          `cron hours must be at least ${MIN_RATE_HOURS} hours apart (Secrets Manager rotates at most every 4 hours), got "${hours}" in "${expression}"`,
        );
      }
    }
    return new KeyRotationSchedule('cron', expression, { startHours });
  }

  /**
   * Parses `rate(N days)`, `rate(N hours)` or `cron(...)`.
   *
   * @throws InvalidRotationScheduleError naming the expression when it is not valid
   */
  public static fromExpression(expression: string): KeyRotationSchedule {
    const rate = /^rate\(\s*(\d+)\s+(day|days|hour|hours)\s*\)$/.exec(expression.trim());
    if (rate) {
      const value = Number(rate[1]);
      return rate[2]?.startsWith('day')
        ? KeyRotationSchedule.rateDays(value)
        : KeyRotationSchedule.rateHours(value);
    }
    const cron = /^cron\((.*)\)$/.exec(expression.trim());
    if (cron?.[1] !== undefined) {
      return KeyRotationSchedule.cron(cron[1]);
    }
    throw new InvalidRotationScheduleError(`${EXPECTED_EXPRESSION}, got "${expression}"`);
  }

  /** The `ScheduleExpression` of the rotation rules, e.g. `rate(30 days)`. */
  public readonly expressionString: string;

  /** Hours of the UTC day (0-23) at which a rotation window opens; empty when unknown. */
  private readonly startHours: readonly number[];
  /** For rate schedules, the hours between two windows. */
  private readonly intervalHours: number | undefined;

  private constructor(
    public readonly kind: KeyRotationScheduleKind,
    expressionString: string,
    windows: { startHours: readonly number[]; intervalHours?: number },
  ) {
    this.expressionString = expressionString;
    this.startHours = windows.startHours;
    this.intervalHours = windows.intervalHours;
  }

  /**
   * Checks a rotation window (`Duration` of the rotation rules) against this schedule: whole
   * hours, at least 1 hour, not into the next UTC day and not into the next rotation window.
   *
   * @returns a description of the problem, or `undefined` when the window is valid
   */
  public windowProblem(window: Duration): string | undefined {
    if (window.isUnresolved()) {
      return undefined;
    }
    const minutes = window.toMinutes();
    if (minutes % 60 !== 0 || minutes < 60) {
      return `window must be a whole number of hours, at least 1 hour, got ${window.toHumanString()}`;
    }
    const hours = minutes / 60;
    if (this.intervalHours !== undefined && hours > this.intervalHours) {
      return `window must not extend into the next rotation window of ${this.expressionString}, got ${hours} hours`;
    }
    const gaps = this.startHours.slice(1).map((h, i) => h - (this.startHours[i] ?? 0));
    const smallestGap = Math.min(...gaps);
    if (gaps.length > 0 && hours > smallestGap) {
      return `window must not extend into the next rotation window of ${this.expressionString} (${smallestGap} hours apart), got ${hours} hours`;
    }
    const lastStart = this.startHours[this.startHours.length - 1] ?? 0;
    if (lastStart + hours > HOURS_PER_DAY) {
      return `window must not extend into the next UTC day: start hour ${lastStart} + window must be <= 24 for ${this.expressionString}, got ${hours} hours`;
    }
    return undefined;
  }

  /** The rotation rules `Duration` string (e.g. `4h`) for a validated window. */
  public static windowString(window: Duration): string {
    return `${window.toHours()}h`;
  }
}

/** Expands the cron hours field into the sorted hours of the UTC day it selects. */
function expandCronHours(field: string, expression: string): number[] {
  const invalid = (): InvalidRotationScheduleError =>
    new InvalidRotationScheduleError(
      `cron hours field must hold hours 0-23 with , - * /, got "${field}" in "${expression}"`,
    );
  const hour = (text: string): number => {
    if (!/^\d{1,2}$/.test(text) || Number(text) > 23) {
      throw invalid();
    }
    return Number(text);
  };
  const hours = new Set<number>();
  for (const part of field.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (range === undefined || extra !== undefined) {
      throw invalid();
    }
    const step = stepText === undefined ? 1 : hour(stepText);
    if (step < 1) {
      throw invalid();
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = 0;
      to = 23;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      from = hour(a ?? '');
      to = hour(b ?? '');
      if (to < from) {
        throw invalid();
      }
    } else {
      from = hour(range);
      to = stepText === undefined ? from : 23;
    }
    for (let h = from; h <= to; h += step) {
      hours.add(h);
    }
  }
  return [...hours].sort((a, b) => a - b);
}
