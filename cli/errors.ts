/** Exit codes of every command: AWS CLI and gh conventions. */
export const EXIT_OK = 0;
/** A failure, or a state that needs attention (`status`). */
export const EXIT_FAILURE = 1;
/** The command line is wrong (commander's own errors too). */
export const EXIT_USAGE = 2;

export type ExitCode = typeof EXIT_OK | typeof EXIT_FAILURE | typeof EXIT_USAGE;

/**
 * Base of every error a command raises on purpose. The message is for a person at 3 a.m.: what
 * failed, on which secret, and the next command to run. Never a secret value.
 */
export class CliError extends Error {
  public override name = 'CliError';

  public constructor(
    message: string,
    public readonly exitCode: ExitCode = EXIT_FAILURE,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** The command cannot run as invoked (a missing `--yes` without a terminal, a bad option value). */
export class UsageError extends CliError {
  public override name = 'UsageError';

  public constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}
