import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { parseIamKeyRotationConfig, usersByStack } from '../../lib/config.js';
import { IamKeyRotationStack } from '../../lib/iam-key-rotation-stack.js';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const EXAMPLE_CONFIG = {
  users: [
    { userName: 'demo', createUser: true, schedule: 'rate(30 days)', window: '4h' },
    { userName: 'ci-deployer', path: '/ci/', schedule: 'cron(0 2 ? * MON *)', window: '3h' },
    { userName: 'reporting', schedule: 'rate(12 hours)', window: '2h', kmsKeyArn: KEY_ARN },
  ],
};

function synthStacks(
  rawConfig: unknown,
  options: { bundling?: boolean } = {},
): { app: App; stacks: IamKeyRotationStack[] } {
  const app = new App(options.bundling ? {} : { context: { 'aws:cdk:bundling-stacks': [] } });
  const config = parseIamKeyRotationConfig(rawConfig);
  const stacks = [...usersByStack(config)].map(
    ([stackName, users]) => new IamKeyRotationStack(app, stackName, { users }),
  );
  return { app, stacks };
}

function onlyStack(rawConfig: unknown): IamKeyRotationStack {
  const [stack] = synthStacks(rawConfig).stacks;
  if (!stack) throw new Error('no stack synthesized');
  return stack;
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
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
};

describe('Construct: IamKeyRotationStack', () => {
  describe('Resources', () => {
    it('holds one rotation schedule and one secret per configured user and one function', () => {
      // Act
      const template = Template.fromStack(onlyStack(EXAMPLE_CONFIG));

      // Assert
      template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 3);
      template.resourceCountIs('AWS::SecretsManager::Secret', 3);
      template.resourceCountIs('AWS::Lambda::Function', 1);
      template.resourceCountIs('AWS::IAM::User', 1);
    });

    it('names each secret iam-key-rotation/<user name>', () => {
      // Act
      const template = Template.fromStack(onlyStack(EXAMPLE_CONFIG));

      // Assert
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: 'iam-key-rotation/ci-deployer',
        Tags: Match.arrayWith([{ Key: 'iam-key-rotation:user', Value: 'ci-deployer' }]),
      });
    });

    it('creates the users marked createUser', () => {
      // Act
      const template = Template.fromStack(onlyStack(EXAMPLE_CONFIG));

      // Assert
      template.hasResourceProperties('AWS::IAM::User', { UserName: 'demo', Path: '/' });
    });

    it('renders each configured schedule and window', () => {
      // Act
      const template = Template.fromStack(onlyStack(EXAMPLE_CONFIG));

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

    it('scopes the IAM actions to the configured users, with their paths', () => {
      // Act
      const template = Template.fromStack(onlyStack(EXAMPLE_CONFIG));

      // Assert
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
              ],
              Resource: [
                { 'Fn::GetAtt': [Match.stringLikeRegexp('^Userdemo'), 'Arn'] },
                {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':iam::',
                      { Ref: 'AWS::AccountId' },
                      ':user/ci/ci-deployer',
                    ],
                  ],
                },
                {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':iam::',
                      { Ref: 'AWS::AccountId' },
                      ':user/reporting',
                    ],
                  ],
                },
              ],
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
              Resource: [
                { Ref: Match.stringLikeRegexp('^RotatedAccessKeydemoSecret') },
                { Ref: Match.stringLikeRegexp('^RotatedAccessKeycideployerSecret') },
                { Ref: Match.stringLikeRegexp('^RotatedAccessKeyreportingSecret') },
              ],
            },
          ]),
        },
      });
    });

    it('grants no wildcard resource and no action beyond the listed ones', () => {
      // Act
      const template = Template.fromStack(onlyStack(EXAMPLE_CONFIG)).toJSON() as TemplateJson;

      // Assert
      const statements = Object.values(template.Resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
        .flatMap(
          (r) =>
            (
              r.Properties?.PolicyDocument as {
                Statement: { Action: string[]; Resource: unknown }[];
              }
            ).Statement,
        );
      expect(new Set(statements.flatMap((s) => s.Action))).toEqual(
        new Set([
          'logs:CreateLogStream',
          'logs:PutLogEvents',
          'iam:CreateAccessKey',
          'iam:ListAccessKeys',
          'iam:UpdateAccessKey',
          'iam:DeleteAccessKey',
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
          'secretsmanager:ListSecretVersionIds',
          'kms:Decrypt',
          'kms:GenerateDataKey',
        ]),
      );
      expect(JSON.stringify(statements.map((s) => s.Resource))).not.toMatch(/"\*"/);
    });

    it('lets Secrets Manager invoke the function only for this account', () => {
      // Act
      const template = Template.fromStack(onlyStack(EXAMPLE_CONFIG));

      // Assert
      template.resourceCountIs('AWS::Lambda::Permission', 1);
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: { Ref: 'AWS::AccountId' },
      });
    });
  });

  describe('Many users', () => {
    it.each([1, 50, 100])(
      'synthesizes %i users within the CloudFormation and IAM limits',
      (count) => {
        // Arrange
        const users = Array.from({ length: count }, (_, i) => ({
          userName: `bench-user-${String(i).padStart(3, '0')}`,
          createUser: i % 2 === 0,
          schedule: 'rate(30 days)',
          ...(i % 5 === 0 ? { kmsKeyArn: KEY_ARN } : {}),
        }));

        // Act
        const template = Template.fromStack(onlyStack({ users })).toJSON() as TemplateJson;

        // Assert
        const types = Object.values(template.Resources).map((r) => r.Type);
        expect(types.filter((t) => t === 'AWS::SecretsManager::RotationSchedule')).toHaveLength(
          count,
        );
        expect(types.length).toBeLessThanOrEqual(500);
        // A role may have 10 managed policies attached by default.
        expect(types.filter((t) => t === 'AWS::IAM::ManagedPolicy').length).toBeLessThanOrEqual(10);
      },
    );

    it('spreads 200 users over the stacks named in the configuration', () => {
      // Arrange
      const users = Array.from({ length: 200 }, (_, i) => ({
        userName: `bench-user-${String(i).padStart(3, '0')}`,
        createUser: true,
        schedule: 'rate(30 days)',
        stack: i < 100 ? 'IamKeyRotation' : 'IamKeyRotation-2',
      }));

      // Act
      const { stacks } = synthStacks({ users });

      // Assert
      expect(stacks.map((s) => s.stackName)).toEqual(['IamKeyRotation', 'IamKeyRotation-2']);
      for (const stack of stacks) {
        Template.fromStack(stack).resourceCountIs('AWS::SecretsManager::RotationSchedule', 100);
        Template.fromStack(stack).resourceCountIs('AWS::Lambda::Function', 1);
      }
    });
  });

  describe('cdk-nag AwsSolutionsChecks', () => {
    it('reports no unacknowledged finding', () => {
      // Arrange
      const stack = onlyStack(EXAMPLE_CONFIG);

      // Act
      const report = new AwsSolutionsChecks().validateScope(stack);

      // Assert
      expect(report.violations).toEqual([]);
      expect(report.success).toBe(true);
    });
  });

  describe('cfn-lint', () => {
    it('finds no error and no warning in the synthesized templates', () => {
      // Arrange
      const { app } = synthStacks({
        users: [
          ...EXAMPLE_CONFIG.users,
          { userName: 'other', schedule: 'rate(7 days)', stack: 'Other' },
        ],
      });
      const assembly = app.synth();
      const directory = temporaryDirectory();
      const files = assembly.stacks.map((artifact) => {
        const file = path.join(directory, `${artifact.stackName}.template.json`);
        writeFileSync(file, JSON.stringify(artifact.template, null, 1));
        return file;
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
    it('bundles lambda/handler.ts with esbuild into one ESM file that includes the AWS SDK', () => {
      // Arrange
      const { app } = synthStacks(EXAMPLE_CONFIG, { bundling: true });

      // Act
      const assembly = app.synth();

      // Assert
      const assets = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
      expect(assets).toHaveLength(1);
      const assetDirectory = path.join(assembly.directory, assets[0] ?? '');
      expect(readdirSync(assetDirectory)).toEqual(['index.mjs']);
      const bundle = readFileSync(path.join(assetDirectory, 'index.mjs'), 'utf8');
      expect(bundle.startsWith('import { createRequire as __createRequire }')).toBe(true);
      // The SDK clients are inside the bundle, not imported from the runtime's copy. (Booleans,
      // so that a failure does not print a 400 KB bundle.)
      expect(/(from|import)\s*["']@aws-sdk\/client-/.test(bundle)).toBe(false);
      expect(
        bundle.includes('CreateAccessKeyCommand') || bundle.includes('"CreateAccessKey"'),
      ).toBe(true);
      expect(bundle.length).toBeGreaterThan(100_000);
    });
  });
});
