/**
 * What `npm start` runs once its options are parsed (local/start.ts): the real rotation handler
 * rotates an IAM user's access key against the in-process AWS simulation. Loaded only then, so
 * `--help` and a usage error answer without loading the handler, the SDK and the simulation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from '../lambda/dependencies.js';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../lambda/rotation/binding.js';
import { renderStatus } from '../cli/commands/status.js';
import { createCliDependencies } from '../cli/dependencies.js';
import { RETIRE_OPERATION } from '../lambda/observability.js';
import { deployToSimulation, discardedMetrics, secretNameOf } from './simulated-deployment.js';
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

export interface StartOptions {
  readonly delaySeconds: number;
  readonly rotations: number;
  readonly verbose: boolean;
  /** 0: none. */
  readonly gracePeriodSeconds: number;
}

const USER_NAME = 'demo-ses-smtp-sender';
const SECRET_NAME = secretNameOf(USER_NAME);

const seconds = (milliseconds: number): string =>
  milliseconds < 1_000
    ? `${String(Math.round(milliseconds))} ms`
    : `${(milliseconds / 1_000).toFixed(1)} s`;

const pad = (text: string, width: number): string => text.padEnd(width);

export const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ');

export const main = async (options: StartOptions): Promise<void> => {
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
      // A grace-period schedule's event has no Step: it retires the previous key.
      const step = (event.Step as string | undefined) ?? RETIRE_OPERATION;
      const attempt = timings.filter((timing) => timing.step === step).length + 1;
      try {
        await handler(event, context);
        timings.push({ step, attempt, durationMs: clock.now() - startedAt, outcome: 'ok' });
      } catch (error) {
        timings.push({
          step,
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
  const grace = options.gracePeriodSeconds;
  if (grace > 0) {
    console.log(
      `Grace period ${seconds(grace * 1_000)}: after each rotation the previous key stays Active, and a one-time EventBridge Scheduler schedule invokes the function to deactivate it when the grace period ends.`,
    );
  }
  const deployment = await deployToSimulation({
    sim,
    userName: USER_NAME,
    logger,
    wrap: timed,
    gracePeriodSeconds: grace,
    // Without --verbose the metrics (EMF lines on stdout, as in Lambda) stay silent too.
    ...(options.verbose ? {} : { metrics: discardedMetrics }),
  });
  console.log(
    `\nSetup, as the CDK stack does: secret ${SECRET_NAME} holding {"UserName"}, tagged ${BINDING_TAG_KEY}=${USER_NAME} and (by CloudFormation) aws:cloudformation:stack-id=<the stack's id>, and IAM user ${USER_NAME} (no keys), tagged ${OWNER_TAG_KEY}=<the secret's ARN>${grace > 0 ? ', and the schedule group of the grace period' : ''}.`,
  );

  // The operator command's `status`, run in-process against the simulation.
  const operator = createCliDependencies({ clientConfig: sim.adminClientConfig(), clock });
  const showStatus = async (when: string): Promise<void> => {
    const report = await renderStatus(operator, { secrets: [SECRET_NAME] });
    console.log(`\niam-key-rotation status ${USER_NAME}, ${when}:`);
    console.log(indent(report.text.trimEnd()));
  };
  await showStatus('before the first rotation');

  const runStartedAt = clock.now();
  for (let index = 1; index <= options.rotations; index += 1) {
    await fireDueSchedules(sim, timings);
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
  if (grace > 0) await waitForGracePeriod(sim, timings);
  await showStatus(
    `after ${String(options.rotations)} rotation${options.rotations === 1 ? '' : 's'}`,
  );
  console.log(
    `\nTotal: ${String(options.rotations)} rotation${options.rotations === 1 ? '' : 's'} in ${seconds(clock.now() - runStartedAt)}. ${String(sim.calls.length)} AWS API calls. Every check passed: AWSCURRENT holds an Active key that authenticates as ${USER_NAME}, the user has at most two keys, and every key is AWSCURRENT or AWSPREVIOUS.`,
  );
};

/** Runs the schedules that are due, printing what each invocation did. */
const fireDueSchedules = async (sim: Simulation, timings: StepTiming[]): Promise<void> => {
  timings.length = 0;
  const fired = await sim.runDueSchedules();
  if (fired.length === 0) return;
  console.log(`\nEventBridge Scheduler: ${String(fired.length)} schedule invocation(s) came due`);
  for (const timing of timings) {
    console.log(
      `    ${pad(timing.step, 17)} ${pad(seconds(timing.durationMs), 9)} ${timing.outcome}${timing.error === undefined ? '' : `: ${timing.error}`}`,
    );
  }
};

/**
 * After the last rotation: the previous key is still Active; wait (on the real clock) until its
 * schedule is due, counting down, then let it fire and show the keys.
 */
const waitForGracePeriod = async (sim: Simulation, timings: StepTiming[]): Promise<void> => {
  const due = sim.nextScheduleTime();
  const previous = keyHeldBy(sim, AWSPREVIOUS);
  if (due === undefined) return;
  console.log(
    `\nGrace period: the previous key ${previous ?? '(none)'} is ${sim.accessKey(previous ?? '')?.status ?? 'gone'}; its schedule fires at ${new Date(due).toISOString()}.`,
  );
  if (process.stdout.isTTY) {
    // A countdown on one line of the terminal.
    while (sim.clock.now() < due) {
      const left = due - sim.clock.now();
      process.stdout.write(`  waiting ${seconds(left)}...   \r`);
      await sim.clock.sleep(Math.min(1_000, left));
    }
    process.stdout.write(`${' '.repeat(30)}\r`);
  } else {
    console.log(`  waiting ${seconds(due - sim.clock.now())}...`);
    await sim.clock.sleep(due - sim.clock.now());
  }
  await fireDueSchedules(sim, timings);
  console.log(`  Access keys of ${USER_NAME}:`);
  for (const key of sim.accessKeys(USER_NAME)) {
    const role =
      key.accessKeyId === keyHeldBy(sim, AWSCURRENT)
        ? AWSCURRENT
        : key.accessKeyId === previous
          ? AWSPREVIOUS
          : 'in no labelled version';
    console.log(`    ${key.accessKeyId}  ${pad(key.status, 8)}  ${role}`);
  }
  if (previous !== undefined && sim.accessKey(previous)?.status !== 'Inactive') {
    throw new Error(`the previous key ${previous} is still Active after its grace period`);
  }
};

const keyHeldBy = (sim: Simulation, stage: string): string | undefined => {
  const secretString = sim.versionWithStage(SECRET_NAME, stage)?.secretString;
  return secretString === undefined
    ? undefined
    : (JSON.parse(secretString) as { AccessKeyId?: string }).AccessKeyId;
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
