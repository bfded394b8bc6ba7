/**
 * `npm start`: the real rotation handler rotates an IAM user's access key three times against
 * the in-process AWS simulation (local/simulation), with a realistic IAM propagation delay.
 * No AWS account, credentials or network are used. Exit code 0 on success, 1 with the reason
 * on failure.
 */
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from '../lambda/dependencies.js';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../lambda/rotation/binding.js';
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

const USER_NAME = 'demo-ses-smtp-sender';
const SECRET_NAME = secretNameOf(USER_NAME);

const parseOptions = (): { delaySeconds: number; rotations: number; verbose: boolean } => {
  const { values } = parseArgs({
    options: {
      'delay-seconds': { type: 'string', default: '5' },
      rotations: { type: 'string', default: '3' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const delaySeconds = Number(values['delay-seconds']);
  const rotations = Number(values.rotations);
  if (!Number.isFinite(delaySeconds) || delaySeconds < 0 || delaySeconds > 60) {
    throw new Error(
      `--delay-seconds must be a number from 0 to 60, got ${values['delay-seconds']}`,
    );
  }
  if (!Number.isInteger(rotations) || rotations < 1 || rotations > 20) {
    throw new Error(`--rotations must be a whole number from 1 to 20, got ${values.rotations}`);
  }
  return { delaySeconds, rotations, verbose: values.verbose };
};

const seconds = (milliseconds: number): string =>
  milliseconds < 1_000
    ? `${String(Math.round(milliseconds))} ms`
    : `${(milliseconds / 1_000).toFixed(1)} s`;

const pad = (text: string, width: number): string => text.padEnd(width);

const main = async (): Promise<void> => {
  // The SDK warns once that releases after January 2027 need Node.js 22; the demo runs on 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const options = parseOptions();
  const clock = new RealClock();
  const sim = new Simulation({
    clock,
    seed: Date.now() % 1_000_000,
    propagationDelayMs: options.delaySeconds * 1_000,
    rotation: { retry: { maxAttempts: 3, delayMs: 2_000 }, lambdaTimeoutMs: 60_000 },
  });
  const logger = new Logger({
    serviceName: SERVICE_NAME,
    logLevel: options.verbose ? 'INFO' : 'WARN',
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
          error: error instanceof Error ? error.message : String(error),
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

  const runStartedAt = clock.now();
  for (let index = 1; index <= options.rotations; index += 1) {
    timings.length = 0;
    const startedAt = clock.now();
    const label =
      index === 1
        ? 'enables rotation (rate(30 days)); the first rotation bootstraps the first key'
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
  console.log(
    `\nTotal: ${String(options.rotations)} rotations in ${seconds(clock.now() - runStartedAt)}. ${String(sim.calls.length)} AWS API calls. Every check passed: AWSCURRENT holds an Active key that authenticates as ${USER_NAME}, the user has at most two keys, and every key is AWSCURRENT or AWSPREVIOUS.`,
  );
};

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

main().then(
  () => {
    process.exitCode = 0;
  },
  (error: unknown) => {
    console.error(`\nFAILED: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
