/**
 * `npm start`: the real rotation handler rotates an IAM user's access key three times against
 * the in-process AWS simulation (local/simulation), with a realistic IAM propagation delay.
 * No AWS account, credentials or network are used. Exit code 0 on success, 1 with the reason
 * on failure, 2 on a usage error (`npm start -- --help` lists the options).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { SERVICE_NAME } from '../lambda/dependencies.js';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../lambda/rotation/binding.js';
import { renderStatus } from '../cli/commands/status.js';
import { createCliDependencies } from '../cli/dependencies.js';
import { deployToSimulation, secretNameOf } from './simulated-deployment.js';
import {
  AWSCURRENT,
  AWSPREVIOUS,
  RealClock,
  Simulation,
  type RotationFunction,
  type RotationRecord,
} from './simulation/index.js';

interface StepTiming {
  readonly step: string;
  readonly attempt: number;
  readonly durationMs: number;
  readonly outcome: 'ok' | 'failed';
  readonly error?: string;
}

interface StartOptions {
  readonly delaySeconds: number;
  readonly rotations: number;
  readonly verbose: boolean;
}

const USER_NAME = 'demo-ses-smtp-sender';
const SECRET_NAME = secretNameOf(USER_NAME);

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
    .option('--verbose', "also print the rotation handler's JSON log lines")
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
  const values = program.opts<{ delaySeconds: number; rotations: number; verbose?: true }>();
  return {
    delaySeconds: values.delaySeconds,
    rotations: values.rotations,
    verbose: values.verbose ?? false,
  };
};

const seconds = (milliseconds: number): string =>
  milliseconds < 1_000
    ? `${String(Math.round(milliseconds))} ms`
    : `${(milliseconds / 1_000).toFixed(1)} s`;

const pad = (text: string, width: number): string => text.padEnd(width);

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ');

const main = async (options: StartOptions): Promise<void> => {
  // The SDK warns once that releases after January 2027 need Node.js 22; the demo runs on 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const clock = new RealClock();
  const sim = new Simulation({
    clock,
    seed: Date.now() % 1_000_000,
    propagationDelayMs: options.delaySeconds * 1_000,
    rotation: { retry: { maxAttempts: 3, delayMs: 2_000 }, lambdaTimeoutMs: 60_000 },
  });
  // Without --verbose the handler's JSON log lines stay silent: each failed attempt is one line
  // of the rotation's step list, with the error's message.
  const logger = new Logger({
    serviceName: SERVICE_NAME,
    logLevel: options.verbose ? 'INFO' : 'SILENT',
  });
  const timings: StepTiming[] = [];
  const timed =
    (handler: RotationFunction): RotationFunction =>
    async (event, context) => {
      const startedAt = clock.now();
      const attempt = timings.filter((timing) => timing.step === event.Step).length + 1;
      try {
        await handler(event, context);
        timings.push({
          step: event.Step,
          attempt,
          durationMs: clock.now() - startedAt,
          outcome: 'ok',
        });
      } catch (error) {
        timings.push({
          step: event.Step,
          attempt,
          durationMs: clock.now() - startedAt,
          outcome: 'failed',
          error: oneLine(error instanceof Error ? error.message : String(error)),
        });
        throw error;
      }
    };

  console.log('IAM access-key rotation: a local run of the real rotation handler');
  console.log(
    `against a simulated IAM, STS and Secrets Manager (no AWS account, no network). New keys are rejected by STS for ${seconds(options.delaySeconds * 1_000)}, as IAM's eventual consistency does.`,
  );
  const deployment = await deployToSimulation({ sim, userName: USER_NAME, logger, wrap: timed });
  console.log(
    `\nSetup, as the CDK stack does: secret ${SECRET_NAME} holding {"UserName"}, tagged ${BINDING_TAG_KEY}=${USER_NAME}, and IAM user ${USER_NAME} (no keys), tagged ${OWNER_TAG_KEY}=<the secret's ARN>.`,
  );

  // The operator command's `status`, run in-process against the simulation.
  const operator = createCliDependencies({ clientConfig: sim.adminClientConfig(), clock });
  const showStatus = async (when: string): Promise<void> => {
    const report = await renderStatus(operator, { secrets: [SECRET_NAME] });
    console.log(`\nnpx iam-key-rotation status ${USER_NAME}, ${when}:`);
    console.log(indent(report.text.trimEnd()));
  };
  await showStatus('before the first rotation');

  const runStartedAt = clock.now();
  for (let index = 1; index <= options.rotations; index += 1) {
    timings.length = 0;
    const startedAt = clock.now();
    const label =
      index === 1
        ? 'aws secretsmanager rotate-secret: the first rotation bootstraps the first key'
        : 'aws secretsmanager rotate-secret';
    const rotation = await deployment.rotate();
    report(sim, index, label, clock.now() - startedAt, rotation, timings);
    if (rotation?.status !== 'succeeded') {
      throw new Error(
        `rotation ${String(index)} ${rotation?.status ?? 'did not start'}: ${timings.find((timing) => timing.outcome === 'failed')?.error ?? 'no step failed'}`,
      );
    }
    checkInvariants(sim);
  }
  await showStatus(
    `after ${String(options.rotations)} rotation${options.rotations === 1 ? '' : 's'}`,
  );
  console.log(
    `\nTotal: ${String(options.rotations)} rotation${options.rotations === 1 ? '' : 's'} in ${seconds(clock.now() - runStartedAt)}. ${String(sim.calls.length)} AWS API calls. Every check passed: AWSCURRENT holds an Active key that authenticates as ${USER_NAME}, the user has at most two keys, and every key is AWSCURRENT or AWSPREVIOUS.`,
  );
};

const indent = (text: string): string =>
  text
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');

const report = (
  sim: Simulation,
  index: number,
  label: string,
  elapsedMs: number,
  rotation: RotationRecord | undefined,
  timings: readonly StepTiming[],
): void => {
  console.log(
    `\nRotation ${String(index)}: ${label}\n  ${rotation?.status ?? 'not started'} in ${seconds(elapsedMs)}${
      rotation !== undefined && rotation.attempts > 1
        ? ` after ${String(rotation.attempts)} attempts`
        : ''
    }`,
  );
  console.log('  Steps:');
  for (const timing of timings) {
    console.log(
      `    ${pad(timing.step, 13)} ${pad(seconds(timing.durationMs), 9)} ${timing.outcome}${
        timing.error === undefined ? '' : `: ${timing.error}`
      }`,
    );
  }
  const versions = sim.secretVersions(SECRET_NAME);
  const keyOf = (secretString: string | undefined): string | undefined => {
    if (secretString === undefined) return undefined;
    const value = JSON.parse(secretString) as { AccessKeyId?: string };
    return value.AccessKeyId;
  };
  console.log(`  Access keys of ${USER_NAME}:`);
  for (const key of sim.accessKeys(USER_NAME)) {
    const holders = versions
      .filter((version) => keyOf(version.secretString) === key.accessKeyId)
      .flatMap((version) => version.stages);
    console.log(
      `    ${key.accessKeyId}  ${pad(key.status, 8)}  age ${pad(seconds(sim.clock.now() - key.createDate), 8)}  ${
        holders.length > 0 ? holders.join(', ') : 'in no labelled version'
      }`,
    );
  }
  console.log(`  Versions of ${SECRET_NAME}:`);
  for (const version of versions.filter((candidate) => candidate.stages.length > 0)) {
    console.log(
      `    ${version.versionId}  ${pad(version.stages.join(', '), 24)}  ${
        keyOf(version.secretString) ?? '{"UserName"} only, no key'
      }`,
    );
  }
};

const checkInvariants = (sim: Simulation): void => {
  const keys = sim.accessKeys(USER_NAME);
  const keyIn = (stage: string): string | undefined => {
    const secretString = sim.versionWithStage(SECRET_NAME, stage)?.secretString;
    return secretString === undefined
      ? undefined
      : (JSON.parse(secretString) as { AccessKeyId?: string }).AccessKeyId;
  };
  const current = keyIn(AWSCURRENT);
  const previous = keyIn(AWSPREVIOUS);
  const currentKey = keys.find((key) => key.accessKeyId === current);
  if (currentKey?.authenticates !== true) {
    throw new Error(`AWSCURRENT key ${String(current)} does not authenticate`);
  }
  if (keys.length > 2) throw new Error(`${USER_NAME} holds ${String(keys.length)} keys`);
  const orphans = keys.filter((key) => key.accessKeyId !== current && key.accessKeyId !== previous);
  if (orphans.length > 0) {
    throw new Error(`orphan keys: ${orphans.map((key) => key.accessKeyId).join(', ')}`);
  }
};

const options = parseOptions(process.argv.slice(2));
if (options !== undefined) {
  main(options).then(
    () => {
      process.exitCode = 0;
    },
    (error: unknown) => {
      console.error(`\nFAILED: ${oneLine(error instanceof Error ? error.message : String(error))}`);
      process.exitCode = 1;
    },
  );
}
