import { Duration } from 'aws-cdk-lib';

/** Smallest interval Secrets Manager allows between two rotations. */
const MIN_RATE_HOURS = 4;
/** `AutomaticallyAfterDays` / `rate(N days)` range accepted by Secrets Manager. */
const MIN_RATE_DAYS = 1;
const MAX_RATE_DAYS = 1000;
const HOURS_PER_DAY = 24;
const DAYS_PER_WEEK = 7;
/** The shortest month: the least number of days between the same day of two months. */
const SHORTEST_MONTH_DAYS = 28;
/**
 * `nW` moves a window to the weekday nearest day n, by up to 2 days (3 at the start or end of a
 * month): two such windows can be this much closer than a month.
 */
const NEAREST_WEEKDAY_SHIFT_DAYS = 3;

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
      shortestIntervalHours: days * HOURS_PER_DAY,
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
      shortestIntervalHours: hours,
    });
  }

  /**
   * A Secrets Manager cron schedule: six fields `Minutes Hours Day-of-month Month Day-of-week
   * Year`, checked field by field as Secrets Manager and EventBridge document them: minutes
   * must be 0; hours 0-23 with `, - * /`; day-of-month 1-31 with `, - * /`, or `?`, `L` (last
   * day) or `nW` (the weekday nearest day n) on their own; month 1-12 or JAN-DEC with `, - * /`;
   * day-of-week 1-7 or SUN-SAT with `, - * /`, or `?`, `L`, `dL` (last day d of the month) or
   * `d#n` (the n-th day d) on their own; year must be `*`. Exactly one of day-of-month and
   * day-of-week must be `?`, ranges run from low to high, steps stay within the field, and the
   * hours must be at least 4 apart. Forms neither documents (`LW`, `L-2`, wrapping ranges) are
   * refused.
   *
   * @param fields the six fields, without the surrounding `cron(...)`
   * @throws InvalidRotationScheduleError naming the field and the bad value
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
    const startHours = expandCronField(hours, CRON_HOURS, expression);
    checkDayOfMonth(dayOfMonth, expression);
    expandCronField(month, CRON_MONTH, expression);
    checkDayOfWeek(dayOfWeek, expression);
    for (let i = 1; i < startHours.length; i++) {
      const gap = (startHours[i] ?? 0) - (startHours[i - 1] ?? 0);
      if (gap < MIN_RATE_HOURS) {
        throw new InvalidRotationScheduleError(
          `cron hours must be at least ${MIN_RATE_HOURS} hours apart (Secrets Manager rotates at most every 4 hours), got "${hours}" in "${expression}"`,
        );
      }
    }
    return new KeyRotationSchedule('cron', expression, {
      startHours,
      shortestIntervalHours: shortestCronIntervalHours(
        startHours,
        dayOfMonth === '?'
          ? shortestDayOfWeekGapDays(dayOfWeek, expression)
          : shortestDayOfMonthGapDays(dayOfMonth, expression),
      ),
    });
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

  /**
   * The shortest time between the openings of two rotation windows: the interval of a `rate()`
   * schedule; for a `cron()` schedule a lower bound derived from its hours and days (the month
   * field is ignored, so a schedule restricted to some months is treated as if it ran every
   * month). Two rotations can still come closer than this, one late in a window and the next
   * early in the following one, or when someone runs `rotate-secret`.
   */
  public readonly shortestInterval: Duration;

  private constructor(
    public readonly kind: KeyRotationScheduleKind,
    expressionString: string,
    windows: {
      startHours: readonly number[];
      intervalHours?: number;
      shortestIntervalHours: number;
    },
  ) {
    this.expressionString = expressionString;
    this.startHours = windows.startHours;
    this.intervalHours = windows.intervalHours;
    this.shortestInterval = Duration.hours(windows.shortestIntervalHours);
  }

  /**
   * {@link shortestInterval} for messages: `every 30 days` for a `rate()` schedule, `windows as
   * little as 7 days apart` for a `cron()` schedule.
   */
  public describeShortestInterval(): string {
    const interval = this.shortestInterval.toHumanString();
    return this.kind === 'cron' ? `windows as little as ${interval} apart` : `every ${interval}`;
  }

  /** Hours of the UTC day (0-23) at which a rotation window opens. */
  public get windowStartHours(): readonly number[] {
    return this.startHours;
  }

  /**
   * The hours of Secrets Manager's default window: 1 for a schedule in hours (a `rate()` in hours,
   * or a `cron()` that opens several windows a day), else the rest of the UTC day from the
   * (last) opening.
   */
  public get defaultWindowHours(): number {
    if (this.kind === 'rate-hours' || this.startHours.length > 1) {
      return 1;
    }
    return HOURS_PER_DAY - (this.startHours[this.startHours.length - 1] ?? 0);
  }

  /**
   * This `cron()` schedule with every window opening `offsetHours` later the same day: the hours
   * field becomes the list of shifted hours (`cron(0 2,14 * * ? *)` shifted by 3 is
   * `cron(0 5,17 * * ? *)`); the other fields stay as they are.
   *
   * @throws InvalidRotationScheduleError for a `rate()` schedule (its windows open at midnight)
   * or when a shifted hour passes 23
   */
  public withStartHoursShiftedBy(offsetHours: number): KeyRotationSchedule {
    const fields = /^cron\((.*)\)$/.exec(this.expressionString)?.[1]?.trim().split(/\s+/);
    if (this.kind !== 'cron' || fields === undefined) {
      throw new InvalidRotationScheduleError(
        `only a cron() schedule can open its windows later, got "${this.expressionString}"`,
      );
    }
    const hours = this.startHours.map((hour) => hour + offsetHours);
    if (!Number.isInteger(offsetHours) || offsetHours < 0 || hours.some((hour) => hour > 23)) {
      throw new InvalidRotationScheduleError(
        `shifting the windows of "${this.expressionString}" by ${offsetHours} hours must keep them within the UTC day (hours 0-23)`,
      );
    }
    fields[1] = hours.join(',');
    return KeyRotationSchedule.cron(fields.join(' '));
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

/** What one numeric field of a cron expression may hold. */
interface CronField {
  /** The field's name in messages, e.g. `day-of-month`. */
  readonly name: string;
  /** Its values in messages, e.g. `days 1-31`. */
  readonly values: string;
  /** Its wildcards in messages, e.g. `, - * ? / L W`. */
  readonly wildcards: string;
  readonly min: number;
  readonly max: number;
  /** Names of the values from `min` on (JAN = 1, SUN = 1), upper case. */
  readonly names?: readonly string[];
}

const CRON_HOURS: CronField = {
  name: 'hours',
  values: 'hours 0-23',
  wildcards: ', - * /',
  min: 0,
  max: 23,
};
const CRON_DAY_OF_MONTH: CronField = {
  name: 'day-of-month',
  values: 'days 1-31',
  wildcards: ', - * ? / L W',
  min: 1,
  max: 31,
};
const CRON_MONTH: CronField = {
  name: 'month',
  values: 'months 1-12 or JAN-DEC',
  wildcards: ', - * /',
  min: 1,
  max: 12,
  names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
};
const CRON_DAY_OF_WEEK: CronField = {
  name: 'day-of-week',
  values: 'days 1-7 or SUN-SAT',
  wildcards: ', - * ? / L #',
  min: 1,
  max: 7,
  names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
};

/** The highest `n` of `d#n` (the n-th day d of the month). */
const MAX_WEEKDAY_INSTANCE = 5;

const invalidCronValue = (
  field: CronField,
  value: string,
  expression: string,
): InvalidRotationScheduleError =>
  new InvalidRotationScheduleError(
    `cron ${field.name} field must hold ${field.values} with ${field.wildcards}, got "${value}" in "${expression}"`,
  );

/**
 * One value of a cron field (a number or, where the field has names, a name) as a number.
 *
 * @throws InvalidRotationScheduleError naming the field and `part` when it is not in range
 */
function cronValue(text: string, field: CronField, part: string, expression: string): number {
  const upper = text.toUpperCase();
  const index = field.names?.indexOf(upper) ?? -1;
  if (index >= 0) {
    return field.min + index;
  }
  if (!/^\d{1,2}$/.test(text) || Number(text) < field.min || Number(text) > field.max) {
    throw invalidCronValue(field, part, expression);
  }
  return Number(text);
}

/**
 * Expands a cron field of values, ranges and steps (`*`, `n`, `a-b`, each with an optional
 * `/step`, separated by commas) into the sorted values it selects.
 *
 * @throws InvalidRotationScheduleError naming the field and the bad part
 */
function expandCronField(text: string, field: CronField, expression: string): number[] {
  const selected = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (range === undefined || range === '' || extra !== undefined) {
      throw invalidCronValue(field, part, expression);
    }
    let step = 1;
    if (stepText !== undefined) {
      step = /^\d{1,2}$/.test(stepText) ? Number(stepText) : 0;
      if (step < 1 || step > field.max) {
        throw new InvalidRotationScheduleError(
          `cron ${field.name} field step must be a whole number from 1 to ${field.max}, got "${part}" in "${expression}"`,
        );
      }
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = field.min;
      to = field.max;
    } else if (range.includes('-')) {
      const [low, high, beyond] = range.split('-');
      if (low === undefined || high === undefined || beyond !== undefined) {
        throw invalidCronValue(field, part, expression);
      }
      from = cronValue(low, field, part, expression);
      to = cronValue(high, field, part, expression);
      if (to < from) {
        throw new InvalidRotationScheduleError(
          `cron ${field.name} field range must run from low to high, got "${part}" in "${expression}"`,
        );
      }
    } else {
      from = cronValue(range, field, part, expression);
      // `n/step` runs from n to the end of the field.
      to = stepText === undefined ? from : field.max;
    }
    for (let value = from; value <= to; value += step) {
      selected.add(value);
    }
  }
  return [...selected].sort((a, b) => a - b);
}

/**
 * Checks the day-of-month field: `?`, `L` or `nW` on its own, or values, ranges and steps.
 *
 * @throws InvalidRotationScheduleError naming the field and the bad value
 */
function checkDayOfMonth(text: string, expression: string): void {
  const field = CRON_DAY_OF_MONTH;
  if (text === '?' || text.toUpperCase() === 'L') {
    return;
  }
  const nearestWeekday = /^(\d{1,2})W$/i.exec(text);
  if (nearestWeekday?.[1] !== undefined) {
    cronValue(nearestWeekday[1], field, text, expression);
    return;
  }
  if (/[LW?]/i.test(text)) {
    if (text.includes(',')) {
      throw new InvalidRotationScheduleError(
        `cron day-of-month field allows ?, L and nW (e.g. 15W) only on their own, not in a list, got "${text}" in "${expression}"`,
      );
    }
    throw invalidCronValue(field, text, expression);
  }
  expandCronField(text, field, expression);
}

/**
 * Checks the day-of-week field: `?`, `L`, `dL` or `d#n` on its own, or values, ranges and steps.
 *
 * @throws InvalidRotationScheduleError naming the field and the bad value
 */
function checkDayOfWeek(text: string, expression: string): void {
  const field = CRON_DAY_OF_WEEK;
  if (text === '?' || text.toUpperCase() === 'L') {
    return;
  }
  const lastWeekday = /^(\w+?)L$/i.exec(text);
  if (lastWeekday?.[1] !== undefined && !text.includes(',')) {
    cronValue(lastWeekday[1], field, text, expression);
    return;
  }
  const nthWeekday = /^(\w+)#(\w+)$/.exec(text);
  if (nthWeekday?.[1] !== undefined && nthWeekday[2] !== undefined) {
    cronValue(nthWeekday[1], field, text, expression);
    const instance = nthWeekday[2];
    if (!/^\d$/.test(instance) || Number(instance) < 1 || Number(instance) > MAX_WEEKDAY_INSTANCE) {
      throw new InvalidRotationScheduleError(
        `cron day-of-week field # needs an instance from 1 to ${MAX_WEEKDAY_INSTANCE} (e.g. MON#2, the second Monday), got "${text}" in "${expression}"`,
      );
    }
    return;
  }
  if (text.includes(',') && /[L#?]/i.test(text.replace(/SAT|SUN|MON|TUE|WED|THU|FRI/gi, ''))) {
    throw new InvalidRotationScheduleError(
      `cron day-of-week field allows ?, L, dL and d#n (e.g. FRIL, MON#2) only on their own, not in a list, got "${text}" in "${expression}"`,
    );
  }
  expandCronField(text, field, expression);
}

/**
 * The shortest time between two window openings of a cron schedule that opens windows at
 * `startHours` on days at least `dayGapDays` apart: two hours of one day, or the last hour of a
 * day and the first hour of the next day with a window.
 */
function shortestCronIntervalHours(startHours: readonly number[], dayGapDays: number): number {
  const first = startHours[0] ?? 0;
  const last = startHours[startHours.length - 1] ?? 0;
  let shortest = dayGapDays * HOURS_PER_DAY - (last - first);
  for (let i = 1; i < startHours.length; i++) {
    shortest = Math.min(shortest, (startHours[i] ?? 0) - (startHours[i - 1] ?? 0));
  }
  return shortest;
}

/**
 * The least number of days between two days a day-of-week field selects: `*` every day, a set of
 * weekdays the shortest gap between them (around the week), `L` once a week, `dL` and `d#n`
 * once a month (28 days at least).
 */
function shortestDayOfWeekGapDays(text: string, expression: string): number {
  const upper = text.toUpperCase();
  if (upper === 'L') {
    return DAYS_PER_WEEK;
  }
  if (/^\w+?L$/.test(upper) || upper.includes('#')) {
    return SHORTEST_MONTH_DAYS;
  }
  const days = expandCronField(text, CRON_DAY_OF_WEEK, expression);
  return shortestCyclicGap(days, DAYS_PER_WEEK);
}

/**
 * The least number of days between two days a day-of-month field selects: within a month the
 * shortest gap between the selected days; across the end of a month, from the last selected day
 * to the first one of the next month as if every month had 28 days (a day beyond 28 counted as
 * 28: the 31st and the 1st can be a day apart). `L` once a month; `nW` once a month, moved by up
 * to 3 days.
 */
function shortestDayOfMonthGapDays(text: string, expression: string): number {
  const upper = text.toUpperCase();
  if (upper === 'L') {
    return SHORTEST_MONTH_DAYS;
  }
  if (upper.endsWith('W')) {
    return SHORTEST_MONTH_DAYS - NEAREST_WEEKDAY_SHIFT_DAYS;
  }
  const days = expandCronField(text, CRON_DAY_OF_MONTH, expression);
  const first = days[0] ?? 1;
  const last = days[days.length - 1] ?? 1;
  let shortest = Math.max(1, SHORTEST_MONTH_DAYS - Math.min(last, SHORTEST_MONTH_DAYS) + first);
  for (let i = 1; i < days.length; i++) {
    shortest = Math.min(shortest, (days[i] ?? 0) - (days[i - 1] ?? 0));
  }
  return shortest;
}

/** The shortest gap between sorted `values` on a cycle of `length` (one value: `length`). */
function shortestCyclicGap(values: readonly number[], length: number): number {
  const first = values[0] ?? 0;
  const last = values[values.length - 1] ?? 0;
  let shortest = length - (last - first);
  for (let i = 1; i < values.length; i++) {
    shortest = Math.min(shortest, (values[i] ?? 0) - (values[i - 1] ?? 0));
  }
  return shortest;
}
