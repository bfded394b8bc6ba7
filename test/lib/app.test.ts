// Exercises bin/app.ts (kept here because this suite owns test/lib; move to test/bin if preferred).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { configureIamKeyRotationApp } from '../../lib/iam-key-rotation-app.js';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE_CONFIG_FILE = path.join(PROJECT_ROOT, 'examples', 'users.json');

/**
 * Runs bin/app.ts the way `cdk synth` does: context in CDK_CONTEXT_JSON, output in CDK_OUTDIR.
 * A process each (tsx, aws-cdk-lib and cdk-nag loaded anew): the tests of the entry point itself,
 * its exit status, its stderr and the assembly the App writes at exit; the others use
 * {@link synthInProcess}.
 */
function spawnApp(context: Record<string, unknown>, outdir: string): ReturnType<typeof spawnSync> {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(PROJECT_ROOT, 'bin', 'app.ts')],
    {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }),
        CDK_OUTDIR: outdir,
      },
    },
  );
}

/**
 * What bin/app.ts does, in this process: the same context and environment, the same
 * configureIamKeyRotationApp, then the synthesis the App runs at exit unless bin/app.ts exits 1
 * (status 1). stderr holds the messages bin/app.ts writes and anything else written to stderr or
 * the console meanwhile (a warning of aws-cdk-lib, a cdk-nag report).
 */
function synthInProcess(
  context: Record<string, unknown>,
  outdir: string,
): { status: 0 | 1; stderr: string } {
  const app = new App({
    outdir,
    autoSynth: false,
    context: { 'aws:cdk:bundling-stacks': [], ...context },
  });
  let stderr = '';
  const capture = (...parts: unknown[]): void => {
    stderr += parts.map(String).join(' ');
  };
  const spies = [
    vi.spyOn(process.stderr, 'write').mockImplementation((text) => {
      capture(text);
      return true;
    }),
    vi.spyOn(console, 'error').mockImplementation(capture),
    vi.spyOn(console, 'warn').mockImplementation(capture),
    vi.spyOn(process, 'emitWarning').mockImplementation(capture),
  ];
  try {
    const configured = configureIamKeyRotationApp(app, {
      defaults: {
        account: process.env.CDK_DEFAULT_ACCOUNT,
        region: process.env.CDK_DEFAULT_REGION,
      },
      writeMessage: (text) => process.stderr.write(text),
    });
    if (configured) app.synth();
    return { status: configured ? 0 : 1, stderr };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

type TemplateJson = {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
};

function readTemplate(outdir: string, stackName: string): TemplateJson {
  return JSON.parse(
    readFileSync(path.join(outdir, `${stackName}.template.json`), 'utf8'),
  ) as TemplateJson;
}

function resourcesOf(template: TemplateJson, type: string): TemplateJson['Resources'][string][] {
  return Object.values(template.Resources).filter((r) => r.Type === type);
}

describe('App: bin/app.ts', () => {
  let outdir: string | undefined;
  afterEach(() => {
    if (outdir) rmSync(outdir, { recursive: true, force: true });
    outdir = undefined;
  });

  it('synthesizes the example configuration examples/users.json with cdk-nag enabled', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const example = JSON.parse(readFileSync(EXAMPLE_CONFIG_FILE, 'utf8')) as { users: unknown[] };

    // Act
    const result = spawnApp({ iamKeyRotationConfigFile: 'examples/users.json' }, outdir);

    // Assert
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const template = JSON.parse(
      readFileSync(path.join(outdir, 'IamKeyRotation.template.json'), 'utf8'),
    ) as { Resources: Record<string, { Type: string }> };
    const schedules = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::SecretsManager::RotationSchedule',
    );
    expect(schedules).toHaveLength(example.users.length);
  });

  it('ships no users in cdk.json, so a configuration file can be named', () => {
    // Act
    const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
      context?: Record<string, unknown>;
    };

    // Assert
    expect(cdkJson.context?.iamKeyRotation).toBeUndefined();
    expect(cdkJson.context?.iamKeyRotationConfigFile).toBeUndefined();
  });

  it('passes staleKeyDays to the rotation function of every stack', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const context = {
      iamKeyRotation: {
        staleKeyDays: 30,
        users: [
          { userName: 'alice', schedule: 'rate(30 days)' },
          { userName: 'bob', schedule: 'rate(30 days)', stack: 'Other' },
        ],
      },
    };

    // Act
    const result = synthInProcess(context, outdir);

    // Assert
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    for (const stackName of ['IamKeyRotation', 'Other']) {
      const template = JSON.parse(
        readFileSync(path.join(outdir, `${stackName}.template.json`), 'utf8'),
      ) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
      // The rotation function's; the ownership tagger's function has only the stack id.
      const environments = Object.values(template.Resources)
        .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment)
        .map((r) => r.Properties.Environment)
        .filter((environment) => JSON.stringify(environment).includes('STALE_KEY_DAYS'));
      expect(environments, stackName).toEqual([
        {
          Variables: {
            STALE_KEY_DAYS: '30',
            IAM_KEY_ROTATION_STACK_ID: { Ref: 'AWS::StackId' },
          },
        },
      ]);
    }
  });

  it('synthesizes a configuration with every switch on in every stack, with cdk-nag enabled', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const context = {
      iamKeyRotation: {
        gracePeriod: '24h',
        notifications: { email: ['security-team@example.com'], onSuccess: true },
        complianceRules: true,
        users: [
          { userName: 'alice', createUser: true, schedule: 'rate(30 days)' },
          { userName: 'bob', schedule: 'cron(0 2 ? * MON *)', stack: 'Other' },
        ],
      },
    };

    // Act
    const result = synthInProcess(context, outdir);

    // Assert
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    for (const stackName of ['IamKeyRotation', 'Other']) {
      const template = JSON.parse(
        readFileSync(path.join(outdir, `${stackName}.template.json`), 'utf8'),
      ) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
      const count = (type: string): number =>
        Object.values(template.Resources).filter((r) => r.Type === type).length;
      expect(count('AWS::SNS::Topic'), stackName).toBe(1);
      expect(count('AWS::SNS::Subscription'), stackName).toBe(1);
      expect(count('AWS::Events::Rule'), stackName).toBe(2);
      expect(count('AWS::CloudWatch::Alarm'), stackName).toBe(3);
      expect(count('AWS::CloudWatch::Dashboard'), stackName).toBe(1);
      expect(count('AWS::Config::ConfigRule'), stackName).toBe(3);
      expect(count('AWS::Scheduler::ScheduleGroup'), stackName).toBe(1);
      const environment = Object.values(template.Resources).find(
        (r) =>
          r.Type === 'AWS::Lambda::Function' &&
          JSON.stringify(r.Properties.Environment ?? {}).includes('STALE_KEY_DAYS'),
      )?.Properties.Environment as { Variables: Record<string, unknown> } | undefined;
      expect(environment?.Variables.GRACE_PERIOD_SECONDS, stackName).toBe('86400');
    }
  });

  it('synthesizes two accounts and two regions stack by stack, each with its env, with cdk-nag enabled', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const places = [
      { account: '111111111111', region: 'eu-west-1' },
      { account: '111111111111', region: 'us-east-1' },
      { account: '222222222222', region: 'eu-west-1' },
      { account: '222222222222', region: 'us-east-1' },
    ];
    const context = {
      iamKeyRotation: {
        notifications: { email: ['security-team@example.com'] },
        users: [
          { userName: 'local', schedule: 'rate(30 days)' },
          ...places.map((place, i) => ({
            // The same name in both accounts: IAM users are per account.
            userName: i % 2 === 0 ? 'ci-deployer' : `ses-sender-${place.account}`,
            createUser: i >= 2,
            schedule: 'cron(0 2 ? * MON *)',
            window: '3h',
            ...place,
          })),
        ],
      },
    };

    // Act
    const result = synthInProcess(context, outdir);

    // Assert
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; environment?: string }>;
    };
    const environments = Object.fromEntries(
      Object.entries(manifest.artifacts)
        .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack')
        .map(([name, artifact]) => [name, artifact.environment]),
    );
    expect(environments).toEqual({
      IamKeyRotation: 'aws://unknown-account/unknown-region',
      'IamKeyRotation-111111111111-eu-west-1': 'aws://111111111111/eu-west-1',
      'IamKeyRotation-111111111111-us-east-1': 'aws://111111111111/us-east-1',
      'IamKeyRotation-222222222222-eu-west-1': 'aws://222222222222/eu-west-1',
      'IamKeyRotation-222222222222-us-east-1': 'aws://222222222222/us-east-1',
    });
    for (const [index, place] of places.entries()) {
      const stackName = `IamKeyRotation-${place.account}-${place.region}`;
      const template = readTemplate(outdir, stackName);
      const schedules = resourcesOf(template, 'AWS::SecretsManager::RotationSchedule');
      expect(schedules, stackName).toHaveLength(1);
      // The window is spread: it opens 0-2 hours after 02:00 and lasts 1 hour.
      expect(schedules[0]?.Properties.RotationRules, stackName).toEqual({
        ScheduleExpression: expect.stringMatching(/^cron\(0 [234] \? \* MON \*\)$/) as unknown,
        Duration: '1h',
      });
      const secret = resourcesOf(template, 'AWS::SecretsManager::Secret')[0];
      expect(secret?.Properties.Tags, stackName).toContainEqual({
        Key: 'iam-key-rotation:stack',
        Value: stackName,
      });
      // The ownership tag may only name secrets of the stack's own region and account.
      expect(JSON.stringify(template), stackName).toContain(
        `:secretsmanager:${place.region}:${place.account}:secret:iam-key-rotation/*`,
      );
      expect(resourcesOf(template, 'AWS::IAM::User'), stackName).toHaveLength(index >= 2 ? 1 : 0);
    }
    const lint = spawnSync(
      'cfn-lint',
      [
        // W3005: aws-cdk-lib's Function repeats its role in DependsOn (see the stack tests).
        '--ignore-checks',
        'W3005',
        '--',
        ...Object.keys(environments).map((name) =>
          path.join(outdir ?? '', `${name}.template.json`),
        ),
      ],
      { encoding: 'utf8' },
    );
    expect(`${lint.stdout}${lint.stderr}`).toBe('');
    expect(lint.status).toBe(0);
    // Five stacks synthesized with cdk-nag, then linted: slow on a shared CPU.
  }, 180_000);

  it('fails when the same user of an account is configured in two regions, naming both', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const context = {
      iamKeyRotation: {
        users: [
          { userName: 'ci-deployer', schedule: 'rate(30 days)', account: '111111111111' },
          {
            userName: 'ci-deployer',
            schedule: 'rate(30 days)',
            account: '111111111111',
            region: 'us-east-1',
          },
        ],
      },
    };

    // Act
    const result = synthInProcess(context, outdir);

    // Assert
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'iamKeyRotation.users[1].userName: duplicate user name "ci-deployer" in account 111111111111: here (region us-east-1), already configured at iamKeyRotation.users[0] (the default region); IAM user names are case-insensitive and global to an account, and one secret owns a user: configure it once\n',
    );
    expect(readdirSync(outdir)).toEqual([]);
  });

  it('places 201 users without stack in stacks of at most 100 users and 500 resources, with cdk-nag enabled', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const context = {
      iamKeyRotation: {
        gracePeriod: '24h',
        notifications: { email: ['security-team@example.com'], onSuccess: true },
        complianceRules: true,
        users: Array.from({ length: 201 }, (_, i) => ({
          userName: `user-${String(i).padStart(4, '0')}`,
          createUser: i % 2 === 0,
          schedule: 'cron(0 0 ? * SUN *)',
        })),
      },
    };

    // Act
    const result = synthInProcess(context, outdir);

    // Assert
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const counts = ['IamKeyRotation', 'IamKeyRotation-2', 'IamKeyRotation-3'].map((stackName) => {
      const template = readTemplate(outdir ?? '', stackName);
      const total = Object.keys(template.Resources).length;
      expect(total, stackName).toBeLessThanOrEqual(500);
      return resourcesOf(template, 'AWS::SecretsManager::RotationSchedule').length;
    });
    expect(counts).toEqual([100, 100, 1]);
  });

  it('fails when the grace period is not shorter than the rotation interval of a user, naming the user and both values', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const context = {
      iamKeyRotation: {
        gracePeriod: '7d',
        users: [
          { userName: 'alice', schedule: 'rate(30 days)' },
          { userName: 'bob', schedule: 'cron(0 2 ? * MON *)' },
        ],
      },
    };

    // Act
    const result = synthInProcess(context, outdir);

    // Assert
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'iamKeyRotation.gracePeriod: must be shorter than the rotation interval of every user, got "7d" (7 days) but user "bob" (iamKeyRotation.users[1]) has schedule "cron(0 2 ? * MON *)": windows as little as 7 days apart; the previous key must be retired before the next rotation\n',
    );
    expect(readdirSync(outdir)).toEqual([]);
  });

  it('fails when notifications are invalid, naming the field and value', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const context = {
      iamKeyRotation: {
        notifications: { email: ['ops@example'] },
        users: [{ userName: 'alice', schedule: 'rate(30 days)' }],
      },
    };

    // Act
    const result = synthInProcess(context, outdir);

    // Assert
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'iamKeyRotation.notifications.email[0]: expected an email address like "security-team@example.com", got "ops@example"\n',
    );
  });

  it('fails when staleKeyDays is invalid, naming the field and value', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const context = {
      iamKeyRotation: {
        staleKeyDays: 0,
        users: [{ userName: 'alice', schedule: 'rate(30 days)' }],
      },
    };

    // Act
    const result = synthInProcess(context, outdir);

    // Assert
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'iamKeyRotation.staleKeyDays: expected a whole number of days from 1 to 1000, got 0\n',
    );
  });

  it('fails when the configuration is invalid, printing only one line that names the field and value', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const context = {
      iamKeyRotation: {
        users: [
          { userName: 'alice', schedule: 'rate(30 days)' },
          { userName: 'bob', schedule: 'rate(2 hours)' },
        ],
      },
    };

    // Act
    const result = spawnApp(context, outdir);

    // Assert
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'iamKeyRotation.users[1].schedule: rate in hours must be a whole number of at least 4, got 2\n',
    );
    expect(readdirSync(outdir)).toEqual([]);
  });

  it.each([
    [
      'cron(0 2 32 * ? *)',
      'iamKeyRotation.users[0].schedule: cron day-of-month field must hold days 1-31 with , - * ? / L W, got "32" in "cron(0 2 32 * ? *)"',
    ],
    [
      'cron(0 2 ? 13 MON *)',
      'iamKeyRotation.users[0].schedule: cron month field must hold months 1-12 or JAN-DEC with , - * /, got "13" in "cron(0 2 ? 13 MON *)"',
    ],
  ])('fails when a schedule is %s, naming the field and value', (schedule, message) => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const context = { iamKeyRotation: { users: [{ userName: 'alice', schedule }] } };

    // Act
    const result = synthInProcess(context, outdir);

    // Assert
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`${message}\n`);
  });

  it('fails when no configuration is set, in one line that names both ways to set it', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));

    // Act
    const result = synthInProcess({}, outdir);

    // Assert
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `iamKeyRotation: no configuration: name a JSON file with -c iamKeyRotationConfigFile=<file> (e.g. examples/users.json) or pass the JSON itself with -c iamKeyRotation='{"users":[...]}'\n`,
    );
  });

  it('fails through `cdk synth` with our one line, the CLI line and no stack trace', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const config = JSON.stringify({ users: [{ userName: 'alice', schedule: 'rate(2 hours)' }] });

    // Act
    const result = spawnSync(
      'npx',
      ['cdk', 'synth', '--no-notices', '-q', '-o', outdir, '-c', `iamKeyRotation=${config}`],
      {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: 'true' },
      },
    );

    // Assert
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'iamKeyRotation.users[0].schedule: rate in hours must be a whole number of at least 4, got 2',
      'npx tsx bin/app.ts: Subprocess exited with error 1',
    ]);
  });

  it('writes the placement file beside the configuration once, then refuses a change that moves a user', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const configFile = path.join(outdir, 'users.json');
    const placementFile = path.join(outdir, 'users.placement.json');
    const users = [
      { userName: 'alice', schedule: 'rate(30 days)' },
      { userName: 'bob', schedule: 'rate(30 days)' },
    ];
    writeFileSync(configFile, JSON.stringify({ users }));

    // Act: the first synth places both; the second is asked to move bob
    const first = synthInProcess({ iamKeyRotationConfigFile: configFile }, path.join(outdir, 'a'));
    const placed = readFileSync(placementFile, 'utf8');
    writeFileSync(
      configFile,
      JSON.stringify({ users: [users[0], { ...users[1], stack: 'Other' }] }),
    );
    const second = synthInProcess({ iamKeyRotationConfigFile: configFile }, path.join(outdir, 'b'));

    // Assert
    expect(first.status).toBe(0);
    expect(first.stderr).toBe(
      `${placementFile}: 2 user(s) placed, 0 removed; commit this file with the configuration\n`,
    );
    expect(JSON.parse(placed)).toMatchObject({
      version: 1,
      stacks: [{ stack: 'IamKeyRotation', users: ['alice', 'bob'] }],
    });
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(
      /^iamKeyRotation\.users\[1\]\.stack: user "bob" is placed in stack "IamKeyRotation" .* set "allowStackMove": true on this user to accept the move\n$/,
    );
    expect(readFileSync(placementFile, 'utf8')).toBe(placed);
  });
});
