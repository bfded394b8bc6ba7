import { Duration, RemovalPolicy, SecretValue, Stack, Tags, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../lambda/rotation/binding.js';
import { AWS_REGION_PATTERN } from '../lambda/rotation/ses-smtp-password.js';
import {
  MAX_TAG_VALUE_LENGTH,
  SES_SMTP_REGIONS_TAG_KEY,
  SES_SMTP_TEST_TAG_KEY,
} from '../lambda/rotation/ses-smtp-settings.js';
import type { KeyRotationFunction } from './key-rotation-function.js';
import { KeyRotationSchedule } from './key-rotation-schedule.js';
import { SECRET_NAME_PREFIX, UserOwnershipTagger } from './user-ownership-tagger.js';

/** Properties of a {@link RotatedAccessKey}. */
export interface RotatedAccessKeyProps {
  /**
   * The IAM user whose access key the secret holds and the function rotates. Its `userName` must
   * be literal (an `iam.User` with a `userName`, or `iam.User.fromUserName`/`fromUserArn` with a
   * literal name): the secret's value and tag name the user, and the user's ownership tag names
   * the secret, so a token here would make each depend on the other.
   */
  readonly user: iam.IUser;

  /** When to rotate (UTC). */
  readonly schedule: KeyRotationSchedule;

  /**
   * The rotation window: whole hours, at least 1 hour; it must not reach into the next UTC day
   * or the next rotation window.
   *
   * @default - Secrets Manager's default: 1 hour for a schedule in hours, the rest of the UTC day
   * for a schedule in days
   */
  readonly window?: Duration;

  /**
   * The customer-managed KMS key that encrypts the secret. Its key policy must let this account
   * use it (Secrets Manager calls KMS on the function's behalf).
   *
   * @default - the AWS managed key `aws/secretsmanager`
   */
  readonly encryptionKey?: kms.IKey;

  /** The stack's shared rotation function. */
  readonly rotationFunction: KeyRotationFunction;

  /**
   * The secret's name, which applications pass as `--secret-id`. A named secret cannot be
   * replaced in place: Secrets Manager keeps a deleted name reserved during its recovery window.
   * For a user the stack does not create it must start with `iam-key-rotation/`: the ownership
   * tagger may only write the ARN of such a secret into the user's tag.
   *
   * @default - `iam-key-rotation/<user name>`
   */
  readonly secretName?: string;

  /**
   * Tags a user the stack does not create with the secret that owns it.
   *
   * @default - the stack's shared tagger (`UserOwnershipTagger.of(this)`), created at first use;
   * not used for an `iam.User` of the same stack, which carries the tag itself
   */
  readonly ownershipTagger?: UserOwnershipTagger;

  /**
   * A description of the secret.
   *
   * @default - "Access key of IAM user <user name>, rotated by iam-key-rotation"
   */
  readonly description?: string;

  /**
   * Whether a change of the schedule or window (a stack update) rotates the key at once
   * (CloudFormation's `RotateImmediatelyOnUpdate`, documented for updates; creating the schedule
   * is what starts the first rotation). With `false`, Secrets Manager only tests the
   * configuration (the `testSecret` step) and the next rotation follows the new schedule; a
   * `rate()` rotation scheduled before the change may still happen.
   *
   * @default false
   */
  readonly rotateImmediatelyOnUpdate?: boolean;

  /**
   * Regions whose Amazon SES SMTP password the secret's value holds beside the key
   * (`SmtpUsername`, the access key id, and `SmtpPasswords`, `{"<region>": "<password>"}`), derived
   * by createSecret from each new secret access key. Passed to the function as the secret's tag
   * `iam-key-rotation:ses-smtp-regions` (space-separated): distinct AWS region names, at most 256
   * characters in all.
   *
   * @default - none: the value holds only the key, as without SMTP
   */
  readonly sesSmtpRegions?: readonly string[];

  /**
   * Whether testSecret also logs in to the SES SMTP endpoint of each of `sesSmtpRegions`
   * (STARTTLS and AUTH LOGIN on `email-smtp.<region>.amazonaws.com:587`), within its deadline.
   * The function then needs an outbound network path to port 587. Tag
   * `iam-key-rotation:ses-smtp-test`. Only with `sesSmtpRegions`.
   *
   * @default false
   */
  readonly sesSmtpTest?: boolean;

  /**
   * What happens to the secret when it leaves the stack (the user is removed from the
   * configuration) or the stack is destroyed. With `RETAIN` the secret stays readable, with its
   * last key, and its rotation stops (the rotation schedule is deleted); finishing the removal
   * (the keys, the ownership tag, the secret) is the operator's ("Remove a user" in README).
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A Secrets Manager secret that holds one IAM user's access key and rotates it on a schedule.
 *
 * The secret starts as `{"UserName":"<name>"}` (its first rotation creates the first key) and
 * is bound to the user by the tag `iam-key-rotation:user`. The user in turn names the secret
 * that owns it, by full ARN, in its tag `iam-key-rotation:secret`: an `iam.User` of the same
 * stack carries the tag in its template, any other user is tagged by a custom resource of the
 * stack's {@link UserOwnershipTagger}. The rotation schedule (whose creation starts the first
 * rotation; a later change of it does not, unless `rotateImmediatelyOnUpdate`) waits for that
 * tag. The shared rotation function gets exactly this user's key and read actions, this
 * secret's rotation actions and, with a customer-managed key, decrypt/encrypt through Secrets
 * Manager for this secret only.
 */
export class RotatedAccessKey extends Construct {
  /** The secret that holds `{"UserName","AccessKeyId","SecretAccessKey"}`. */
  public readonly secret: secretsmanager.Secret;

  /** The secret's rotation schedule. */
  public readonly rotationSchedule: secretsmanager.CfnRotationSchedule;

  /** The function that rotates the key. */
  public readonly rotationFunction: KeyRotationFunction;

  /** The user the secret is bound to. */
  public readonly user: iam.IUser;

  /** The customer-managed key that encrypts the secret, if any. */
  public readonly encryptionKey?: kms.IKey;

  /** The user's name (literal). */
  public readonly userName: string;

  /** The secret's name as configured (literal unless a token was passed as `secretName`). */
  public readonly secretName: string;

  /**
   * What sets the user's ownership tag: the `iam.User` itself, or the tagging custom resource.
   * Anything that relies on the tag must depend on it.
   */
  public readonly ownershipTag: Construct;

  public constructor(scope: Construct, id: string, props: RotatedAccessKeyProps) {
    super(scope, id);

    if (props.window) {
      const problem = props.schedule.windowProblem(props.window);
      if (problem !== undefined) {
        throw new Error(problem);
      }
    }
    validateSesSmtp(props);
    this.user = props.user;
    this.rotationFunction = props.rotationFunction;
    this.encryptionKey = props.encryptionKey;
    const userName = literalUserName(props.user);
    this.userName = userName;
    const gracePeriod = props.rotationFunction.gracePeriod;
    if (
      !gracePeriod.isUnresolved() &&
      gracePeriod.toSeconds() >= props.schedule.shortestInterval.toSeconds()
    ) {
      throw new Error(
        `the rotation function's gracePeriod (${gracePeriod.toHumanString()}) must be shorter than the rotation interval of user ${userName} (${props.schedule.expressionString}: ${props.schedule.describeShortestInterval()}): the previous key must be retired before the next rotation`,
      );
    }
    const createdHere = props.user instanceof iam.User && Stack.of(props.user) === Stack.of(this);
    const secretName = props.secretName ?? `${SECRET_NAME_PREFIX}${userName}`;
    this.secretName = secretName;
    if (
      !createdHere &&
      (Token.isUnresolved(secretName) || !secretName.startsWith(SECRET_NAME_PREFIX))
    ) {
      throw new Error(
        `secretName must be a literal name starting with "${SECRET_NAME_PREFIX}" for user ${userName}, which this stack does not create (its ownership tagger may only write the ARN of a secret named ${SECRET_NAME_PREFIX}* into the user's ${OWNER_TAG_KEY} tag), got ${JSON.stringify(secretName)}`,
      );
    }

    this.secret = new secretsmanager.Secret(this, 'Secret', {
      secretName,
      description:
        props.description ?? `Access key of IAM user ${userName}, rotated by iam-key-rotation`,
      encryptionKey: props.encryptionKey,
      // Not secret: only the user name. The first rotation stores the first key.
      secretStringValue: SecretValue.unsafePlainText(
        Stack.of(this).toJsonString({ UserName: userName }),
      ),
    });
    // Nothing deleted by surprise: consumers keep reading the secret after a removal.
    this.secret.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    Tags.of(this.secret).add(BINDING_TAG_KEY, userName);
    if (props.sesSmtpRegions !== undefined) {
      // Tags the function reads from DescribeSecret, which it calls anyway: no extra call.
      Tags.of(this.secret).add(SES_SMTP_REGIONS_TAG_KEY, props.sesSmtpRegions.join(' '));
      if (props.sesSmtpTest === true) {
        if (!props.rotationFunction.hasSmtpLoginClient) {
          throw new Error(
            `sesSmtpTest of user ${userName} needs the SMTP client in the rotation function's asset: create the KeyRotationFunction with sesSmtpLoginTest: true`,
          );
        }
        Tags.of(this.secret).add(SES_SMTP_TEST_TAG_KEY, 'true');
      }
    }

    // The user names its one owner, by the full ARN of the secret (Ref of a secret is its ARN).
    if (createdHere) {
      Tags.of(props.user).add(OWNER_TAG_KEY, this.secret.secretArn);
      this.ownershipTag = props.user;
    } else {
      const tagger = props.ownershipTagger ?? UserOwnershipTagger.of(this);
      this.ownershipTag = tagger.tagUser(this, 'OwnershipTag', {
        user: props.user,
        userName,
        secret: this.secret,
      });
    }

    props.rotationFunction.grantRotation({
      user: props.user,
      secret: this.secret,
      encryptionKey: props.encryptionKey,
    });

    this.rotationSchedule = new secretsmanager.CfnRotationSchedule(this, 'RotationSchedule', {
      secretId: this.secret.secretArn,
      rotationLambdaArn: props.rotationFunction.function.functionArn,
      rotationRules: {
        scheduleExpression: props.schedule.expressionString,
        duration: props.window ? KeyRotationSchedule.windowString(props.window) : undefined,
      },
      rotateImmediatelyOnUpdate: props.rotateImmediatelyOnUpdate ?? false,
    });
    // Creating the schedule starts a rotation at once: the invoke permission and every part of
    // the execution role's policy (including overflow policies) must exist by then.
    // (The role subtree holds the default policy and the overflow policies CDK adds at synthesis.)
    // The function refuses a user whose ownership tag does not name this secret: the tag too.
    this.rotationSchedule.node.addDependency(
      props.rotationFunction.role,
      props.rotationFunction.invokePermission,
      this.ownershipTag,
    );
    // With a grace period, the first rotation schedules the previous key's retirement: the
    // scheduler role and its permission to invoke the function must exist before it can run.
    if (props.rotationFunction.retirementSchedulerRole) {
      this.rotationSchedule.node.addDependency(props.rotationFunction.retirementSchedulerRole);
    }
  }
}

/**
 * `sesSmtpRegions`: distinct AWS region names that fit one tag value; `sesSmtpTest` only with them.
 *
 * @throws Error naming the prop, what was expected and the value found
 */
function validateSesSmtp(props: RotatedAccessKeyProps): void {
  const regions = props.sesSmtpRegions;
  if (regions === undefined) {
    if (props.sesSmtpTest !== undefined) {
      throw new Error(
        `sesSmtpTest is only allowed with sesSmtpRegions (the regions whose SMTP login to test), got ${String(props.sesSmtpTest)}`,
      );
    }
    return;
  }
  if (regions.length === 0) {
    throw new Error('sesSmtpRegions must name at least one AWS region, got []');
  }
  regions.forEach((region, index) => {
    if (Token.isUnresolved(region) || !AWS_REGION_PATTERN.test(region)) {
      throw new Error(
        `sesSmtpRegions[${index}] must be a literal AWS region name like "eu-west-1", got ${JSON.stringify(region)}`,
      );
    }
    if (regions.indexOf(region) !== index) {
      throw new Error(`sesSmtpRegions[${index}] repeats region ${region}`);
    }
  });
  const tagValue = regions.join(' ');
  if (tagValue.length > MAX_TAG_VALUE_LENGTH) {
    throw new Error(
      `sesSmtpRegions must fit in the secret's tag ${SES_SMTP_REGIONS_TAG_KEY} (at most ${MAX_TAG_VALUE_LENGTH} characters, separated by spaces), got ${tagValue.length} characters`,
    );
  }
}

/**
 * The user's name as a literal: `userName` when it is not a token, else the `userName` of an
 * `iam.User`'s CfnUser.
 *
 * @throws Error naming the user's construct path when no literal name is known
 */
function literalUserName(user: iam.IUser): string {
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
    `user.userName must be a literal IAM user name (the secret's value and its ${BINDING_TAG_KEY} tag name the user, and the user's ${OWNER_TAG_KEY} tag names the secret), got a token for ${user.node.path}; give the iam.User a userName, or import the user with iam.User.fromUserName`,
  );
}
