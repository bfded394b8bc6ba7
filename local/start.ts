/**
 * `npm start`: the real rotation handler rotates an IAM user's access key three times against
 * the in-process AWS simulation (local/simulation), with a realistic IAM propagation delay.
 * No AWS account, credentials or network are used. Exit code 0 on success, 1 with the reason
 * on failure, 2 on a usage error (`npm start -- --help` lists the options).
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { StartOptions } from './start-demo.js';

/** Exit code of a usage error (1 is a failed rotation). */
const USAGE_ERROR_EXIT_CODE = 2;

const DELAY_SECONDS = { min: 0, max: 60, default: 5 } as const;
const ROTATIONS = { min: 1, max: 20, default: 3 } as const;

/** `--delay-seconds`: 0-60, whole or with up to 3 decimals (`5`, `2.5`); nothing else. */
const parseDelaySeconds = (text: string): number => {
  const value = Number(text);
  if (
    !/^\d{1,2}(\.\d{1,3})?$/.test(text) ||
    value < DELAY_SECONDS.min ||
    value > DELAY_SECONDS.max
  ) {
    throw new InvalidArgumentError(
      `Expected seconds from ${DELAY_SECONDS.min} to ${DELAY_SECONDS.max}, like 5 or 2.5.`,
    );
  }
  return value;
};

/** `--rotations`: a whole number 1-20 written as digits only (not `1e1` or `2.0`). */
const parseRotations = (text: string): number => {
  const value = Number(text);
  if (!/^\d{1,2}$/.test(text) || value < ROTATIONS.min || value > ROTATIONS.max) {
    throw new InvalidArgumentError(
      `Expected a whole number from ${ROTATIONS.min} to ${ROTATIONS.max}.`,
    );
  }
  return value;
};

const GRACE_PERIOD = { maxSeconds: 600 } as const;

/** `--grace-period`: `0`, or 1-600 seconds written as `<n>s` or `<n>m` (`10s`, `2m`). */
const parseGracePeriod = (text: string): number => {
  const match = /^(\d{1,3})(s|m)$/.exec(text);
  const seconds =
    text === '0' ? 0 : match === null ? Number.NaN : Number(match[1]) * (match[2] === 'm' ? 60 : 1);
  if (
    !Number.isInteger(seconds) ||
    seconds > GRACE_PERIOD.maxSeconds ||
    (seconds === 0 && text !== '0')
  ) {
    throw new InvalidArgumentError(
      `Expected 0 or a duration of 1s to ${String(GRACE_PERIOD.maxSeconds / 60)}m, like 10s or 2m.`,
    );
  }
  return seconds;
};

/**
 * Parses the command line. `--help` prints the options and a usage error prints one line and a
 * hint on stderr; both return `undefined` with `process.exitCode` set (0 and 2).
 */
const parseOptions = (argv: readonly string[]): StartOptions | undefined => {
  const program = new Command()
    .name('npm start --')
    .description(
      "Rotates an IAM user's access key with the real rotation handler against a local simulation of IAM, STS and Secrets Manager (no AWS account, no network).",
    )
    .option(
      '--delay-seconds <seconds>',
      `how long STS rejects a new key, as IAM's eventual consistency does: ${DELAY_SECONDS.min} to ${DELAY_SECONDS.max} seconds, e.g. 5 or 2.5`,
      parseDelaySeconds,
      DELAY_SECONDS.default,
    )
    .option(
      '--rotations <count>',
      `how many rotations to run: a whole number from ${ROTATIONS.min} to ${ROTATIONS.max}`,
      parseRotations,
      ROTATIONS.default,
    )
    .option(
      '--grace-period <duration>',
      `keep the previous key Active for this long after each rotation, then let an EventBridge Scheduler schedule deactivate it: 0 (none) or 1s to ${String(GRACE_PERIOD.maxSeconds / 60)}m, e.g. 10s or 2m`,
      parseGracePeriod,
      0,
    )
    .option('--verbose', "also print the rotation handler's JSON log lines and metrics")
    .addHelpText(
      'after',
      '\nExit status: 0 when every rotation succeeded and every check held, 1 when one did not, 2 on a usage error.',
    )
    .showHelpAfterError("(run 'npm start -- --help' for the options)")
    .exitOverride();
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // Help was shown (exit code 0) or the usage error and the hint are already on stderr.
    process.exitCode = error.exitCode === 0 ? 0 : USAGE_ERROR_EXIT_CODE;
    return undefined;
  }
  const values = program.opts<{
    delaySeconds: number;
    rotations: number;
    gracePeriod: number;
    verbose?: true;
  }>();
  return {
    delaySeconds: values.delaySeconds,
    rotations: values.rotations,
    verbose: values.verbose ?? false,
    gracePeriodSeconds: values.gracePeriod,
  };
};

const options = parseOptions(process.argv.slice(2));
if (options !== undefined) {
  // The demo (the handler, the SDK, the simulation) loads once the options are valid.
  const { main, oneLine } = await import('./start-demo.js');
  await main(options).then(
    () => {
      process.exitCode = 0;
    },
    (error: unknown) => {
      console.error(`\nFAILED: ${oneLine(error instanceof Error ? error.message : String(error))}`);
      process.exitCode = 1;
    },
  );
}
