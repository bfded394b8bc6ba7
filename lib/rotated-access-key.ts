import { Duration, SecretValue, Stack, Tags } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { BINDING_TAG_KEY } from '../lambda/rotation/binding.js';
import type { KeyRotationFunction } from './key-rotation-function.js';
import { KeyRotationSchedule } from './key-rotation-schedule.js';

/** Properties of a {@link RotatedAccessKey}. */
export interface RotatedAccessKeyProps {
  /** The IAM user whose access key the secret holds and the function rotates. */
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
   *
   * @default - a name CloudFormation generates
   */
  readonly secretName?: string;

  /**
   * A description of the secret.
   *
   * @default - "Access key of IAM user <user name>, rotated by iam-key-rotation"
   */
  readonly description?: string;
}

/**
 * A Secrets Manager secret that holds one IAM user's access key and rotates it on a schedule.
 *
 * The secret starts as `{"UserName":"<name>"}` (its first rotation creates the first key) and
 * is bound to the user by the tag `iam-key-rotation:user`. The shared rotation function gets
 * exactly this user's key actions, this secret's rotation actions and, with a customer-managed
 * key, decrypt/encrypt through Secrets Manager for this secret only.
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

  public constructor(scope: Construct, id: string, props: RotatedAccessKeyProps) {
    super(scope, id);

    if (props.window) {
      const problem = props.schedule.windowProblem(props.window);
      if (problem !== undefined) {
        throw new Error(problem);
      }
    }
    this.user = props.user;
    this.rotationFunction = props.rotationFunction;
    this.encryptionKey = props.encryptionKey;
    const userName = props.user.userName;

    this.secret = new secretsmanager.Secret(this, 'Secret', {
      secretName: props.secretName,
      description:
        props.description ?? `Access key of IAM user ${userName}, rotated by iam-key-rotation`,
      encryptionKey: props.encryptionKey,
      // Not secret: only the user name. The first rotation stores the first key.
      secretStringValue: SecretValue.unsafePlainText(
        Stack.of(this).toJsonString({ UserName: userName }),
      ),
    });
    Tags.of(this.secret).add(BINDING_TAG_KEY, userName);

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
    });
    // Creating the schedule starts a rotation at once: the invoke permission and every part of
    // the execution role's policy (including overflow policies) must exist by then.
    // (The role subtree holds the default policy and the overflow policies CDK adds at synthesis.)
    this.rotationSchedule.node.addDependency(
      props.rotationFunction.role,
      props.rotationFunction.invokePermission,
    );
  }
}
