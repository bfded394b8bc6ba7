/**
 * What `cdk deploy` of the stack creates, inside a {@link Simulation}: the IAM user, its secret
 * `iam-key-rotation/<user>` holding `{"UserName"}` with its binding tag and CloudFormation's
 * system tags (the stack's id), the user's ownership tag naming that secret, and the real rotation handler registered as the secret's rotation
 * function, with rotation enabled (its configuration tested, no key created yet). Shared by `npm start` and the benchmarks, so both run the same setup.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { CreateUserCommand, IAMClient, TagUserCommand } from '@aws-sdk/client-iam';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { createHandler, type RotationHandler } from '../lambda/create-handler.js';
import { defaultDependencies } from '../lambda/dependencies.js';
import type { MetricsSink } from '../lambda/invocation-metrics.js';
import {
  GRACE_PERIOD_SECONDS_ENV,
  RETIREMENT_SCHEDULE_GROUP_ENV,
  RETIREMENT_SCHEDULER_ROLE_ARN_ENV,
} from '../lambda/observability.js';
import {
  BINDING_TAG_KEY,
  OWNER_TAG_KEY,
  SECRET_NAME_PREFIX,
  STACK_ID_ENV,
} from '../lambda/rotation/binding.js';
import type {
  RotationFunction,
  RotationRecord,
  SecretState,
  Simulation,
  SimulatedStack,
} from './simulation/index.js';

/** Every secret of the stack is named `iam-key-rotation/<user name>` (lib/ does the same). */
export const secretNameOf = (userName: string): string => `${SECRET_NAME_PREFIX}${userName}`;

/** The name of the simulated deployment's CloudFormation stack. */
export const STACK_NAME = 'IamKeyRotation';

/** The stack of the simulated deployment in `sim`. */
export const deploymentStack = (sim: Simulation): SimulatedStack => sim.stack(STACK_NAME);

/** The logical id a user's secret gets in the stack's template (letters and digits only). */
export const secretLogicalIdOf = (userName: string): string =>
  `RotatedAccessKey${userName.replace(/[^A-Za-z0-9]/g, '')}Secret`;

/** The function's environment that the stack always sets: its own stack id (`AWS::StackId`). */
export const stackEnvironment = (stack: SimulatedStack): Record<string, string> => ({
  [STACK_ID_ENV]: stack.stackId,
});

/**
 * What CloudFormation creates for a user of the stack: the secret `iam-key-rotation/<user>`
 * holding `value` (default `{"UserName"}`), with its binding tag and the stack's system tags.
 */
export const createUserSecret = (
  sim: Simulation,
  stack: SimulatedStack,
  userName: string,
  value: Record<string, string> = {},
): SecretState =>
  sim.createStackSecret(stack, secretLogicalIdOf(userName), {
    Name: secretNameOf(userName),
    SecretString: JSON.stringify({ UserName: userName, ...value }),
    Tags: [{ Key: BINDING_TAG_KEY, Value: userName }],
  });

/** The schedule group and scheduler role a deployment with a grace period gets. */
export const RETIREMENT_SCHEDULE_GROUP = 'iam-key-rotation-retirement';
export const retirementSchedulerRoleArn = (accountId: string): string =>
  `arn:aws:iam::${accountId}:role/iam-key-rotation-retirement-scheduler`;

/**
 * The function's environment for a grace period of `seconds` in `sim`: GRACE_PERIOD_SECONDS, the
 * schedule group and the scheduler's role, as the stack sets them.
 */
export const gracePeriodEnvironment = (
  sim: Simulation,
  seconds: number,
): Record<string, string> => ({
  [GRACE_PERIOD_SECONDS_ENV]: String(seconds),
  [RETIREMENT_SCHEDULE_GROUP_ENV]: RETIREMENT_SCHEDULE_GROUP,
  [RETIREMENT_SCHEDULER_ROLE_ARN_ENV]: retirementSchedulerRoleArn(sim.accountId),
});

export interface SimulatedDeploymentOptions {
  readonly sim: Simulation;
  readonly userName: string;
  readonly logger: Logger;
  /**
   * Wraps the real handler, e.g. to time each step.
   * @default - the handler itself
   */
  readonly wrap?: (handler: RotationHandler) => RotationFunction;
  /**
   * The function's environment (its settings, e.g. STALE_KEY_DAYS), added to the stack id the
   * stack always sets ({@link stackEnvironment}).
   * @default {} (the defaults)
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * A grace period in seconds: the stack's schedule group is created and the function's
   * environment gets {@link gracePeriodEnvironment} (added to `environment`).
   * @default 0 (none)
   */
  readonly gracePeriodSeconds?: number;
  /**
   * Where the function's metrics go.
   * @default - Powertools Metrics: one EMF line per invocation on stdout, as in Lambda
   */
  readonly metrics?: MetricsSink;
}

/** Metrics that go nowhere, for runs that print their own output instead of the function's. */
export const discardedMetrics: MetricsSink = {
  addDimension: () => undefined,
  addMetric: () => undefined,
  publishStoredMetrics: () => undefined,
};

export interface SimulatedDeployment {
  readonly userName: string;
  readonly secretName: string;
  readonly secretArn: string;
  readonly functionArn: string;
  /** Clients signed as an administrator (setup and changes by hand). */
  readonly iam: IAMClient;
  readonly secretsManager: SecretsManagerClient;
  /** RotateSecret, then waits until the rotation and everything it started has ended. */
  rotate(): Promise<RotationRecord | undefined>;
}

export const deployToSimulation = async (
  options: SimulatedDeploymentOptions,
): Promise<SimulatedDeployment> => {
  const { sim, userName } = options;
  const grace = options.gracePeriodSeconds ?? 0;
  const stack = deploymentStack(sim);
  const handler = createHandler(
    defaultDependencies({
      clientConfig: sim.lambdaClientConfig(),
      clock: sim.clock,
      logger: options.logger,
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      environment: {
        ...stackEnvironment(stack),
        ...options.environment,
        ...(grace > 0 ? gracePeriodEnvironment(sim, grace) : {}),
      },
    }),
  );
  if (grace > 0) {
    const scheduler = new SchedulerClient({ ...sim.adminClientConfig() });
    await scheduler.send(new CreateScheduleGroupCommand({ Name: RETIREMENT_SCHEDULE_GROUP }));
    scheduler.destroy();
  }
  const functionArn = sim.registerRotationFunction(options.wrap?.(handler) ?? handler);
  const iam = new IAMClient({ ...sim.adminClientConfig() });
  const secretsManager = new SecretsManagerClient({ ...sim.adminClientConfig() });
  const secretName = secretNameOf(userName);
  const secretArn = createUserSecret(sim, stack, userName).arn;
  await iam.send(new CreateUserCommand({ UserName: userName }));
  await iam.send(
    new TagUserCommand({ UserName: userName, Tags: [{ Key: OWNER_TAG_KEY, Value: secretArn }] }),
  );
  // The rotation schedule: enables rotation with a configuration test (RotateImmediately=false,
  // testSecret only, which passes on a secret that never rotated); rotate() then starts rotations.
  await secretsManager.send(
    new RotateSecretCommand({
      SecretId: secretName,
      RotationLambdaARN: functionArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
      RotateImmediately: false,
    }),
  );
  await sim.settle();
  return {
    userName,
    secretName,
    secretArn,
    functionArn,
    iam,
    secretsManager,
    rotate: async () => {
      await secretsManager.send(new RotateSecretCommand({ SecretId: secretName }));
      await sim.settle();
      return sim.rotations.filter((rotation) => rotation.secretArn === secretArn).at(-1);
    },
  };
};
