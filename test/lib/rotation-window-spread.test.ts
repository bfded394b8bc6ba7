import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { parseIamKeyRotationConfig } from '../../lib/config.js';
import { KeyRotationSchedule } from '../../lib/key-rotation-schedule.js';
import {
  rotationWindowOffsetHours,
  spreadRotationWindow,
  withSpreadRotationWindows,
} from '../../lib/rotation-window-spread.js';

describe('Module: rotation-window-spread', () => {
  describe('Function: rotationWindowOffsetHours', () => {
    it('pins the offset of a user name: the same in every run, whatever its case', () => {
      // Act
      const offsets = ['ci-deployer', 'CI-Deployer', 'ses-smtp-sender', 'bench-user-0001'].map(
        (name) => rotationWindowOffsetHours(name, 24),
      );

      // Assert: the first 4 bytes of SHA-256 of the lower-case name, modulo 24 (computed apart
      // with node:crypto); a change here moves every deployed user's window.
      expect(offsets).toEqual([7, 7, 14, 9]);
    });

    it('spreads 1,000 users over every hour of a 24-hour window, none with more than twice its share', () => {
      // Arrange
      const names = Array.from({ length: 1000 }, (_, i) => `user-${String(i).padStart(4, '0')}`);

      // Act
      const perHour = new Array<number>(24).fill(0);
      for (const name of names) {
        const offset = rotationWindowOffsetHours(name, 24);
        perHour[offset] = (perHour[offset] ?? 0) + 1;
      }

      // Assert
      expect(perHour.every((count) => count > 0)).toBe(true);
      expect(Math.max(...perHour)).toBeLessThanOrEqual((2 * 1000) / 24);
    });

    it('fails when the window is not whole hours of at least 1', () => {
      // Act & Assert
      expect(() => rotationWindowOffsetHours('alice', 0)).toThrow(
        'windowHours must be a whole number of at least 1, got 0',
      );
    });
  });

  describe('Function: spreadRotationWindow', () => {
    it('opens the window of a cron schedule later by the offset, for 1 hour within the configured window', () => {
      // Arrange
      const schedule = KeyRotationSchedule.fromExpression('cron(0 2 ? * MON *)');
      const offset = rotationWindowOffsetHours('ci-deployer', 3);

      // Act
      const spread = spreadRotationWindow('ci-deployer', schedule, Duration.hours(3));

      // Assert
      expect(spread.offsetHours).toBe(offset);
      expect(spread.schedule.expressionString).toBe(`cron(0 ${2 + offset} ? * MON *)`);
      expect(spread.window?.toHours()).toBe(1);
    });

    it('uses the rest of the UTC day as the window of a daily cron schedule without window', () => {
      // Arrange
      const schedule = KeyRotationSchedule.fromExpression('cron(0 20 1 * ? *)');

      // Act
      const spread = spreadRotationWindow('alice', schedule);

      // Assert
      expect(spread.offsetHours).toBe(rotationWindowOffsetHours('alice', 4));
      expect(spread.schedule.windowStartHours).toEqual([20 + spread.offsetHours]);
    });

    it('moves every opening of a cron schedule with several windows a day', () => {
      // Arrange
      const schedule = KeyRotationSchedule.fromExpression('cron(0 0/12 * * ? *)');
      const offset = rotationWindowOffsetHours('bob', 4);

      // Act
      const spread = spreadRotationWindow('bob', schedule, Duration.hours(4));

      // Assert
      expect(spread.schedule.expressionString).toBe(`cron(0 ${offset},${12 + offset} * * ? *)`);
    });

    it.each([
      ['a rate() schedule in days', 'rate(30 days)', Duration.hours(4)],
      ['a rate() schedule in hours', 'rate(12 hours)', Duration.hours(2)],
      ['a window of 1 hour', 'cron(0 2 ? * MON *)', Duration.hours(1)],
      ['several windows a day with the default window', 'cron(0 0/12 * * ? *)', undefined],
    ])('keeps %s as configured', (_case, expression, window) => {
      // Arrange
      const schedule = KeyRotationSchedule.fromExpression(expression);

      // Act
      const spread = spreadRotationWindow('alice', schedule, window);

      // Assert
      expect(spread).toEqual({ schedule, window, offsetHours: 0 });
    });
  });

  describe('Function: withSpreadRotationWindows', () => {
    it("keeps each user's offset when other users are added or removed", () => {
      // Arrange
      const user = (userName: string): unknown => ({
        userName,
        schedule: 'cron(0 0 ? * SUN *)',
      });
      const few = parseIamKeyRotationConfig({ users: ['a', 'b', 'c'].map(user) }).users;
      const more = parseIamKeyRotationConfig({ users: ['x', 'c', 'a'].map(user) }).users;

      // Act
      const expressions = (users: typeof few): Map<string, string> =>
        new Map(
          withSpreadRotationWindows(users).map((u) => [u.userName, u.schedule.expressionString]),
        );

      // Assert
      expect(expressions(more).get('a')).toBe(expressions(few).get('a'));
      expect(expressions(more).get('c')).toBe(expressions(few).get('c'));
    });
  });
});
