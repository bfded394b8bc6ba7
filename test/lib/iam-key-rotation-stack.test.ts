import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { parseIamKeyRotationConfig, usersByStack } from '../../lib/config.js';
import { coldStartFiles } from '../../lib/rotation-asset-build.js';
import { IamKeyRotationStack, secretArnOutputIds } from '../../lib/iam-key-rotation-stack.js';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const EXAMPLE_CONFIG = {
  users: [
    { userName: 'demo', createUser: true, schedule: 'rate(30 days)', window: '4h' },
    { userName: 'ci-deployer', path: '/ci/', schedule: 'cron(0 2 ? * MON *)', window: '3h' },
    { userName: 'reporting', schedule: 'rate(12 hours)', window: '2h', kmsKeyArn: KEY_ARN },
  ],
};

/** Every switch on: notifications to a topic of the stack, a grace period, compliance rules. */
const ALL_SWITCHES_CONFIG = {
  ...EXAMPLE_CONFIG,
  // Shorter than rate(12 hours) of 'reporting'.
  gracePeriod: '2h',
  notifications: { email: ['security-team@example.com', 'ops@example.com'], onSuccess: true },
  complianceRules: { maxAccessKeyAgeDays: 45 },
};

const EXISTING_TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:ops-alerts';

/** Every switch on, notifications to an existing topic. */
const EXISTING_TOPIC_CONFIG = {
  ...ALL_SWITCHES_CONFIG,
  notifications: { topicArn: EXISTING_TOPIC_ARN, onSuccess: true },
};

function synthStacks(
  rawConfig: unknown,
  options: { bundling?: boolean } = {},
): { app: App; stacks: IamKeyRotationStack[] } {
  const app = new App(options.bundling ? {} : { context: { 'aws:cdk:bundling-stacks': [] } });
  const config = parseIamKeyRotationConfig(rawConfig);
  // As bin/app.ts passes the configuration.
  const stacks = [...usersByStack(config)].map(
    ([stackName, users]) =>
      new IamKeyRotationStack(app, stackName, {
        users,
        rotationFunction: { staleKeyDays: config.staleKeyDays, gracePeriod: config.gracePeriod },
        notifications: config.notifications,
        complianceRules: config.complianceRules,
      }),
  );
  return { app, stacks };
}

function onlyStack(rawConfig: unknown): IamKeyRotationStack {
  const [stack] = synthStacks(rawConfig).stacks;
  if (!stack) throw new Error('no stack synthesized');
  return stack;
}

interface SynthesizedStacks {
  stacks: IamKeyRotationStack[];
  /** The template of each stack, in the order of `stacks`. */
  templates: Template[];
}

/**
 * The stacks and templates of a configuration, synthesized once (one `app.synth()` for all its
 * stacks, where `Template.fromStack` synthesizes the whole app at each call): the tests that only
 * read the templates of the same configuration share one synthesis. Keyed by the configuration's
 * JSON, so that equal configurations built by different tests share it too.
 */
const synthesizedByConfig = new Map<string, SynthesizedStacks>();
function templatesOf(rawConfig: unknown): SynthesizedStacks {
  const key = JSON.stringify(rawConfig);
  let synthesized = synthesizedByConfig.get(key);
  if (synthesized === undefined) {
    const { app, stacks } = synthStacks(rawConfig);
    const assembly = app.synth();
    synthesized = {
      stacks,
      templates: stacks.map((stack) =>
        Template.fromJSON(
          assembly.getStackArtifact(stack.artifactId).template as Record<string, unknown>,
        ),
      ),
    };
    synthesizedByConfig.set(key, synthesized);
  }
  return synthesized;
}

/** The template of a configuration of one stack, synthesized once ({@link templatesOf}). */
function templateOf(rawConfig: unknown): Template {
  const [template, ...others] = templatesOf(rawConfig).templates;
  if (template === undefined || others.length > 0) throw new Error('expected one stack');
  return template;
}

/** A configuration with two users of a second stack, "Other", beside its own users. */
function withOtherStack<T extends { users: unknown[] }>(config: T): T {
  return {
    ...config,
    users: [
      ...config.users,
      { userName: 'other-a', schedule: 'rate(7 days)', stack: 'Other' },
      { userName: 'other-b', schedule: 'rate(7 days)', stack: 'Other' },
    ],
  };
}

/**
 * `count` users bench-user-000, bench-user-001, ... with rate(30 days), those `createUser` picks
 * created (by default every other one), every fifth with a KMS key.
 */
function benchUsers(
  count: number,
  createUser: (i: number) => boolean = (i) => i % 2 === 0,
): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    userName: `bench-user-${String(i).padStart(3, '0')}`,
    createUser: createUser(i),
    schedule: 'rate(30 days)',
    ...(i % 5 === 0 ? { kmsKeyArn: KEY_ARN } : {}),
  }));
}

const temporaryDirectories: string[] = [];
function temporaryDirectory(): string {
  const directory = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-test-'));
  temporaryDirectories.push(directory);
  return directory;
}
afterAll(() => {
  for (const directory of temporaryDirectories) rmSync(directory, { recursive: true, force: true });
});

type TemplateJson = {
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[] }
  >;
};

interface PolicyStatementJson {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

const ROTATION_ROLE = /^RotationFunctionServiceRole[0-9A-F]{8}$/;
const TAGGER_ROLE = /^UserOwnershipTaggerServiceRole[0-9A-F]{8}$/;

/** Logical ids of the template's resources of `type` whose logical id matches `pattern`. */
function logicalIds(template: TemplateJson, type: string, pattern: RegExp): string[] {
  return Object.entries(template.Resources)
    .filter(([id, r]) => r.Type === type && pattern.test(id))
    .map(([id]) => id);
}

/** Every statement of the policies (inline default and overflow managed) attached to a role. */
function statementsOfRole(template: TemplateJson, rolePattern: RegExp): PolicyStatementJson[] {
  const [roleId, ...others] = logicalIds(template, 'AWS::IAM::Role', rolePattern);
  if (roleId === undefined || others.length > 0) {
    throw new Error(`expected one role matching ${String(rolePattern)}`);
  }
  return Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
    .filter((r) => JSON.stringify(r.Properties?.Roles ?? []).includes(`"${roleId}"`))
    .flatMap(
      (r) => (r.Properties?.PolicyDocument as { Statement: PolicyStatementJson[] }).Statement,
    );
}

/** The user `pathAndName` of the stack's account (`*\/<name>`: the user `name` at any path). */
const userPattern = (pathAndName: string): unknown => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':iam::',
      { Ref: 'AWS::AccountId' },
      `:user/${pathAndName}`,
    ],
  ],
});

/** The secrets of the stack's region and account that the tagger may name in a user's tag. */
const STACK_SECRETS_PATTERN = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':secretsmanager:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':secret:iam-key-rotation/*',
    ],
  ],
};

/** The logical ids a resource refers to: Ref, Fn::GetAtt, Fn::Sub and DependsOn. */
function referencesOf(resource: unknown): Set<string> {
  const found = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (key === 'Ref' && typeof item === 'string') found.add(item);
        else if (key === 'Fn::GetAtt' && Array.isArray(item)) found.add(String(item[0]));
        else if (key === 'Fn::Sub' && typeof item === 'string') {
          for (const match of item.matchAll(/\$\{([^}.!]+)/g)) found.add(match[1] ?? '');
        } else if (key === 'DependsOn') [item].flat().forEach((id) => found.add(String(id)));
        visit(item);
      }
    }
  };
  visit(resource);
  return found;
}

/** A cycle among the template's resources (as CloudFormation would find it), or undefined. */
function findCycle(template: TemplateJson): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const next of referencesOf(template.Resources[id])) {
      if (!(next in template.Resources)) continue;
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of Object.keys(template.Resources)) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}

function onlyLogicalId(template: TemplateJson, type: string, pattern: RegExp): string {
  const [id, ...others] = logicalIds(template, type, pattern);
  if (id === undefined || others.length > 0) {
    throw new Error(
      `expected one ${type} matching ${String(pattern)}, got ${others.length + (id ? 1 : 0)}`,
    );
  }
  return id;
}

describe('Construct: IamKeyRotationStack', () => {
  describe('Resources', () => {
    it('holds a secret and a schedule per user, an ownership tag per existing user, the rotation function and one tagger', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 3);
      template.resourceCountIs('AWS::SecretsManager::Secret', 3);
      template.resourceCountIs('AWS::IAM::User', 1);
      template.resourceCountIs('Custom::UserOwnershipTag', 2);
      template.resourceCountIs('Custom::AWS', 0);
      // The rotation function, the tagger's function and its Provider framework's function; the
      // first-rotation wait's onEvent and isComplete and its framework's onEvent, isComplete and
      // onTimeout (lib/first-rotation-wait.ts).
      template.resourceCountIs('AWS::Lambda::Function', 3 + 5);
      // Beside the rotation function's and the tagger's two: the wait's, its framework's two and
      // its waiter state machine's.
      template.resourceCountIs('AWS::IAM::Role', 3 + 4);
      template.resourceCountIs('AWS::Logs::LogGroup', 3 + 4);
      template.resourceCountIs('Custom::FirstRotation', 3);
    });

    it('has no dependency cycle between its resources', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG).toJSON() as TemplateJson;

      // Assert
      expect(findCycle(template)).toBeUndefined();
    });

    it('has no tagger when the stack creates every user', () => {
      // Act
      const template = Template.fromStack(
        onlyStack({ users: [{ userName: 'demo', createUser: true, schedule: 'rate(30 days)' }] }),
      );

      // Assert
      template.resourceCountIs('Custom::UserOwnershipTag', 0);
      // The rotation function, and the first-rotation wait's 5 functions and 4 roles.
      template.resourceCountIs('AWS::Lambda::Function', 1 + 5);
      template.resourceCountIs('AWS::IAM::Role', 1 + 4);
    });

    it('names each secret iam-key-rotation/<user name>', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: 'iam-key-rotation/ci-deployer',
        Tags: Match.arrayWith([{ Key: 'iam-key-rotation:user', Value: 'ci-deployer' }]),
      });
    });

    it('creates the users marked createUser', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      template.hasResourceProperties('AWS::IAM::User', { UserName: 'demo', Path: '/' });
    });

    it('renders each configured schedule and window', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      for (const [expression, duration] of [
        ['rate(30 days)', '4h'],
        ['cron(0 2 ? * MON *)', '3h'],
        ['rate(12 hours)', '2h'],
      ]) {
        template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
          RotationRules: { ScheduleExpression: expression, Duration: duration },
        });
      }
    });

    it("scopes the secrets by CloudFormation's stack-id tag and the IAM actions to the stack's users", () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Effect: 'Allow',
              Action: [
                'secretsmanager:DescribeSecret',
                'secretsmanager:GetSecretValue',
                'secretsmanager:PutSecretValue',
                'secretsmanager:UpdateSecretVersionStage',
                'secretsmanager:ListSecretVersionIds',
              ],
              Resource: STACK_SECRETS_PATTERN,
              Condition: {
                StringEquals: {
                  'aws:ResourceTag/aws:cloudformation:stack-id': { Ref: 'AWS::StackId' },
                },
              },
            },
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
              Resource: ['demo', '*/ci-deployer', 'reporting'].map(userPattern),
            },
          ]),
        },
      });
    });

    it('grants the rotation function the same statements for 1 user and for 100, but for the user ARNs', () => {
      // Act: half of the users created, every fifth with a KMS key (the first one too)
      const statements = (count: number): PolicyStatementJson[] =>
        statementsOfRole(
          templateOf({ users: benchUsers(count) }).toJSON() as TemplateJson,
          ROTATION_ROLE,
        );
      const one = statements(1);
      const many = statements(100);

      // Assert
      const isUserStatement = (s: PolicyStatementJson): boolean =>
        s.Effect === 'Allow' && JSON.stringify(s.Action).includes('iam:CreateAccessKey');
      expect(JSON.stringify(many.filter((s) => !isUserStatement(s)))).toBe(
        JSON.stringify(one.filter((s) => !isUserStatement(s))),
      );
      const userArns = many.filter(isUserStatement).flatMap((s) => [s.Resource].flat());
      expect(userArns).toHaveLength(100);
      expect(userArns).toContainEqual(userPattern('bench-user-099'));
    });

    it('grants the rotation function no action beyond the listed ones, and no wildcard resource but where a condition or a Deny scopes it', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG).toJSON() as TemplateJson;

      // Assert
      const statements = statementsOfRole(template, ROTATION_ROLE);
      expect(new Set(statements.flatMap((s) => s.Action))).toEqual(
        new Set([
          'logs:CreateLogStream',
          'logs:PutLogEvents',
          'iam:CreateAccessKey',
          'iam:ListAccessKeys',
          'iam:UpdateAccessKey',
          'iam:DeleteAccessKey',
          'iam:GetUser',
          'iam:GetAccessKeyLastUsed',
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
          'secretsmanager:ListSecretVersionIds',
          'secretsmanager:TagResource',
          'kms:Decrypt',
          'kms:GenerateDataKey',
        ]),
      );
      const allows = statements.filter((s) => s.Effect === 'Allow');
      expect(JSON.stringify(allows.map((s) => s.Resource))).not.toMatch(/"\*"/);
      // The only wildcards of an Allow: the secrets iam-key-rotation/* (each conditioned on the
      // stack id) and the pattern user/*/<name> of a user with a path (one user whatever its path).
      for (const statement of allows.filter((s) => JSON.stringify(s.Resource).includes('*'))) {
        const actions = [statement.Action].flat();
        expect(
          statement.Condition !== undefined ||
            JSON.stringify(statement.Resource).includes(':user/*/'),
          actions.join(),
        ).toBe(true);
      }
    });

    it("lets Secrets Manager invoke the function only for this account and the stack's secret names", () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert: the rotation function's permission, and the Provider framework's none
      template.resourceCountIs('AWS::Lambda::Permission', 1);
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: { Ref: 'AWS::AccountId' },
        SourceArn: STACK_SECRETS_PATTERN,
      });
    });
  });

  describe('Outputs', () => {
    it("outputs the rotation function's name", () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      template.hasOutput('RotationFunctionName', {
        Value: { Ref: Match.stringLikeRegexp('^RotationFunction[0-9A-F]{8}$') },
      });
    });

    it("outputs each user's secret ARN under a readable id", () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      const secretIds = Object.keys(template.findResources('AWS::SecretsManager::Secret'));
      for (const [outputId, secretPattern] of [
        ['SecretArnDemo', /^RotatedAccessKeydemoSecret/],
        ['SecretArnCiDeployer', /^RotatedAccessKeycideployerSecret/],
        ['SecretArnReporting', /^RotatedAccessKeyreportingSecret/],
      ] as const) {
        const secretId = secretIds.find((id) => secretPattern.test(id));
        expect(secretId, outputId).toBeDefined();
        template.hasOutput(outputId, {
          Value: { Ref: secretId },
          Description: Match.stringLikeRegexp('^ARN of the secret iam-key-rotation/'),
        });
      }
      expect(Object.keys(template.findOutputs('*'))).toHaveLength(5);
    });

    it('keeps the output ids of users whose names give the same id apart', () => {
      // Arrange
      const users = ['ci-deployer', 'ci.deployer', 'alice'];

      // Act
      const ids = secretArnOutputIds(users);

      // Assert
      expect(ids.get('alice')).toBe('SecretArnAlice');
      expect(ids.get('ci-deployer')).toMatch(/^SecretArnCiDeployer[0-9A-F]{8}$/);
      expect(ids.get('ci.deployer')).toMatch(/^SecretArnCiDeployer[0-9A-F]{8}$/);
      expect(ids.get('ci-deployer')).not.toBe(ids.get('ci.deployer'));
      expect(secretArnOutputIds(['ci-deployer', 'ci.deployer']).get('ci-deployer')).toBe(
        ids.get('ci-deployer'),
      );
    });

    it('synthesizes a stack whose user names give the same output id', () => {
      // Act
      const template = Template.fromStack(
        onlyStack({
          users: [
            { userName: 'ci-deployer', schedule: 'rate(30 days)' },
            { userName: 'ci_deployer', schedule: 'rate(30 days)' },
          ],
        }),
      );

      // Assert
      expect(Object.keys(template.findOutputs('*')).sort()).toEqual([
        'DashboardUrl',
        'RotationFunctionName',
        ...[...secretArnOutputIds(['ci-deployer', 'ci_deployer']).values()].sort(),
      ]);
    });
  });

  describe('Ownership tag', () => {
    it('tags the created user with the Ref (full ARN) of its secret', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      template.hasResourceProperties('AWS::IAM::User', {
        UserName: 'demo',
        Tags: [
          {
            Key: OWNER_TAG_KEY,
            Value: { Ref: Match.stringLikeRegexp('^RotatedAccessKeydemoSecret') },
          },
        ],
      });
    });

    it('tags each existing user through its own Custom::UserOwnershipTag that names the user and its secret', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG).toJSON() as TemplateJson;

      // Assert
      for (const [name, id] of [
        ['ci-deployer', 'cideployer'],
        ['reporting', 'reporting'],
      ] as const) {
        const tagId = onlyLogicalId(
          template,
          'Custom::UserOwnershipTag',
          new RegExp(`^RotatedAccessKey${id}OwnershipTag`),
        );
        const secretId = onlyLogicalId(
          template,
          'AWS::SecretsManager::Secret',
          new RegExp(`^RotatedAccessKey${id}Secret`),
        );
        expect(template.Resources[tagId]?.Properties).toEqual({
          ServiceToken: {
            'Fn::GetAtt': [
              onlyLogicalId(
                template,
                'AWS::Lambda::Function',
                /^UserOwnershipTaggerProviderframeworkonEvent/,
              ),
              'Arn',
            ],
          },
          UserName: name,
          SecretArn: { Ref: secretId },
        });
      }
    });

    it("makes each rotation schedule wait for its user's ownership tag", () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG).toJSON() as TemplateJson;

      // Assert
      const dependsOn = (schedulePrefix: RegExp): string[] =>
        template.Resources[
          onlyLogicalId(template, 'AWS::SecretsManager::RotationSchedule', schedulePrefix)
        ]?.DependsOn ?? [];
      expect(dependsOn(/^RotatedAccessKeydemoRotationSchedule/)).toContain(
        onlyLogicalId(template, 'AWS::IAM::User', /^Userdemo/),
      );
      expect(dependsOn(/^RotatedAccessKeycideployerRotationSchedule/)).toContain(
        onlyLogicalId(
          template,
          'Custom::UserOwnershipTag',
          /^RotatedAccessKeycideployerOwnershipTag/,
        ),
      );
      expect(dependsOn(/^RotatedAccessKeyreportingRotationSchedule/)).toContain(
        onlyLogicalId(
          template,
          'Custom::UserOwnershipTag',
          /^RotatedAccessKeyreportingOwnershipTag/,
        ),
      );
    });

    it('runs every tagging custom resource of a stack through one function and role, without AWS managed policies', () => {
      // Arrange
      const config = withOtherStack(EXAMPLE_CONFIG);

      // Act
      const { templates } = templatesOf(config);

      // Assert
      expect(templates).toHaveLength(2);
      for (const template of templates) {
        const json = template.toJSON() as TemplateJson;
        const taggerRole = onlyLogicalId(json, 'AWS::IAM::Role', TAGGER_ROLE);
        // The rotation function's, the tagger's two, and the first-rotation wait's four.
        template.resourceCountIs('AWS::IAM::Role', 3 + 4);
        template.allResourcesProperties('AWS::IAM::Role', {
          ManagedPolicyArns: Match.absent(),
          Policies: Match.absent(),
        });
        template.resourcePropertiesCountIs(
          'AWS::Lambda::Function',
          { Role: { 'Fn::GetAtt': [taggerRole, 'Arn'] } },
          1,
        );
        template.resourceCountIs('Custom::UserOwnershipTag', 2);
      }
    });

    it('logs the tagging function to its own log group, kept a year, on the newest Node.js', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      const json = template.toJSON() as TemplateJson;
      const logGroup = onlyLogicalId(json, 'AWS::Logs::LogGroup', /^UserOwnershipTaggerLogGroup/);
      template.hasResource('AWS::Logs::LogGroup', {
        Properties: { RetentionInDays: 365 },
        DeletionPolicy: 'Retain',
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Role: { 'Fn::GetAtt': [onlyLogicalId(json, 'AWS::IAM::Role', TAGGER_ROLE), 'Arn'] },
        Runtime: 'nodejs24.x',
        LoggingConfig: { LogGroup: { Ref: logGroup } },
      });
      expect(statementsOfRole(json, TAGGER_ROLE)[0]).toEqual({
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [logGroup, 'Arn'] },
      });
    });

    it("allows TagUser and UntagUser only on each existing user, for the ownership tag and that user's own secret", () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG).toJSON() as TemplateJson;

      // Assert
      const tagging = statementsOfRole(template, TAGGER_ROLE).filter(
        (s) => s.Effect === 'Allow' && JSON.stringify(s.Action).includes('iam:'),
      );
      expect(tagging).toEqual(
        [
          ['*/ci-deployer', 'cideployer'],
          ['reporting', 'reporting'],
        ].map(([pattern, id]) => ({
          Effect: 'Allow',
          Action: ['iam:GetUser', 'iam:TagUser', 'iam:UntagUser'],
          Resource: userPattern(pattern ?? ''),
          Condition: {
            'ForAllValues:StringEquals': { 'aws:TagKeys': OWNER_TAG_KEY },
            StringEqualsIfExists: {
              [`aws:RequestTag/${OWNER_TAG_KEY}`]: {
                Ref: onlyLogicalId(
                  template,
                  'AWS::SecretsManager::Secret',
                  new RegExp(`^RotatedAccessKey${id ?? ''}Secret`),
                ),
              },
            },
          },
        })),
      );
    });

    it("gives no role but the tagger's iam:TagUser or iam:UntagUser", () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG).toJSON() as TemplateJson;

      // Assert
      const rotationActions = statementsOfRole(template, ROTATION_ROLE).flatMap((s) => s.Action);
      expect(rotationActions).not.toContain('iam:TagUser');
      expect(rotationActions).not.toContain('iam:UntagUser');
      const everyStatement = Object.values(template.Resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
        .flatMap(
          (r) => (r.Properties?.PolicyDocument as { Statement: PolicyStatementJson[] }).Statement,
        );
      const taggerStatements = statementsOfRole(template, TAGGER_ROLE);
      const userTagging = (statements: PolicyStatementJson[]): PolicyStatementJson[] =>
        statements.filter(
          (s) =>
            JSON.stringify(s.Action).includes('iam:') &&
            JSON.stringify(s.Action).includes('TagUser'),
        );
      expect(userTagging(everyStatement)).toEqual(userTagging(taggerStatements));
    });
  });

  describe('Monitoring', () => {
    it('has the alarms and the dashboard but no topic, rule, alarm action or Config rule by default', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
      for (const type of [
        'AWS::SNS::Topic',
        'AWS::SNS::TopicPolicy',
        'AWS::SNS::Subscription',
        'AWS::KMS::Key',
        'AWS::Events::Rule',
        'AWS::Config::ConfigRule',
        'AWS::Scheduler::ScheduleGroup',
      ]) {
        template.resourceCountIs(type, 0);
      }
      template.resourcePropertiesCountIs(
        'AWS::CloudWatch::Alarm',
        { AlarmActions: Match.anyValue() },
        0,
      );
    });

    it('outputs the URL of the dashboard under a stable id', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      template.hasOutput('DashboardUrl', {
        Value: {
          'Fn::Join': [
            '',
            [
              'https://',
              { Ref: 'AWS::Region' },
              '.console.aws.amazon.com/cloudwatch/home?region=',
              { Ref: 'AWS::Region' },
              '#dashboards/dashboard/IamKeyRotation-',
              { Ref: 'AWS::Region' },
            ],
          ],
        },
      });
      template.hasResourceProperties('AWS::CloudWatch::Dashboard', {
        DashboardName: { 'Fn::Join': ['', ['IamKeyRotation-', { Ref: 'AWS::Region' }]] },
      });
    });
  });

  describe('Notifications', () => {
    it('creates an encrypted topic, the email subscriptions, the rules and the alarm actions', () => {
      // Act
      const template = templateOf(ALL_SWITCHES_CONFIG);

      // Assert
      template.resourceCountIs('AWS::SNS::Topic', 1);
      template.resourceCountIs('AWS::KMS::Key', 1);
      template.resourceCountIs('AWS::SNS::TopicPolicy', 1);
      template.resourceCountIs('AWS::SNS::Subscription', 2);
      // Failed and abandoned rotations; completed ones (onSuccess).
      template.resourceCountIs('AWS::Events::Rule', 2);
      const topicId = onlyLogicalId(
        template.toJSON() as TemplateJson,
        'AWS::SNS::Topic',
        /^NotificationsTopic/,
      );
      template.resourcePropertiesCountIs(
        'AWS::CloudWatch::Alarm',
        { AlarmActions: [{ Ref: topicId }], OKActions: [{ Ref: topicId }] },
        3,
      );
      template.hasOutput('NotificationTopicArn', { Value: { Ref: topicId } });
    });

    it("limits the rules to the stack's own secrets", () => {
      // Arrange
      const config = withOtherStack(ALL_SWITCHES_CONFIG);

      // Act
      const { stacks, templates } = templatesOf(config);

      // Assert
      for (const template of templates) {
        const secretRefs = Object.keys(template.findResources('AWS::SecretsManager::Secret')).map(
          (id) => ({ Ref: id }),
        );
        const rules = Object.values(template.findResources('AWS::Events::Rule')) as {
          Properties: {
            EventPattern: { detail: { additionalEventData: { SecretId: unknown[] } } };
          };
        }[];
        expect(rules).toHaveLength(2);
        for (const rule of rules) {
          expect(rule.Properties.EventPattern.detail.additionalEventData.SecretId).toEqual(
            secretRefs,
          );
        }
      }
      expect(stacks.map((stack) => stack.stackName)).toEqual(['IamKeyRotation', 'Other']);
    });

    it('has no RotationSucceeded rule without onSuccess', () => {
      // Act
      const template = Template.fromStack(
        onlyStack({ ...ALL_SWITCHES_CONFIG, notifications: { email: ['ops@example.com'] } }),
      );

      // Assert
      template.resourceCountIs('AWS::Events::Rule', 1);
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: Match.objectLike({
          detail: Match.objectLike({ eventName: ['RotationFailed', 'RotationAbandoned'] }),
        }),
      });
    });

    it('creates a topic without subscriptions for notifications {}', () => {
      // Act
      const template = Template.fromStack(onlyStack({ ...EXAMPLE_CONFIG, notifications: {} }));

      // Assert
      template.resourceCountIs('AWS::SNS::Topic', 1);
      template.resourceCountIs('AWS::SNS::Subscription', 0);
      template.resourceCountIs('AWS::Events::Rule', 1);
    });

    it('sends everything to an existing topicArn without creating a topic, key or topic policy', () => {
      // Act
      const template = templateOf(EXISTING_TOPIC_CONFIG);

      // Assert
      template.resourceCountIs('AWS::SNS::Topic', 0);
      template.resourceCountIs('AWS::KMS::Key', 0);
      template.resourceCountIs('AWS::SNS::TopicPolicy', 0);
      template.resourceCountIs('AWS::SNS::Subscription', 0);
      template.resourcePropertiesCountIs(
        'AWS::Events::Rule',
        { Targets: [Match.objectLike({ Arn: EXISTING_TOPIC_ARN })] },
        2,
      );
      template.resourcePropertiesCountIs(
        'AWS::CloudWatch::Alarm',
        { AlarmActions: [EXISTING_TOPIC_ARN], OKActions: [EXISTING_TOPIC_ARN] },
        3,
      );
      template.hasOutput('NotificationTopicArn', { Value: EXISTING_TOPIC_ARN });
    });
  });

  describe('Grace period', () => {
    it('has a schedule group, a scheduler role and the grace period environment with gracePeriod', () => {
      // Act
      const template = Template.fromStack(onlyStack({ ...EXAMPLE_CONFIG, gracePeriod: '90m' }));

      // Assert
      const json = template.toJSON() as TemplateJson;
      const groupId = onlyLogicalId(json, 'AWS::Scheduler::ScheduleGroup', /^RotationFunction/);
      const schedulerRoleId = onlyLogicalId(json, 'AWS::IAM::Role', /^RotationFunctionRetirement/);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: {
            STALE_KEY_DAYS: '7',
            GRACE_PERIOD_SECONDS: '5400',
            RETIREMENT_SCHEDULE_GROUP: { Ref: groupId },
            RETIREMENT_SCHEDULER_ROLE_ARN: { 'Fn::GetAtt': [schedulerRoleId, 'Arn'] },
          },
        },
      });
      const actions = new Set(statementsOfRole(json, ROTATION_ROLE).flatMap((s) => s.Action));
      for (const action of ['scheduler:CreateSchedule', 'scheduler:GetSchedule', 'iam:PassRole']) {
        expect(actions).toContain(action);
      }
      expect(actions).not.toContain('scheduler:DeleteSchedule');
      template.hasOutput('RetirementScheduleGroupName', { Value: { Ref: groupId } });
      template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
      expect(findCycle(json)).toBeUndefined();
    });

    it('has none of them without gracePeriod', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      const json = template.toJSON() as TemplateJson;
      template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 0);
      expect(logicalIds(json, 'AWS::IAM::Role', /^RotationFunctionRetirement/)).toEqual([]);
      expect(JSON.stringify(json)).not.toMatch(
        /GRACE_PERIOD_SECONDS|RETIREMENT_|scheduler:|iam:PassRole/,
      );
      expect(Object.keys(template.findOutputs('RetirementScheduleGroupName'))).toEqual([]);
    });
  });

  describe('Compliance rules', () => {
    it('adds the Config rules with complianceRules, scoped to the secrets of the stack', () => {
      // Act
      const template = templateOf(ALL_SWITCHES_CONFIG);

      // Assert
      template.resourceCountIs('AWS::Config::ConfigRule', 3);
      template.resourcePropertiesCountIs(
        'AWS::Config::ConfigRule',
        { Scope: { TagKey: 'iam-key-rotation:stack', TagValue: 'IamKeyRotation' } },
        2,
      );
      template.hasResourceProperties('AWS::Config::ConfigRule', {
        Source: { Owner: 'AWS', SourceIdentifier: 'ACCESS_KEYS_ROTATED' },
        InputParameters: { maxAccessKeyAge: 45 },
      });
      template.resourcePropertiesCountIs(
        'AWS::SecretsManager::Secret',
        { Tags: Match.arrayWith([{ Key: 'iam-key-rotation:stack', Value: 'IamKeyRotation' }]) },
        3,
      );
    });

    it('has no Config rule without complianceRules (the secrets keep the stack tag of the rotation policy)', () => {
      // Act
      const template = Template.fromStack(onlyStack({ ...EXAMPLE_CONFIG, complianceRules: false }));

      // Assert
      template.resourceCountIs('AWS::Config::ConfigRule', 0);
      template.allResourcesProperties('AWS::SecretsManager::Secret', {
        Tags: Match.arrayWith([{ Key: 'iam-key-rotation:stack', Value: 'IamKeyRotation' }]),
      });
    });
  });

  describe('Stale keys', () => {
    it('sets STALE_KEY_DAYS to 7 by default', () => {
      // Act
      const template = templateOf(EXAMPLE_CONFIG);

      // Assert
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: { STALE_KEY_DAYS: '7' } },
      });
    });

    it('passes the configured staleKeyDays to the rotation function', () => {
      // Arrange
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const config = parseIamKeyRotationConfig({ ...EXAMPLE_CONFIG, staleKeyDays: 30 });

      // Act
      const stack = new IamKeyRotationStack(app, 'IamKeyRotation', {
        users: config.users,
        rotationFunction: { staleKeyDays: config.staleKeyDays },
      });

      // Assert
      Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: { STALE_KEY_DAYS: '30' } },
      });
    });
  });

  describe('Many users', () => {
    it.each<[number, string, (i: number) => boolean]>([
      [1, 'half of them created', (i) => i % 2 === 0],
      [50, 'half of them created', (i) => i % 2 === 0],
      [100, 'half of them created', (i) => i % 2 === 0],
      [100, 'all existing', () => false],
      [100, 'all created', () => true],
    ])(
      'synthesizes %i users (%s) within the CloudFormation and IAM limits',
      (count, _case, createUser) => {
        // Arrange
        const users = benchUsers(count, createUser);

        // Act
        const template = templateOf({ users }).toJSON() as TemplateJson;

        // Assert
        const types = Object.values(template.Resources).map((r) => r.Type);
        expect(types.filter((t) => t === 'AWS::SecretsManager::RotationSchedule')).toHaveLength(
          count,
        );
        expect(types.length).toBeLessThanOrEqual(500);
        // A role may have 10 managed policies attached by default.
        for (const roleId of logicalIds(template, 'AWS::IAM::Role', /./)) {
          const managed = Object.values(template.Resources).filter(
            (r) =>
              r.Type === 'AWS::IAM::ManagedPolicy' &&
              JSON.stringify(r.Properties?.Roles ?? []).includes(`"${roleId}"`),
          );
          expect(managed.length, roleId).toBeLessThanOrEqual(10);
        }
      },
    );

    it('synthesizes 100 existing users with every switch on within the CloudFormation and IAM limits', () => {
      // Arrange
      const users = Array.from({ length: 100 }, (_, i) => ({
        userName: `bench-user-${String(i).padStart(3, '0')}-${'x'.repeat(40)}`,
        schedule: 'rate(30 days)',
        ...(i % 5 === 0 ? { kmsKeyArn: KEY_ARN } : {}),
      }));

      // Act
      const template = Template.fromStack(
        onlyStack({ ...ALL_SWITCHES_CONFIG, gracePeriod: '24h', users }),
      ).toJSON() as TemplateJson;

      // Assert
      const types = Object.values(template.Resources).map((r) => r.Type);
      expect(types.length).toBeLessThanOrEqual(500);
      // The secrets are spread over several rules per event group, each pattern within 2,048
      // characters.
      expect(types.filter((t) => t === 'AWS::Events::Rule').length).toBeGreaterThan(2);
      for (const roleId of logicalIds(template, 'AWS::IAM::Role', /./)) {
        const managed = Object.values(template.Resources).filter(
          (r) =>
            r.Type === 'AWS::IAM::ManagedPolicy' &&
            JSON.stringify(r.Properties?.Roles ?? []).includes(`"${roleId}"`),
        );
        expect(managed.length, roleId).toBeLessThanOrEqual(10);
      }
    });

    it('spreads 200 users over the stacks named in the configuration', () => {
      // Arrange
      const users = Array.from({ length: 200 }, (_, i) => ({
        userName: `bench-user-${String(i).padStart(3, '0')}`,
        createUser: true,
        schedule: 'rate(30 days)',
        stack: i < 100 ? 'IamKeyRotation' : 'IamKeyRotation-2',
      }));

      // Act
      const { stacks, templates } = templatesOf({ users });

      // Assert
      expect(stacks.map((s) => s.stackName)).toEqual(['IamKeyRotation', 'IamKeyRotation-2']);
      for (const template of templates) {
        template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 100);
        // The rotation function and the first-rotation wait's 5.
        template.resourceCountIs('AWS::Lambda::Function', 1 + 5);
      }
    });
  });

  describe('cdk-nag AwsSolutionsChecks', () => {
    it.each([
      ['the example configuration', EXAMPLE_CONFIG],
      ['every switch on', ALL_SWITCHES_CONFIG],
      ['every switch on and an existing topic', EXISTING_TOPIC_CONFIG],
    ])('reports no unacknowledged finding with %s', (_case, config) => {
      // Arrange
      const stack = onlyStack(config);

      // Act
      const report = new AwsSolutionsChecks().validateScope(stack);

      // Assert
      expect(report.violations).toEqual([]);
      expect(report.success).toBe(true);
    });
  });

  describe('cfn-lint', () => {
    it('finds no error and no warning in the synthesized templates', () => {
      // Arrange: the default configuration, every switch on, and an existing topic, each with a
      // second stack (the first two synthesized already by the tests of the tagger and the rules)
      const directory = temporaryDirectory();
      const files = [
        { name: 'default', config: EXAMPLE_CONFIG },
        { name: 'all-switches', config: ALL_SWITCHES_CONFIG },
        { name: 'existing-topic', config: EXISTING_TOPIC_CONFIG },
      ].flatMap(({ name, config }) => {
        const { stacks, templates } = templatesOf(withOtherStack(config));
        return stacks.map((stack, index) => {
          const file = path.join(directory, `${name}-${stack.stackName}.template.json`);
          writeFileSync(file, JSON.stringify(templates[index]?.toJSON(), null, 1));
          return file;
        });
      });

      // Act
      const result = spawnSync(
        'cfn-lint',
        [
          // W3005 "dependency already enforced by a GetAtt": aws-cdk-lib's Function always adds
          // DependsOn on its role next to GetAtt Role.Arn (so that the role's default policy,
          // listed in the same DependsOn, exists first). Redundant for the role, harmless, and
          // not ours to remove. Our own DependsOn lists carry no redundant entry.
          '--ignore-checks',
          'W3005',
          '--',
          ...files,
        ],
        { encoding: 'utf8' },
      );

      // Assert
      if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
        expect.fail('cfn-lint is not installed: pip install cfn-lint');
      }
      expect(`${result.stdout}${result.stderr}`).toBe('');
      expect(result.status).toBe(0);
    });
  });

  describe('Bundling', () => {
    it('bundles lambda/handler.ts with esbuild into index.cjs (the AWS SDK inside) and lazily loaded chunks, and the ownership tagger into another bundle', async () => {
      // Arrange
      const { app } = synthStacks(EXAMPLE_CONFIG, { bundling: true });

      // Act
      const assembly = app.synth();

      // Assert
      const assets = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
      // The rotation function's bundle, the ownership tagger's bundle, the first-rotation wait's
      // bundle (one for its two functions) and aws-cdk-lib's prebuilt Provider framework.
      expect(assets).toHaveLength(4);
      const filesOf = (name: string): string[] => readdirSync(path.join(assembly.directory, name));
      const rotationBundles = assets.filter((name) => filesOf(name).includes('index.cjs'));
      expect(rotationBundles).toHaveLength(1);
      const bundles = assets.filter((name) => filesOf(name).includes('index.mjs'));
      expect(bundles).toHaveLength(2);
      const contains = (text: string) => (name: string) =>
        readFileSync(path.join(assembly.directory, name, 'index.mjs'), 'utf8').includes(text);
      const isTagger = contains('tags nothing');
      const isWait = contains('iam-key-rotation-first-rotation');
      expect(bundles.filter(isWait)).toHaveLength(1);
      const assetDirectory = path.join(assembly.directory, rotationBundles[0] ?? '');
      // No user of the example has sesSmtpTest: no SMTP client beside it
      // (test/integration/ses-smtp-bundle.test.ts builds the asset with one). NodejsFunction's own
      // index.mjs is replaced, not left beside it.
      expect(readdirSync(assetDirectory).sort()).toEqual(['chunks', 'index.cjs']);
      // What a cold start loads: index.cjs alone, the chunks it shared with the lazy parts folded
      // into it (lib/rotation-asset-build.ts).
      expect(coldStartFiles(assetDirectory)).toEqual(['index.cjs']);
      const bundle = readFileSync(path.join(assetDirectory, 'index.cjs'), 'utf8');
      // The SDK clients are inside the bundle, not required from the runtime's copy. (Booleans,
      // so that a failure does not print a 250 KB bundle.)
      expect(/require\(["']@aws-sdk\/client-/.test(bundle)).toBe(false);
      expect(
        bundle.includes('CreateAccessKeyCommand') || bundle.includes('"CreateAccessKey"'),
      ).toBe(true);
      expect(bundle.length).toBeGreaterThan(100_000);

      // The ownership tagger's bundle loads and refuses an event without its stack id.
      const taggerBundle = bundles.find(isTagger) ?? '';
      expect(readdirSync(path.join(assembly.directory, taggerBundle))).toEqual(['index.mjs']);
      const tagger = (await import(
        pathToFileURL(path.join(assembly.directory, taggerBundle, 'index.mjs')).href
      )) as { handler: (event: unknown) => Promise<unknown> };
      await expect(tagger.handler({ RequestType: 'Create' })).rejects.toThrow(
        'IAM_KEY_ROTATION_STACK_ID is not set',
      );

      // The first-rotation wait's bundle loads and refuses to start without its settings.
      const waitBundle = bundles.find(isWait) ?? '';
      await expect(
        import(pathToFileURL(path.join(assembly.directory, waitBundle, 'index.mjs')).href),
      ).rejects.toThrow('FIRST_ROTATION_WAIT_SECONDS must be a whole number of seconds, got null');
    });
  });
});
