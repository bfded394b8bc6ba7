import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { BINDING_TAG_KEY } from '../../lambda/rotation/binding.js';
import { KeyRotationFunction } from '../../lib/key-rotation-function.js';
import { KeyRotationSchedule } from '../../lib/key-rotation-schedule.js';
import { RotatedAccessKey } from '../../lib/rotated-access-key.js';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function arrange(): { stack: Stack; rotationFunction: KeyRotationFunction; user: iam.IUser } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'TestStack', {
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  const rotationFunction = new KeyRotationFunction(stack, 'RotationFunction');
  const user = iam.User.fromUserName(stack, 'Alice', 'alice');
  return { stack, rotationFunction, user };
}

const ALICE_ARN = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:user/alice']],
};

describe('Construct: RotatedAccessKey', () => {
  describe('Secret', () => {
    it('starts as {"UserName"} and is tagged with the bound user', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::Secret', {
        SecretString: '{"UserName":"alice"}',
        Tags: [{ Key: BINDING_TAG_KEY, Value: 'alice' }],
        KmsKeyId: Match.absent(),
      });
    });

    it('is encrypted with the customer-managed key', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
        encryptionKey: kms.Key.fromKeyArn(stack, 'Cmk', KEY_ARN),
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::Secret', {
        KmsKeyId: KEY_ARN,
      });
    });
  });

  describe('Rotation schedule', () => {
    it.each([
      [
        'rate in days',
        KeyRotationSchedule.rateDays(30),
        undefined,
        'rate(30 days)',
        Match.absent(),
      ],
      [
        'rate in hours with a window',
        KeyRotationSchedule.rateHours(6),
        Duration.hours(2),
        'rate(6 hours)',
        '2h',
      ],
      [
        'cron with a window',
        KeyRotationSchedule.cron('0 2 ? * MON *'),
        Duration.hours(3),
        'cron(0 2 ? * MON *)',
        '3h',
      ],
    ])('renders a %s', (_case, schedule, window, expression, duration) => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', { user, rotationFunction, schedule, window });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
        SecretId: { Ref: Match.stringLikeRegexp('^KeySecret') },
        RotationLambdaARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RotationFunction'), 'Arn'] },
        RotationRules: { ScheduleExpression: expression, Duration: duration },
      });
    });

    it('depends on the invoke permission and the execution role policy', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      Template.fromStack(stack).hasResource('AWS::SecretsManager::RotationSchedule', {
        DependsOn: Match.arrayWith([
          Match.stringLikeRegexp('^RotationFunctionSecretsManagerInvokePermission'),
          Match.stringLikeRegexp('^RotationFunctionServiceRoleDefaultPolicy'),
        ]),
      });
    });

    it('fails when the window reaches into the next rotation window', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act & Assert
      expect(
        () =>
          new RotatedAccessKey(stack, 'Key', {
            user,
            rotationFunction,
            schedule: KeyRotationSchedule.rateHours(4),
            window: Duration.hours(6),
          }),
      ).toThrow(
        'window must not extend into the next rotation window of rate(4 hours), got 6 hours',
      );
    });

    it('fails when the window is not whole hours', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act & Assert
      expect(
        () =>
          new RotatedAccessKey(stack, 'Key', {
            user,
            rotationFunction,
            schedule: KeyRotationSchedule.rateDays(1),
            window: Duration.minutes(45),
          }),
      ).toThrow('window must be a whole number of hours, at least 1 hour, got 45 minutes');
    });
  });

  describe('Permissions', () => {
    it('grants exactly the key actions on the user and the rotation actions on the secret', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: [
            Match.objectLike({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'] }),
            {
              Effect: 'Allow',
              Action: [
                'iam:CreateAccessKey',
                'iam:ListAccessKeys',
                'iam:UpdateAccessKey',
                'iam:DeleteAccessKey',
              ],
              Resource: ALICE_ARN,
            },
            {
              Effect: 'Allow',
              Action: [
                'secretsmanager:DescribeSecret',
                'secretsmanager:GetSecretValue',
                'secretsmanager:PutSecretValue',
                'secretsmanager:UpdateSecretVersionStage',
                'secretsmanager:ListSecretVersionIds',
              ],
              Resource: { Ref: Match.stringLikeRegexp('^KeySecret') },
            },
          ],
        },
      });
    });

    it('grants KMS only through Secrets Manager for this secret', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
        encryptionKey: kms.Key.fromKeyArn(stack, 'Cmk', KEY_ARN),
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Effect: 'Allow',
              Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
              Resource: KEY_ARN,
              Condition: {
                StringEquals: {
                  'kms:EncryptionContext:SecretARN': [
                    { Ref: Match.stringLikeRegexp('^KeySecret') },
                  ],
                  'kms:ViaService': {
                    'Fn::Join': ['', ['secretsmanager.eu-west-1.', { Ref: 'AWS::URLSuffix' }]],
                  },
                },
              },
            },
          ]),
        },
      });
    });

    it('grants no KMS action without a customer-managed key', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      expect(JSON.stringify(Template.fromStack(stack).toJSON())).not.toContain('kms:');
    });
  });
});
