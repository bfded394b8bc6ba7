import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { KeyRotationSchedule } from '../../lib/key-rotation-schedule.js';

describe('Class: KeyRotationSchedule', () => {
  describe('Method: fromExpression', () => {
    it.each([
      ['rate(30 days)', 'rate(30 days)', 'rate-days'],
      ['rate(1 day)', 'rate(1 day)', 'rate-days'],
      ['rate(1000 days)', 'rate(1000 days)', 'rate-days'],
      ['rate(4 hours)', 'rate(4 hours)', 'rate-hours'],
      ['cron(0 2 ? * MON *)', 'cron(0 2 ? * MON *)', 'cron'],
      ['cron(0 4/12 * * ? *)', 'cron(0 4/12 * * ? *)', 'cron'],
      ['cron(0 0,6,12,18 1-15/2 * ? *)', 'cron(0 0,6,12,18 1-15/2 * ? *)', 'cron'],
      ['cron(0 2 L * ? *)', 'cron(0 2 L * ? *)', 'cron'],
      ['cron(0 2 15W * ? *)', 'cron(0 2 15W * ? *)', 'cron'],
      ['cron(0 2 1/7 JAN-MAR,10 ? *)', 'cron(0 2 1/7 JAN-MAR,10 ? *)', 'cron'],
      ['cron(0 2 ? */3 MON-FRI *)', 'cron(0 2 ? */3 MON-FRI *)', 'cron'],
      ['cron(0 2 ? * 1,7 *)', 'cron(0 2 ? * 1,7 *)', 'cron'],
      ['cron(0 2 ? * FRIL *)', 'cron(0 2 ? * FRIL *)', 'cron'],
      ['cron(0 2 ? * 6L *)', 'cron(0 2 ? * 6L *)', 'cron'],
      ['cron(0 2 ? * L *)', 'cron(0 2 ? * L *)', 'cron'],
      ['cron(0 10 ? FEB,MAY,AUG,NOV TUE#2 *)', 'cron(0 10 ? FEB,MAY,AUG,NOV TUE#2 *)', 'cron'],
      ['cron(0 2 ? * mon *)', 'cron(0 2 ? * mon *)', 'cron'],
    ])('parses %s', (expression, expressionString, kind) => {
      // Act
      const schedule = KeyRotationSchedule.fromExpression(expression);

      // Assert
      expect(schedule.expressionString).toBe(expressionString);
      expect(schedule.kind).toBe(kind);
    });

    it.each([
      ['rate(0 days)', 'rate in days must be a whole number from 1 to 1000, got 0'],
      ['rate(1001 days)', 'rate in days must be a whole number from 1 to 1000, got 1001'],
      ['rate(2 hours)', 'rate in hours must be a whole number of at least 4, got 2'],
      ['rate(5 minutes)', 'got "rate(5 minutes)"'],
      ['every day', 'expected rate(N days) with N 1-1000, rate(N hours) with N >= 4'],
      ['cron(0 2 * *)', 'cron expression must have 6 fields'],
      [
        'cron(30 2 ? * MON *)',
        'cron minutes field must be 0 (rotation windows open on the hour), got "30"',
      ],
      ['cron(0 2 ? * MON 2027)', 'cron year field must be *, got "2027"'],
      [
        'cron(0 2 * * MON *)',
        'cron needs ? in exactly one of day-of-month and day-of-week, got "*" and "MON"',
      ],
      [
        'cron(0 24 * * ? *)',
        'cron hours field must hold hours 0-23 with , - * /, got "24" in "cron(0 24 * * ? *)"',
      ],
      ['cron(0 2,25 * * ? *)', 'cron hours field must hold hours 0-23 with , - * /, got "25"'],
      ['cron(0 */2 * * ? *)', 'cron hours must be at least 4 hours apart'],
      ['cron(0 8-4 * * ? *)', 'cron hours field range must run from low to high, got "8-4"'],
      [
        'cron(0 4/24 * * ? *)',
        'cron hours field step must be a whole number from 1 to 23, got "4/24"',
      ],
      [
        'cron(0 2 32 * ? *)',
        'cron day-of-month field must hold days 1-31 with , - * ? / L W, got "32" in "cron(0 2 32 * ? *)"',
      ],
      [
        'cron(0 2 0 * ? *)',
        'cron day-of-month field must hold days 1-31 with , - * ? / L W, got "0"',
      ],
      [
        'cron(0 2 1,32 * ? *)',
        'cron day-of-month field must hold days 1-31 with , - * ? / L W, got "32"',
      ],
      [
        'cron(0 2 x * ? *)',
        'cron day-of-month field must hold days 1-31 with , - * ? / L W, got "x"',
      ],
      [
        'cron(0 2 32W * ? *)',
        'cron day-of-month field must hold days 1-31 with , - * ? / L W, got "32W"',
      ],
      [
        'cron(0 2 L-2 * ? *)',
        'cron day-of-month field must hold days 1-31 with , - * ? / L W, got "L-2"',
      ],
      [
        'cron(0 2 1,L * ? *)',
        'cron day-of-month field allows ?, L and nW (e.g. 15W) only on their own, not in a list, got "1,L"',
      ],
      [
        'cron(0 2 20-10 * ? *)',
        'cron day-of-month field range must run from low to high, got "20-10"',
      ],
      [
        'cron(0 2 */0 * ? *)',
        'cron day-of-month field step must be a whole number from 1 to 31, got "*/0"',
      ],
      [
        'cron(0 2 ? 13 MON *)',
        'cron month field must hold months 1-12 or JAN-DEC with , - * /, got "13" in "cron(0 2 ? 13 MON *)"',
      ],
      [
        'cron(0 2 ? FOO MON *)',
        'cron month field must hold months 1-12 or JAN-DEC with , - * /, got "FOO"',
      ],
      [
        'cron(0 2 ? DEC-JAN MON *)',
        'cron month field range must run from low to high, got "DEC-JAN"',
      ],
      [
        'cron(0 2 ? ? MON *)',
        'cron month field must hold months 1-12 or JAN-DEC with , - * /, got "?"',
      ],
      [
        'cron(0 2 ? * FUNDAY *)',
        'cron day-of-week field must hold days 1-7 or SUN-SAT with , - * ? / L #, got "FUNDAY"',
      ],
      [
        'cron(0 2 ? * 0 *)',
        'cron day-of-week field must hold days 1-7 or SUN-SAT with , - * ? / L #, got "0"',
      ],
      [
        'cron(0 2 ? * 8 *)',
        'cron day-of-week field must hold days 1-7 or SUN-SAT with , - * ? / L #, got "8"',
      ],
      [
        'cron(0 2 ? * 8L *)',
        'cron day-of-week field must hold days 1-7 or SUN-SAT with , - * ? / L #, got "8L"',
      ],
      [
        'cron(0 2 ? * MON#6 *)',
        'cron day-of-week field # needs an instance from 1 to 5 (e.g. MON#2, the second Monday), got "MON#6"',
      ],
      [
        'cron(0 2 ? * MON#1,FRI#3 *)',
        'cron day-of-week field allows ?, L, dL and d#n (e.g. FRIL, MON#2) only on their own, not in a list, got "MON#1,FRI#3"',
      ],
      [
        'cron(0 2 ? * FRI-MON *)',
        'cron day-of-week field range must run from low to high, got "FRI-MON"',
      ],
    ])('fails when the expression is %s', (expression, message) => {
      // Act & Assert
      expect(() => KeyRotationSchedule.fromExpression(expression)).toThrow(message);
    });
  });

  describe('Method: windowProblem', () => {
    it.each([
      ['rate(30 days)', 24],
      ['rate(4 hours)', 4],
      ['cron(0 20 ? * MON *)', 4],
      ['cron(0 4/12 * * ? *)', 8],
    ])('accepts for %s a window of %i hours', (expression, hours) => {
      // Arrange
      const schedule = KeyRotationSchedule.fromExpression(expression);

      // Act & Assert
      expect(schedule.windowProblem(Duration.hours(hours))).toBeUndefined();
    });

    it.each([
      [
        'rate(30 days)',
        Duration.minutes(90),
        'window must be a whole number of hours, at least 1 hour, got 1 hour 30 minutes',
      ],
      ['rate(30 days)', Duration.minutes(30), 'got 30 minutes'],
      [
        'rate(30 days)',
        Duration.hours(25),
        'window must not extend into the next UTC day: start hour 0 + window must be <= 24 for rate(30 days), got 25 hours',
      ],
      [
        'rate(6 hours)',
        Duration.hours(7),
        'window must not extend into the next rotation window of rate(6 hours), got 7 hours',
      ],
      [
        'cron(0 20 ? * MON *)',
        Duration.hours(5),
        'start hour 20 + window must be <= 24 for cron(0 20 ? * MON *), got 5 hours',
      ],
      ['cron(0 4/12 * * ? *)', Duration.hours(9), 'start hour 16 + window must be <= 24'],
      [
        'cron(0 0,6 * * ? *)',
        Duration.hours(7),
        'window must not extend into the next rotation window of cron(0 0,6 * * ? *) (6 hours apart), got 7 hours',
      ],
    ])('fails when the schedule is %s and the window %s', (expression, window, message) => {
      // Arrange
      const schedule = KeyRotationSchedule.fromExpression(expression);

      // Act & Assert
      expect(schedule.windowProblem(window)).toContain(message);
    });
  });

  describe('Property: shortestInterval', () => {
    it.each<[string, number, string]>([
      ['rate(30 days)', 30 * 24, 'every 30 days'],
      ['rate(1 day)', 24, 'every 1 day'],
      ['rate(12 hours)', 12, 'every 12 hours'],
      ['cron(0 2 ? * MON *)', 7 * 24, 'windows as little as 7 days apart'],
      ['cron(0 2 ? * MON,WED *)', 2 * 24, 'windows as little as 2 days apart'],
      ['cron(0 2 ? * MON,SAT *)', 2 * 24, 'windows as little as 2 days apart'],
      ['cron(0 2 ? * MON-FRI *)', 24, 'windows as little as 1 day apart'],
      ['cron(0 2 * * ? *)', 24, 'windows as little as 1 day apart'],
      ['cron(0 4/12 * * ? *)', 12, 'windows as little as 12 hours apart'],
      ['cron(0 2,20 ? * MON *)', 18, 'windows as little as 18 hours apart'],
      ['cron(0 1,21 ? * MON,TUE *)', 4, 'windows as little as 4 hours apart'],
      ['cron(0 2 ? * L *)', 7 * 24, 'windows as little as 7 days apart'],
      ['cron(0 2 ? * FRIL *)', 28 * 24, 'windows as little as 28 days apart'],
      ['cron(0 10 ? FEB,MAY,AUG,NOV TUE#2 *)', 28 * 24, 'windows as little as 28 days apart'],
      ['cron(0 2 15 * ? *)', 28 * 24, 'windows as little as 28 days apart'],
      ['cron(0 2 1,15 * ? *)', 14 * 24, 'windows as little as 14 days apart'],
      ['cron(0 2 1,31 * ? *)', 24, 'windows as little as 1 day apart'],
      ['cron(0 2 30 * ? *)', 30 * 24, 'windows as little as 30 days apart'],
      ['cron(0 2 L * ? *)', 28 * 24, 'windows as little as 28 days apart'],
      ['cron(0 2 15W * ? *)', 25 * 24, 'windows as little as 25 days apart'],
      // The 29th of February and the 1st of March.
      ['cron(0 2 1/7 JAN-MAR,10 ? *)', 24, 'windows as little as 1 day apart'],
    ])('is at most the time between two windows of %s', (expression, hours, description) => {
      // Act
      const schedule = KeyRotationSchedule.fromExpression(expression);

      // Assert
      expect(schedule.shortestInterval.toHours()).toBe(hours);
      expect(schedule.describeShortestInterval()).toBe(description);
    });
  });
});
