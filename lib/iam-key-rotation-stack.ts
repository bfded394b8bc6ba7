import { createHash } from 'node:crypto';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { ComplianceRulesConfig, NotificationsConfig, RotatedUserConfig } from './config.js';
import { FirstRotationWait } from './first-rotation-wait.js';
import { KeyRotationFunction, type KeyRotationFunctionProps } from './key-rotation-function.js';
import { RotatedAccessKey } from './rotated-access-key.js';
import { RotationAlarms } from './rotation-alarms.js';
import { RotationComplianceRules } from './rotation-compliance-rules.js';
import { RotationDashboard } from './rotation-dashboard.js';
import { RotationNotifications } from './rotation-notifications.js';
import { SECRET_NAME_PREFIX } from './user-ownership-tagger.js';

/** Every secret of the stack is named `iam-key-rotation/<user name>`. */
export { SECRET_NAME_PREFIX };

/** The id of the stack output that holds the rotation function's name. */
export const ROTATION_FUNCTION_NAME_OUTPUT_ID = 'RotationFunctionName';

/** Every secret ARN output's id starts with this. */
export const SECRET_ARN_OUTPUT_ID_PREFIX = 'SecretArn';

/** The id of the stack output that holds the console URL of the stack's dashboard. */
export const DASHBOARD_URL_OUTPUT_ID = 'DashboardUrl';

/** The id of the stack output that holds the notification topic's ARN (with notifications). */
export const NOTIFICATION_TOPIC_ARN_OUTPUT_ID = 'NotificationTopicArn';

/** The id of the stack output that names the retirement schedule group (with a grace period). */
export const RETIREMENT_SCHEDULE_GROUP_OUTPUT_ID = 'RetirementScheduleGroupName';

/**
 * The ids of the stack outputs that hold each user's secret ARN: `SecretArn` and the user name
 * in PascalCase without its other characters (`ci-deployer` gives `SecretArnCiDeployer`). Users
 * whose names give the same id each get the first 8 hex digits of their name's SHA-256 appended,
 * so every id stays the same as long as the set of such users does.
 *
 * @returns the output id of every user name, in the order given
 */
export function secretArnOutputIds(userNames: readonly string[]): ReadonlyMap<string, string> {
  const readable = (userName: string): string =>
    SECRET_ARN_OUTPUT_ID_PREFIX +
    userName
      .split(/[^A-Za-z0-9]+/)
      .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
      .join('');
  const counts = new Map<string, number>();
  for (const userName of userNames) {
    const id = readable(userName);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return new Map(
    userNames.map((userName) => {
      const id = readable(userName);
      return [
        userName,
        (counts.get(id) ?? 0) > 1
          ? `${id}${createHash('sha256').update(userName).digest('hex').slice(0, 8).toUpperCase()}`
          : id,
      ];
    }),
  );
}

/** Properties of an {@link IamKeyRotationStack}. */
export interface IamKeyRotationStackProps extends StackProps {
  /** The users to rotate, validated by `parseIamKeyRotationConfig` (their `stackName` is ignored). */
  readonly users: readonly RotatedUserConfig[];

  /**
   * Options of the shared rotation function, among them its `gracePeriod`.
   *
   * @default - the defaults of `KeyRotationFunction`
   */
  readonly rotationFunction?: KeyRotationFunctionProps;

  /**
   * Where rotation events and alarm state changes go, validated by `parseIamKeyRotationConfig`:
   * a topic of the stack (with optional email subscriptions) or an existing topic.
   *
   * @default - no topic and no event rule; the alarms and the dashboard exist regardless, the
   * alarms without actions
   */
  readonly notifications?: NotificationsConfig;

  /**
   * AWS Config rules for the stack's secrets and for access key age. The account needs a
   * configuration recorder in the region.
   *
   * @default - no Config rule
   */
  readonly complianceRules?: ComplianceRulesConfig;

  /**
   * Whether the stack has its CloudWatch dashboard (about $3 a month beyond the account's first 3).
   *
   * @default true
   */
  readonly dashboard?: boolean;

  /**
   * Whether the stack has the rotation function's CloudWatch alarms ($0.10 a month each); without
   * them notifications carry the rotation events only.
   *
   * @default true
   */
  readonly alarms?: boolean;

  /**
   * Whether the deployment awaits the first rotation of every secret it creates, and fails with
   * the rotation function's error when it fails (`FirstRotationWait`). Then a secret (and a
   * created user) to retain is retained except on the rollback of its creation
   * (`RetainExceptOnCreate`), so that a failed first deployment leaves nothing behind.
   *
   * @default true
   */
  readonly awaitFirstRotation?: boolean;
}

/**
 * One shared rotation function and, per configured user, a secret with its rotation schedule;
 * a created user carries its ownership tag itself, existing users are tagged by one shared
 * `UserOwnershipTagger` (created only when the stack has an existing user).
 *
 * Construct ids are derived from the user name (`RotatedAccessKey-<name>`, `User-<name>`):
 * renaming a user replaces its secret.
 *
 * Monitoring: the function's alarms (`RotationAlarms`) and a dashboard (`RotationDashboard`)
 * always; with `notifications`, a topic and rules that send rotation events and alarm state
 * changes to it (`RotationNotifications`); with `complianceRules`, AWS Config rules
 * (`RotationComplianceRules`).
 *
 * Outputs: `RotationFunctionName`, the rotation function's name, per user the ARN of its
 * secret under the id {@link secretArnOutputIds} gives (`SecretArnCiDeployer` for `ci-deployer`),
 * `DashboardUrl`, and `NotificationTopicArn` with notifications and `RetirementScheduleGroupName`
 * with a grace period.
 */
export class IamKeyRotationStack extends Stack {
  /** The shared rotation function. */
  public readonly rotationFunction: KeyRotationFunction;

  /** The rotated access keys, in configuration order. */
  public readonly rotatedAccessKeys: readonly RotatedAccessKey[];

  /** The wait for the first rotations, unless turned off. */
  public readonly firstRotationWait?: FirstRotationWait;

  /** The rotation function's alarms, unless turned off. */
  public readonly alarms?: RotationAlarms;

  /** The stack's dashboard, unless turned off. */
  public readonly dashboard?: RotationDashboard;

  /** The notifications, when configured. */
  public readonly notifications?: RotationNotifications;

  /** The AWS Config rules, when configured. */
  public readonly complianceRules?: RotationComplianceRules;

  public constructor(scope: Construct, id: string, props: IamKeyRotationStackProps) {
    super(scope, id, props);

    this.rotationFunction = new KeyRotationFunction(this, 'RotationFunction', {
      // The SMTP client goes into the asset only for a stack with an SES SMTP login test.
      sesSmtpLoginTest: props.users.some((user) => user.sesSmtpTest === true),
      ...props.rotationFunction,
    });

    const awaitFirstRotation = props.awaitFirstRotation ?? true;
    this.rotatedAccessKeys = props.users.map((config) => {
      // A created user is kept when removed, like its secret, unless the configuration says
      // "destroy" (it may hold keys that consumers still use). With the wait, the rollback of a
      // failed creation deletes them (their keys are gone by then): the next attempt can create
      // them again.
      const removalPolicy =
        config.removalPolicy === 'destroy'
          ? RemovalPolicy.DESTROY
          : awaitFirstRotation
            ? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
            : RemovalPolicy.RETAIN;
      const user: iam.IUser = config.createUser
        ? createdUser(this, config, removalPolicy)
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
        sesSmtpRegions: config.sesSmtpRegions,
        sesSmtpTest: config.sesSmtpTest,
        removalPolicy,
      });
    });

    if (awaitFirstRotation && this.rotatedAccessKeys.length > 0) {
      const wait = FirstRotationWait.of(this, { rotationFunction: this.rotationFunction });
      for (const key of this.rotatedAccessKeys) wait.awaitFirstRotation(key);
      this.firstRotationWait = wait;
    }

    if (props.alarms ?? true) {
      this.alarms = new RotationAlarms(this, 'Alarms', { rotationFunction: this.rotationFunction });
    }
    if (props.dashboard ?? true) {
      this.dashboard = new RotationDashboard(this, 'Dashboard', {
        rotationFunction: this.rotationFunction,
        alarms: this.alarms?.alarms ?? [],
      });
    }
    if (props.notifications) {
      const { topicArn, email, onSuccess } = props.notifications;
      this.notifications = new RotationNotifications(this, 'Notifications', {
        rotationFunction: this.rotationFunction,
        secrets: this.rotatedAccessKeys.map((key) => ({
          secretArn: key.secret.secretArn,
          secretName: key.secretName,
        })),
        alarms: this.alarms,
        topic:
          topicArn === undefined
            ? undefined
            : sns.Topic.fromTopicArn(this, 'ExistingNotificationTopic', topicArn),
        emailAddresses: email,
        notifyOnSuccess: onSuccess,
      });
    }
    if (props.complianceRules) {
      this.complianceRules = new RotationComplianceRules(this, 'ComplianceRules', {
        secrets: this.rotatedAccessKeys.map((key) => key.secret),
        maxAccessKeyAge: Duration.days(props.complianceRules.maxAccessKeyAgeDays),
      });
    }

    new CfnOutput(this, ROTATION_FUNCTION_NAME_OUTPUT_ID, {
      description: 'Name of the function that rotates the access keys of this stack',
      value: this.rotationFunction.function.functionName,
    });
    if (this.dashboard) {
      new CfnOutput(this, DASHBOARD_URL_OUTPUT_ID, {
        description: 'CloudWatch dashboard of the key rotations of this stack',
        value: this.dashboard.dashboardUrl,
      });
    }
    if (this.notifications) {
      new CfnOutput(this, NOTIFICATION_TOPIC_ARN_OUTPUT_ID, {
        description:
          'SNS topic that receives failed rotations and alarm state changes of this stack',
        value: this.notifications.topic.topicArn,
      });
    }
    const scheduleGroup = this.rotationFunction.retirementScheduleGroup;
    if (scheduleGroup) {
      new CfnOutput(this, RETIREMENT_SCHEDULE_GROUP_OUTPUT_ID, {
        description:
          'EventBridge Scheduler group of the schedules that deactivate previous keys when their grace period ends',
        value: scheduleGroup.ref,
      });
    }
    const outputIds = secretArnOutputIds(this.rotatedAccessKeys.map((key) => key.userName));
    for (const key of this.rotatedAccessKeys) {
      new CfnOutput(this, outputIds.get(key.userName) ?? '', {
        description: `ARN of the secret ${SECRET_NAME_PREFIX}${key.userName}, which holds the access key of IAM user ${key.userName}`,
        value: key.secret.secretArn,
      });
    }
  }
}

/** An IAM user the stack creates, with the removal policy of its secret. */
function createdUser(
  scope: Construct,
  config: RotatedUserConfig,
  removalPolicy: RemovalPolicy,
): iam.User {
  const user = new iam.User(scope, `User-${config.userName}`, {
    userName: config.userName,
    path: config.path,
  });
  user.applyRemovalPolicy(removalPolicy);
  return user;
}
