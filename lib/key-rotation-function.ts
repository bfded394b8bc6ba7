import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArnFormat,
  Duration,
  RemovalPolicy,
  Stack,
  Tags,
  Token,
  Tokenization,
  Validations,
} from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  GRACE_PERIOD_SECONDS_ENV,
  RETIREMENT_SCHEDULER_ROLE_ARN_ENV,
  RETIREMENT_SCHEDULE_GROUP_ENV,
} from '../lambda/observability.js';
import {
  DEFAULT_STALE_KEY_DAYS,
  OWNER_TAG_KEY,
  STALE_KEY_DAYS_ENV,
} from '../lambda/rotation/binding.js';

/**
 * The name prefix of every secret the function rotates through its tag-scoped statements (the
 * same as `SECRET_NAME_PREFIX` of the ownership tagger, kept here to avoid an import cycle).
 */
const ROTATED_SECRET_NAME_PREFIX = 'iam-key-rotation/';

/**
 * The tag that names the stack whose rotation function may rotate a secret: the function grants
 * itself the Secrets Manager actions on `iam-key-rotation/*` secrets carrying this tag with its
 * own stack's name, and sets it on every secret passed to `grantRotation`.
 */
export const STACK_TAG_KEY = 'iam-key-rotation:stack';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The rotation Lambda's entry file. */
export const ROTATION_HANDLER_ENTRY = path.join(PROJECT_ROOT, 'lambda', 'handler.ts');

/** The lock file esbuild bundling resolves dependencies from. */
export const PROJECT_LOCK_FILE = path.join(PROJECT_ROOT, 'package-lock.json');

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

/**
 * Lets an ESM bundle call `require()` for the few CommonJS built-ins the AWS SDK still loads.
 */
const CREATE_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'module'; const require = __createRequire(import.meta.url);";

/**
 * Module substitutions in the bundle (paths resolved from the project root, esbuild's working
 * directory). Each drops SDK code that the function never runs in Lambda:
 * - the default credential chain reduced to its first link, the environment variables in which
 *   the Lambda runtime passes the role's credentials (lambda/aws/lambda-credential-provider.ts):
 *   SSO, ini files, process, web identity, container and instance metadata providers and their
 *   nested STS/SSO/sign-in clients are about 110 KB;
 * - the event stream codec, which no operation rotation calls uses
 *   (lambda/aws/no-event-streams.ts): about 19 KB.
 */
export const ROTATION_ESBUILD_ARGS: Readonly<Record<string, string[]>> = {
  '--alias': [
    '@aws-sdk/credential-provider-node=./lambda/aws/lambda-credential-provider.ts',
    '@smithy/core/event-streams=./lambda/aws/no-event-streams.ts',
  ],
};

/**
 * The file, beside the asset's `index.mjs`, into which the SMTP client of the SES SMTP test
 * (lambda/aws/smtp-login-client.ts, nodemailer's SMTP connection, about 47 KB) is bundled on its
 * own: the function loads it only when a secret's tag asks for the SMTP test, so `index.mjs`, and
 * the cold start of every other rotation, stay as they were.
 */
export const SMTP_CLIENT_FILE = 'smtp-login-client.mjs';

/** The entry of {@link SMTP_CLIENT_FILE}, relative to the project root. */
const SMTP_CLIENT_ENTRY = path.join('lambda', 'aws', 'smtp-login-client.ts');

/**
 * esbuild `define`s of the rotation bundle: tells lambda/dependencies.ts to load the SMTP client
 * from {@link SMTP_CLIENT_FILE} (a computed specifier, which esbuild leaves out of `index.mjs`)
 * instead of from its source module.
 */
export const ROTATION_ESBUILD_DEFINE: Readonly<Record<string, string>> = {
  IAM_KEY_ROTATION_SMTP_CLIENT_FILE: JSON.stringify(`./${SMTP_CLIENT_FILE}`),
};

/**
 * The `define` of an asset built without {@link SMTP_CLIENT_FILE} (no user of the stack has
 * `sesSmtpTest`): the loader then refuses the SMTP test with a message that says so.
 */
export const ROTATION_ESBUILD_DEFINE_WITHOUT_SMTP_CLIENT: Readonly<Record<string, string>> = {
  IAM_KEY_ROTATION_SMTP_CLIENT_FILE: JSON.stringify(''),
};

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * The shell command, run after the main bundle, that bundles the SMTP client into
 * {@link SMTP_CLIENT_FILE} with the same esbuild (ESM, node22, minified; nodemailer needs no
 * alias or banner).
 */
export const smtpClientBundlingCommand = (inputDir: string, outputDir: string): string =>
  [
    'npx',
    '--no-install',
    'esbuild',
    '--bundle',
    shellQuote(path.join(inputDir, SMTP_CLIENT_ENTRY)),
    '--platform=node',
    '--format=esm',
    '--target=node22',
    '--minify',
    '--main-fields=module,main',
    '--log-level=warning',
    `--outfile=${shellQuote(path.join(outputDir, SMTP_CLIENT_FILE))}`,
  ].join(' ');

/**
 * IAM actions the rotation function needs on a bound user: the key actions, `iam:GetUser` to read
 * the user's ownership tag before any write, and `iam:GetAccessKeyLastUsed` to keep keys in use.
 * Never `iam:TagUser` or `iam:UntagUser`: only the stack sets the ownership tag.
 */
export const ROTATION_IAM_ACTIONS = [
  'iam:CreateAccessKey',
  'iam:ListAccessKeys',
  'iam:UpdateAccessKey',
  'iam:DeleteAccessKey',
  'iam:GetUser',
  'iam:GetAccessKeyLastUsed',
] as const;

/**
 * The IAM actions that name the user (`UserName`), so that IAM evaluates them against the user
 * resource and its tags: granted on every user of the account whose ownership tag
 * `iam-key-rotation:secret` names a secret `iam-key-rotation/*` of the stack's region and account
 * (`iam:ResourceTag`).
 */
export const OWNED_USER_IAM_ACTIONS = [
  'iam:CreateAccessKey',
  'iam:ListAccessKeys',
  'iam:UpdateAccessKey',
  'iam:DeleteAccessKey',
  'iam:GetUser',
] as const;

/**
 * The IAM actions whose request names only an access key id: granted on the users of the account
 * without a tag condition (AWS documents `iam:ResourceTag` for user resources, but not that IAM
 * resolves the owner of a key id before it evaluates the condition, so a condition could deny
 * every call). Read-only: the last use of a key (date, service, region).
 */
export const ACCESS_KEY_ID_IAM_ACTIONS = ['iam:GetAccessKeyLastUsed'] as const;

/** Secrets Manager actions the rotation function needs on a secret it rotates. */
export const ROTATION_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:ListSecretVersionIds',
] as const;

/** KMS actions Secrets Manager performs for the function with a customer-managed key. */
export const ROTATION_KMS_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;

/**
 * EventBridge Scheduler actions the function needs, with a grace period, on the schedules of its
 * retirement schedule group: create the one-time schedule that retires a previous key (it deletes
 * itself once it has run: ActionAfterCompletion DELETE).
 */
export const RETIREMENT_SCHEDULE_ACTIONS = ['scheduler:CreateSchedule'] as const;

/**
 * ARNs per shared policy statement. CDK estimates every unresolved ARN at 150 characters; with
 * 18 ARNs a user statement and a secret statement together (about 5,860 estimated characters)
 * fill one 6,000-character overflow managed policy.
 */
export const STATEMENT_RESOURCE_LIMIT = 18;

/** What one rotated secret needs from the rotation function's role. */
export interface RotationGrant {
  /** The IAM user the secret is bound to. */
  readonly user: iam.IUser;
  /** The secret to rotate. */
  readonly secret: secretsmanager.ISecret;
  /**
   * The customer-managed key that encrypts the secret.
   *
   * @default - the AWS managed key: no KMS permission is needed
   */
  readonly encryptionKey?: kms.IKey;
}

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
   * ({@link SMTP_CLIENT_FILE}, about 48 KB beside `index.mjs`): needed when a secret the function
   * rotates has `sesSmtpTest`. Without it the asset is `index.mjs` alone, and a secret tagged for
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
 * The execution role starts with write access to the function's own log group only; the first
 * `RotatedAccessKey` adds the IAM, Secrets Manager and KMS statements scoped by the ownership tag,
 * the stack tag and the secret name prefix, which later users do not grow (see
 * {@link KeyRotationFunction.grantRotation}). Secrets Manager may invoke the function only on behalf of this account
 * (`aws:SourceAccount`).
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

  private grantedSecrets = 0;
  private tagScopedStatementsAdded = false;
  private readonly tagScopedKeys = new Set<string>();
  private readonly keySecretArns = new Map<string, string[]>();
  private userStatement?: iam.PolicyStatement;
  private secretStatement?: iam.PolicyStatement;

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

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry ?? ROTATION_HANDLER_ENTRY,
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
      environment: { [STALE_KEY_DAYS_ENV]: Tokenization.stringifyNumber(staleKeyDays) },
      depsLockFilePath: props.depsLockFilePath ?? PROJECT_LOCK_FILE,
      projectRoot: PROJECT_ROOT,
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: false,
        mainFields: ['module', 'main'],
        banner: CREATE_REQUIRE_BANNER,
        // Bundle the AWS SDK instead of relying on the copy in the Lambda runtime, so the code
        // runs against the versions we tested.
        externalModules: [],
        forceDockerBundling: false,
        esbuildArgs: ROTATION_ESBUILD_ARGS,
        // The SES SMTP test's client, in a file of its own loaded only when a secret asks for it,
        // and only in the asset of a stack with such a secret.
        ...(this.hasSmtpLoginClient
          ? {
              define: { ...ROTATION_ESBUILD_DEFINE },
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) => [
                  smtpClientBundlingCommand(inputDir, outputDir),
                ],
              },
            }
          : { define: { ...ROTATION_ESBUILD_DEFINE_WITHOUT_SMTP_CLIENT } }),
      },
    });

    if (this.hasGracePeriod) {
      const retirement = this.addRetirementScheduling(gracePeriod);
      this.retirementScheduleGroup = retirement.group;
      this.retirementSchedulerRole = retirement.role;
    }

    // Written by hand instead of `grantInvoke`: secretsmanager.amazonaws.com may only invoke the
    // function for secrets of this account (confused-deputy protection; aws-cdk issues 28406 and
    // 29791, Control Tower CT.LAMBDA.PR.2).
    this.invokePermission = new lambda.CfnPermission(this, 'SecretsManagerInvokePermission', {
      action: 'lambda:InvokeFunction',
      functionName: this.function.functionArn,
      principal: 'secretsmanager.amazonaws.com',
      sourceAccount: Stack.of(this).account,
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
        'The function names each one-time retirement schedule when a rotation completes; scheduler:CreateSchedule is limited to the schedules of its own schedule group, the narrowest resource EventBridge Scheduler offers.',
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
   * Lets the function rotate `secret` for `user`.
   *
   * A secret of the same stack named `iam-key-rotation/*` is covered by statements that do not
   * grow with the number of users (added at the first such grant): the key actions and
   * `iam:GetUser` on every user of the account whose ownership tag names a secret
   * `iam-key-rotation/*` of this region and account (`iam:ResourceTag`), `iam:GetAccessKeyLastUsed`
   * on the users of the account, the rotation actions on the secrets `iam-key-rotation/*` of this
   * region and account tagged `iam-key-rotation:stack` with this stack's name (this method sets
   * that tag on the secret) and, with a customer-managed key, `kms:Decrypt` and
   * `kms:GenerateDataKey` through Secrets Manager for such secrets only (one statement per key).
   * The function itself checks at every step that the user's ownership tag names the very secret
   * it rotates.
   *
   * Any other secret (imported, of another stack, or named otherwise) is granted by ARN: the
   * user's and the secret's ARNs are gathered into shared statements of up to 18 resources each,
   * and the KMS condition lists the secret's ARN.
   */
  public grantRotation(grant: RotationGrant): void {
    if (this.isTagScoped(grant.secret)) {
      this.addTagScopedStatements();
      Tags.of(grant.secret).add(STACK_TAG_KEY, Stack.of(this).stackName);
      if (grant.encryptionKey) {
        this.grantTagScopedKeyUse(grant.encryptionKey);
      }
      return;
    }
    if (this.grantedSecrets % STATEMENT_RESOURCE_LIMIT === 0) {
      this.userStatement = new iam.PolicyStatement({ actions: [...ROTATION_IAM_ACTIONS] });
      this.secretStatement = new iam.PolicyStatement({ actions: [...ROTATION_SECRET_ACTIONS] });
      this.role.addToPrincipalPolicy(this.userStatement);
      this.role.addToPrincipalPolicy(this.secretStatement);
    }
    this.grantedSecrets++;
    this.userStatement?.addResources(grant.user.userArn);
    this.secretStatement?.addResources(grant.secret.secretArn);

    if (grant.encryptionKey) {
      this.grantKeyUse(grant.encryptionKey, grant.secret.secretArn);
    }
  }

  /**
   * The ARN pattern of the secrets the tag-scoped statements cover, and which the ownership tag
   * of a user must name: `iam-key-rotation/*` in this stack's region and account.
   */
  public get rotatedSecretArnPattern(): string {
    return Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${ROTATED_SECRET_NAME_PREFIX}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** A `Secret` of this stack whose literal name starts with `iam-key-rotation/`. */
  private isTagScoped(secret: secretsmanager.ISecret): boolean {
    if (!(secret instanceof secretsmanager.Secret) || Stack.of(secret) !== Stack.of(this)) {
      return false;
    }
    const cfnSecret = secret.node.defaultChild;
    const name = cfnSecret instanceof secretsmanager.CfnSecret ? cfnSecret.name : undefined;
    return (
      name !== undefined && !Token.isUnresolved(name) && name.startsWith(ROTATED_SECRET_NAME_PREFIX)
    );
  }

  private addTagScopedStatements(): void {
    if (this.tagScopedStatementsAdded) {
      return;
    }
    this.tagScopedStatementsAdded = true;
    const stack = Stack.of(this);
    const users = stack.formatArn({
      service: 'iam',
      region: '',
      resource: 'user',
      resourceName: '*',
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    const secrets = this.rotatedSecretArnPattern;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...OWNED_USER_IAM_ACTIONS],
        resources: [users],
        conditions: {
          StringLike: { [`iam:ResourceTag/${OWNER_TAG_KEY}`]: secrets },
        },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [...ACCESS_KEY_ID_IAM_ACTIONS], resources: [users] }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...ROTATION_SECRET_ACTIONS],
        resources: [secrets],
        conditions: {
          StringEquals: { [`secretsmanager:ResourceTag/${STACK_TAG_KEY}`]: stack.stackName },
        },
      }),
    );
    const partition = rendered(stack.partition, 'AWS::Partition');
    const region = rendered(stack.region, 'AWS::Region');
    const account = rendered(stack.account, 'AWS::AccountId');
    Validations.of(this.role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::arn:${partition}:iam::${account}:user/*]`,
        reason: `The key actions and iam:GetUser apply only to users whose ${OWNER_TAG_KEY} tag names a secret ${ROTATED_SECRET_NAME_PREFIX}* of this region and account (iam:ResourceTag), so the policy does not grow with the number of users; iam:GetAccessKeyLastUsed (read-only, named by key id) has no such condition. The function checks at every step that the tag names the secret it rotates.`,
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:${partition}:secretsmanager:${region}:${account}:secret:${ROTATED_SECRET_NAME_PREFIX}*]`,
        reason: `The rotation actions apply only to secrets named ${ROTATED_SECRET_NAME_PREFIX}* and tagged ${STACK_TAG_KEY} with this stack's name (secretsmanager:ResourceTag), so the policy does not grow with the number of users.`,
      },
    );
  }

  /**
   * `kms:Decrypt` and `kms:GenerateDataKey` on `key`, only when Secrets Manager calls KMS for a
   * secret `iam-key-rotation/*` of this region and account: one statement per key.
   */
  private grantTagScopedKeyUse(key: kms.IKey): void {
    if (this.tagScopedKeys.has(key.keyArn)) {
      return;
    }
    this.tagScopedKeys.add(key.keyArn);
    const stack = Stack.of(this);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...ROTATION_KMS_ACTIONS],
        resources: [key.keyArn],
        conditions: {
          StringLike: { 'kms:EncryptionContext:SecretARN': this.rotatedSecretArnPattern },
          StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.${stack.urlSuffix}` },
        },
      }),
    );
  }

  /**
   * `kms:Decrypt` and `kms:GenerateDataKey` on `key`, only when Secrets Manager calls KMS for one
   * of the listed secrets. Secrets that share a key share a statement (up to 18 secrets each).
   */
  private grantKeyUse(key: kms.IKey, secretArn: string): void {
    let secretArns = this.keySecretArns.get(key.keyArn);
    if (secretArns === undefined || secretArns.length >= STATEMENT_RESOURCE_LIMIT) {
      const stack = Stack.of(this);
      secretArns = [];
      this.keySecretArns.set(key.keyArn, secretArns);
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [...ROTATION_KMS_ACTIONS],
          resources: [key.keyArn],
          conditions: {
            StringEquals: {
              // The same array object: later secrets of this key are appended to it.
              'kms:EncryptionContext:SecretARN': secretArns,
              'kms:ViaService': `secretsmanager.${stack.region}.${stack.urlSuffix}`,
            },
          },
        }),
      );
    }
    secretArns.push(secretArn);
  }
}

/**
 * A value as cdk-nag names it in a finding: literal, or `<AWS::Region>` for the pseudo parameter
 * a token stands for.
 */
function rendered(value: string, pseudoParameter: string): string {
  return Token.isUnresolved(value) ? `<${pseudoParameter}>` : value;
}
