// Exercises bin/app.ts (kept here because this suite owns test/lib; move to test/bin if preferred).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

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

  it('synthesizes the example configuration of cdk.json with cdk-nag enabled', () => {
    // Arrange
    outdir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-app-'));
    const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
      context: Record<string, unknown>;
    };

    // Act
    const result = synthApp(cdkJson.context, outdir);

    // Assert
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const template = JSON.parse(
      readFileSync(path.join(outdir, 'IamKeyRotation.template.json'), 'utf8'),
    ) as { Resources: Record<string, { Type: string }> };
    const schedules = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::SecretsManager::RotationSchedule',
    );
    const configured = (cdkJson.context.iamKeyRotation as { users: unknown[] }).users;
    expect(schedules).toHaveLength(configured.length);
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
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      'iamKeyRotation.staleKeyDays: expected a whole number of days from 1 to 1000, got 0',
    );
  });

  it('fails when the configuration is invalid, naming the field and value', () => {
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
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      'iamKeyRotation.users[1].schedule: rate in hours must be a whole number of at least 4, got 2',
    );
  });
});
