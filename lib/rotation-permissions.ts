import { ArnFormat, Stack, Tags, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import {
  BINDING_TAG_KEY,
  CLOUDFORMATION_STACK_ID_TAG_KEY,
  CURRENT_KEY_TAG_KEY,
  OWNER_TAG_KEY,
  SECRET_NAME_PREFIX,
} from '../lambda/rotation/binding.js';

/**
 * A cross-check tag on every secret of the stack: the stack's name. Anyone who may tag or create a
 * secret can set it, so no permission depends on it; the role's Secrets Manager statements depend
 * on CloudFormation's reserved tag `aws:cloudformation:stack-id` instead.
 */
export const STACK_TAG_KEY = 'iam-key-rotation:stack';

/**
 * IAM actions the rotation function needs on a user of its stack: the key actions, `iam:GetUser`
 * to read the user's ownership tag before any write, and `iam:GetAccessKeyLastUsed` to keep keys
 * in use. Never `iam:TagUser` or `iam:UntagUser`: only the deployment sets the ownership tag.
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
 * The IAM actions that change a user's keys: explicitly denied on any user whose ownership tag
 * does not name a secret `iam-key-rotation/*` of the stack's region and account (a cross-check of
 * the user ARNs the role is granted; reads stay allowed, so the function can say why it refuses).
 */
export const KEY_WRITE_IAM_ACTIONS = [
  'iam:CreateAccessKey',
  'iam:UpdateAccessKey',
  'iam:DeleteAccessKey',
] as const;

/** Secrets Manager actions the rotation function needs on a secret it rotates. */
export const ROTATION_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:ListSecretVersionIds',
] as const;

/**
 * The Secrets Manager action that records the current key id on the function's own secrets, only
 * for the tag key `iam-key-rotation:current-key` (`aws:TagKeys`).
 */
export const CURRENT_KEY_TAGGING_ACTIONS = ['secretsmanager:TagResource'] as const;

/** KMS actions Secrets Manager performs for the function with a customer-managed key. */
export const ROTATION_KMS_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;

/**
 * EventBridge Scheduler actions the function needs, with a grace period, on the schedules of its
 * retirement schedule group: create the one-time schedule that retires a previous key (it deletes
 * itself once it has run: ActionAfterCompletion DELETE), and, when its name is taken, read that
 * schedule to verify it is the one the rotation creates (not one squatting the name).
 */
export const RETIREMENT_SCHEDULE_ACTIONS = [
  'scheduler:CreateSchedule',
  'scheduler:GetSchedule',
] as const;

/**
 * User ARNs per shared policy statement. CDK estimates every unresolved ARN at 150 characters
 * (a user pattern is at most 106: see {@link stackUserArnPattern}); with 18 ARNs two statements
 * (about 5,800 estimated characters) fill one 6,000-character overflow managed policy.
 */
export const STATEMENT_RESOURCE_LIMIT = 18;

/**
 * The ARN pattern of one user of the stack: `arn:<partition>:iam::<account>:user/<name>` for a user
 * at the root path `/`, else `user/*` + `/<name>` (any path). An IAM user's ARN is `user` + path
 * (which starts and ends with `/`) + name, a user name holds no `/` and is unique in the account,
 * so either pattern matches that one user and no other; unlike the exact ARN its length does not
 * grow with the path (up to 512 characters): at most 42 characters plus the name (at most 64).
 *
 * @param atRoot whether the user's path is `/` (see {@link isAtRootPath})
 */
export function stackUserArnPattern(scope: Construct, userName: string, atRoot: boolean): string {
  return Stack.of(scope).formatArn({
    service: 'iam',
    region: '',
    resource: 'user',
    resourceName: atRoot ? userName : `*/${userName}`,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/**
 * Whether the user's path is `/`: the `path` of an `iam.User` (absent: `/`), else what its ARN
 * ends with (`:user/<name>`, as `iam.User.fromUserName` and an ARN without a path give).
 */
export function isAtRootPath(user: iam.IUser, userName: string): boolean {
  if (user instanceof iam.User) {
    const cfnUser = user.node.defaultChild;
    const userPath = cfnUser instanceof iam.CfnUser ? cfnUser.path : undefined;
    return userPath === undefined || userPath === '/';
  }
  return user.userArn.endsWith(`:user/${userName}`);
}

/** The ARN pattern of the stack's secrets: `iam-key-rotation/*` of its region and account. */
export function stackSecretArnPattern(scope: Construct): string {
  return Stack.of(scope).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${SECRET_NAME_PREFIX}*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * The user's name as a literal: `userName` when it is not a token, else the `userName` of an
 * `iam.User`'s CfnUser.
 *
 * @throws Error naming the user's construct path when no literal name is known
 */
export function literalUserName(user: iam.IUser): string {
  if (!Token.isUnresolved(user.userName)) {
    return user.userName;
  }
  if (user instanceof iam.User) {
    const cfnUser = user.node.defaultChild;
    const name = cfnUser instanceof iam.CfnUser ? cfnUser.userName : undefined;
    if (name !== undefined && !Token.isUnresolved(name)) {
      return name;
    }
  }
  throw new Error(
    `user.userName must be a literal IAM user name (the secret's name, value and ${BINDING_TAG_KEY} tag name the user, and the user's ${OWNER_TAG_KEY} tag names the secret), got a token for ${user.node.path}; give the iam.User a userName, or import the user with iam.User.fromUserName`,
  );
}

/**
 * A value as cdk-nag names it in a finding: literal, or `<AWS::Region>` for the pseudo parameter
 * a token stands for.
 */
export function rendered(value: string, pseudoParameter: string): string {
  return Token.isUnresolved(value) ? `<${pseudoParameter}>` : value;
}

/** What one rotated secret needs from the rotation function's role. */
export interface RotationGrant {
  /** The IAM user the secret is bound to; its name must be literal. */
  readonly user: iam.IUser;
  /** The secret to rotate: a `Secret` of the function's stack named `iam-key-rotation/<user name>`. */
  readonly secret: secretsmanager.ISecret;
  /**
   * The customer-managed key that encrypts the secret.
   *
   * @default - the AWS managed key: no KMS permission is needed
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The rotation function's statements: what {@link RotationGrant}s need from its execution role.
 * Created by the `KeyRotationFunction`; use its `grantRotation`.
 *
 * Everything that decides which secret and which user the role reaches is fixed by the
 * deployment:
 * - Secrets Manager: the rotation actions, and `secretsmanager:TagResource` for the tag
 *   `iam-key-rotation:current-key` only, on the secrets `iam-key-rotation/*` of the stack's region
 *   and account whose CloudFormation tag `aws:cloudformation:stack-id` is this stack's id (`aws:`
 *   tags are reserved: no principal can set them); an explicit Deny of the same actions on every
 *   other secret, so that a look-alike secret's resource policy cannot grant them either.
 * - IAM: the key actions, `iam:GetUser` and `iam:GetAccessKeyLastUsed` on the users of the grants
 *   only (one ARN or pattern per user, {@link stackUserArnPattern}, up to 18 per statement); an
 *   explicit Deny of the key writes on any user whose ownership tag does not name a secret
 *   `iam-key-rotation/*` of this region and account (a cross-check).
 * - KMS: `kms:Decrypt` and `kms:GenerateDataKey` through Secrets Manager for secrets
 *   `iam-key-rotation/*` of this region and account (one statement per key); Secrets Manager
 *   makes those calls only within a call the statements above allow.
 */
export class RotationPermissions {
  private secretStatementsAdded = false;
  private grantedUsers = 0;
  private userStatement?: iam.PolicyStatement;
  private readonly users = new Set<string>();
  private readonly keys = new Set<string>();

  /**
   * @param scope the rotation function's construct (its stack places the ARNs)
   * @param role the rotation function's execution role
   */
  public constructor(
    private readonly scope: Construct,
    private readonly role: iam.Role,
  ) {}

  /**
   * Lets the function rotate `secret` for `user`: the user's ARN pattern joins the shared user
   * statements, the secret gets the cross-check tag `iam-key-rotation:stack`, and the first grant
   * adds the statements that do not grow with the number of users.
   *
   * @throws Error when the secret is not a `Secret` of this stack named
   * `iam-key-rotation/<user name>`: the function rotates no other secret
   */
  public grantRotation(grant: RotationGrant): void {
    const userName = literalUserName(grant.user);
    this.requireStackSecret(grant.secret, userName);
    this.addSecretStatements();
    Tags.of(grant.secret).add(STACK_TAG_KEY, Stack.of(this.scope).stackName);
    this.addUser(userName, isAtRootPath(grant.user, userName));
    if (grant.encryptionKey) {
      this.grantKeyUse(grant.encryptionKey);
    }
  }

  /** The ARN pattern of the secrets the role reaches: `iam-key-rotation/*` of this region and account. */
  public get rotatedSecretArnPattern(): string {
    return stackSecretArnPattern(this.scope);
  }

  private requireStackSecret(secret: secretsmanager.ISecret, userName: string): void {
    const expected = `${SECRET_NAME_PREFIX}${userName}`;
    const sameStack =
      secret instanceof secretsmanager.Secret && Stack.of(secret) === Stack.of(this.scope);
    const cfnSecret = secret.node.defaultChild;
    const name = cfnSecret instanceof secretsmanager.CfnSecret ? cfnSecret.name : undefined;
    if (!sameStack || name !== expected) {
      throw new Error(
        `grantRotation needs a secret created by the rotation function's stack and named ${expected} (the function rotates only secrets whose ${CLOUDFORMATION_STACK_ID_TAG_KEY} tag is its own stack, and takes the user from the name), got ${sameStack ? `a secret named ${name === undefined || Token.isUnresolved(name) ? 'by CloudFormation' : JSON.stringify(name)}` : `${secret.node.path}, which is imported or of another stack`}`,
      );
    }
  }

  private addUser(userName: string, atRoot: boolean): void {
    if (this.users.has(userName)) {
      return;
    }
    this.users.add(userName);
    if (this.grantedUsers % STATEMENT_RESOURCE_LIMIT === 0) {
      this.userStatement = new iam.PolicyStatement({ actions: [...ROTATION_IAM_ACTIONS] });
      this.role.addToPrincipalPolicy(this.userStatement);
    }
    this.grantedUsers++;
    this.userStatement?.addResources(stackUserArnPattern(this.scope, userName, atRoot));
    if (!atRoot) {
      const stack = Stack.of(this.scope);
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:${rendered(stack.partition, 'AWS::Partition')}:iam::${rendered(stack.account, 'AWS::AccountId')}:user/*/${userName}]`,
        reason: `The one IAM user named ${userName}, whatever its path (user names are unique in an account and hold no "/"): a pattern keeps the policy's size independent of the path.`,
      });
    }
  }

  private addSecretStatements(): void {
    if (this.secretStatementsAdded) {
      return;
    }
    this.secretStatementsAdded = true;
    const stack = Stack.of(this.scope);
    const secrets = this.rotatedSecretArnPattern;
    const ofThisStack = {
      [`aws:ResourceTag/${CLOUDFORMATION_STACK_ID_TAG_KEY}`]: stack.stackId,
    };
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...ROTATION_SECRET_ACTIONS],
        resources: [secrets],
        conditions: { StringEquals: ofThisStack },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...CURRENT_KEY_TAGGING_ACTIONS],
        resources: [secrets],
        conditions: {
          StringEquals: ofThisStack,
          'ForAllValues:StringEquals': { 'aws:TagKeys': [CURRENT_KEY_TAG_KEY] },
        },
      }),
    );
    // A same-account resource policy grants on its own: deny what no statement above grants.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: [...ROTATION_SECRET_ACTIONS, ...CURRENT_KEY_TAGGING_ACTIONS],
        resources: ['*'],
        conditions: { StringNotEquals: ofThisStack },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: [...KEY_WRITE_IAM_ACTIONS],
        resources: ['*'],
        conditions: { StringNotLike: { [`iam:ResourceTag/${OWNER_TAG_KEY}`]: secrets } },
      }),
    );
    const partition = rendered(stack.partition, 'AWS::Partition');
    const region = rendered(stack.region, 'AWS::Region');
    const account = rendered(stack.account, 'AWS::AccountId');
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${partition}:secretsmanager:${region}:${account}:secret:${SECRET_NAME_PREFIX}*]`,
      reason: `The rotation actions apply only to secrets named ${SECRET_NAME_PREFIX}* whose ${CLOUDFORMATION_STACK_ID_TAG_KEY} tag is this stack's id (a reserved tag only CloudFormation sets), so the policy does not grow with the number of users.`,
    });
  }

  /**
   * `kms:Decrypt` and `kms:GenerateDataKey` on `key`, only when Secrets Manager calls KMS for a
   * secret `iam-key-rotation/*` of this region and account: one statement per key.
   */
  private grantKeyUse(key: kms.IKey): void {
    if (this.keys.has(key.keyArn)) {
      return;
    }
    this.keys.add(key.keyArn);
    const stack = Stack.of(this.scope);
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
}
