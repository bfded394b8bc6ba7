import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { KeyRotationFunction } from '../../lib/key-rotation-function.js';

function newStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

describe('Construct: KeyRotationFunction', () => {
  describe('Function', () => {
    it('runs on Node.js 22 or newer, arm64, with JSON logs and the default sizes', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction');

      // Assert
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: Match.stringLikeRegexp('^nodejs(2[2-9]|[3-9][0-9])\\.x$'),
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 128,
        Timeout: 120,
        LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      });
      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    });

    it('takes timeout and memory from props', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction', {
        timeout: Duration.minutes(5),
        memorySize: 256,
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
        Timeout: 300,
        MemorySize: 256,
      });
    });

    it.each([
      [
        Duration.seconds(10),
        'timeout must be between 30 seconds and 15 minutes (the testSecret step waits until 3 seconds before it), got 10 seconds',
      ],
      [Duration.minutes(16), 'got 16 minutes'],
    ])('fails when the timeout is %s', (timeout, message) => {
      // Arrange
      const stack = newStack();

      // Act & Assert
      expect(() => new KeyRotationFunction(stack, 'RotationFunction', { timeout })).toThrow(
        message,
      );
    });

    it('sets STALE_KEY_DAYS to 7 by default and to staleKeyDays when given', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'Weekly');
      new KeyRotationFunction(stack, 'Monthly', { staleKeyDays: 30 });

      // Assert
      const template = Template.fromStack(stack);
      for (const [prefix, days] of [
        ['^Weekly', '7'],
        ['^Monthly', '30'],
      ]) {
        template.hasResource('AWS::Lambda::Function', {
          Properties: Match.objectLike({ Environment: { Variables: { STALE_KEY_DAYS: days } } }),
          DependsOn: Match.arrayWith([Match.stringLikeRegexp(`${prefix}ServiceRole`)]),
        });
      }
    });

    it.each([0, 1001, 7.5, -1])('fails when staleKeyDays is %s', (staleKeyDays) => {
      // Arrange
      const stack = newStack();

      // Act & Assert
      expect(() => new KeyRotationFunction(stack, 'RotationFunction', { staleKeyDays })).toThrow(
        `staleKeyDays must be a whole number of days from 1 to 1000, got ${staleKeyDays}`,
      );
    });

    it.each([64, 10_241, 128.5])('fails when memorySize is %s', (memorySize) => {
      // Arrange
      const stack = newStack();

      // Act & Assert
      expect(() => new KeyRotationFunction(stack, 'RotationFunction', { memorySize })).toThrow(
        `memorySize must be a whole number of MB between 128 and 10240, got ${memorySize}`,
      );
    });
  });

  describe('Invoke permission', () => {
    it('lets only secretsmanager.amazonaws.com of this account invoke the function', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction');

      // Assert
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::Lambda::Permission', 1);
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: '123456789012',
      });
    });
  });

  describe('Method: grantRotation', () => {
    it('starts with write access to its own log group only', () => {
      // Arrange
      const stack = newStack();

      // Act
      new KeyRotationFunction(stack, 'RotationFunction');

      // Assert
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              Resource: {
                'Fn::GetAtt': [Match.stringLikeRegexp('^RotationFunctionLogGroup'), 'Arn'],
              },
            },
          ],
        },
      });
      template.hasResourceProperties('AWS::IAM::Role', {
        ManagedPolicyArns: Match.absent(),
      });
    });

    it('grants the key actions, iam:GetUser and iam:GetAccessKeyLastUsed on the user, and no tagging', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');

      // Act
      fn.grantRotation({
        user: iam.User.fromUserName(stack, 'User', 'alice'),
        secret: secretsmanager.Secret.fromSecretCompleteArn(
          stack,
          'Secret',
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/alice-AbCdEf',
        ),
      });

      // Assert
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Effect: 'Allow',
              Action: [
                'iam:CreateAccessKey',
                'iam:ListAccessKeys',
                'iam:UpdateAccessKey',
                'iam:DeleteAccessKey',
                'iam:GetUser',
                'iam:GetAccessKeyLastUsed',
              ],
              Resource: {
                'Fn::Join': [
                  '',
                  ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:user/alice'],
                ],
              },
            },
          ]),
        },
      });
      expect(JSON.stringify(template.toJSON())).not.toMatch(/iam:(Untag|Tag)User/);
    });

    it('gathers users and secrets into shared statements of at most 18 ARNs', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');

      // Act
      for (let i = 0; i < 19; i++) {
        fn.grantRotation({
          user: iam.User.fromUserName(stack, `User${i}`, `user-${i}`),
          secret: secretsmanager.Secret.fromSecretCompleteArn(
            stack,
            `Secret${i}`,
            `arn:aws:secretsmanager:eu-west-1:123456789012:secret:s${i}-AbCdEf`,
          ),
        });
      }

      // Assert
      const statements = Template.fromStack(stack).toJSON() as {
        Resources: Record<
          string,
          {
            Type: string;
            Properties: {
              PolicyDocument?: { Statement: { Action: string | string[]; Resource: unknown }[] };
            };
          }
        >;
      };
      const all = Object.values(statements.Resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
        .flatMap((r) => r.Properties.PolicyDocument?.Statement ?? []);
      const iamStatements = all.filter((s) =>
        JSON.stringify(s.Action).includes('iam:CreateAccessKey'),
      );
      expect(iamStatements.map((s) => (Array.isArray(s.Resource) ? s.Resource.length : 1))).toEqual(
        [18, 1],
      );
    });

    it('grants KMS through Secrets Manager for the secrets of a key only', () => {
      // Arrange
      const stack = newStack();
      const fn = new KeyRotationFunction(stack, 'RotationFunction');
      const key = kms.Key.fromKeyArn(
        stack,
        'Key',
        'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      );
      const secretArns = ['a', 'b'].map(
        (name) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`,
      );

      // Act
      secretArns.forEach((arn, i) => {
        fn.grantRotation({
          user: iam.User.fromUserName(stack, `User${i}`, `user-${i}`),
          secret: secretsmanager.Secret.fromSecretCompleteArn(stack, `Secret${i}`, arn),
          encryptionKey: key,
        });
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Effect: 'Allow',
              Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
              Resource: key.keyArn,
              Condition: {
                StringEquals: {
                  'kms:EncryptionContext:SecretARN': secretArns,
                  // secretsmanager.<region>.amazonaws.com (amazonaws.com.cn in China regions)
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
  });
});
