import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { OWNER_TAG_KEY } from '../lambda/rotation/binding.js';
import { STATEMENT_RESOURCE_LIMIT } from './rotation-permissions.js';

/**
 * Every secret whose ARN the tagger may write into a user's ownership tag is named
 * `iam-key-rotation/<...>` (the stack names them `iam-key-rotation/<user name>`).
 */
export const SECRET_NAME_PREFIX = 'iam-key-rotation/';

/** IAM actions of the tagger's role, each on the existing users of the stack only. */
export const OWNERSHIP_TAGGER_ACTIONS = ['iam:TagUser', 'iam:UntagUser'] as const;

/** The construct id of the stack's shared tagger (a contract: renaming replaces the role). */
const SHARED_TAGGER_ID = 'UserOwnershipTagger';

/**
 * Error names (`Error.name` of the SDK v3 exception) that deleting the tag ignores: the user is
 * gone (`NoSuchEntity`), or its tag names a secret of another deployment and the role's
 * `iam:ResourceTag` condition denies the call (`AccessDenied`).
 */
const IGNORED_UNTAG_ERRORS = '^(NoSuchEntity|AccessDenied)(Exception)?$';

/** Properties of a {@link UserOwnershipTagger}. */
export interface UserOwnershipTaggerProps {
  /**
   * How long the log group of the custom resource function keeps its log lines.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to that log group when it is removed from the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** What {@link UserOwnershipTagger.tagUser} needs to know about a user and its secret. */
export interface OwnershipTagOptions {
  /** The existing IAM user to tag. */
  readonly user: iam.IUser;
  /** The user's name, literal (not a token). */
  readonly userName: string;
  /** The secret that owns the user; its full ARN becomes the tag's value. */
  readonly secret: secretsmanager.ISecret;
}

/**
 * Sets the ownership tag `iam-key-rotation:secret` on IAM users the stack does not create, with
 * one `AwsCustomResource` per user, all run by the stack's singleton custom resource function
 * under this construct's one role.
 *
 * The role has no managed policy. It may write its own log group, and call `iam:TagUser` and
 * `iam:UntagUser` only on the users passed to {@link tagUser} (their ARNs gathered into shared
 * statements of up to 18), only for the tag key `iam-key-rotation:secret`, only to set it to the
 * ARN of a secret of this stack's region and account named `iam-key-rotation/*`, and only while
 * the user's current tag, if any, names such a secret. A deployment in another region or account
 * therefore cannot take over a user that another deployment owns: its `iam:TagUser` is denied.
 *
 * One tagger per stack: use {@link UserOwnershipTagger.of}.
 */
export class UserOwnershipTagger extends Construct {
  /** The stack's shared tagger, created at the first call. */
  public static of(scope: Construct): UserOwnershipTagger {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(SHARED_TAGGER_ID);
    if (existing === undefined) {
      return new UserOwnershipTagger(stack, SHARED_TAGGER_ID);
    }
    if (!(existing instanceof UserOwnershipTagger)) {
      throw new Error(
        `${stack.node.path}/${SHARED_TAGGER_ID} must be a UserOwnershipTagger, got another construct at that id`,
      );
    }
    return existing;
  }

  /** The role of the singleton custom resource function (no managed policy). */
  public readonly role: iam.Role;

  /** The log group of the singleton custom resource function. */
  public readonly logGroup: logs.LogGroup;

  /**
   * ARN pattern of the secrets whose ARN the tagger may write into an ownership tag, and which
   * the tag it replaces or removes may name: this stack's region and account, `iam-key-rotation/*`.
   */
  public readonly ownerSecretArnPattern: string;

  private taggedUsers = 0;
  private tagStatement?: iam.PolicyStatement;
  private untagStatement?: iam.PolicyStatement;

  public constructor(scope: Construct, id: string, props: UserOwnershipTaggerProps = {}) {
    super(scope, id);

    this.ownerSecretArnPattern = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${SECRET_NAME_PREFIX}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // Our own role: AwsCustomResource's default one gets AWSLambdaBasicExecutionRole (any log
    // group) and, with `policy`, one AWS::IAM::Policy per resource.
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'Sets the iam-key-rotation:secret ownership tag on existing IAM users (iam-key-rotation)',
    });
    // logs:CreateLogStream and logs:PutLogEvents on this log group only.
    this.logGroup.grantWrite(this.role);
  }

  /**
   * Tags `user` with `iam-key-rotation:secret` = the secret's ARN when the resource is created or
   * updated, and removes the tag when it is deleted (a user that is gone or owned by another
   * deployment is left alone). Allows the role those calls on this user.
   *
   * @returns the custom resource; whatever needs the tag must depend on it
   */
  public tagUser(scope: Construct, id: string, options: OwnershipTagOptions): cr.AwsCustomResource {
    this.allowTagging(options.user.userArn);

    const tagCall: cr.AwsSdkCall = {
      service: 'IAM',
      action: 'tagUser',
      parameters: {
        UserName: options.userName,
        Tags: [{ Key: OWNER_TAG_KEY, Value: options.secret.secretArn }],
      },
      // The same id on every update: a changed id would make CloudFormation delete the "old"
      // resource afterwards, which would remove the tag just set.
      physicalResourceId: cr.PhysicalResourceId.of(`${OWNER_TAG_KEY}/${options.userName}`),
    };
    const resource = new cr.AwsCustomResource(scope, id, {
      onCreate: tagCall,
      onUpdate: tagCall,
      onDelete: {
        service: 'IAM',
        action: 'untagUser',
        parameters: { UserName: options.userName, TagKeys: [OWNER_TAG_KEY] },
        ignoreErrorCodesMatching: IGNORED_UNTAG_ERRORS,
      },
      role: this.role,
      logGroup: this.logGroup,
      // The SDK of the Lambda runtime has IAM TagUser; no download at deploy time.
      installLatestAwsSdk: false,
    });
    // The role's policies (including overflow policies CDK adds at synthesis) must exist before
    // the function runs for this resource.
    resource.node.addDependency(this.role);
    return resource;
  }

  private allowTagging(userArn: string): void {
    if (this.taggedUsers % STATEMENT_RESOURCE_LIMIT === 0) {
      const onlyTheOwnerTagKey = { 'aws:TagKeys': [OWNER_TAG_KEY] };
      const onlyOwnedByThisDeployment = {
        [`iam:ResourceTag/${OWNER_TAG_KEY}`]: this.ownerSecretArnPattern,
      };
      this.tagStatement = new iam.PolicyStatement({
        actions: ['iam:TagUser'],
        conditions: {
          'ForAllValues:StringEquals': onlyTheOwnerTagKey,
          StringLike: { [`aws:RequestTag/${OWNER_TAG_KEY}`]: this.ownerSecretArnPattern },
          StringLikeIfExists: onlyOwnedByThisDeployment,
        },
      });
      this.untagStatement = new iam.PolicyStatement({
        actions: ['iam:UntagUser'],
        conditions: {
          'ForAllValues:StringEquals': onlyTheOwnerTagKey,
          StringLikeIfExists: onlyOwnedByThisDeployment,
        },
      });
      this.role.addToPrincipalPolicy(this.tagStatement);
      this.role.addToPrincipalPolicy(this.untagStatement);
    }
    this.taggedUsers++;
    this.tagStatement?.addResources(userArn);
    this.untagStatement?.addResources(userArn);
  }
}
