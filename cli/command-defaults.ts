/**
 * The defaults of the commands' options, which the program shows in its help. A module of their
 * own: the program imports them without importing the command modules, which it loads only when
 * a command runs (cli/lazy-commands.ts).
 */

/**
 * `status --stuck-after`: the rotation function's timeout unless the stack sets another
 * (lib/key-rotation-function.ts).
 */
export const DEFAULT_STUCK_AFTER_MS = 120_000;

/** `rotate --timeout`: how long `rotate --wait` follows a rotation. */
export const DEFAULT_ROTATE_TIMEOUT_MS = 300_000;

/** `rollback --step-timeout`: the rotation function's default timeout (lib/key-rotation-function.ts). */
export const DEFAULT_STEP_TIMEOUT_MS = 120_000;
