import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeSecretCommand,
  InvalidRequestException,
  ListSecretsCommand,
  RotateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { CliClientConfig, CliDependencies, CliIo } from '../../cli/dependencies.js';
import {
  CloudFormationServiceError,
  type StackResources,
} from '../../lambda/aws/cloudformation-stack-resources.js';
import { createCliDependencies } from '../../cli/dependencies.js';
import { ACCOUNT, FakeAws, REGION, type FakeSecret } from './fake-aws.js';

/** What DescribeSecret says about a secret's rotation, beyond what the function reads. */
export interface FakeRotationConfig {
  lastRotatedDate?: Date;
  nextRotationDate?: Date;
  /** DescribeSecret's LastChangedDate. */
  lastChangedDate?: Date;
  rotationLambdaArn?: string;
}

export const FUNCTION_NAME = 'IamKeyRotation-RotationFunction-AbC123';
export const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${FUNCTION_NAME}`;

/** Captures what a command writes, and answers its confirmation prompt. */
export class CapturedIo implements CliIo {
  public out = '';
  public err = '';
  public readonly questions: string[] = [];

  public constructor(
    public readonly interactive = false,
    public readonly columns?: number,
    private readonly answer = false,
  ) {}

  public readonly stdout = (text: string): void => {
    this.out += text;
  };

  public readonly stderr = (text: string): void => {
    this.err += text;
  };

  public readonly confirm = (question: string): Promise<boolean> => {
    this.questions.push(question);
    return Promise.resolve(this.answer);
  };
}

/**
 * {@link FakeAws} with what the operator command calls besides the function's calls: ListSecrets,
 * RotateSecret, DescribeSecret with the rotation schedule, Lambda GetFunctionConfiguration and
 * CloudWatch Logs FilterLogEvents, all on the real SDK client classes (aws-sdk-client-mock).
 */
export class FakeOperatorAws extends FakeAws {
  public readonly lambda = mockClient(LambdaClient);
  public readonly cloudWatchLogs = mockClient(CloudWatchLogsClient);
  public readonly rotation = new Map<string, FakeRotationConfig>();
  /** Log events of the rotation function's log group. */
  public readonly logEvents: { timestamp: Date; message: string }[] = [];
  /** The log group GetFunctionConfiguration reports (`LoggingConfig.LogGroup`). */
  public logGroup: string | undefined = '/iam-key-rotation/rotation-function';
  private rotations = 0;

  public constructor() {
    super();
    this.installOperatorCalls();
  }

  public override restore(): void {
    super.restore();
    this.lambda.restore();
    this.cloudWatchLogs.restore();
  }

  /**
   * CloudFormation DescribeStackResource as a live stack answers it: a secret of this fake whose
   * CloudFormation tags name that stack (by name or id) and logical id is its resource, unless
   * listed in {@link removedFromStack}; anything else is a ValidationError, as CloudFormation's
   * "does not exist".
   */
  public readonly stackResources: StackResources = {
    describeStackResource: (stackName, logicalId) => {
      this.stackResourceCalls.push({ stackName, logicalId });
      const secret = [...this.secrets.values()].find(
        (candidate) =>
          !this.removedFromStack.has(candidate.name) &&
          candidate.tags['aws:cloudformation:logical-id'] === logicalId &&
          (candidate.tags['aws:cloudformation:stack-name'] === stackName ||
            candidate.tags['aws:cloudformation:stack-id'] === stackName),
      );
      if (secret === undefined) {
        return Promise.reject(
          new CloudFormationServiceError(
            'ValidationError',
            `Resource ${logicalId} does not exist for stack ${stackName}`,
            400,
          ),
        );
      }
      return Promise.resolve({ status: 'CREATE_COMPLETE', physicalResourceId: secret.arn });
    },
  };

  /** Secrets no stack holds any more (retained when their user was removed). */
  public readonly removedFromStack = new Set<string>();

  /** The DescribeStackResource calls made. */
  public readonly stackResourceCalls: { stackName: string; logicalId: string }[] = [];

  /** The fake's clock, in epoch milliseconds. */
  public now(): number {
    return this.tick(0).getTime();
  }

  /**
   * A secret of the stack with rotation configured (schedule dates relative to now), carrying the
   * tags CloudFormation gives the secrets it creates (see FakeAws.addSecret).
   */
  public addManagedSecret(
    userName: string,
    config: FakeRotationConfig = {},
    options: { ownUser?: boolean; name?: string } = {},
  ): FakeSecret {
    if (!this.users.has(userName)) this.addUser(userName);
    const secret = this.addSecret(options.name ?? `iam-key-rotation/${userName}`, userName, {
      ...(options.ownUser === undefined ? {} : { ownUser: options.ownUser }),
    });
    this.rotation.set(secret.name, { rotationLambdaArn: FUNCTION_ARN, ...config });
    return secret;
  }

  /** The dependencies of a command, on the real SDK clients (mocked), a fixed clock and `io`. */
  public dependencies(
    io: CapturedIo,
    sleep?: (milliseconds: number) => Promise<void>,
    clientConfig: CliClientConfig = {},
  ): CliDependencies {
    const deps = createCliDependencies({
      clientConfig: {
        region: REGION,
        ...clientConfig,
        credentials: { accessKeyId: 'AKIAOPERATOR000000000', secretAccessKey: 'operator-secret' },
      },
      environment: {},
      io,
      confirm: io.confirm,
    });
    return {
      ...deps,
      stackResources: this.stackResources,
      clock: {
        now: () => this.now(),
        sleep: async (milliseconds) => {
          this.tick(milliseconds);
          await sleep?.(milliseconds);
        },
      },
    };
  }

  private installOperatorCalls(): void {
    this.secretsManager.on(DescribeSecretCommand).callsFake((input: { SecretId: string }) => {
      const secret = this.secret(input.SecretId);
      const config = this.rotation.get(secret.name) ?? {};
      return {
        ARN: secret.arn,
        Name: secret.name,
        ...(secret.rotationEnabled === undefined
          ? {}
          : { RotationEnabled: secret.rotationEnabled }),
        ...(config.rotationLambdaArn === undefined
          ? {}
          : { RotationLambdaARN: config.rotationLambdaArn }),
        ...(config.lastRotatedDate === undefined
          ? {}
          : { LastRotatedDate: config.lastRotatedDate }),
        ...(config.nextRotationDate === undefined
          ? {}
          : { NextRotationDate: config.nextRotationDate }),
        ...(config.lastChangedDate === undefined
          ? {}
          : { LastChangedDate: config.lastChangedDate }),
        Tags: Object.entries(secret.tags).map(([Key, Value]) => ({ Key, Value })),
        VersionIdsToStages: Object.fromEntries(
          [...secret.versions.entries()]
            .filter(([, version]) => version.stages.size > 0)
            .map(([id, version]) => [id, [...version.stages]]),
        ),
      };
    });
    this.secretsManager
      .on(ListSecretsCommand)
      .callsFake((input: { Filters?: { Key?: string; Values?: string[] }[] }) => {
        const tagKeys = input.Filters?.find((filter) => filter.Key === 'tag-key')?.Values ?? [];
        return {
          SecretList: [...this.secrets.values()]
            .filter((secret) =>
              Object.keys(secret.tags).some((key) =>
                tagKeys.some((prefix) => key.startsWith(prefix)),
              ),
            )
            .map((secret) => ({
              ARN: secret.arn,
              Name: secret.name,
              Tags: Object.entries(secret.tags).map(([Key, Value]) => ({ Key, Value })),
            })),
        };
      });
    this.secretsManager.on(RotateSecretCommand).callsFake((input: { SecretId: string }) => {
      const secret = this.secret(input.SecretId);
      for (const version of secret.versions.values()) {
        if (version.stages.has('AWSPENDING') && !version.stages.has('AWSCURRENT')) {
          throw new InvalidRequestException({
            message: "A previous rotation isn't complete. That rotation will be reattempted.",
            $metadata: { httpStatusCode: 400 },
          });
        }
      }
      this.rotations += 1;
      const token = `rotation-${String(this.rotations).padStart(4, '0')}-0000-0000-0000-000000000000`;
      this.startRotation(secret.name, token);
      return { ARN: secret.arn, Name: secret.name, VersionId: token };
    });
    this.lambda.on(GetFunctionConfigurationCommand).callsFake(() => ({
      FunctionName: FUNCTION_NAME,
      FunctionArn: FUNCTION_ARN,
      ...(this.logGroup === undefined
        ? {}
        : { LoggingConfig: { LogFormat: 'JSON', LogGroup: this.logGroup } }),
    }));
    this.cloudWatchLogs
      .on(FilterLogEventsCommand)
      .callsFake((input: { logGroupName?: string; filterPattern?: string; startTime?: number }) => {
        if (input.logGroupName !== (this.logGroup ?? `/aws/lambda/${FUNCTION_NAME}`)) {
          throw Object.assign(new Error('The specified log group does not exist.'), {
            name: 'ResourceNotFoundException',
          });
        }
        const term = JSON.parse(input.filterPattern ?? '""') as string;
        return {
          events: this.logEvents
            .filter((event) => event.message.includes(term))
            .filter((event) => event.timestamp.getTime() >= (input.startTime ?? 0))
            .map((event, index) => ({
              eventId: `event-${String(index)}`,
              timestamp: event.timestamp.getTime(),
              message: event.message,
            })),
        };
      });
  }
}
