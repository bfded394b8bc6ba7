import { createHash } from 'node:crypto';
import { Duration } from 'aws-cdk-lib';
import type { RotatedUserConfig } from './config.js';
import type { KeyRotationSchedule } from './key-rotation-schedule.js';

/**
 * Spreading of rotation windows: users on the same `cron()` schedule get a stable per-user
 * offset within the window they configured, so that a thousand users do not all rotate in the
 * same hour. Pure: configuration in, configuration out.
 *
 * The rule: for a `cron()` schedule whose window (the configured `window`, else Secrets
 * Manager's default: 1 hour for several windows a day, the rest of the UTC day otherwise) is W
 * hours, the user's windows open `offset` hours later, where `offset` is the first 4 bytes of the
 * SHA-256 of the lower-case user name, as an unsigned number, modulo W, and the window becomes 1
 * hour. The user still rotates within the window it configured; the offset depends on the user
 * name and W alone, so adding or removing other users never changes it. A window of 1 hour, and
 * `rate()` schedules (whose windows always open at midnight UTC), stay as configured.
 */

/** Where one user's rotation window opens within the window it configured. */
export interface SpreadRotationWindow {
  /** The schedule with its openings moved by `offsetHours`. */
  readonly schedule: KeyRotationSchedule;
  /** The window after the move: 1 hour when spread, else as configured. */
  readonly window?: Duration;
  /** Hours after the configured opening, from 0 to the configured window's hours - 1. */
  readonly offsetHours: number;
}

/** The stable offset of `userName` among `windowHours` one-hour slots (0 for one slot). */
export function rotationWindowOffsetHours(userName: string, windowHours: number): number {
  if (!Number.isInteger(windowHours) || windowHours < 1) {
    throw new Error(`windowHours must be a whole number of at least 1, got ${windowHours}`);
  }
  const digest = createHash('sha256').update(userName.toLowerCase()).digest();
  return digest.readUInt32BE(0) % windowHours;
}

/** The user's spread window, by the rule above. */
export function spreadRotationWindow(
  userName: string,
  schedule: KeyRotationSchedule,
  window?: Duration,
): SpreadRotationWindow {
  const windowHours = window === undefined ? schedule.defaultWindowHours : window.toHours();
  if (schedule.kind !== 'cron' || windowHours <= 1) {
    return { schedule, window, offsetHours: 0 };
  }
  const offsetHours = rotationWindowOffsetHours(userName, windowHours);
  return {
    schedule: schedule.withStartHoursShiftedBy(offsetHours),
    window: Duration.hours(1),
    offsetHours,
  };
}

/** The users with their rotation windows spread, in the order given. */
export function withSpreadRotationWindows(
  users: readonly RotatedUserConfig[],
): RotatedUserConfig[] {
  return users.map((user) => {
    const spread = spreadRotationWindow(user.userName, user.schedule, user.window);
    return { ...user, schedule: spread.schedule, window: spread.window };
  });
}
