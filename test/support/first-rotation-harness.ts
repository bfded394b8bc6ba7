import { Logger } from '@aws-lambda-powertools/logger';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  TagUserCommand,
  UntagUserCommand,
} from '@aws-sdk/client-iam';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { vi } from 'vitest';
import { createHandler } from '../../lambda/create-handler.js';
import { defaultDependencies } from '../../lambda/dependencies.js';
import type { StackStates } from '../../lambda/aws/cloudformation-stack-resources.js';
import type { RotationLogEvent } from '../../lambda/aws/rotation-log-events.js';
import { OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import {
  createFirstRotationHandlers,
  type FirstRotationCompletion,
  type FirstRotationEvent,
  type FirstRotationResult,
} from '../../lambda/first-rotation/first-rotation-wait.js';
import {
  createUserSecret,
  deploymentStack,
  discardedMetrics,
  secretLogicalIdOf,
  secretNameOf,
  stackEnvironment,
} from '../../local/simulated-deployment.js';
import type { Simulation, SimulatedStack } from '../../local/simulation/index.js';

/** The Provider framework's waiter polls isComplete this often (the construct's queryInterval). */
export const QUERY_INTERVAL_MS = 15_000;

/** The rotation function's log lines, as CloudWatch Logs keeps them (stamped with the simulation's time). */
export class SimulatedRotationLog {
  public readonly events: RotationLogEvent[] = [];
  private restore: (() => void) | undefined;

  public constructor(private readonly sim: Simulation) {}

  /** Keeps every JSON line the rotation function writes to stdout and stderr (Powertools Logger's). */
  public start(): this {
    const keep = (chunk: unknown): boolean => {
      const text = typeof chunk === 'string' ? chunk : String(chunk);
      for (const line of text.split('\n')) {
        if (!line.trim().startsWith('{') || !line.includes('"clientRequestToken"')) continue;
        this.events.push({
          eventId: String(this.events.length),
          timestamp: new Date(this.sim.clock.now()),
          message: line,
        });
      }
      return true;
    };
    const spies = [process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, 'write').mockImplementation(keep),
    );
    this.restore = () => {
      for (const spy of spies) spy.mockRestore();
    };
    return this;
  }

  public stop(): void {
    this.restore?.();
  }

  public eventsContaining(text: string, since: Date): Promise<RotationLogEvent[]> {
    return Promise.resolve(
      this.events.filter(
        (event) => event.message.includes(text) && event.timestamp.getTime() >= since.getTime(),
      ),
    );
  }
}

/** CloudFormation as the waiter reads it: a stack status and the wait's own resource status. */
export class StackStatusStub implements StackStates {
  public stackStatus = 'CREATE_IN_PROGRESS';
  public resourceStatus = 'CREATE_IN_PROGRESS';
  public physicalResourceId: string | undefined;
  public creationTime: Date;

  public constructor(now: number) {
    this.creationTime = new Date(now);
  }

  public describeStackResource(): Promise<{ status: string; physicalResourceId?: string }> {
    return Promise.resolve({
      status: this.resourceStatus,
      ...(this.physicalResourceId === undefined
        ? {}
        : { physicalResourceId: this.physicalResourceId }),
    });
  }

  public describeStack(): Promise<{ status: string; creationTime: Date }> {
    return Promise.resolve({ status: this.stackStatus, creationTime: this.creationTime });
  }
}

export interface FirstDeploymentOptions {
  readonly userName: string;
  /** Keys the user holds before the deployment, each used just now (they sign one request). */
  readonly usedKeys?: number;
  /** How long the wait may take before it fails the deployment. @default 20 minutes */
  readonly waitTimeoutMs?: number;
  /**
   * Whether creating the schedule starts the first rotation (CloudFormation's RotateImmediately);
   * `false` leaves rotation enabled with only the configuration tested, nothing in flight.
   * @default true
   */
  readonly rotateImmediately?: boolean;
  /** The rotation function's timeout as the wait knows it. @default 30 s (the simulation's) */
  readonly rotationTimeoutMs?: number;
}

export interface FirstDeployment {
  readonly stack: SimulatedStack;
  readonly stackStates: StackStatusStub;
  readonly secretArn: string;
  readonly event: Omit<FirstRotationEvent, 'RequestType'>;
  readonly handlers: ReturnType<typeof createFirstRotationHandlers>;
  /** The user's keys before the deployment. */
  readonly keysBefore: readonly string[];
  readonly waiterLog: Record<string, unknown>[];
}

/** What the Provider framework does with one Create: onEvent, then isComplete until done or failed. */
export const awaitCreate = async (
  sim: Simulation,
  deployment: FirstDeployment,
): Promise<
  | {
      readonly outcome: 'complete';
      readonly created: FirstRotationResult;
      readonly completion: FirstRotationCompletion;
    }
  | { readonly outcome: 'failed'; readonly created?: FirstRotationResult; readonly error: Error }
> => {
  let created: FirstRotationResult | undefined;
  try {
    created = await deployment.handlers.onEvent({ ...deployment.event, RequestType: 'Create' });
    deployment.stackStates.physicalResourceId = created.PhysicalResourceId;
    for (;;) {
      const completion = await deployment.handlers.isComplete({
        ...deployment.event,
        RequestType: 'Create',
        PhysicalResourceId: created.PhysicalResourceId,
        Data: created.Data,
      });
      if (completion.IsComplete) return { outcome: 'complete', created, completion };
      // What is in flight (steps, Secrets Manager's retries) runs first: on the virtual clock a
      // sleep of the waiter beside a running step would pass that step's whole Lambda timeout.
      await sim.settle();
      await sim.clock.sleep(QUERY_INTERVAL_MS);
    }
  } catch (error) {
    return {
      outcome: 'failed',
      ...(created === undefined ? {} : { created }),
      error: error instanceof Error ? error : new Error(String(error)),
    };
  }
};

/**
 * What `cdk deploy` creates for one existing user with the wait on, in the simulation: the secret
 * (CloudFormation's tags), the ownership tag, the rotation schedule (RotateSecret with rules,
 * which starts the first rotation at once), and the wait's handlers with the simulation's clients.
 */
export const deployWithWait = async (
  sim: Simulation,
  rotationLog: SimulatedRotationLog,
  options: FirstDeploymentOptions,
): Promise<FirstDeployment> => {
  const { userName } = options;
  const stack = deploymentStack(sim);
  // The deployment (its stack's creation) begins before it creates anything.
  const stackStates = new StackStatusStub(sim.clock.now());
  const admin = {
    iam: new IAMClient(sim.adminClientConfig()),
    sm: new SecretsManagerClient(sim.adminClientConfig()),
  };
  if (sim.user(userName) === undefined) {
    await admin.iam.send(new CreateUserCommand({ UserName: userName }));
  }
  const keysBefore: string[] = [];
  for (let index = 0; index < (options.usedKeys ?? 0); index += 1) {
    const key = (await admin.iam.send(new CreateAccessKeyCommand({ UserName: userName })))
      .AccessKey;
    keysBefore.push(key?.AccessKeyId ?? '');
    const sts = new STSClient(
      sim.clientConfig({
        accessKeyId: key?.AccessKeyId ?? '',
        secretAccessKey: key?.SecretAccessKey ?? '',
      }),
    );
    await sts.send(new GetCallerIdentityCommand({}));
  }
  const functionArn = sim.registerRotationFunction(
    createHandler(
      defaultDependencies({
        clientConfig: sim.lambdaClientConfig(),
        clock: sim.clock,
        logger: new Logger({ serviceName: 'iam-key-rotation' }),
        metrics: discardedMetrics,
        environment: stackEnvironment(stack),
      }),
    ),
  );
  // CloudFormation creates one resource after the other, seconds apart.
  await sim.clock.sleep(2_000);
  const secret = createUserSecret(sim, stack, userName);
  await sim.clock.sleep(2_000);
  await admin.iam.send(
    new TagUserCommand({ UserName: userName, Tags: [{ Key: OWNER_TAG_KEY, Value: secret.arn }] }),
  );
  await admin.sm.send(
    new RotateSecretCommand({
      SecretId: secret.arn,
      RotationLambdaARN: functionArn,
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      ...(options.rotateImmediately === false ? { RotateImmediately: false } : {}),
    }),
  );
  const waiterLog: Record<string, unknown>[] = [];
  const handlers = createFirstRotationHandlers({
    settings: {
      stackId: stack.stackId,
      waitTimeoutMs: options.waitTimeoutMs ?? 20 * 60_000,
      rotationTimeoutMs: options.rotationTimeoutMs ?? 30_000,
    },
    secretsManager: admin.sm,
    iam: admin.iam,
    stack: stackStates,
    rotationLog,
    clock: sim.clock,
    log: (line) => waiterLog.push({ ...line }),
  });
  return {
    stack,
    stackStates,
    secretArn: secret.arn,
    keysBefore,
    handlers,
    waiterLog,
    event: {
      StackId: stack.stackId,
      LogicalResourceId: `${secretLogicalIdOf(userName)}FirstRotation`,
      ResourceProperties: { UserName: userName, SecretArn: secret.arn },
    },
  };
};

/**
 * CloudFormation's rollback of the failed creation, in dependency order: the wait's Delete, then
 * the rotation schedule (nothing left to do once the wait cancelled the rotation), the ownership
 * tag (the tagger's Delete untags), and the secret (`RetainExceptOnCreate`: deleted without
 * recovery, CloudFormation's way).
 */
export const rollBackCreation = async (
  sim: Simulation,
  deployment: FirstDeployment,
  created: FirstRotationResult | undefined,
): Promise<void> => {
  deployment.stackStates.stackStatus = 'ROLLBACK_IN_PROGRESS';
  deployment.stackStates.resourceStatus = 'DELETE_IN_PROGRESS';
  if (created !== undefined) {
    await deployment.handlers.onEvent({
      ...deployment.event,
      RequestType: 'Delete',
      PhysicalResourceId: created.PhysicalResourceId,
    });
  }
  await sim.settle();
  const userName = deployment.event.ResourceProperties.UserName;
  await new IAMClient(sim.adminClientConfig()).send(
    new UntagUserCommand({ UserName: userName, TagKeys: [OWNER_TAG_KEY] }),
  );
  sim.deleteStackSecret(secretNameOf(userName));
};
