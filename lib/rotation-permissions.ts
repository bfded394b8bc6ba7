import { ArnFormat, Stack, Tags, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { OWNER_TAG_KEY } from '../lambda/rotation/binding.js';

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

/**
 * The rotation function's statements: what {@link RotationGrant}s need from its execution role.
 * Created by the {@link KeyRotationFunction}; use its `grantRotation`.
 */
export class RotationPermissions {
  private grantedSecrets = 0;
  private tagScopedStatementsAdded = false;
  private readonly tagScopedKeys = new Set<string>();
  private readonly keySecretArns = new Map<string, string[]>();
  private userStatement?: iam.PolicyStatement;
  private secretStatement?: iam.PolicyStatement;

  /**
   * @param scope the rotation function's construct (its stack places the ARNs)
   * @param role the rotation function's execution role
   */
  public constructor(
    private readonly scope: Construct,
    private readonly role: iam.Role,
  ) {}

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
      Tags.of(grant.secret).add(STACK_TAG_KEY, Stack.of(this.scope).stackName);
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
    return Stack.of(this.scope).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${ROTATED_SECRET_NAME_PREFIX}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** A `Secret` of this stack whose literal name starts with `iam-key-rotation/`. */
  private isTagScoped(secret: secretsmanager.ISecret): boolean {
    if (!(secret instanceof secretsmanager.Secret) || Stack.of(secret) !== Stack.of(this.scope)) {
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
    const stack = Stack.of(this.scope);
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

  /**
   * `kms:Decrypt` and `kms:GenerateDataKey` on `key`, only when Secrets Manager calls KMS for one
   * of the listed secrets. Secrets that share a key share a statement (up to 18 secrets each).
   */
  private grantKeyUse(key: kms.IKey, secretArn: string): void {
    let secretArns = this.keySecretArns.get(key.keyArn);
    if (secretArns === undefined || secretArns.length >= STATEMENT_RESOURCE_LIMIT) {
      const stack = Stack.of(this.scope);
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
export function rendered(value: string, pseudoParameter: string): string {
  return Token.isUnresolved(value) ? `<${pseudoParameter}>` : value;
}
