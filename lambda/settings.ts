import { DEFAULT_STALE_KEY_DAYS, STALE_KEY_DAYS_ENV } from './rotation/binding.js';
import { InvalidSettingsError } from './errors.js';

/** The function's settings, read once from its environment (set by the CDK stack). */
export interface RotationSettings {
  /**
   * A key the secret does not hold is deleted to make room only if it was never used or not
   * used for this many days (GetAccessKeyLastUsed).
   */
  readonly staleKeyDays: number;
}

export const MIN_STALE_KEY_DAYS = 1;
export const MAX_STALE_KEY_DAYS = 1000;

/**
 * Validates the environment into {@link RotationSettings}.
 *
 * @throws InvalidSettingsError naming the variable, the expected form and the value found
 */
export const parseRotationSettings = (
  environment: Readonly<Record<string, string | undefined>>,
): RotationSettings => {
  const raw = environment[STALE_KEY_DAYS_ENV];
  if (raw === undefined || raw === '') return { staleKeyDays: DEFAULT_STALE_KEY_DAYS };
  const days = /^\d{1,4}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isInteger(days) || days < MIN_STALE_KEY_DAYS || days > MAX_STALE_KEY_DAYS) {
    throw new InvalidSettingsError(
      `Environment variable ${STALE_KEY_DAYS_ENV} must be a whole number of days from ${MIN_STALE_KEY_DAYS} to ${MAX_STALE_KEY_DAYS}, got ${JSON.stringify(raw.slice(0, 40))}; fix the staleKeyDays setting of the stack and deploy again`,
    );
  }
  return { staleKeyDays: days };
};
