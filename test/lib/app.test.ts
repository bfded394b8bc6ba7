// Exercises bin/app.ts (kept here because this suite owns test/lib; move to test/bin if preferred).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE_CONFIG_FILE = path.join(PROJECT_ROOT, 'examples', 'users.json');

/** Runs bin/app.ts the way `cdk synth` does: context in CDK_CONTEXT_JSON, output in CDK_OUTDIR. */
function synthApp(context: Record<string, unknown>, outdir: string): ReturnType<typeof spawnSync> {
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
    const result = synthApp({ iamKeyRotationConfigFile: 'examples/users.json' }, outdir);

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
    const result = synthApp(context, outdir);

    // Assert
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    for (const stackName of ['IamKeyRotation', 'Other']) {
      const template = JSON.parse(
        readFileSync(path.join(outdir, `${stackName}.template.json`), 'utf8'),
      ) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
      const environments = Object.values(template.Resources)
        .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment)
        .map((r) => r.Properties.Environment);
      expect(environments, stackName).toEqual([{ Variables: { STALE_KEY_DAYS: '30' } }]);
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
    const result = synthApp(context, outdir);

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
        (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment,
      )?.Properties.Environment as { Variables: Record<string, unknown> } | undefined;
      expect(environment?.Variables.GRACE_PERIOD_SECONDS, stackName).toBe('86400');
    }
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
    const result = synthApp(context, outdir);

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
    const result = synthApp(context, outdir);

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
    const result = synthApp(context, outdir);

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
    const result = synthApp(context, outdir);

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
    const result = synthApp(context, outdir);

    // Assert
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`${message}\n`);
  });

  it('fails when no configuration is set, in one line that names both ways to set it', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));

    // Act
    const result = synthApp({}, outdir);

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
});
