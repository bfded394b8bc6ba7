import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { UserOwnershipTagger } from '../../lib/user-ownership-tagger.js';

function newStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

const secretArn = (name: string): string =>
  `arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/${name}-AbCdEf`;

function tagUsers(stack: Stack, tagger: UserOwnershipTagger, count: number): void {
  for (let i = 0; i < count; i++) {
    tagger.tagUser(stack, `Tag${i}`, {
      user: iam.User.fromUserName(stack, `User${i}`, `user-${i}`),
      userName: `user-${i}`,
      secret: secretsmanager.Secret.fromSecretCompleteArn(stack, `Secret${i}`, secretArn(`u${i}`)),
    });
  }
}

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

describe('Construct: UserOwnershipTagger', () => {
  describe('Method: of', () => {
    it('creates one tagger per stack and returns it to every caller', () => {
      // Arrange
      const stack = newStack();
      const scope = new Construct(stack, 'Nested');

      // Act
      const first = UserOwnershipTagger.of(stack);
      const second = UserOwnershipTagger.of(scope);

      // Assert
      expect(second).toBe(first);
      expect(first.node.path).toBe('TestStack/UserOwnershipTagger');
    });

    it('fails when another construct holds the id UserOwnershipTagger', () => {
      // Arrange
      const stack = newStack();
      new Construct(stack, 'UserOwnershipTagger');

      // Act & Assert
      expect(() => UserOwnershipTagger.of(stack)).toThrow(
        'TestStack/UserOwnershipTagger must be a UserOwnershipTagger, got another construct at that id',
      );
    });
  });

  describe('Method: tagUser', () => {
    it('sets the ownership tag to the secret ARN of this region and account only', () => {
      // Arrange
      const stack = newStack();
      const tagger = UserOwnershipTagger.of(stack);

      // Act
      tagUsers(stack, tagger, 1);

      // Assert
      const pattern = {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/*',
          ],
        ],
      };
      Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: 'iam:TagUser',
              Condition: {
                'ForAllValues:StringEquals': { 'aws:TagKeys': [OWNER_TAG_KEY] },
                StringLike: { [`aws:RequestTag/${OWNER_TAG_KEY}`]: pattern },
                StringLikeIfExists: { [`iam:ResourceTag/${OWNER_TAG_KEY}`]: pattern },
              },
            }),
          ]),
        },
      });
      Template.fromStack(stack).hasResourceProperties('Custom::AWS', {
        Create: Match.stringLikeRegexp(
          `"Tags":\\[\\{"Key":"${OWNER_TAG_KEY}","Value":"${secretArn('u0')}"\\}\\]`,
        ),
      });
    });

    it('gathers users into shared statements of at most 18 ARNs', () => {
      // Arrange
      const stack = newStack();
      const tagger = UserOwnershipTagger.of(stack);

      // Act
      tagUsers(stack, tagger, 19);

      // Assert
      const template = Template.fromStack(stack).toJSON() as {
        Resources: Record<
          string,
          { Type: string; Properties: { PolicyDocument?: { Statement: Statement[] } } }
        >;
      };
      const statements = Object.values(template.Resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
        .flatMap((r) => r.Properties.PolicyDocument?.Statement ?? []);
      const sizes = (action: string): number[] =>
        statements
          .filter((s) => s.Action === action)
          .map((s) => (Array.isArray(s.Resource) ? s.Resource.length : 1));
      expect(sizes('iam:TagUser')).toEqual([18, 1]);
      expect(sizes('iam:UntagUser')).toEqual([18, 1]);
      Template.fromStack(stack).resourceCountIs('Custom::AWS', 19);
      Template.fromStack(stack).resourceCountIs('AWS::Lambda::Function', 1);
    });
  });
});
