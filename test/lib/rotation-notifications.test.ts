import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { KeyRotationFunction } from '../../lib/key-rotation-function.js';
import { RotationAlarms } from '../../lib/rotation-alarms.js';
import {
  MAX_EVENT_PATTERN_CHARACTERS,
  RotationNotifications,
  type NotifiedSecret,
  type RotationNotificationsProps,
} from '../../lib/rotation-notifications.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const EXISTING_TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:ops-alerts`;

function secretOf(name: string): NotifiedSecret {
  return {
    secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`,
    secretName: name,
  };
}

const SECRETS = [secretOf('iam-key-rotation/alice'), secretOf('iam-key-rotation/bob')];

function arrange(
  props: Partial<RotationNotificationsProps> = {},
  options: { gracePeriod?: Duration; env?: boolean; existingTopicArn?: string } = {},
): { stack: Stack; notifications: RotationNotifications; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(
    app,
    'Keys',
    options.env === false ? {} : { env: { account: ACCOUNT, region: REGION } },
  );
  const rotationFunction = new KeyRotationFunction(stack, 'RotationFunction', {
    gracePeriod: options.gracePeriod,
  });
  const alarms = new RotationAlarms(stack, 'Alarms', { rotationFunction });
  const notifications = new RotationNotifications(stack, 'Notifications', {
    rotationFunction,
    alarms,
    secrets: SECRETS,
    ...(options.existingTopicArn === undefined
      ? {}
      : { topic: sns.Topic.fromTopicArn(stack, 'Existing', options.existingTopicArn) }),
    ...props,
  });
  return { stack, notifications, template: Template.fromStack(stack) };
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

function resourcesOf(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

interface RuleProperties {
  EventPattern: {
    source: string[];
    'detail-type': string[];
    detail: {
      eventSource: string[];
      eventName: string[];
      additionalEventData: { SecretId: string[] };
    };
  };
  Targets: {
    Arn: unknown;
    InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: unknown };
  }[];
}

function rules(template: Template): RuleProperties[] {
  return Object.values(resourcesOf(template, 'AWS::Events::Rule')).map(
    (rule) => rule.Properties as unknown as RuleProperties,
  );
}

describe('Construct: RotationNotifications', () => {
  describe('Topic', () => {
    it('creates a topic encrypted with a KMS key of its own that rotates', () => {
      // Act
      const { template } = arrange();

      // Assert
      template.resourceCountIs('AWS::SNS::Topic', 1);
      template.resourceCountIs('AWS::KMS::Key', 1);
      const [keyId] = Object.keys(resourcesOf(template, 'AWS::KMS::Key'));
      template.hasResourceProperties('AWS::SNS::Topic', {
        TopicName: 'Keys-rotation-notifications',
        KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      });
      template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    });

    it('lets only the account administer the key, and EventBridge and CloudWatch use it for this topic', () => {
      // Act
      const { template } = arrange();

      // Assert
      template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: [
            {
              Effect: 'Allow',
              Action: 'kms:*',
              Principal: {
                AWS: {
                  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${ACCOUNT}:root`]],
                },
              },
              Resource: '*',
            },
            {
              Sid: 'PublishToTheNotificationTopic',
              Effect: 'Allow',
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              Principal: { Service: ['events.amazonaws.com', 'cloudwatch.amazonaws.com'] },
              Resource: '*',
              Condition: {
                StringEquals: {
                  'kms:EncryptionContext:aws:sns:topicArn': {
                    'Fn::Join': [
                      '',
                      [
                        'arn:',
                        { Ref: 'AWS::Partition' },
                        `:sns:${REGION}:${ACCOUNT}:Keys-rotation-notifications`,
                      ],
                    ],
                  },
                },
              },
            },
          ],
        },
      });
    });

    it("lets only EventBridge for this construct's rules and CloudWatch for its alarms publish, over TLS only", () => {
      // Act
      const { template } = arrange({ notifyOnSuccess: true });

      // Assert
      const [topicId] = Object.keys(resourcesOf(template, 'AWS::SNS::Topic'));
      const ruleIds = Object.keys(resourcesOf(template, 'AWS::Events::Rule'));
      const alarmIds = Object.keys(resourcesOf(template, 'AWS::CloudWatch::Alarm'));
      expect(ruleIds).toHaveLength(2);
      expect(alarmIds).toHaveLength(2);
      template.resourceCountIs('AWS::SNS::TopicPolicy', 1);
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: topicId }],
        PolicyDocument: {
          Statement: [
            {
              Sid: 'AllowPublishThroughSSLOnly',
              Effect: 'Deny',
              Principal: '*',
              Action: 'sns:Publish',
              Resource: { Ref: topicId },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
            {
              Sid: 'RotationEventsFromThisStacksRules',
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sns:Publish',
              Resource: { Ref: topicId },
              Condition: {
                StringEquals: { 'aws:SourceAccount': ACCOUNT },
                ArnEquals: {
                  'aws:SourceArn': ruleIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
                },
              },
            },
            {
              Sid: 'AlarmsFromThisStacksAlarms',
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Resource: { Ref: topicId },
              Condition: {
                StringEquals: { 'aws:SourceAccount': ACCOUNT },
                ArnEquals: {
                  'aws:SourceArn': alarmIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
                },
              },
            },
          ],
        },
      });
    });

    it('subscribes each email address', () => {
      // Act
      const { template } = arrange({
        emailAddresses: ['security-team@example.com', 'ops@example.com'],
      });

      // Assert
      const [topicId] = Object.keys(resourcesOf(template, 'AWS::SNS::Topic'));
      template.resourceCountIs('AWS::SNS::Subscription', 2);
      for (const address of ['security-team@example.com', 'ops@example.com']) {
        template.hasResourceProperties('AWS::SNS::Subscription', {
          Protocol: 'email',
          Endpoint: address,
          TopicArn: { Ref: topicId },
        });
      }
    });

    it('has no subscription without email addresses', () => {
      // Act
      const { template } = arrange();

      // Assert
      template.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    it('publishes to an existing topic without creating a topic, key or topic policy', () => {
      // Act
      const { template } = arrange({}, { existingTopicArn: EXISTING_TOPIC_ARN });

      // Assert
      template.resourceCountIs('AWS::SNS::Topic', 0);
      template.resourceCountIs('AWS::KMS::Key', 0);
      template.resourceCountIs('AWS::SNS::TopicPolicy', 0);
      for (const rule of rules(template)) {
        expect(rule.Targets.map((target) => target.Arn)).toEqual([EXISTING_TOPIC_ARN]);
      }
      template.resourcePropertiesCountIs(
        'AWS::CloudWatch::Alarm',
        { AlarmActions: [EXISTING_TOPIC_ARN], OKActions: [EXISTING_TOPIC_ARN] },
        2,
      );
    });

    it('fails when email addresses come with an existing topic', () => {
      // Act & Assert
      expect(() =>
        arrange({ emailAddresses: ['ops@example.com'] }, { existingTopicArn: EXISTING_TOPIC_ARN }),
      ).toThrow(
        `emailAddresses are subscribed only to a topic this construct creates; subscribe them to ${EXISTING_TOPIC_ARN} where it is managed, got ops@example.com`,
      );
    });

    it('sends the ALARM and OK state changes of the alarms to the topic', () => {
      // Act
      const { template } = arrange({}, { gracePeriod: Duration.hours(24) });

      // Assert
      const [topicId] = Object.keys(resourcesOf(template, 'AWS::SNS::Topic'));
      template.resourcePropertiesCountIs(
        'AWS::CloudWatch::Alarm',
        { AlarmActions: [{ Ref: topicId }], OKActions: [{ Ref: topicId }] },
        3,
      );
    });

    it('reports no cdk-nag finding', () => {
      // Arrange
      const { stack } = arrange({ emailAddresses: ['ops@example.com'], notifyOnSuccess: true });

      // Act
      const report = new AwsSolutionsChecks().validateScope(stack);

      // Assert
      expect(report.violations).toEqual([]);
    });
  });

  describe('Rules', () => {
    it("matches Secrets Manager's RotationFailed and RotationAbandoned events of the given secrets only", () => {
      // Act
      const { template } = arrange();

      // Assert
      const [topicId] = Object.keys(resourcesOf(template, 'AWS::SNS::Topic'));
      template.resourceCountIs('AWS::Events::Rule', 1);
      template.hasResourceProperties('AWS::Events::Rule', {
        State: 'ENABLED',
        EventPattern: {
          source: ['aws.secretsmanager'],
          'detail-type': ['AWS Service Event via CloudTrail'],
          detail: {
            eventSource: ['secretsmanager.amazonaws.com'],
            eventName: ['RotationFailed', 'RotationAbandoned'],
            additionalEventData: { SecretId: SECRETS.map((secret) => secret.secretArn) },
          },
        },
        Targets: [Match.objectLike({ Arn: { Ref: topicId } })],
      });
    });

    it('adds a rule for RotationSucceeded with notifyOnSuccess', () => {
      // Act
      const { template, notifications } = arrange({ notifyOnSuccess: true });

      // Assert
      expect(notifications.successRules).toHaveLength(1);
      const eventNames = rules(template).map((rule) => rule.EventPattern.detail.eventName);
      expect(eventNames).toEqual([['RotationFailed', 'RotationAbandoned'], ['RotationSucceeded']]);
      for (const rule of rules(template)) {
        expect(rule.EventPattern.detail.additionalEventData.SecretId).toEqual(
          SECRETS.map((secret) => secret.secretArn),
        );
      }
    });

    it('does not notify RotationSucceeded by default', () => {
      // Act
      const { template, notifications } = arrange();

      // Assert
      expect(notifications.successRules).toEqual([]);
      expect(JSON.stringify(template.toJSON())).not.toContain('RotationSucceeded');
    });

    it('sends readable text: the event, the secret, where and when, the error and the commands to run', () => {
      // Act
      const { template } = arrange();

      // Assert
      const [rule] = rules(template);
      const transformer = rule?.Targets[0]?.InputTransformer;
      expect(transformer?.InputPathsMap).toEqual({
        'detail-eventName': '$.detail.eventName',
        'detail-additionalEventData-SecretId': '$.detail.additionalEventData.SecretId',
        account: '$.account',
        region: '$.region',
        time: '$.time',
        'detail-errorMessage': '$.detail.errorMessage',
      });
      const text = JSON.stringify(transformer?.InputTemplate);
      for (const expected of [
        'iam-key-rotation: <detail-eventName> for secret <detail-additionalEventData-SecretId>',
        'Account <account>, region <region>, at <time> (UTC).',
        'Secrets Manager: <detail-errorMessage>',
        'iam-key-rotation status <detail-additionalEventData-SecretId>',
        'iam-key-rotation rotate <detail-additionalEventData-SecretId> --wait',
        "the rotation function's log group ",
      ]) {
        expect(text).toContain(expected);
      }
      // Every <...> in the template is a variable of the map: EventBridge cannot escape < and >.
      const placeholders = new Set(text.match(/<[^<>]*>/g));
      expect(placeholders).toEqual(
        new Set(Object.keys(transformer?.InputPathsMap ?? {}).map((key) => `<${key}>`)),
      );
    });

    it('says in the success message how long the previous key stays Active', () => {
      // Act
      const { template } = arrange({ notifyOnSuccess: true }, { gracePeriod: Duration.hours(24) });

      // Assert
      const success = rules(template).find((rule) =>
        rule.EventPattern.detail.eventName.includes('RotationSucceeded'),
      );
      expect(JSON.stringify(success?.Targets[0]?.InputTransformer.InputTemplate)).toContain(
        'stays Active for the grace period of 1 day',
      );
    });

    it.each([true, false])(
      'spreads many secrets over rules whose patterns stay within 2048 characters (environment given: %s)',
      (env) => {
        // Arrange
        const secrets = Array.from({ length: 100 }, (_, i) =>
          secretOf(
            `iam-key-rotation/${'a-very-long-user-name-'.repeat(2)}${String(i).padStart(20, '0')}`,
          ),
        );

        // Act
        const { template } = arrange({ secrets }, { env });

        // Assert
        const failureRules = rules(template);
        expect(failureRules.length).toBeGreaterThan(1);
        const matched = failureRules.flatMap(
          (rule) => rule.EventPattern.detail.additionalEventData.SecretId,
        );
        expect(matched).toEqual(secrets.map((secret) => secret.secretArn));
        for (const rule of failureRules) {
          // The ARNs here are literal: the rendered pattern is what EventBridge stores.
          expect(JSON.stringify(rule.EventPattern).length).toBeLessThanOrEqual(
            MAX_EVENT_PATTERN_CHARACTERS,
          );
        }
      },
    );
  });
});
