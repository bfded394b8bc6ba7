import { App, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { KeyRotationFunction } from '../../lib/key-rotation-function.js';
import { KeyRotationSchedule } from '../../lib/key-rotation-schedule.js';
import { RotatedAccessKey } from '../../lib/rotated-access-key.js';
import { UserOwnershipTagger } from '../../lib/user-ownership-tagger.js';

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

/** The tag that lets the stack's rotation function rotate the secret. */
const STACK_TAG = { Key: 'iam-key-rotation:stack', Value: 'TestStack' };

/** Every user of the account: the tag-scoped statements' resource. */
const ALL_USERS_ARN = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:user/*']],
};

/** The secrets iam-key-rotation/* of the stack's region and account. */
const ROTATED_SECRETS_ARN = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/*',
    ],
  ],
};

describe('Construct: RotatedAccessKey', () => {
  describe('Secret', () => {
    it('is retained by default when removed from the stack or the stack is destroyed', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      Template.fromStack(stack).hasResource('AWS::SecretsManager::Secret', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    });

    it('is deleted with removalPolicy DESTROY', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
        removalPolicy: RemovalPolicy.DESTROY,
      });

      // Assert
      Template.fromStack(stack).hasResource('AWS::SecretsManager::Secret', {
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
      });
    });

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
        Name: 'iam-key-rotation/alice',
        SecretString: '{"UserName":"alice"}',
        Tags: [STACK_TAG, { Key: BINDING_TAG_KEY, Value: 'alice' }],
        KmsKeyId: Match.absent(),
      });
    });

    it('names the user literally in the value and tag of a user created in the stack', () => {
      // Arrange
      const { stack, rotationFunction } = arrange();
      const user = new iam.User(stack, 'Bob', { userName: 'bob' });

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: 'iam-key-rotation/bob',
        Description: 'Access key of IAM user bob, rotated by iam-key-rotation',
        SecretString: '{"UserName":"bob"}',
        Tags: [STACK_TAG, { Key: BINDING_TAG_KEY, Value: 'bob' }],
      });
    });

    it('fails when the user name is a token', () => {
      // Arrange
      const { stack, rotationFunction } = arrange();
      const user = new iam.User(stack, 'Unnamed');

      // Act & Assert
      expect(
        () =>
          new RotatedAccessKey(stack, 'Key', {
            user,
            rotationFunction,
            schedule: KeyRotationSchedule.rateDays(30),
          }),
      ).toThrow(
        "user.userName must be a literal IAM user name (the secret's value and its iam-key-rotation:user tag name the user, and the user's iam-key-rotation:secret tag names the secret), got a token for TestStack/Unnamed",
      );
    });

    it('fails when an imported user name is a token', () => {
      // Arrange
      const { stack, rotationFunction } = arrange();
      const user = iam.User.fromUserArn(stack, 'Imported', Fn.importValue('SomeUserArn'));

      // Act & Assert
      expect(
        () =>
          new RotatedAccessKey(stack, 'Key', {
            user,
            rotationFunction,
            schedule: KeyRotationSchedule.rateDays(30),
          }),
      ).toThrow('user.userName must be a literal IAM user name');
    });

    it('fails when the secret of an existing user is not named iam-key-rotation/*', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act & Assert
      expect(
        () =>
          new RotatedAccessKey(stack, 'Key', {
            user,
            rotationFunction,
            schedule: KeyRotationSchedule.rateDays(30),
            secretName: 'keys/alice',
          }),
      ).toThrow(
        'secretName must be a literal name starting with "iam-key-rotation/" for user alice, which this stack does not create (its ownership tagger may only write the ARN of a secret named iam-key-rotation/* into the user\'s iam-key-rotation:secret tag), got "keys/alice"',
      );
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

  describe('Ownership tag', () => {
    it('tags a user created in the same stack with the Ref of its secret, without a custom resource', () => {
      // Arrange
      const { stack, rotationFunction } = arrange();
      const user = new iam.User(stack, 'Bob', { userName: 'bob' });

      // Act
      const key = new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::IAM::User', {
        UserName: 'bob',
        Tags: [{ Key: OWNER_TAG_KEY, Value: { Ref: Match.stringLikeRegexp('^KeySecret') } }],
      });
      template.resourceCountIs('Custom::AWS', 0);
      expect(key.ownershipTag).toBe(user);
    });

    it('tags an existing user through a custom resource with the secret ARN', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      const tagCall = {
        'Fn::Join': [
          '',
          [
            `{"service":"IAM","action":"tagUser","parameters":{"UserName":"alice","Tags":[{"Key":"${OWNER_TAG_KEY}","Value":"`,
            { Ref: Match.stringLikeRegexp('^KeySecret') },
            `"}]},"physicalResourceId":{"id":"${OWNER_TAG_KEY}/alice"}}`,
          ],
        ],
      };
      Template.fromStack(stack).hasResourceProperties('Custom::AWS', {
        Create: tagCall,
        Update: tagCall,
        Delete: `{"service":"IAM","action":"untagUser","parameters":{"UserName":"alice","TagKeys":["${OWNER_TAG_KEY}"]},"ignoreErrorCodesMatching":"^(NoSuchEntity|AccessDenied)(Exception)?$"}`,
        InstallLatestAwsSdk: false,
      });
    });

    it('tags an iam.User of another stack through a custom resource, without a dependency cycle', () => {
      // Arrange
      const { stack, rotationFunction } = arrange();
      const app = App.of(stack) as App;
      const userStack = new Stack(app, 'UserStack', {
        env: { account: '123456789012', region: 'eu-west-1' },
      });
      const user = new iam.User(userStack, 'Carol', { userName: 'carol' });

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      expect(() => app.synth()).not.toThrow();
      Template.fromStack(stack).resourceCountIs('Custom::AWS', 1);
      Template.fromStack(userStack).hasResourceProperties('AWS::IAM::User', {
        Tags: Match.absent(),
      });
    });

    it('shares one tagger role, log group and function among the existing users of a stack', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();
      const bob = iam.User.fromUserName(stack, 'BobUser', 'bob');

      // Act
      for (const [id, each] of [
        ['KeyA', user],
        ['KeyB', bob],
      ] as const) {
        new RotatedAccessKey(stack, id, {
          user: each,
          rotationFunction,
          schedule: KeyRotationSchedule.rateDays(30),
        });
      }

      // Assert
      const template = Template.fromStack(stack);
      template.resourceCountIs('Custom::AWS', 2);
      template.resourceCountIs('AWS::IAM::Role', 2);
      template.resourceCountIs('AWS::Lambda::Function', 2);
      template.resourceCountIs('AWS::Logs::LogGroup', 2);
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: Match.stringLikeRegexp('^UserOwnershipTaggerServiceRole') }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: 'iam:TagUser',
              Resource: [
                ALICE_ARN,
                {
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:user/bob'],
                  ],
                },
              ],
            }),
          ]),
        },
      });
    });

    it('uses the tagger it is given', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();
      const tagger = new UserOwnershipTagger(stack, 'MyTagger');

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
        ownershipTagger: tagger,
      });

      // Assert
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::IAM::Role', 2);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MyTaggerServiceRole'), 'Arn'] },
      });
    });

    it('reports no cdk-nag finding in a stack with the tagger', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Act
      const report = new AwsSolutionsChecks().validateScope(stack);

      // Assert
      expect(report.violations).toEqual([]);
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

    it('does not rotate at once when the schedule or window changes', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
        RotateImmediatelyOnUpdate: false,
      });
    });

    it('rotates at once on a change when rotateImmediatelyOnUpdate is true', () => {
      // Arrange
      const { stack, rotationFunction, user } = arrange();

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
        rotateImmediatelyOnUpdate: true,
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
        RotateImmediatelyOnUpdate: true,
      });
    });

    it.each([
      ['a user created in the stack', 'AWS::IAM::User', '^Bob'],
      ['an existing user', 'Custom::AWS', '^KeyOwnershipTag'],
    ])('waits for the ownership tag of %s', (_case, tagType, tagPattern) => {
      // Arrange
      const { stack, rotationFunction, user: alice } = arrange();
      const user =
        tagType === 'AWS::IAM::User' ? new iam.User(stack, 'Bob', { userName: 'bob' }) : alice;

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(30),
      });

      // Assert
      const template = Template.fromStack(stack);
      const [tagId] = Object.keys(template.findResources(tagType));
      expect(tagId).toMatch(new RegExp(tagPattern));
      template.hasResource('AWS::SecretsManager::RotationSchedule', {
        DependsOn: Match.arrayWith([tagId]),
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

    it.each<[string, Duration, string]>([
      [
        'rate(1 day)',
        Duration.hours(24),
        "the rotation function's gracePeriod (1 day) must be shorter than the rotation interval of user alice (rate(1 day): every 1 day)",
      ],
      [
        'cron(0 2 ? * MON,THU *)',
        Duration.days(3),
        "the rotation function's gracePeriod (3 days) must be shorter than the rotation interval of user alice (cron(0 2 ? * MON,THU *): windows as little as 3 days apart)",
      ],
    ])(
      'fails when the grace period is not shorter than the interval of %s',
      (expression, gracePeriod, message) => {
        // Arrange
        const { stack, user } = arrange();
        const rotationFunction = new KeyRotationFunction(stack, 'GraceFunction', { gracePeriod });

        // Act & Assert
        expect(
          () =>
            new RotatedAccessKey(stack, 'Key', {
              user,
              rotationFunction,
              schedule: KeyRotationSchedule.fromExpression(expression),
            }),
        ).toThrow(message);
      },
    );

    it('waits for the scheduler role and its policy with a grace period', () => {
      // Arrange
      const { stack, user } = arrange();
      const rotationFunction = new KeyRotationFunction(stack, 'GraceFunction', {
        gracePeriod: Duration.hours(1),
      });

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(1),
      });

      // Assert
      Template.fromStack(stack).hasResource('AWS::SecretsManager::RotationSchedule', {
        DependsOn: Match.arrayWith([
          Match.stringLikeRegexp('^GraceFunctionRetirementSchedulerRoleDefaultPolicy'),
          Match.stringLikeRegexp('^GraceFunctionRetirementSchedulerRole[0-9A-F]{8}$'),
        ]),
      });
    });

    it('accepts a grace period shorter than the interval', () => {
      // Arrange
      const { stack, user } = arrange();
      const rotationFunction = new KeyRotationFunction(stack, 'GraceFunction', {
        gracePeriod: Duration.hours(23),
      });

      // Act
      new RotatedAccessKey(stack, 'Key', {
        user,
        rotationFunction,
        schedule: KeyRotationSchedule.rateDays(1),
      });

      // Assert
      Template.fromStack(stack).resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
    });
  });

  describe('Permissions', () => {
    it('grants the key actions on users owned by its secrets and the rotation actions on its tagged secrets', () => {
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
                'iam:GetUser',
              ],
              Resource: ALL_USERS_ARN,
              Condition: {
                StringLike: { [`iam:ResourceTag/${OWNER_TAG_KEY}`]: ROTATED_SECRETS_ARN },
              },
            },
            { Effect: 'Allow', Action: 'iam:GetAccessKeyLastUsed', Resource: ALL_USERS_ARN },
            {
              Effect: 'Allow',
              Action: [
                'secretsmanager:DescribeSecret',
                'secretsmanager:GetSecretValue',
                'secretsmanager:PutSecretValue',
                'secretsmanager:UpdateSecretVersionStage',
                'secretsmanager:ListSecretVersionIds',
              ],
              Resource: ROTATED_SECRETS_ARN,
              Condition: {
                StringEquals: { 'secretsmanager:ResourceTag/iam-key-rotation:stack': 'TestStack' },
              },
            },
          ],
        },
      });
    });

    it('grants KMS only through Secrets Manager for the secrets iam-key-rotation/*', () => {
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
                StringLike: { 'kms:EncryptionContext:SecretARN': ROTATED_SECRETS_ARN },
                StringEquals: {
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
