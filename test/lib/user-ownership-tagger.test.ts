import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { OWNER_TAG_KEY, STACK_ID_ENV } from '../../lambda/rotation/binding.js';
import { parseIamKeyRotationConfig, usersByStack } from '../../lib/config.js';
import { IamKeyRotationStack } from '../../lib/iam-key-rotation-stack.js';
import {
  OWNERSHIP_TAG_RESOURCE_TYPE,
  USERS_PER_TAGGING_POLICY,
  UserOwnershipTagger,
} from '../../lib/user-ownership-tagger.js';
import {
  MANAGED_POLICIES_PER_ROLE,
  MANAGED_POLICY_MAX_CHARS,
  ROLE_INLINE_POLICIES_MAX_CHARS,
  rolePolicySizes,
  type TemplateJson,
} from '../support/policy-size.js';

function newStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

function tagUsers(stack: Stack, tagger: UserOwnershipTagger, count: number): void {
  for (let i = 0; i < count; i++) {
    tagger.tagUser(stack, `Tag${i}`, {
      user: iam.User.fromUserName(stack, `User${i}`, `user-${i}`),
      userName: `user-${i}`,
      secret: new secretsmanager.Secret(stack, `Secret${i}`, {
        secretName: `iam-key-rotation/user-${i}`,
      }),
    });
  }
}

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
type Resources = Record<
  string,
  { Type: string; Properties: { PolicyDocument?: { Statement: Statement[] }; Roles?: unknown } }
>;

/** The logical id of the only resource of `type` whose id matches `pattern`. */
function onlyLogicalId(template: Template, type: string, pattern: RegExp): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => pattern.test(id));
  if (ids.length !== 1 || ids[0] === undefined) {
    throw new Error(`expected one ${type} ${String(pattern)}, got [${ids.join(', ')}]`);
  }
  return ids[0];
}

/** Every statement of the policies attached to the role `roleId`. */
function statementsOfRole(template: Template, roleId: string): Statement[] {
  const resources = (template.toJSON() as { Resources: Resources }).Resources;
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
    .filter((r) => JSON.stringify(r.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((r) => r.Properties.PolicyDocument?.Statement ?? []);
}

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
    it("creates one Custom::UserOwnershipTag per user, served by the project's own function behind the Provider framework", () => {
      // Arrange
      const stack = newStack();
      const tagger = UserOwnershipTagger.of(stack);

      // Act
      tagUsers(stack, tagger, 2);

      // Assert
      const template = Template.fromStack(stack);
      template.resourceCountIs(OWNERSHIP_TAG_RESOURCE_TYPE, 2);
      template.resourceCountIs('Custom::AWS', 0);
      const secretId = onlyLogicalId(template, 'AWS::SecretsManager::Secret', /^Secret0/);
      const providerId = onlyLogicalId(
        template,
        'AWS::Lambda::Function',
        /^UserOwnershipTaggerProviderframeworkonEvent/,
      );
      template.hasResourceProperties(OWNERSHIP_TAG_RESOURCE_TYPE, {
        ServiceToken: { 'Fn::GetAtt': [providerId, 'Arn'] },
        UserName: 'user-0',
        SecretArn: { Ref: secretId },
      });
      const functionId = onlyLogicalId(
        template,
        'AWS::Lambda::Function',
        /^UserOwnershipTaggerFunction/,
      );
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        Runtime: Match.stringLikeRegexp('^nodejs(2[4-9]|[3-9][0-9])\\.x$'),
        Environment: { Variables: { [STACK_ID_ENV]: { Ref: 'AWS::StackId' } } },
        Role: {
          'Fn::GetAtt': [Match.stringLikeRegexp('^UserOwnershipTaggerServiceRole'), 'Arn'],
        },
      });
      // The framework may only invoke our function.
      const providerRole = onlyLogicalId(
        template,
        'AWS::IAM::Role',
        /^UserOwnershipTaggerProviderRole/,
      );
      const invoke = statementsOfRole(template, providerRole).filter((s) =>
        JSON.stringify(s.Action).includes('lambda:'),
      );
      expect(JSON.stringify(invoke)).not.toMatch(/"Resource":"\*"/);
      expect(JSON.stringify(invoke)).toContain(functionId);
    });

    it("lets its role tag each user only with that user's own secret, and only the tag key iam-key-rotation:secret", () => {
      // Arrange
      const stack = newStack();
      const tagger = UserOwnershipTagger.of(stack);

      // Act
      tagUsers(stack, tagger, 2);

      // Assert
      const template = Template.fromStack(stack);
      const roleId = onlyLogicalId(template, 'AWS::IAM::Role', /^UserOwnershipTaggerServiceRole/);
      const tagging = statementsOfRole(template, roleId).filter(
        (s) => s.Effect === 'Allow' && JSON.stringify(s.Action).includes('iam:'),
      );
      expect(tagging).toEqual(
        [0, 1].map((i) => ({
          Effect: 'Allow',
          Action: ['iam:GetUser', 'iam:TagUser', 'iam:UntagUser'],
          Resource: {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, `:iam::123456789012:user/user-${i}`],
            ],
          },
          Condition: {
            'ForAllValues:StringEquals': { 'aws:TagKeys': OWNER_TAG_KEY },
            StringEqualsIfExists: {
              [`aws:RequestTag/${OWNER_TAG_KEY}`]: {
                Ref: onlyLogicalId(
                  template,
                  'AWS::SecretsManager::Secret',
                  new RegExp(`^Secret${i}`),
                ),
              },
            },
          },
        })),
      );
    });

    it("denies the IAM tagging to every session of the role but the function's own", () => {
      // Arrange
      const stack = newStack();

      // Act
      tagUsers(stack, UserOwnershipTagger.of(stack), 1);

      // Assert
      const template = Template.fromStack(stack);
      const functionId = onlyLogicalId(
        template,
        'AWS::Lambda::Function',
        /^UserOwnershipTaggerFunction/,
      );
      const roleId = onlyLogicalId(template, 'AWS::IAM::Role', /^UserOwnershipTaggerServiceRole/);
      expect(statementsOfRole(template, roleId).filter((s) => s.Effect === 'Deny')).toEqual([
        {
          Effect: 'Deny',
          Action: ['iam:TagUser', 'iam:UntagUser'],
          Resource: '*',
          Condition: {
            StringNotLike: { 'aws:userid': { 'Fn::Join': ['', ['*:', { Ref: functionId }]] } },
          },
        },
      ]);
    });

    it("lets its role read the stack's secrets by name and its own stack's resources, and nothing else", () => {
      // Arrange
      const stack = newStack();

      // Act
      tagUsers(stack, UserOwnershipTagger.of(stack), 1);

      // Assert
      const template = Template.fromStack(stack);
      const roleId = onlyLogicalId(template, 'AWS::IAM::Role', /^UserOwnershipTaggerServiceRole/);
      const others = statementsOfRole(template, roleId).filter(
        (s) => s.Effect === 'Allow' && !JSON.stringify(s.Action).includes('iam:'),
      );
      expect(others).toEqual([
        expect.objectContaining({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'] }),
        {
          Effect: 'Allow',
          Action: 'secretsmanager:DescribeSecret',
          Resource: {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/*',
              ],
            ],
          },
        },
        {
          Effect: 'Allow',
          Action: 'cloudformation:DescribeStackResource',
          Resource: { Ref: 'AWS::StackId' },
        },
      ]);
    });

    it(`gathers the users into managed policies of ${USERS_PER_TAGGING_POLICY}, on which every tag resource depends`, () => {
      // Arrange
      const stack = newStack();
      const tagger = UserOwnershipTagger.of(stack);

      // Act
      tagUsers(stack, tagger, USERS_PER_TAGGING_POLICY + 1);

      // Assert
      const template = Template.fromStack(stack);
      const policies = template.findResources('AWS::IAM::ManagedPolicy');
      expect(
        Object.values(policies).map(
          (p) =>
            (p as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties
              .PolicyDocument.Statement.length,
        ),
      ).toEqual([USERS_PER_TAGGING_POLICY, 1]);
      const last = Object.values(template.findResources(OWNERSHIP_TAG_RESOURCE_TYPE)).at(-1) as {
        DependsOn: string[];
      };
      expect(last.DependsOn).toEqual(expect.arrayContaining(Object.keys(policies)));
    });

    it('fails when a user is tagged twice', () => {
      // Arrange
      const stack = newStack();
      const tagger = UserOwnershipTagger.of(stack);
      tagUsers(stack, tagger, 1);

      // Act & Assert
      expect(() => {
        tagger.tagUser(stack, 'Again', {
          user: iam.User.fromUserName(stack, 'Again-User', 'user-0'),
          userName: 'user-0',
          secret: secretsmanager.Secret.fromSecretNameV2(stack, 'Again-Secret', 'x'),
        });
      }).toThrow('user user-0 is already tagged by TestStack/UserOwnershipTagger');
    });

    it('reports no unacknowledged cdk-nag finding on its resources', () => {
      // Arrange
      const stack = newStack();
      tagUsers(stack, UserOwnershipTagger.of(stack), 2);

      // Act
      const report = new AwsSolutionsChecks().validateScope(stack);

      // Assert: the test's secrets have no rotation schedule (AwsSolutions-SMG4); the tagger's
      // own resources have no finding.
      expect(report.violations.filter((v) => !v.ruleName.startsWith('AwsSolutions-SMG4'))).toEqual(
        [],
      );
      expect(JSON.stringify(report.violations)).not.toContain('UserOwnershipTagger');
    });
  });

  describe('Policy sizes', () => {
    it('stays within the IAM quotas of every role with 100 existing users of 64-character names on long paths', () => {
      // Arrange: the worst case of one stack: 100 users (the most per stack), each name 64 characters
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const config = parseIamKeyRotationConfig({
        gracePeriod: '24h',
        users: Array.from({ length: 100 }, (_, i) => ({
          userName: `${String(i).padStart(3, '0')}-${'n'.repeat(60)}`,
          path: `/${'p'.repeat(400)}/`,
          schedule: 'rate(30 days)',
          kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        })),
      });
      const [[stackName, users] = ['', []], ...others] = [...usersByStack(config)];
      expect(others).toEqual([]);

      // Act
      const stack = new IamKeyRotationStack(app, stackName, {
        users,
        rotationFunction: { gracePeriod: config.gracePeriod },
      });
      const sizes = rolePolicySizes(Template.fromStack(stack).toJSON() as TemplateJson);

      // Assert
      const tagger = [...sizes].find(([id]) => id.startsWith('UserOwnershipTaggerServiceRole'));
      const rotation = [...sizes].find(([id]) => id.startsWith('RotationFunctionServiceRole'));
      // The figures, for docs/threat-model.md.
      console.log(JSON.stringify({ tagger, rotation }));
      expect(tagger?.[1].managed).toHaveLength(MANAGED_POLICIES_PER_ROLE);
      for (const [roleId, { managed, inline }] of sizes) {
        expect(managed.length, `${roleId}: managed policies`).toBeLessThanOrEqual(
          MANAGED_POLICIES_PER_ROLE,
        );
        for (const size of managed) {
          expect(size, `${roleId}: a managed policy`).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
        }
        expect(inline, `${roleId}: inline policies`).toBeLessThanOrEqual(
          ROLE_INLINE_POLICIES_MAX_CHARS,
        );
      }
    });
  });
});
