import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from '../support/cli-process.js';

/**
 * `iam-key-rotation smtp-password --region <region>`, run as a user runs it. The expected
 * passwords are the fixed vectors of test/lambda/rotation/ses-smtp-password.test.ts (computed
 * with AWS's example algorithm in python3).
 */
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

let scratch: string;
let environment: Record<string, string>;

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'smtp-password-'));
  // No AWS credentials, region or endpoint: the command makes no AWS call.
  environment = { PATH: process.env.PATH ?? '', HOME: scratch };
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('Command: smtp-password', () => {
  it('prints the SES SMTP password of the key on stdin and nothing on stderr', async () => {
    const run = await runCliProcess(['smtp-password', '--region', 'eu-west-1'], environment, {
      input: `${SECRET}\n`,
    });

    expect(run).toEqual({
      code: 0,
      stdout: 'BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk\n',
      stderr: '',
    });
  });

  it('takes --region before the command too, and input without a newline', async () => {
    const run = await runCliProcess(['--region', 'us-east-1', 'smtp-password'], environment, {
      input: SECRET,
    });

    expect(run).toEqual({
      code: 0,
      stdout: 'BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9\n',
      stderr: '',
    });
  });

  it('fails with a usage error (exit 2) when --region is missing', async () => {
    const run = await runCliProcess(['smtp-password'], environment, { input: SECRET });

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      'error: smtp-password needs --region <region>, e.g. --region eu-west-1',
    );
  });

  it('fails with a usage error (exit 2) when the region is not a region name', async () => {
    const run = await runCliProcess(['smtp-password', '--region', 'Ireland'], environment, {
      input: SECRET,
    });

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      'error: --region: expected an AWS region name like "eu-west-1", got "Ireland"',
    );
  });

  it('reads the key from a SecretString of this project, and from get-secret-value output', async () => {
    // Arrange
    const secretString = JSON.stringify({
      UserName: 'ses-sender',
      AccessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      SecretAccessKey: SECRET,
    });
    const getSecretValueOutput = JSON.stringify({
      ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/ses-sender-AbCdEf',
      Name: 'iam-key-rotation/ses-sender',
      SecretString: secretString,
      VersionStages: ['AWSCURRENT'],
    });

    // Act
    const runs = await Promise.all(
      [secretString, `${getSecretValueOutput}\n`].map((input) =>
        runCliProcess(['smtp-password', '--region', 'eu-west-1'], environment, { input }),
      ),
    );

    // Assert
    for (const run of runs) {
      expect(run).toEqual({
        code: 0,
        stdout: 'BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk\n',
        stderr: '',
      });
    }
  });

  it.each([
    ['empty', '\n', 'nothing on standard input'],
    [
      'two keys',
      `${SECRET} ${SECRET}\n`,
      'is not a secret access key (81 characters, more than one word)',
    ],
    ['a word', 'hunter2\n', 'is not a secret access key (7 characters)'],
    [
      'a key one character short',
      `${SECRET.slice(1)}\n`,
      'is not a secret access key (39 characters)',
    ],
    ['JSON that is not a SecretString', '{"password":"wJalrXUtnFEMI"}', 'field UserName must be'],
    [
      'a SecretString without a key yet',
      '{"UserName":"ses-sender"}',
      'holds no access key ({"UserName"} only',
    ],
    ['broken JSON', `{"SecretAccessKey":"${SECRET}"`, 'standard input is not valid JSON'],
  ])(
    'fails with a usage error (exit 2) on %s, saying what it expected without quoting the input',
    async (_case, input, reason) => {
      const run = await runCliProcess(['smtp-password', '--region', 'eu-west-1'], environment, {
        input,
      });

      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(reason);
      expect(run.stderr).toContain('expected one secret access key (40 characters)');
      expect(run.stderr).not.toContain(SECRET.slice(0, 20));
      expect(run.stderr).not.toContain('hunter2');
    },
  );

  it('explains itself with --help (exit 0)', async () => {
    const run = await runCliProcess(['smtp-password', '--help'], environment);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('iam-key-rotation smtp-password --region eu-west-1');
  });
});
