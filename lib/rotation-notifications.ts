import { ArnFormat, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { BINDING_TAG_KEY } from '../lambda/rotation/binding.js';
import type { KeyRotationFunction } from './key-rotation-function.js';
import { SECRET_NAME_PREFIX } from './user-ownership-tagger.js';
import type { RotationAlarms } from './rotation-alarms.js';

/** The rotation events Secrets Manager records for a rotation that did not complete. */
export const ROTATION_FAILURE_EVENT_NAMES = ['RotationFailed', 'RotationAbandoned'] as const;

/** The rotation event Secrets Manager records for a completed rotation. */
export const ROTATION_SUCCESS_EVENT_NAMES = ['RotationSucceeded'] as const;

/**
 * Where a Secrets Manager rotation event (`detail-type` "AWS Service Event via CloudTrail") holds
 * the ARN of the secret. AWS's guides list the rotation events (RotationStarted, RotationSucceeded,
 * RotationFailed, RotationAbandoned) but show none of them whole; the evidence is public code
 * that consumes them:
 * - a Slack notifier for rotation events quotes a captured `RotationFailed` event in full:
 *   `"additionalEventData": {"SecretId": "arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6
 *   characters>"}`, next to `"errorMessage": "Error when executing lambda ... during createSecret
 *   step"`, `"requestParameters": null`, `"responseElements": null`, `"managementEvent": true`,
 *   and a top-level `"resources": []`;
 * - fayrus/syncret (release v0.1.0) reads the ARN of `RotationSucceeded` from
 *   `detail.additionalEventData.SecretId` (and that of `PutSecretValue` from `requestParameters`);
 * - published CDK rules match RotationFailed and RotationAbandoned on this field.
 * With `resources` empty and `requestParameters`/`responseElements` null, this is the only field
 * to match the stack's secrets on. It holds the full ARN, which is what `Ref` of a secret gives.
 */
export const ROTATION_EVENT_SECRET_ID_PATH = '$.detail.additionalEventData.SecretId';

/**
 * EventBridge's default quota for the size of an event pattern (characters). The secrets of a
 * stack are spread over as many rules as it takes to stay below it.
 */
export const MAX_EVENT_PATTERN_CHARACTERS = 2048;

/** Longest values a token may stand for in a secret ARN, for the pattern size estimate. */
const LONGEST_PARTITION = 'aws-iso-b-'.length;
const LONGEST_REGION = 'ap-southeast-10-'.length;
const ACCOUNT_ID_LENGTH = 12;
const LONGEST_SECRET_NAME = 512;
/** Secrets Manager appends `-` and 6 random characters to the name. */
const SECRET_ARN_SUFFIX_LENGTH = 7;

/** One secret the notifications watch. */
export interface NotifiedSecret {
  /** The secret's full ARN (`Ref` of a secret). */
  readonly secretArn: string;
  /** The secret's name, for the event pattern size estimate (a token counts as 512 characters). */
  readonly secretName: string;
}

/** Properties of {@link RotationNotifications}. */
export interface RotationNotificationsProps {
  /** The function whose secrets and alarms are notified. */
  readonly rotationFunction: KeyRotationFunction;

  /** The secrets whose rotation events are notified: only these. */
  readonly secrets: readonly NotifiedSecret[];

  /**
   * The alarms whose state changes are notified (ALARM and OK).
   *
   * @default - none: only the rotation events are notified
   */
  readonly alarms?: RotationAlarms;

  /**
   * An existing topic to publish to. Its policy must let EventBridge and CloudWatch of this
   * account publish, and its KMS key (if any) let them use it; this construct changes neither.
   *
   * @default - a topic of this construct, `<stack name>-rotation-notifications`, encrypted with a
   * KMS key of its own
   */
  readonly topic?: sns.ITopic;

  /**
   * Email addresses subscribed to the topic this construct creates (each recipient must confirm
   * the subscription). Not allowed with `topic`.
   *
   * @default - no subscription
   */
  readonly emailAddresses?: readonly string[];

  /**
   * Whether completed rotations (`RotationSucceeded`) are notified too.
   *
   * @default false
   */
  readonly notifyOnSuccess?: boolean;
}

/**
 * Notifications of a rotation function's secrets to an SNS topic, created here or existing:
 *
 * - Secrets Manager's rotation events `RotationFailed` and `RotationAbandoned` (and
 *   `RotationSucceeded` with `notifyOnSuccess`), as EventBridge receives them from CloudTrail,
 *   for the given secrets only (matched by full ARN on `detail.additionalEventData.SecretId`), as
 *   readable text: the event, the secret, when and where, Secrets Manager's error, and the
 *   commands to run next;
 * - the ALARM and OK state changes of the function's alarms.
 *
 * A topic created here is encrypted with a KMS key of its own (rotated yearly) whose policy lets
 * the account administer it and EventBridge and CloudWatch use it only for this topic; the topic
 * policy lets only EventBridge (for these rules) and CloudWatch (for these alarms) of this account
 * publish, and refuses publishing without TLS.
 */
export class RotationNotifications extends Construct {
  /** The topic that receives the notifications. */
  public readonly topic: sns.ITopic;

  /** The key that encrypts the topic, when this construct created the topic. */
  public readonly encryptionKey?: kms.Key;

  /** The rules that forward failed and abandoned rotations. */
  public readonly failureRules: readonly events.Rule[];

  /** The rules that forward completed rotations (none without `notifyOnSuccess`). */
  public readonly successRules: readonly events.Rule[];

  public constructor(scope: Construct, id: string, props: RotationNotificationsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const emailAddresses = props.emailAddresses ?? [];
    if (props.topic && emailAddresses.length > 0) {
      throw new Error(
        `emailAddresses are subscribed only to a topic this construct creates; subscribe them to ${props.topic.topicArn} where it is managed, got ${emailAddresses.join(', ')}`,
      );
    }

    let ownTopic: sns.Topic | undefined;
    if (props.topic) {
      this.topic = props.topic;
    } else {
      const created = this.createTopic(stack, (props.alarms?.alarms.length ?? 0) > 0);
      ownTopic = created.topic;
      this.encryptionKey = created.key;
      this.topic = ownTopic;
      for (const address of emailAddresses) {
        ownTopic.addSubscription(new subscriptions.EmailSubscription(address));
      }
    }

    const logGroupName = props.rotationFunction.logGroup.logGroupName;
    this.failureRules = this.createRules(
      'FailureEvents',
      ROTATION_FAILURE_EVENT_NAMES,
      props.secrets,
      failureMessage(logGroupName),
      'Failed and abandoned IAM access key rotations',
    );
    this.successRules = props.notifyOnSuccess
      ? this.createRules(
          'SuccessEvents',
          ROTATION_SUCCESS_EVENT_NAMES,
          props.secrets,
          successMessage(props.rotationFunction),
          'Completed IAM access key rotations',
        )
      : [];

    props.alarms?.notify(this.topic);

    if (ownTopic) {
      const rules = [...this.failureRules, ...this.successRules];
      if (rules.length > 0) {
        ownTopic.addToResourcePolicy(
          new iam.PolicyStatement({
            sid: 'RotationEventsFromThisStacksRules',
            principals: [new iam.ServicePrincipal('events.amazonaws.com')],
            actions: ['sns:Publish'],
            resources: [ownTopic.topicArn],
            conditions: {
              StringEquals: { 'aws:SourceAccount': stack.account },
              ArnEquals: { 'aws:SourceArn': rules.map((rule) => rule.ruleArn) },
            },
          }),
        );
      }
      const alarms = props.alarms?.alarms ?? [];
      if (alarms.length > 0) {
        ownTopic.addToResourcePolicy(
          new iam.PolicyStatement({
            sid: 'AlarmsFromThisStacksAlarms',
            principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
            actions: ['sns:Publish'],
            resources: [ownTopic.topicArn],
            conditions: {
              StringEquals: { 'aws:SourceAccount': stack.account },
              ArnEquals: { 'aws:SourceArn': alarms.map((alarm) => alarm.alarmArn) },
            },
          }),
        );
      }
    }
  }

  /**
   * The topic and its key. The topic is named, so that the key policy can name the topic's ARN
   * without a reference (the topic refers to the key; a reference back would be a cycle).
   */
  private createTopic(stack: Stack, withAlarms: boolean): { topic: sns.Topic; key: kms.Key } {
    const topicName = `${stack.stackName}-rotation-notifications`;
    const topicArn = stack.formatArn({
      service: 'sns',
      resource: topicName,
      arnFormat: ArnFormat.NO_RESOURCE_NAME,
    });
    const key = new kms.Key(this, 'TopicKey', {
      description: `Encrypts the SNS topic ${topicName} of IAM access key rotation notifications`,
      enableKeyRotation: true,
      // Only notifications in flight are encrypted with it: nothing to keep once the topic is gone.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Publishers that are AWS services need the key themselves; SNS names the topic in the
    // encryption context of every call, so these grants are good for this topic only.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PublishToTheNotificationTopic',
        principals: [
          new iam.ServicePrincipal('events.amazonaws.com'),
          ...(withAlarms ? [new iam.ServicePrincipal('cloudwatch.amazonaws.com')] : []),
        ],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:EncryptionContext:aws:sns:topicArn': topicArn } },
      }),
    );
    const topic = new sns.Topic(this, 'Topic', {
      topicName,
      displayName: 'IAM key rotation',
      masterKey: key,
      enforceSSL: true,
    });
    return { topic, key };
  }

  /**
   * Rules for `eventNames` of `secrets`, as many as it takes to keep each event pattern within
   * {@link MAX_EVENT_PATTERN_CHARACTERS}: `<id>`, `<id>2`, ...
   */
  private createRules(
    id: string,
    eventNames: readonly string[],
    secrets: readonly NotifiedSecret[],
    message: events.RuleTargetInput,
    description: string,
  ): events.Rule[] {
    const patternOf = (secretArns: string[]): events.EventPattern => ({
      source: ['aws.secretsmanager'],
      detailType: ['AWS Service Event via CloudTrail'],
      detail: {
        eventSource: ['secretsmanager.amazonaws.com'],
        eventName: [...eventNames],
        additionalEventData: { SecretId: secretArns },
      },
    });
    const baseLength = JSON.stringify(renderedPattern(patternOf([]))).length;
    const groups = groupWithin(
      secrets,
      (secret) => this.estimatedArnLength(secret) + '"",'.length,
      MAX_EVENT_PATTERN_CHARACTERS - baseLength,
    );
    const target: events.IRuleTarget = {
      bind: () => ({ arn: this.topic.topicArn, input: message }),
    };
    return groups.map(
      (group, index) =>
        new events.Rule(this, index === 0 ? id : `${id}${index + 1}`, {
          description:
            groups.length === 1
              ? `${description} of this stack's secrets`
              : `${description} of this stack's secrets (group ${index + 1} of ${groups.length})`,
          eventPattern: patternOf(group.map((secret) => secret.secretArn)),
          targets: [target],
        }),
    );
  }

  /** An upper bound of the length of `secret`'s ARN once deployed. */
  private estimatedArnLength(secret: NotifiedSecret): number {
    const stack = Stack.of(this);
    const literalLength = (value: string, longest: number): number =>
      Token.isUnresolved(value) ? longest : value.length;
    return (
      'arn:'.length +
      literalLength(stack.partition, LONGEST_PARTITION) +
      ':secretsmanager:'.length +
      literalLength(stack.region, LONGEST_REGION) +
      ':'.length +
      literalLength(stack.account, ACCOUNT_ID_LENGTH) +
      ':secret:'.length +
      literalLength(secret.secretName, LONGEST_SECRET_NAME) +
      SECRET_ARN_SUFFIX_LENGTH
    );
  }
}

/** The event pattern as EventBridge stores it (field names as in the event). */
function renderedPattern(pattern: events.EventPattern): unknown {
  const { detailType, ...rest } = pattern;
  return { ...rest, 'detail-type': detailType };
}

/**
 * Splits `items` in order into groups whose summed `size` stays within `budget` (a group holds
 * at least one item).
 */
function groupWithin<T>(items: readonly T[], size: (item: T) => number, budget: number): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let used = 0;
  for (const item of items) {
    const itemSize = size(item);
    if (current.length > 0 && used + itemSize > budget) {
      groups.push(current);
      current = [];
      used = 0;
    }
    current.push(item);
    used += itemSize;
  }
  if (current.length > 0) {
    groups.push(current);
  }
  return groups;
}

const SECRET_ID = events.EventField.fromPath(ROTATION_EVENT_SECRET_ID_PATH);
const EVENT_NAME = events.EventField.fromPath('$.detail.eventName');
const ERROR_MESSAGE = events.EventField.fromPath('$.detail.errorMessage');

/** Where and when, as the first two lines of every message. */
const eventHeader = (): string =>
  [
    `iam-key-rotation: ${EVENT_NAME} for secret ${SECRET_ID}`,
    `Account ${events.EventField.account}, region ${events.EventField.region}, at ${events.EventField.time} (UTC).`,
    `The secret's user: its tag ${BINDING_TAG_KEY}, and for secrets of this stack the name after ${SECRET_NAME_PREFIX} in the ARN.`,
  ].join('\n');

/** The text sent for RotationFailed and RotationAbandoned: what happened and what to do. */
function failureMessage(logGroupName: string): events.RuleTargetInput {
  return events.RuleTargetInput.fromMultilineText(
    [
      eventHeader(),
      `Secrets Manager: ${ERROR_MESSAGE}`,
      'RotationFailed: a step of the rotation function failed; Secrets Manager retries it. RotationAbandoned: a value was put or AWSPENDING removed by hand during the rotation, and Secrets Manager gave it up.',
      'What to do:',
      `1. See the secret's keys, labels and verdict (the operator command, installed from the checkout with npm link): iam-key-rotation status ${SECRET_ID}`,
      `2. Read the error in the rotation function's log group ${logGroupName}: every line carries secretId, step and clientRequestToken.`,
      `3. Once the cause is fixed, rotate and follow it to its end: iam-key-rotation rotate ${SECRET_ID} --wait`,
    ].join('\n'),
  );
}

/** The text sent for RotationSucceeded. */
function successMessage(rotationFunction: KeyRotationFunction): events.RuleTargetInput {
  const previousKey = rotationFunction.hasGracePeriod
    ? `The previous key (AWSPREVIOUS) stays Active for the grace period of ${rotationFunction.gracePeriod.toHumanString()} and is then deactivated.`
    : 'The previous key (AWSPREVIOUS) is Inactive; the next rotation deletes it.';
  return events.RuleTargetInput.fromMultilineText(
    [
      eventHeader(),
      `The new key is AWSCURRENT. ${previousKey}`,
      `See the secret's keys and labels (the operator command, installed from the checkout with npm link): iam-key-rotation status ${SECRET_ID}`,
    ].join('\n'),
  );
}
