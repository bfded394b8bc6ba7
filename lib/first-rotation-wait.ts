import { stackSingleton } from './stack-singleton.js';
import * as path from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import {
  CLOUDFORMATION_STACK_ID_TAG_KEY,
  OWNER_TAG_KEY,
  SECRET_NAME_PREFIX,
  STACK_ID_ENV,
} from '../lambda/rotation/binding.js';
import {
  ROTATION_LOG_GROUP_ENV,
  ROTATION_TIMEOUT_SECONDS_ENV,
  WAIT_TIMEOUT_SECONDS_ENV,
} from '../lambda/first-rotation/settings.js';
import type { KeyRotationFunction } from './key-rotation-function.js';
import type { RotatedAccessKey } from './rotated-access-key.js';
import {
  PROJECT_LOCK_FILE,
  PROJECT_ROOT,
  ROTATION_ESBUILD_ARGS,
  rotationBundlingOptions,
} from './rotation-bundling.js';
import {
  isAtRootPath,
  rendered,
  STATEMENT_RESOURCE_LIMIT,
  stackSecretArnPattern,
  stackUserArnPattern,
} from './rotation-permissions.js';

/** The wait's Lambda entry file (exports `onEvent` and `isComplete`); its own asset. */
export const FIRST_ROTATION_ENTRY = path.join(
  PROJECT_ROOT,
  'lambda',
  'first-rotation',
  'handler.ts',
);

/** The CloudFormation type of each secret's wait. */
export const FIRST_ROTATION_RESOURCE_TYPE = 'Custom::FirstRotation';

/**
 * How many first rotations run at once: the rotation schedule of the (N+1)th new secret waits
 * for the first one's wait, and so on. A first rotation makes about 20 IAM and Secrets Manager
 * calls in a few seconds, plus testSecret's STS calls while the new key propagates; 10 at once stay
 * far below Secrets Manager's 50 writes per second and IAM's per-API token buckets (shared with
 * everything else in the account), while 100 users (a stack's most) take about 10 rounds of a
 * minute or two.
 */
export const FIRST_ROTATIONS_AT_ONCE = 10;

/** How often the Provider framework asks isComplete. */
export const FIRST_ROTATION_QUERY_INTERVAL = Duration.seconds(15);

/**
 * How long after onEvent isComplete fails the deployment with the function's last error. Secrets
 * Manager retries a failed rotation (count and backoff undocumented); a new key is valid for STS
 * after seconds (15 s worst seen), and each attempt ends within the rotation function's timeout.
 */
export const FIRST_ROTATION_WAIT = Duration.minutes(25);

/** The Provider framework's own limit: beyond the wait's deadline, so the wait's message wins. */
export const FIRST_ROTATION_TOTAL_TIMEOUT = Duration.minutes(30);

/** Secrets Manager actions of the waiter's role, on the stack's own secrets only. */
export const FIRST_ROTATION_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:RotateSecret',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:CancelRotateSecret',
] as const;

/** IAM actions of the waiter's role on each user of the stack (the rollback's key removal). */
export const FIRST_ROTATION_IAM_ACTIONS = [
  'iam:ListAccessKeys',
  'iam:UpdateAccessKey',
  'iam:DeleteAccessKey',
] as const;

/** Properties of a {@link FirstRotationWait}. */
export interface FirstRotationWaitProps {
  /** The stack's rotation function, whose log the wait reads and whose rotations it awaits. */
  readonly rotationFunction: KeyRotationFunction;

  /**
   * How long the log groups of the wait's functions keep their log lines.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to those log groups when they are removed from the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * Makes the deployment await the first rotation of every new secret: one custom resource
 * (`Custom::FirstRotation`) per secret, created after the secret's rotation schedule (whose
 * creation starts the rotation) and its ownership tag, served by two small functions of this
 * project (onEvent, isComplete) behind aws-cdk-lib's Provider framework. The deployment fails with
 * the rotation function's own error when the rotation is refused or does not complete within
 * {@link FIRST_ROTATION_WAIT}; the rollback of the wait's creation cancels that rotation and deletes
 * the keys it made (lambda/first-rotation/first-rotation-wait.ts). Updates never rotate.
 *
 * At most {@link FIRST_ROTATIONS_AT_ONCE} first rotations run at once: the schedule of each
 * further secret depends on the wait that many secrets before it.
 *
 * The functions' role may: `secretsmanager:DescribeSecret`, `RotateSecret` and
 * `UpdateSecretVersionStage` on the secrets `iam-key-rotation/*` whose
 * `aws:cloudformation:stack-id` tag is this stack (an explicit Deny on any other, so no resource
 * policy can grant more); never `GetSecretValue`: the wait never sees a key. `lambda:InvokeFunction`
 * on the rotation function (RotateSecret requires it of its caller). `iam:ListAccessKeys`,
 * `UpdateAccessKey`, `DeleteAccessKey` on the stack's users (up to 18 per statement), the writes
 * denied on a user whose ownership tag does not name a secret of this region and account.
 * `logs:FilterLogEvents` on the rotation function's log group (it holds identifiers and error
 * messages only). `cloudformation:DescribeStackResource` and `DescribeStacks` on its own stack.
 *
 * One per stack: use {@link FirstRotationWait.of}.
 */
export class FirstRotationWait extends Construct {
  /** The stack's wait, created at the first call. */
  public static of(scope: Construct, props: FirstRotationWaitProps): FirstRotationWait {
    return stackSingleton(
      scope,
      SHARED_ID,
      FirstRotationWait,
      (stack) => new FirstRotationWait(stack, SHARED_ID, props),
    );
  }

  /** The role of both functions. */
  public readonly role: iam.Role;

  /** The onEvent function (starts or finds the rotation; the rollback's clean-up). */
  public readonly onEventFunction: nodejs.NodejsFunction;

  /** The isComplete function (is the key proven, or did the rotation fail?). */
  public readonly isCompleteFunction: nodejs.NodejsFunction;

  /** The Provider framework in front of the functions. */
  public readonly provider: cr.Provider;

  /** The waits, in order. */
  public readonly waits: CustomResource[] = [];

  private userStatement?: iam.PolicyStatement;
  private readonly users = new Set<string>();

  public constructor(scope: Construct, id: string, props: FirstRotationWaitProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const removalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;
    const rotation = props.rotationFunction;
    const secrets = stackSecretArnPattern(this);
    const ofThisStack = { [`aws:ResourceTag/${CLOUDFORMATION_STACK_ID_TAG_KEY}`]: stack.stackId };

    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'Awaits the first rotation of new secrets during the deployment (iam-key-rotation)',
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...FIRST_ROTATION_SECRET_ACTIONS],
        resources: [secrets],
        conditions: { StringEquals: ofThisStack },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: [...FIRST_ROTATION_SECRET_ACTIONS],
        resources: ['*'],
        conditions: { StringNotEquals: ofThisStack },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: ['iam:UpdateAccessKey', 'iam:DeleteAccessKey'],
        resources: ['*'],
        conditions: { StringNotLike: { [`iam:ResourceTag/${OWNER_TAG_KEY}`]: secrets } },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [rotation.function.functionArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:FilterLogEvents'],
        resources: [rotation.logGroup.logGroupArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudformation:DescribeStackResource', 'cloudformation:DescribeStacks'],
        resources: [stack.stackId],
      }),
    );

    const environment = {
      [STACK_ID_ENV]: stack.stackId,
      [ROTATION_LOG_GROUP_ENV]: rotation.logGroup.logGroupName,
      [ROTATION_TIMEOUT_SECONDS_ENV]: String(rotation.timeout.toSeconds()),
      [WAIT_TIMEOUT_SECONDS_ENV]: String(FIRST_ROTATION_WAIT.toSeconds()),
    };
    const fn = (name: 'OnEvent' | 'IsComplete', timeout: Duration, description: string) => {
      const logGroup = new logs.LogGroup(this, `${name}LogGroup`, { retention, removalPolicy });
      logGroup.grantWrite(this.role);
      return new nodejs.NodejsFunction(this, name, {
        entry: FIRST_ROTATION_ENTRY,
        handler: name === 'OnEvent' ? 'onEvent' : 'isComplete',
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 256,
        timeout,
        role: this.role,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        description,
        environment,
        depsLockFilePath: PROJECT_LOCK_FILE,
        projectRoot: PROJECT_ROOT,
        // The rotation function's esbuild options without its split-asset step, and with the
        // SDK's event streams, which the CloudWatch Logs client needs (for calls we never make).
        bundling: {
          ...rotationBundlingOptions(false),
          commandHooks: undefined,
          esbuildArgs: {
            '--alias': (ROTATION_ESBUILD_ARGS['--alias'] ?? []).filter(
              (alias) => !alias.startsWith('@smithy/core/event-streams='),
            ),
          },
        },
      });
    };
    // The rollback's Delete waits out the rotation function's timeout (up to three times when a
    // step in flight puts AWSPENDING back): Lambda's longest timeout.
    this.onEventFunction = fn(
      'OnEvent',
      Duration.minutes(15),
      'Starts or finds the first rotation of a new secret; cancels it on rollback',
    );
    this.isCompleteFunction = fn(
      'IsComplete',
      Duration.minutes(1),
      'Tells whether the first rotation of a new secret proved its key, or why it failed',
    );

    const providerLogGroup = new logs.LogGroup(this, 'ProviderLogGroup', {
      retention,
      removalPolicy,
    });
    // The framework's own roles, without AWS managed policies: each writes its log group only.
    const frameworkRole = (roleId: string, description: string): iam.Role => {
      const role = new iam.Role(this, roleId, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description,
      });
      providerLogGroup.grantWrite(role);
      return role;
    };
    const onEventRole = frameworkRole(
      'ProviderOnEventRole',
      'Runs the onEvent function of the Provider framework of the first-rotation wait',
    );
    const completeRole = frameworkRole(
      'ProviderCompleteRole',
      'Runs the isComplete and onTimeout functions of the Provider framework of the first-rotation wait',
    );
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.onEventFunction,
      isCompleteHandler: this.isCompleteFunction,
      queryInterval: FIRST_ROTATION_QUERY_INTERVAL,
      totalTimeout: FIRST_ROTATION_TOTAL_TIMEOUT,
      logGroup: providerLogGroup,
      frameworkOnEventRole: onEventRole,
      frameworkCompleteAndTimeoutRole: completeRole,
      disableWaiterStateMachineLogging: false,
      // Execution data (the events) stays out of the log: only the states' history.
      waiterStateMachineLogOptions: {
        destination: new logs.LogGroup(this, 'WaiterLogGroup', { retention, removalPolicy }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
    });

    const partition = rendered(stack.partition, 'AWS::Partition');
    const region = rendered(stack.region, 'AWS::Region');
    const account = rendered(stack.account, 'AWS::AccountId');
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${partition}:secretsmanager:${region}:${account}:secret:${SECRET_NAME_PREFIX}*]`,
      reason: `The wait's actions apply only to secrets named ${SECRET_NAME_PREFIX}* whose ${CLOUDFORMATION_STACK_ID_TAG_KEY} tag is this stack's id (a reserved tag only CloudFormation sets).`,
    });
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(rotation.logGroup.node.defaultChild as logs.CfnLogGroup)}.Arn>]`,
      reason:
        "logs:FilterLogEvents on the rotation function's own log group (its ARN ends in :*): the wait reads the function's error for the rotation it awaits.",
    });
    Validations.of(this.provider).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'The Provider framework functions run the Node.js runtime aws-cdk-lib chooses for them; our own functions run the newest one.',
    });
    const logicalId = (construct: IConstruct): string =>
      stack.getLogicalId(construct.node.defaultChild as lambda.CfnFunction);
    const invokeVersions = (role: iam.Role, functions: IConstruct[]): void => {
      for (const invoked of functions) {
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${logicalId(invoked)}.Arn>:*]`,
          reason:
            "The Provider framework's grant to invoke one of its functions and that function's versions; nothing else.",
        });
      }
    };
    const framework = (name: string): IConstruct => {
      const found = this.provider.node.tryFindChild(name);
      if (found === undefined) throw new Error(`the Provider framework has no ${name}`);
      return found;
    };
    // aws-cdk-lib grants both framework roles the invocation of both functions.
    invokeVersions(onEventRole, [this.onEventFunction, this.isCompleteFunction]);
    invokeVersions(completeRole, [this.onEventFunction, this.isCompleteFunction]);
    const waiter = framework('waiter-state-machine');
    Validations.of(waiter).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions delivers its execution log to CloudWatch Logs through log delivery actions that take no resource ARN (logs:CreateLogDelivery and the others).',
    });
    for (const invoked of ['framework-isComplete', 'framework-onTimeout']) {
      Validations.of(waiter).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${logicalId(framework(invoked))}.Arn>:*]`,
        reason:
          "The waiter state machine's grant to invoke the framework's isComplete and onTimeout functions and their versions; nothing else.",
      });
    }
    Validations.of(this.provider).acknowledge({
      id: 'AwsSolutions-SF2',
      reason:
        "The Provider framework's waiter state machine polls isComplete only; X-Ray tracing would add cost, not insight.",
    });
  }

  /**
   * Awaits the first rotation of `key`'s secret: a `Custom::FirstRotation` created after its
   * rotation schedule and ownership tag. Chains `key`'s rotation schedule on the wait
   * {@link FIRST_ROTATIONS_AT_ONCE} secrets before it, so that at most that many first rotations
   * run at once.
   *
   * @returns the custom resource
   */
  public awaitFirstRotation(key: RotatedAccessKey): CustomResource {
    this.allowKeyRemoval(key);
    const before = this.waits[this.waits.length - FIRST_ROTATIONS_AT_ONCE];
    if (before !== undefined) key.rotationSchedule.node.addDependency(before);
    const wait = new CustomResource(key, 'FirstRotation', {
      serviceToken: this.provider.serviceToken,
      resourceType: FIRST_ROTATION_RESOURCE_TYPE,
      properties: { UserName: key.userName, SecretArn: key.secret.secretArn },
    });
    // Its rollback Delete runs before CloudFormation deletes any of these.
    wait.node.addDependency(key.rotationSchedule, key.ownershipTag, this.role);
    this.waits.push(wait);
    return wait;
  }

  private allowKeyRemoval(key: RotatedAccessKey): void {
    if (this.users.has(key.userName)) {
      throw new Error(
        `user ${key.userName} already has a first-rotation wait in ${this.node.path}`,
      );
    }
    if (this.users.size % STATEMENT_RESOURCE_LIMIT === 0) {
      this.userStatement = new iam.PolicyStatement({ actions: [...FIRST_ROTATION_IAM_ACTIONS] });
      this.role.addToPrincipalPolicy(this.userStatement);
    }
    this.users.add(key.userName);
    const atRoot = isAtRootPath(key.user, key.userName);
    this.userStatement?.addResources(stackUserArnPattern(this, key.userName, atRoot));
    if (!atRoot) {
      const stack = Stack.of(this);
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:${rendered(stack.partition, 'AWS::Partition')}:iam::${rendered(stack.account, 'AWS::AccountId')}:user/*/${key.userName}]`,
        reason: `The one IAM user named ${key.userName}, whatever its path (user names are unique in an account and hold no "/").`,
      });
    }
  }
}

/** The construct id of the stack's wait (a contract: renaming replaces its role and functions). */
const SHARED_ID = 'FirstRotationWait';
