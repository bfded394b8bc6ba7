import {
  ArnFormat,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  Tokenization,
  Validations,
} from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import {
  GRACE_PERIOD_SECONDS_ENV,
  RETIREMENT_SCHEDULER_ROLE_ARN_ENV,
  RETIREMENT_SCHEDULE_GROUP_ENV,
} from '../lambda/observability.js';
import {
  DEFAULT_STALE_KEY_DAYS,
  STACK_ID_ENV,
  STALE_KEY_DAYS_ENV,
} from '../lambda/rotation/binding.js';
import {
  PROJECT_LOCK_FILE,
  PROJECT_ROOT,
  ROTATION_HANDLER_ENTRY,
  rotationBundlingOptions,
} from './rotation-bundling.js';
import {
  RETIREMENT_SCHEDULE_ACTIONS,
  type RotationGrant,
  RotationPermissions,
  rendered,
  stackSecretArnPattern,
} from './rotation-permissions.js';

/** The handler's testSecret step stops waiting for IAM propagation this long before the end. */
const HANDLER_SAFETY_MARGIN = Duration.seconds(3);
/** Shortest timeout that still leaves the testSecret step time to wait for a new key. */
const MIN_TIMEOUT = Duration.seconds(30);
const MAX_TIMEOUT = Duration.minutes(15);
const MIN_MEMORY_MB = 128;
const MAX_MEMORY_MB = 10_240;
/** Range of `staleKeyDays` (the function refuses any other value of its environment variable). */
export const MIN_STALE_KEY_DAYS = 1;
export const MAX_STALE_KEY_DAYS = 1000;

/** Properties of a {@link KeyRotationFunction}. */
export interface KeyRotationFunctionProps {
  /**
   * The function timeout. The testSecret step waits for the new key to propagate through IAM
   * until 3 seconds before the timeout, so this bounds that wait. Between 30 seconds and 15
   * minutes.
   *
   * @default Duration.minutes(2)
   */
  readonly timeout?: Duration;

  /**
   * Memory in MB, between 128 and 10240. The function makes a handful of API calls and holds no
   * data.
   *
   * @default 128
   */
  readonly memorySize?: number;

  /**
   * Days without use (GetAccessKeyLastUsed) after which a key the secret does not hold may be
   * deleted to make room for a new one; a key used more recently is kept and the rotation fails
   * instead. A whole number from 1 to 1000, passed as the environment variable `STALE_KEY_DAYS`.
   *
   * @default 7
   */
  readonly staleKeyDays?: number;

  /**
   * How long the function's log group keeps its JSON log lines.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the log group when it is removed from the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;

  /**
   * Whether the asset carries the SMTP client of the SES SMTP login test
   * ({@link SMTP_CLIENT_FILE}, about 48 KB beside `index.cjs`): needed when a secret the function
   * rotates has `sesSmtpTest`. Without it the asset is `index.cjs` and its lazily loaded chunks, and a secret tagged for
   * the SMTP test fails testSecret with a message that names this setting.
   *
   * @default false
   */
  readonly sesSmtpLoginTest?: boolean;

  /**
   * How long the previous key stays Active after a rotation made the new key current. With a
   * grace period, finishSecret leaves the previous key Active and creates a one-time EventBridge
   * Scheduler schedule, in a schedule group of this function, that invokes the function at the end
   * of the grace period to deactivate it. Whole minutes; `Duration.minutes(0)` means none. The
   * function gets the environment variables `GRACE_PERIOD_SECONDS`, `RETIREMENT_SCHEDULE_GROUP`
   * and `RETIREMENT_SCHEDULER_ROLE_ARN`, may create and delete schedules only in that group, and
   * may pass only the scheduler role, which may only invoke this function.
   *
   * @default - no grace period: finishSecret deactivates the previous key at once, and none of
   * the scheduler resources exist
   */
  readonly gracePeriod?: Duration;

  /**
   * The TypeScript entry file of the rotation handler (exports `handler`).
   *
   * @default - `lambda/handler.ts` of this project
   */
  readonly entry?: string;

  /**
   * The lock file bundling uses.
   *
   * @default - `package-lock.json` of this project
   */
  readonly depsLockFilePath?: string;
}

/**
 * The one rotation Lambda of a stack, shared by every {@link RotatedAccessKey}.
 *
 * The execution role starts with write access to the function's own log group only; each
 * `RotatedAccessKey` adds its user to the role's IAM statements, and the first one adds the
 * Secrets Manager and KMS statements, scoped to the secrets this stack created (see
 * {@link RotationPermissions}). The function gets its stack's id (`IAM_KEY_ROTATION_STACK_ID`).
 * Secrets Manager may invoke the function only on behalf of this account (`aws:SourceAccount`)
 * and for secrets `iam-key-rotation/*` of this region (`aws:SourceArn`).
 */
export class KeyRotationFunction extends Construct {
  /** The rotation Lambda. */
  public readonly function: nodejs.NodejsFunction;

  /** The function's execution role. */
  public readonly role: iam.Role;

  /** The log group the function writes JSON logs to. */
  public readonly logGroup: logs.LogGroup;

  /** The resource policy statement that lets Secrets Manager invoke the function. */
  public readonly invokePermission: lambda.CfnPermission;

  /** The function timeout. */
  public readonly timeout: Duration;

  /** Days without use after which a key the secret does not hold may be deleted (`STALE_KEY_DAYS`). */
  public readonly staleKeyDays: number;

  /** How long the previous key stays Active after a rotation; zero for no grace period. */
  public readonly gracePeriod: Duration;

  /** Whether {@link gracePeriod} is more than zero (the scheduler resources exist). */
  public readonly hasGracePeriod: boolean;

  /**
   * With a grace period, the EventBridge Scheduler group that holds the one-time schedules which
   * retire previous keys (`RETIREMENT_SCHEDULE_GROUP`).
   */
  public readonly retirementScheduleGroup?: scheduler.CfnScheduleGroup;

  /**
   * With a grace period, the role EventBridge Scheduler assumes to invoke this function
   * (`RETIREMENT_SCHEDULER_ROLE_ARN`).
   */
  public readonly retirementSchedulerRole?: iam.Role;

  /** Whether the asset carries the SMTP client of the SES SMTP login test. */
  public readonly hasSmtpLoginClient: boolean;

  private readonly permissions: RotationPermissions;

  public constructor(scope: Construct, id: string, props: KeyRotationFunctionProps = {}) {
    super(scope, id);
    this.hasSmtpLoginClient = props.sesSmtpLoginTest ?? false;

    const timeout = props.timeout ?? Duration.minutes(2);
    if (
      !timeout.isUnresolved() &&
      (timeout.toSeconds() < MIN_TIMEOUT.toSeconds() ||
        timeout.toSeconds() > MAX_TIMEOUT.toSeconds())
    ) {
      throw new Error(
        `timeout must be between ${MIN_TIMEOUT.toHumanString()} and ${MAX_TIMEOUT.toHumanString()} (the testSecret step waits until ${HANDLER_SAFETY_MARGIN.toHumanString()} before it), got ${timeout.toHumanString()}`,
      );
    }
    const memorySize = props.memorySize ?? MIN_MEMORY_MB;
    if (
      !Token.isUnresolved(memorySize) &&
      (!Number.isInteger(memorySize) || memorySize < MIN_MEMORY_MB || memorySize > MAX_MEMORY_MB)
    ) {
      throw new Error(
        `memorySize must be a whole number of MB between ${MIN_MEMORY_MB} and ${MAX_MEMORY_MB}, got ${memorySize}`,
      );
    }
    const staleKeyDays = props.staleKeyDays ?? DEFAULT_STALE_KEY_DAYS;
    if (
      !Token.isUnresolved(staleKeyDays) &&
      (!Number.isInteger(staleKeyDays) ||
        staleKeyDays < MIN_STALE_KEY_DAYS ||
        staleKeyDays > MAX_STALE_KEY_DAYS)
    ) {
      throw new Error(
        `staleKeyDays must be a whole number of days from ${MIN_STALE_KEY_DAYS} to ${MAX_STALE_KEY_DAYS}, got ${staleKeyDays}`,
      );
    }
    const gracePeriod = props.gracePeriod ?? Duration.minutes(0);
    if (!gracePeriod.isUnresolved()) {
      if (gracePeriod.toSeconds() % 60 !== 0) {
        throw new Error(
          `gracePeriod must be whole minutes (Duration.minutes(0) for none), got ${gracePeriod.toHumanString()}`,
        );
      }
    }
    this.timeout = timeout;
    this.staleKeyDays = staleKeyDays;
    this.gracePeriod = gracePeriod;
    this.hasGracePeriod = gracePeriod.isUnresolved() || gracePeriod.toSeconds() > 0;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // Our own role instead of the default one: the default attaches AWSLambdaBasicExecutionRole,
    // which may create any log group and write to every log group in the account.
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Rotates IAM user access keys stored in Secrets Manager',
    });
    // logs:CreateLogStream and logs:PutLogEvents on this log group only.
    this.logGroup.grantWrite(this.role);
    this.permissions = new RotationPermissions(this, this.role);

    const entry = props.entry ?? ROTATION_HANDLER_ENTRY;
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry,
      handler: 'handler',
      // The newest Node.js runtime (cdk-nag AwsSolutions-L1); the bundle targets node22 and runs on both.
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      description: 'Secrets Manager rotation function for IAM user access keys',
      environment: {
        [STALE_KEY_DAYS_ENV]: Tokenization.stringifyNumber(staleKeyDays),
        // The function rotates only secrets whose aws:cloudformation:stack-id tag is this id.
        [STACK_ID_ENV]: Stack.of(this).stackId,
      },
      depsLockFilePath: props.depsLockFilePath ?? PROJECT_LOCK_FILE,
      projectRoot: PROJECT_ROOT,
      bundling: rotationBundlingOptions(this.hasSmtpLoginClient, entry),
    });

    if (this.hasGracePeriod) {
      const retirement = this.addRetirementScheduling(gracePeriod);
      this.retirementScheduleGroup = retirement.group;
      this.retirementSchedulerRole = retirement.role;
    }

    // Written by hand instead of `grantInvoke`: secretsmanager.amazonaws.com may only invoke the
    // function for secrets of this account (confused-deputy protection; aws-cdk issues 28406 and
    // 29791, Control Tower CT.LAMBDA.PR.2) named iam-key-rotation/* in this region (Lambda turns
    // SourceArn into an ArnLike condition; one statement per secret would not fit the resource
    // policy's 20 KB with 100 secrets). It does not stop a same-account principal whose own
    // identity policy allows lambda:InvokeFunction: the function's checks at every step do.
    this.invokePermission = new lambda.CfnPermission(this, 'SecretsManagerInvokePermission', {
      action: 'lambda:InvokeFunction',
      functionName: this.function.functionArn,
      principal: 'secretsmanager.amazonaws.com',
      sourceAccount: Stack.of(this).account,
      sourceArn: stackSecretArnPattern(this),
    });
  }

  /**
   * The grace period's scheduling: a schedule group, a role that EventBridge Scheduler of this
   * account may assume for schedules of that group and that may only invoke this function, the
   * function's permission to create and delete schedules in the group and to pass that role to
   * EventBridge Scheduler only, and the environment variables that name them.
   */
  private addRetirementScheduling(gracePeriod: Duration): {
    group: scheduler.CfnScheduleGroup;
    role: iam.Role;
  } {
    const stack = Stack.of(this);
    // A generated name (Ref of the group is its name): no clash between stacks or regions.
    const group = new scheduler.CfnScheduleGroup(this, 'RetirementScheduleGroup');
    const role = new iam.Role(this, 'RetirementSchedulerRole', {
      description:
        'Assumed by EventBridge Scheduler to invoke the key rotation function when a grace period ends',
      // Confused-deputy protection: only EventBridge Scheduler of this account, for schedules of
      // this group.
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnEquals: { 'aws:SourceArn': group.attrArn },
        },
      }),
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.function.functionArn],
      }),
    );

    // Schedule names are chosen at run time: the group is the narrowest resource there is.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...RETIREMENT_SCHEDULE_ACTIONS],
        resources: [
          stack.formatArn({
            service: 'scheduler',
            resource: 'schedule',
            resourceName: `${group.ref}/*`,
            arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
          }),
        ],
      }),
    );
    // cdk-nag (AwsSolutions-IAM5) flags the wildcard; the finding names the resource as rendered
    // in the template, the group by its logical id.
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${rendered(stack.partition, 'AWS::Partition')}:scheduler:${rendered(stack.region, 'AWS::Region')}:${rendered(stack.account, 'AWS::AccountId')}:schedule/<${stack.getLogicalId(group)}>/*]`,
      reason:
        'The function names each one-time retirement schedule when a rotation completes; scheduler:CreateSchedule and scheduler:GetSchedule are limited to the schedules of its own schedule group, the narrowest resource EventBridge Scheduler offers.',
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );

    this.function.addEnvironment(
      GRACE_PERIOD_SECONDS_ENV,
      Tokenization.stringifyNumber(gracePeriod.toSeconds()),
    );
    this.function.addEnvironment(RETIREMENT_SCHEDULE_GROUP_ENV, group.ref);
    this.function.addEnvironment(RETIREMENT_SCHEDULER_ROLE_ARN_ENV, role.roleArn);
    return { group, role };
  }

  /**
   * Lets the function rotate `secret` for `user`: see {@link RotationPermissions.grantRotation}.
   */
  public grantRotation(grant: RotationGrant): void {
    this.permissions.grantRotation(grant);
  }

  /**
   * The ARN pattern of the secrets the tag-scoped statements cover, and which the ownership tag
   * of a user must name: `iam-key-rotation/*` in this stack's region and account.
   */
  public get rotatedSecretArnPattern(): string {
    return this.permissions.rotatedSecretArnPattern;
  }
}
