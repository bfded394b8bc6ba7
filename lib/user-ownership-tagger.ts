import { stackSingleton } from './stack-singleton.js';
import * as path from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { OWNER_TAG_KEY, SECRET_NAME_PREFIX, STACK_ID_ENV } from '../lambda/rotation/binding.js';
import { rotationBundlingOptions, PROJECT_LOCK_FILE, PROJECT_ROOT } from './rotation-bundling.js';
import {
  isAtRootPath,
  rendered,
  stackSecretArnPattern,
  stackUserArnPattern,
} from './rotation-permissions.js';

/** Every secret of the stack is named `iam-key-rotation/<user name>`. */
export { SECRET_NAME_PREFIX };

/** The ownership tagger Lambda's entry file. */
export const OWNERSHIP_TAGGER_ENTRY = path.join(
  PROJECT_ROOT,
  'lambda',
  'ownership-tagger',
  'handler.ts',
);

/** The CloudFormation type of each user's ownership tag. */
export const OWNERSHIP_TAG_RESOURCE_TYPE = 'Custom::UserOwnershipTag';

/** IAM actions of the tagger's role on each user of the stack (one statement per user). */
export const OWNERSHIP_TAGGER_ACTIONS = ['iam:GetUser', 'iam:TagUser', 'iam:UntagUser'] as const;

/**
 * Users per managed policy of the tagger's role. A user's statement is at most about 500
 * characters (a 64-character name, the longest partition and region names): 11 of them fit one
 * 6,144-character managed policy, and 100 users (a stack's most) take 10 managed policies, a role's
 * limit. The test of the tagger shows the sizes of that worst case.
 */
export const USERS_PER_TAGGING_POLICY = 11;

/** The construct id of the stack's shared tagger (a contract: renaming replaces the role). */
const SHARED_TAGGER_ID = 'UserOwnershipTagger';

/** Properties of a {@link UserOwnershipTagger}. */
export interface UserOwnershipTaggerProps {
  /**
   * How long the log groups of the tagger's functions keep their log lines.
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

  /**
   * The TypeScript entry file of the tagger's handler (exports `handler`).
   *
   * @default - `lambda/ownership-tagger/handler.ts` of this project
   */
  readonly entry?: string;
}

/** What {@link UserOwnershipTagger.tagUser} needs to know about a user and its secret. */
export interface OwnershipTagOptions {
  /** The existing IAM user to tag. */
  readonly user: iam.IUser;
  /** The user's name, literal (not a token). */
  readonly userName: string;
  /** The secret the stack created for the user, named `iam-key-rotation/<userName>`. */
  readonly secret: secretsmanager.ISecret;
}

/**
 * Sets the ownership tag `iam-key-rotation:secret` on IAM users the stack does not create, with
 * one custom resource (`Custom::UserOwnershipTag`) per user, all served by one small function of
 * this project behind aws-cdk-lib's Provider framework (no generic "call any SDK API" function).
 *
 * Whatever event it receives, the function writes into user U's tag only the ARN of the secret
 * `iam-key-rotation/U`, and only when that secret's `aws:cloudformation:stack-id` tag is its own
 * stack; it removes the tag only when the tag names that secret and CloudFormation is deleting the
 * resource (see lambda/ownership-tagger/ownership-tag.ts).
 *
 * The function's role may, per user of the stack (one statement each, in managed policies of
 * {@link USERS_PER_TAGGING_POLICY} users): `iam:GetUser`, and `iam:TagUser`/`iam:UntagUser` for the
 * tag key `iam-key-rotation:secret` only, a new value being the ARN of that user's own secret
 * only; `secretsmanager:DescribeSecret` on `iam-key-rotation/*` of this region and account;
 * `cloudformation:DescribeStackResource` on its own stack; write its log group. An explicit Deny
 * refuses the IAM tagging to any session of the role but the function's own (`aws:userid`).
 *
 * One tagger per stack: use {@link UserOwnershipTagger.of}.
 */
export class UserOwnershipTagger extends Construct {
  /** The stack's shared tagger, created at the first call. */
  public static of(scope: Construct): UserOwnershipTagger {
    return stackSingleton(
      scope,
      SHARED_TAGGER_ID,
      UserOwnershipTagger,
      (stack) => new UserOwnershipTagger(stack, SHARED_TAGGER_ID),
    );
  }

  /** The role of the tagger's function. */
  public readonly role: iam.Role;

  /** The log group of the tagger's function. */
  public readonly logGroup: logs.LogGroup;

  /** The tagger's function (the Provider framework's `onEvent` handler). */
  public readonly function: nodejs.NodejsFunction;

  /** The Provider framework in front of the function. */
  public readonly provider: cr.Provider;

  /** The managed policies that hold the per-user statements, in order. */
  public readonly taggingPolicies: iam.ManagedPolicy[] = [];

  /**
   * ARN pattern of the secrets whose ARN the tagger may write into an ownership tag: this stack's
   * region and account, `iam-key-rotation/*` (each user's statement names that user's secret).
   */
  public readonly ownerSecretArnPattern: string;

  private readonly users = new Set<string>();

  public constructor(scope: Construct, id: string, props: UserOwnershipTaggerProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    this.ownerSecretArnPattern = stackSecretArnPattern(this);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const removalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention, removalPolicy });
    // The construct id of the earlier AwsCustomResource tagger's role: kept, so that the role (and
    // anything that trusts it) stays, and so that the earlier function, which CloudFormation runs
    // once more to delete each earlier `Custom::AWS` after an update, runs under this policy,
    // whose Deny refuses its UntagUser (see the Deny below).
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'Sets the iam-key-rotation:secret ownership tag on existing IAM users (iam-key-rotation)',
    });
    this.logGroup.grantWrite(this.role);

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry ?? OWNERSHIP_TAGGER_ENTRY,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 128,
      timeout: Duration.seconds(30),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      description: 'Sets the ownership tag of the existing IAM users of its stack',
      environment: { [STACK_ID_ENV]: stack.stackId },
      depsLockFilePath: PROJECT_LOCK_FILE,
      projectRoot: PROJECT_ROOT,
      // The rotation function's esbuild options (ESM, the SDK bundled, the credential chain reduced
      // to what Lambda provides) without its split-asset step, which rebuilds the rotation handler.
      bundling: { ...rotationBundlingOptions(false), commandHooks: undefined },
    });

    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:DescribeSecret'],
        resources: [this.ownerSecretArnPattern],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudformation:DescribeStackResource'],
        resources: [stack.stackId],
      }),
    );
    // Only the function's own sessions (the Lambda session name is the function name) may use the
    // role's IAM tagging: not a function created later with this role, nor the earlier tagger. An
    // inline policy of its own: the function depends on the role's default policy, and this one
    // names the function.
    new iam.Policy(this, 'OnlyTheFunctionPolicy', {
      roles: [this.role],
      statements: [
        new iam.PolicyStatement({
          effect: iam.Effect.DENY,
          actions: ['iam:TagUser', 'iam:UntagUser'],
          resources: ['*'],
          conditions: { StringNotLike: { 'aws:userid': `*:${this.function.functionName}` } },
        }),
      ],
    });

    const providerLogGroup = new logs.LogGroup(this, 'ProviderLogGroup', {
      retention,
      removalPolicy,
    });
    const providerRole = new iam.Role(this, 'ProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Runs the custom resource provider framework of the ownership tagger',
    });
    providerLogGroup.grantWrite(providerRole);
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.function,
      frameworkOnEventRole: providerRole,
      logGroup: providerLogGroup,
    });

    const partition = rendered(stack.partition, 'AWS::Partition');
    const region = rendered(stack.region, 'AWS::Region');
    const account = rendered(stack.account, 'AWS::AccountId');
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${partition}:secretsmanager:${region}:${account}:secret:${SECRET_NAME_PREFIX}*]`,
      reason: `secretsmanager:DescribeSecret (read-only) on the secrets named ${SECRET_NAME_PREFIX}*: the function looks up the secret of a user by name and requires its aws:cloudformation:stack-id tag to be its own stack.`,
    });
    Validations.of(providerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
      reason:
        "The Provider framework's grant to invoke the tagger's function and its versions; it may invoke nothing else.",
    });
    Validations.of(this.provider).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'The Provider framework function runs the Node.js runtime aws-cdk-lib chooses for it; our own functions run the newest one.',
    });
  }

  /**
   * Tags `user` with `iam-key-rotation:secret` = the ARN of the secret `iam-key-rotation/<userName>`
   * when the resource is created or updated, and removes the tag when CloudFormation deletes it
   * (only when the tag names that secret). Allows the role those calls on this user only.
   *
   * @returns the custom resource; whatever needs the tag must depend on it
   */
  public tagUser(scope: Construct, id: string, options: OwnershipTagOptions): CustomResource {
    this.allowTagging(
      options.userName,
      isAtRootPath(options.user, options.userName),
      options.secret,
    );
    const resource = new CustomResource(scope, id, {
      serviceToken: this.provider.serviceToken,
      resourceType: OWNERSHIP_TAG_RESOURCE_TYPE,
      properties: { UserName: options.userName, SecretArn: options.secret.secretArn },
    });
    // The role's policies (its default policy and the managed policies of the users) must exist
    // before the function runs for this resource.
    resource.node.addDependency(this.role, ...this.taggingPolicies);
    return resource;
  }

  private allowTagging(userName: string, atRoot: boolean, secret: secretsmanager.ISecret): void {
    if (this.users.has(userName)) {
      throw new Error(`user ${userName} is already tagged by ${this.node.path}`);
    }
    const index = this.users.size;
    this.users.add(userName);
    let policy = this.taggingPolicies[Math.floor(index / USERS_PER_TAGGING_POLICY)];
    if (policy === undefined) {
      policy = new iam.ManagedPolicy(this, `TaggingPolicy${this.taggingPolicies.length + 1}`, {
        description: `Ownership tagging of existing users of the stack (part ${this.taggingPolicies.length + 1})`,
        roles: [this.role],
      });
      this.taggingPolicies.push(policy);
    }
    policy.addStatements(
      new iam.PolicyStatement({
        actions: [...OWNERSHIP_TAGGER_ACTIONS],
        resources: [stackUserArnPattern(this, userName, atRoot)],
        conditions: {
          'ForAllValues:StringEquals': { 'aws:TagKeys': OWNER_TAG_KEY },
          StringEqualsIfExists: { [`aws:RequestTag/${OWNER_TAG_KEY}`]: secret.secretArn },
        },
      }),
    );
    if (!atRoot) {
      const stack = Stack.of(this);
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:${rendered(stack.partition, 'AWS::Partition')}:iam::${rendered(stack.account, 'AWS::AccountId')}:user/*/${userName}]`,
        reason: `The one IAM user named ${userName}, whatever its path (user names are unique in an account and hold no "/").`,
      });
    }
  }
}
