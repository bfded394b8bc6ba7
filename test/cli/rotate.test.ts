import { FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { InvalidRequestException, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseLogLine, runRotate } from '../../cli/commands/rotate.js';
import { CliError } from '../../cli/errors.js';
import { CapturedIo, FakeOperatorAws } from '../support/fake-operator-aws.js';

const SECRET = 'iam-key-rotation/alice';
const TOKEN = 'rotation-0001-0000-0000-0000-000000000000';
let fake: FakeOperatorAws;

beforeEach(() => {
  fake = new FakeOperatorAws();
  fake.addManagedSecret('alice');
  fake.addKey('alice');
});

afterEach(() => {
  fake.restore();
});

/** A line as the function's Powertools logger writes it. */
const logLine = (
  step: string,
  level: string,
  message: string,
  extra: Record<string, unknown> = {},
): string =>
  JSON.stringify({
    level,
    message,
    timestamp: new Date(fake.now()).toISOString(),
    service: 'iam-key-rotation',
    secretId: fake.secret(SECRET).arn,
    step,
    clientRequestToken: TOKEN,
    ...extra,
  });

const log = (...lines: string[]): void => {
  for (const message of lines) fake.logEvents.push({ timestamp: new Date(fake.now()), message });
};

/** Runs the next scripted action at each sleep of the command (the function working meanwhile). */
const scripted = (actions: (() => void)[]): ((milliseconds: number) => Promise<void>) => {
  return () => {
    actions.shift()?.();
    return Promise.resolve();
  };
};

const storeNewKey = (): string => {
  const key = fake.addKey('alice');
  fake.version(SECRET, TOKEN).value = JSON.stringify({
    UserName: 'alice',
    AccessKeyId: key.accessKeyId,
    SecretAccessKey: key.secretAccessKey,
    ReplacesVersionId: 'initial-version',
  });
  return key.accessKeyId;
};

describe('Command: rotate', () => {
  it('starts a rotation and, without --wait, prints its version id and how to follow it', async () => {
    // Arrange
    const io = new CapturedIo();

    // Act
    const code = await runRotate(fake.dependencies(io), { secret: 'alice' });

    // Assert
    expect(code).toBe(0);
    expect(fake.version(SECRET, TOKEN).stages).toEqual(new Set(['AWSPENDING']));
    expect(io.out).toBe(
      `Rotation of ${SECRET} started: version ${TOKEN}. Follow it: iam-key-rotation status alice\n`,
    );
    expect(io.err).toContain(`Started rotation of ${SECRET} (IAM user alice) by function`);
  });

  it('with --wait prints each step as it completes, the function log lines, then the new key and the time', async () => {
    // Arrange
    let newKeyId = '';
    const io = new CapturedIo();
    const sleep = scripted([
      () => {
        newKeyId = storeNewKey();
        log(
          logLine('createSecret', 'INFO', 'createSecret: stored the new access key in AWSPENDING', {
            accessKeyId: newKeyId,
          }),
          logLine('createSecret', 'INFO', 'createSecret: done', { durationMs: 412 }),
        );
      },
      () => {
        log(
          logLine('setSecret', 'INFO', 'setSecret: done'),
          logLine(
            'testSecret',
            'INFO',
            'testSecret: the access key authenticates as the bound user',
            { accessKeyId: newKeyId },
          ),
          logLine('testSecret', 'INFO', 'testSecret: done'),
        );
      },
      () => {
        fake.version(SECRET, TOKEN).stages = new Set(['AWSCURRENT', 'AWSPENDING']);
        fake.version(SECRET, 'initial-version').stages = new Set(['AWSPREVIOUS']);
        log(
          logLine('finishSecret', 'INFO', 'finishSecret: moved AWSCURRENT to the new version', {
            accessKeyId: newKeyId,
          }),
        );
      },
      () => {
        fake.version(SECRET, TOKEN).stages = new Set(['AWSCURRENT']);
        log(logLine('finishSecret', 'INFO', 'finishSecret: done'));
      },
    ]);

    // Act
    const code = await runRotate(fake.dependencies(io, sleep), {
      secret: 'alice',
      wait: true,
      pollIntervalMs: 1_000,
    });

    // Assert
    expect(code).toBe(0);
    expect(io.out).toMatch(
      new RegExp(
        `^Rotated ${SECRET}: access key ${newKeyId} is AWSCURRENT\\. Took \\d+\\.\\d s\\.\\n$`,
      ),
    );
    const progress = io.err.split('\n').map((line) => line.trim().replace(/^\+[\d.]+ s\s+/, ''));
    expect(progress).toEqual(
      expect.arrayContaining([
        `log: INFO createSecret: stored the new access key in AWSPENDING (access key ${newKeyId})`,
        `createSecret stored the new access key ${newKeyId} in AWSPENDING`,
        'log: INFO testSecret: done',
        'labels: version rotation… [AWSPENDING] -> [AWSCURRENT, AWSPENDING]: AWSCURRENT moved to the new version (finishSecret)',
        'labels: version rotation… [AWSCURRENT, AWSPENDING] -> [AWSCURRENT]: AWSPENDING removed, the rotation is complete',
        'log: INFO finishSecret: done',
      ]),
    );
    // The log group came from the function's LoggingConfig.
    expect(fake.cloudWatchLogs).toHaveReceivedCommandWith(FilterLogEventsCommand, {
      logGroupName: '/iam-key-rotation/rotation-function',
      filterPattern: `"${TOKEN}"`,
    });
  });

  it('fails with exit 1 and the function error for this token when the rotation gives up', async () => {
    // Arrange
    const io = new CapturedIo();
    const sleep = scripted([
      () => {
        log(
          logLine('createSecret', 'ERROR', 'createSecret: failed', {
            error: {
              name: 'AccessKeyInUseError',
              message:
                'createSecret: IAM user alice already has 2 access keys and AKIAOLD0000000000001 was used 1h ago',
              stack: 'AccessKeyInUseError: ...',
            },
          }),
        );
        fake.version(SECRET, TOKEN).stages = new Set();
      },
    ]);

    // Act
    const code = await runRotate(fake.dependencies(io, sleep), {
      secret: 'alice',
      wait: true,
      json: true,
    });

    // Assert
    expect(code).toBe(1);
    expect(io.err).toMatch(
      new RegExp(
        `Rotation of ${SECRET} version ${TOKEN} failed after \\d+\\.\\d s: AccessKeyInUseError: createSecret: IAM user alice already has 2 access keys and AKIAOLD0000000000001 was used 1h ago\\.`,
      ),
    );
    expect(io.err).toContain('iam-key-rotation rotate alice --wait');
    expect(JSON.parse(io.out)).toMatchObject({
      outcome: 'failed',
      error: expect.stringContaining('AccessKeyInUseError') as unknown,
    });
  });

  it('follows the labels alone when the logs cannot be read, and says where to look on failure', async () => {
    // Arrange
    fake.cloudWatchLogs
      .on(FilterLogEventsCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    fake.logGroup = undefined;
    const io = new CapturedIo();
    const sleep = scripted([
      () => {
        fake.version(SECRET, TOKEN).stages = new Set();
      },
    ]);

    // Act
    const code = await runRotate(fake.dependencies(io, sleep), { secret: 'alice', wait: true });

    // Assert
    expect(code).toBe(1);
    expect(fake.cloudWatchLogs).toHaveReceivedCommandWith(FilterLogEventsCommand, {
      logGroupName: '/aws/lambda/IamKeyRotation-RotationFunction-AbC123',
    });
    expect(io.err).toContain('the function gave it up or someone cancelled it');
    expect(io.err).toContain(
      `See the log group of function IamKeyRotation-RotationFunction-AbC123 (search for ${TOKEN})`,
    );
  });

  it('gives up waiting at --timeout with exit 1, the last error and the cancel command', async () => {
    // Arrange
    fake.lambda.on(GetFunctionConfigurationCommand).rejects(new Error('AccessDenied'));
    const io = new CapturedIo();

    // Act
    const code = await runRotate(fake.dependencies(io), {
      secret: 'alice',
      wait: true,
      timeoutMs: 5_000,
    });

    // Assert
    expect(code).toBe(1);
    expect(io.err).toContain("the function's log lines are not readable with these credentials");
    expect(io.err).toContain(
      `version ${TOKEN} has not finished after 5s: the version carries [AWSPENDING]`,
    );
    expect(io.err).toContain('Give it up: iam-key-rotation cancel alice');
  });

  it('refuses while an earlier rotation is incomplete, naming the cancel command, and changes nothing', async () => {
    // Arrange
    fake.startRotation(SECRET, 'earlier-version');

    // Act
    const failure = runRotate(fake.dependencies(new CapturedIo()), { secret: 'alice' });

    // Assert
    await expect(failure).rejects.toThrow(CliError);
    await expect(failure).rejects.toThrow(
      `Secret ${SECRET}: a previous rotation isn't complete (AWSPENDING is on version earlier-version, which is not AWSCURRENT)`,
    );
    await expect(failure).rejects.toThrow(
      'Give it up (removes AWSPENDING and the key it made): iam-key-rotation cancel alice',
    );
    expect(fake.secretsManager).not.toHaveReceivedCommand(RotateSecretCommand);
  });

  it('names the cancel command when RotateSecret itself says a previous rotation is incomplete', async () => {
    // Arrange
    fake.secretsManager.on(RotateSecretCommand).rejects(
      new InvalidRequestException({
        message: "A previous rotation isn't complete. That rotation will be reattempted.",
        $metadata: {},
      }),
    );

    // Act & Assert
    await expect(
      runRotate(fake.dependencies(new CapturedIo()), { secret: 'alice' }),
    ).rejects.toThrow('iam-key-rotation cancel alice');
  });

  it('fails naming the secret when it has no rotation function', async () => {
    // Arrange
    fake.rotation.set(SECRET, {});

    // Act & Assert
    await expect(
      runRotate(fake.dependencies(new CapturedIo()), { secret: 'alice' }),
    ).rejects.toThrow(`Secret ${SECRET} has no rotation function configured`);
  });

  describe('Function: parseLogLine', () => {
    it('shows the level, message, access key id and error of a JSON line, and nothing else', () => {
      // Act
      const line = parseLogLine(
        JSON.stringify({
          level: 'ERROR',
          message: 'testSecret: failed',
          accessKeyId: 'AKIA0000000000000001',
          rotationToken: 'do-not-show',
          error: { name: 'AccessKeyTestError', message: 'rejected' },
        }),
      );

      // Assert
      expect(line).toEqual({
        text: 'ERROR testSecret: failed (access key AKIA0000000000000001): AccessKeyTestError: rejected',
        error: 'AccessKeyTestError: rejected',
        errorName: 'AccessKeyTestError',
      });
    });

    it('unwraps a line that Lambda wrapped in its JSON log format, and keeps plain lines as they are', () => {
      // Act & Assert
      expect(
        parseLogLine(
          JSON.stringify({
            level: 'INFO',
            message: JSON.stringify({ level: 'INFO', message: 'setSecret: done' }),
          }),
        ).text,
      ).toBe('INFO setSecret: done');
      expect(
        parseLogLine('2026-11-01T10:00:00Z\tabc\tTask timed out after 120.00 seconds\n').text,
      ).toBe('2026-11-01T10:00:00Z\tabc\tTask timed out after 120.00 seconds');
    });
  });
});
