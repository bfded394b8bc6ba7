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

  it('fails (exit 1) with a clear error when stdin is empty', async () => {
    const run = await runCliProcess(['smtp-password', '--region', 'eu-west-1'], environment, {
      input: '\n',
    });

    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'smtp-password: no secret access key on standard input; pipe it in, e.g. from a file: iam-key-rotation smtp-password --region eu-west-1 < secret-access-key.txt\n',
    });
  });

  it('fails (exit 1) without quoting the input when it holds more than one word', async () => {
    const run = await runCliProcess(['smtp-password', '--region', 'eu-west-1'], environment, {
      input: `${SECRET} ${SECRET}\n`,
    });

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('standard input holds more than one word');
    expect(run.stderr).not.toContain(SECRET);
  });

  it('explains itself with --help (exit 0)', async () => {
    const run = await runCliProcess(['smtp-password', '--help'], environment);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('iam-key-rotation smtp-password --region eu-west-1');
  });
});
