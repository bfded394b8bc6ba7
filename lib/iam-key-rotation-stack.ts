import { ArnFormat, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { RotatedUserConfig } from './config.js';
import { KeyRotationFunction, type KeyRotationFunctionProps } from './key-rotation-function.js';
import { RotatedAccessKey } from './rotated-access-key.js';
import { SECRET_NAME_PREFIX } from './user-ownership-tagger.js';

/** Every secret of the stack is named `iam-key-rotation/<user name>`. */
export { SECRET_NAME_PREFIX };

/** Properties of an {@link IamKeyRotationStack}. */
export interface IamKeyRotationStackProps extends StackProps {
  /** The users to rotate, validated by `parseIamKeyRotationConfig` (their `stackName` is ignored). */
  readonly users: readonly RotatedUserConfig[];

  /**
   * Options of the shared rotation function.
   *
   * @default - the defaults of `KeyRotationFunction`
   */
  readonly rotationFunction?: KeyRotationFunctionProps;
}

/**
 * One shared rotation function and, per configured user, a secret with its rotation schedule;
 * a created user carries its ownership tag itself, existing users are tagged by one shared
 * `UserOwnershipTagger` (created only when the stack has an existing user).
 *
 * Construct ids are derived from the user name (`RotatedAccessKey-<name>`, `User-<name>`):
 * renaming a user replaces its secret.
 */
export class IamKeyRotationStack extends Stack {
  /** The shared rotation function. */
  public readonly rotationFunction: KeyRotationFunction;

  /** The rotated access keys, in configuration order. */
  public readonly rotatedAccessKeys: readonly RotatedAccessKey[];

  public constructor(scope: Construct, id: string, props: IamKeyRotationStackProps) {
    super(scope, id, props);

    this.rotationFunction = new KeyRotationFunction(
      this,
      'RotationFunction',
      props.rotationFunction,
    );

    this.rotatedAccessKeys = props.users.map((config) => {
      const user: iam.IUser = config.createUser
        ? new iam.User(this, `User-${config.userName}`, {
            userName: config.userName,
            path: config.path,
          })
        : iam.User.fromUserAttributes(this, `ExistingUser-${config.userName}`, {
            // The ARN includes the path: a policy naming arn:...:user/<name> does not match a
            // user whose path is not /.
            userArn: this.formatArn({
              service: 'iam',
              region: '',
              resource: 'user',
              resourceName: `${config.path.slice(1)}${config.userName}`,
              arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
            }),
          });
      const encryptionKey =
        config.kmsKeyArn === undefined
          ? undefined
          : kms.Key.fromKeyArn(this, `EncryptionKey-${config.userName}`, config.kmsKeyArn);
      return new RotatedAccessKey(this, `RotatedAccessKey-${config.userName}`, {
        user,
        secretName: `${SECRET_NAME_PREFIX}${config.userName}`,
        schedule: config.schedule,
        window: config.window,
        encryptionKey,
        rotationFunction: this.rotationFunction,
      });
    });
  }
}
