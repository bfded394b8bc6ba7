import type { FirstRotationSettings } from './first-rotation-wait.js';

/** Environment variable: the wait's own deadline, in seconds after onEvent. */
export const WAIT_TIMEOUT_SECONDS_ENV = 'FIRST_ROTATION_WAIT_SECONDS';
/** Environment variable: the rotation function's timeout, in seconds. */
export const ROTATION_TIMEOUT_SECONDS_ENV = 'ROTATION_FUNCTION_TIMEOUT_SECONDS';
/** Environment variable: the rotation function's log group. */
export const ROTATION_LOG_GROUP_ENV = 'ROTATION_FUNCTION_LOG_GROUP';

/** A positive whole number of seconds from `name`, in milliseconds; `undefined` if invalid. */
const seconds = (
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): number | undefined => {
  const value = env[name];
  if (value === undefined || !/^[1-9]\d{0,5}$/.test(value)) return undefined;
  return Number(value) * 1_000;
};

/**
 * The waiter's settings from its environment (the construct sets them). An invalid value fails
 * the function's start, so every event fails with the message naming the variable.
 *
 * @throws Error naming the variable and what was expected
 */
export const parseFirstRotationSettings = (
  env: Readonly<Record<string, string | undefined>>,
  stackId: string,
): FirstRotationSettings => {
  const waitTimeoutMs = seconds(env, WAIT_TIMEOUT_SECONDS_ENV);
  const rotationTimeoutMs = seconds(env, ROTATION_TIMEOUT_SECONDS_ENV);
  if (waitTimeoutMs === undefined || rotationTimeoutMs === undefined) {
    const name =
      waitTimeoutMs === undefined ? WAIT_TIMEOUT_SECONDS_ENV : ROTATION_TIMEOUT_SECONDS_ENV;
    throw new Error(
      `${name} must be a whole number of seconds, got ${JSON.stringify(env[name] ?? null)}`,
    );
  }
  return { stackId, waitTimeoutMs, rotationTimeoutMs };
};
