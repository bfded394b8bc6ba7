import { DeleteAccessKeyCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCancel } from '../../cli/commands/cancel.js';
import { runRollback } from '../../cli/commands/rollback.js';
import { CliError, EXIT_USAGE } from '../../cli/errors.js';
import { OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { CapturedIo, FakeOperatorAws } from '../support/fake-operator-aws.js';

const SECRET = 'iam-key-rotation/alice';
let fake: FakeOperatorAws;

beforeEach(() => {
  fake = new FakeOperatorAws();
  fake.addManagedSecret('alice');
});

afterEach(() => {
  fake.restore();
});

/** Puts a key of alice's in a new version carrying `stages`; returns the key. */
const versionWithNewKey = (
  versionId: string,
  stages: string[],
): { accessKeyId: string; secretAccessKey: string } => {
  const key = fake.addKey('alice');
  fake.startRotation(SECRET, versionId);
  const version = fake.version(SECRET, versionId);
  version.value = JSON.stringify({
    UserName: 'alice',
    AccessKeyId: key.accessKeyId,
    SecretAccessKey: key.secretAccessKey,
  });
  version.stages = new Set(stages);
  return key;
};

/** Two completed rotations: v1 (key 1, Inactive) is AWSPREVIOUS, v2 (key 2) is AWSCURRENT. */
const twoRotations = (): { first: string; second: string } => {
  const first = versionWithNewKey('v1', ['AWSPREVIOUS']).accessKeyId;
  const second = versionWithNewKey('v2', ['AWSCURRENT']).accessKeyId;
  fake.version(SECRET, 'initial-version').stages = new Set();
  const firstKey = fake.userKeys('alice').find((key) => key.accessKeyId === first);
  if (firstKey !== undefined) firstKey.status = 'Inactive';
  return { first, second };
};

const stagesOf = (versionId: string): string[] =>
  [...fake.version(SECRET, versionId).stages].sort();
const statusOf = (accessKeyId: string): string | undefined =>
  fake.userKeys('alice').find((key) => key.accessKeyId === accessKeyId)?.status;

describe('Command: rollback', () => {
  it('removes AWSPENDING elsewhere, reactivates the AWSPREVIOUS key and moves AWSCURRENT back; the key rolled back from stays Active', async () => {
    // Arrange
    const { first, second } = twoRotations();
    fake.startRotation(SECRET, 'v3');
    const io = new CapturedIo();
    const waits: number[] = [];
    let reactivatedBeforeTheWaitEnded = false;

    // Act
    const code = await runRollback(
      fake.dependencies(io, (milliseconds) => {
        waits.push(milliseconds);
        reactivatedBeforeTheWaitEnded = statusOf(first) === 'Active';
        return Promise.resolve();
      }),
      { secret: 'alice', yes: true },
    );

    // Assert: it waited out the function's timeout after stopping the rotation, before any key
    expect(code).toBe(0);
    expect(waits).toEqual([120_000]);
    expect(reactivatedBeforeTheWaitEnded).toBe(false);
    expect(stagesOf('v1')).toEqual(['AWSCURRENT']);
    expect(stagesOf('v2')).toEqual(['AWSPREVIOUS']);
    expect(stagesOf('v3')).toEqual([]);
    expect(statusOf(first)).toBe('Active');
    expect(statusOf(second)).toBe('Active');
    const calls = [
      ...fake.secretsManager.commandCalls(UpdateSecretVersionStageCommand),
      ...fake.iam.commandCalls(UpdateAccessKeyCommand),
    ].map((call) => call.args[0].input as object);
    expect(calls).toEqual([
      expect.objectContaining({ VersionStage: 'AWSPENDING', RemoveFromVersionId: 'v3' }),
      expect.objectContaining({
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: 'v1',
        RemoveFromVersionId: 'v2',
      }),
      { UserName: 'alice', AccessKeyId: first, Status: 'Active' },
    ]);
    expect(io.err).toContain(
      "Rollback:\n  1. remove AWSPENDING from version v3 (stops its rotation)\n  2. wait out the function's timeout, so that a step of that rotation still running ends\n  3. reactivate access key",
    );
    expect(io.out).toContain(`Rolled back ${SECRET}: AWSCURRENT holds access key ${first} again.`);
    expect(io.out).toMatch(
      new RegExp(`AWSPREVIOUS\\s+version v2\\s+access key ${second} \\(Active`),
    );
  });

  it('asks on a terminal, and changes nothing when the answer is no (exit 1)', async () => {
    // Arrange
    twoRotations();
    const before = fake.snapshot();
    const io = new CapturedIo(true);

    // Act
    const failure = runRollback(fake.dependencies(io), { secret: 'alice' });

    // Assert
    await expect(failure).rejects.toThrow(
      new CliError(
        `Not confirmed: did not roll back ${SECRET} to access key AKIAFAKE000000000001. Nothing was changed.`,
      ),
    );
    expect(io.questions).toEqual([`Roll back ${SECRET} to access key AKIAFAKE000000000001?`]);
    expect(fake.snapshot()).toEqual(before);
  });

  it('proceeds on a terminal when the answer is yes', async () => {
    // Arrange
    twoRotations();
    const io = new CapturedIo(true, undefined, true);

    // Act
    const code = await runRollback(fake.dependencies(io), { secret: 'alice' });

    // Assert
    expect(code).toBe(0);
    expect(stagesOf('v1')).toEqual(['AWSCURRENT']);
  });

  it('refuses with a usage error (exit 2) without a terminal and without --yes, naming --yes', async () => {
    // Arrange
    twoRotations();
    const before = fake.snapshot();

    // Act
    const failure = runRollback(fake.dependencies(new CapturedIo(false)), { secret: 'alice' });

    // Assert
    await expect(failure).rejects.toMatchObject({ exitCode: EXIT_USAGE });
    await expect(failure).rejects.toThrow(
      'Run again with --yes: iam-key-rotation rollback alice --yes',
    );
    expect(fake.snapshot()).toEqual(before);
  });

  it.each([
    [
      'AWSPREVIOUS holds no key',
      () => {
        versionWithNewKey('v1', ['AWSCURRENT']);
        fake.version(SECRET, 'initial-version').stages = new Set(['AWSPREVIOUS']);
      },
      'AWSPREVIOUS (version initial-version) holds no access key',
    ],
    ['no version is AWSPREVIOUS', () => undefined, 'no version carries AWSPREVIOUS'],
    [
      'the AWSPREVIOUS key was deleted',
      () => {
        const { first } = twoRotations();
        fake.users.set(
          'alice',
          fake.userKeys('alice').filter((key) => key.accessKeyId !== first),
        );
      },
      'no longer exists for IAM user alice',
    ],
    [
      'the user tag names another secret',
      () => {
        twoRotations();
        (fake.userTags.get('alice') ?? {})[OWNER_TAG_KEY] =
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf';
      },
      'refusing to touch its keys, nothing was changed',
    ],
  ])('refuses (exit 1) and changes nothing when %s', async (_case, arrange, expected) => {
    // Arrange
    arrange();
    const before = fake.snapshot();

    // Act
    const failure = runRollback(fake.dependencies(new CapturedIo()), {
      secret: 'alice',
      yes: true,
    });

    // Assert
    await expect(failure).rejects.toMatchObject({ exitCode: 1 });
    await expect(failure).rejects.toThrow(expected);
    expect(fake.snapshot()).toEqual(before);
    expect(fake.secretsManager).not.toHaveReceivedCommand(UpdateSecretVersionStageCommand);
    expect(fake.iam).not.toHaveReceivedCommand(UpdateAccessKeyCommand);
  });
});

describe('Command: cancel', () => {
  it('removes AWSPENDING, deactivates and deletes the key the pending version made', async () => {
    // Arrange
    const { second } = twoRotations();
    const pendingKey = versionWithNewKey('v3', ['AWSPENDING']);
    const io = new CapturedIo();

    // Act
    const code = await runCancel(fake.dependencies(io), { secret: 'alice', yes: true, json: true });

    // Assert
    expect(code).toBe(0);
    expect(stagesOf('v3')).toEqual([]);
    expect(fake.userKeys('alice').map((key) => key.accessKeyId)).not.toContain(
      pendingKey.accessKeyId,
    );
    expect(statusOf(second)).toBe('Active');
    const keyCalls = fake.iam
      .calls()
      .map((call) => call.args[0])
      .filter(
        (command) =>
          command instanceof UpdateAccessKeyCommand || command instanceof DeleteAccessKeyCommand,
      )
      .map((command) => [command.constructor.name, command.input]);
    expect(keyCalls).toEqual([
      [
        'UpdateAccessKeyCommand',
        { UserName: 'alice', AccessKeyId: pendingKey.accessKeyId, Status: 'Inactive' },
      ],
      ['DeleteAccessKeyCommand', { UserName: 'alice', AccessKeyId: pendingKey.accessKeyId }],
    ]);
    expect(JSON.parse(io.out)).toMatchObject({
      outcome: 'cancelled',
      cancelledVersionIds: ['v3'],
      deletedAccessKeyIds: [pendingKey.accessKeyId],
    });
    expect(io.out + io.err).not.toContain(pendingKey.secretAccessKey);
  });

  it('keeps a key that AWSCURRENT or AWSPREVIOUS holds too, and handles a placeholder without a value', async () => {
    // Arrange: a stale AWSPENDING left on the AWSPREVIOUS version, and a fresh placeholder
    twoRotations();
    fake.version(SECRET, 'v1').stages.add('AWSPENDING');
    const io = new CapturedIo();

    // Act
    const code = await runCancel(fake.dependencies(io), { secret: 'alice', yes: true });

    // Assert
    expect(code).toBe(0);
    expect(stagesOf('v1')).toEqual(['AWSPREVIOUS']);
    expect(fake.userKeys('alice')).toHaveLength(2);
    expect(fake.iam).not.toHaveReceivedCommand(DeleteAccessKeyCommand);
    expect(io.err).toContain('keep its access key AKIAFAKE000000000001 (AWSPREVIOUS holds it)');
  });

  it('says there is nothing to cancel and exits 0 when no rotation is incomplete', async () => {
    // Arrange
    twoRotations();
    const io = new CapturedIo();

    // Act
    const code = await runCancel(fake.dependencies(io), { secret: 'alice' });

    // Assert
    expect(code).toBe(0);
    expect(io.out).toBe(
      `Nothing to cancel: no rotation of ${SECRET} is incomplete (AWSPENDING is on no version other than AWSCURRENT).\n`,
    );
    expect(fake.secretsManager).not.toHaveReceivedCommand(UpdateSecretVersionStageCommand);
  });

  it('refuses without a terminal and without --yes (exit 2), and when the user tag names another secret (exit 1)', async () => {
    // Arrange
    versionWithNewKey('v1', ['AWSPENDING']);
    const before = fake.snapshot();

    // Act
    const noTerminal = runCancel(fake.dependencies(new CapturedIo(false)), { secret: 'alice' });
    await expect(noTerminal).rejects.toMatchObject({ exitCode: 2 });
    expect(fake.snapshot()).toEqual(before);
    Reflect.deleteProperty(fake.userTags.get('alice') ?? {}, OWNER_TAG_KEY);
    const untagged = fake.snapshot();
    const notOwned = runCancel(fake.dependencies(new CapturedIo()), { secret: 'alice', yes: true });

    // Assert
    await expect(notOwned).rejects.toMatchObject({ exitCode: 1 });
    await expect(notOwned).rejects.toThrow(`IAM user alice has no tag ${OWNER_TAG_KEY}`);
    expect(fake.snapshot()).toEqual(untagged);
  });
});
