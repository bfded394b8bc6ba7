import { DeleteAccessKeyCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import {
  PutSecretValueCommand,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCancel } from '../../cli/commands/cancel.js';
import { ROLLBACK_STAGE, runRollback } from '../../cli/commands/rollback.js';
import { CliError, EXIT_USAGE } from '../../cli/errors.js';
import { CURRENT_KEY_TAG_KEY, OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
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

/**
 * Puts a new key of alice's in a new version carrying `stages`, as a rotation does (RotateSecret
 * creates the version, then createSecret the key); returns the key.
 */
const versionWithNewKey = (
  versionId: string,
  stages: string[],
): { accessKeyId: string; secretAccessKey: string } => {
  fake.startRotation(SECRET, versionId);
  const key = fake.addKey('alice');
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
  it('removes AWSPENDING elsewhere, reactivates the AWSPREVIOUS key and writes a new AWSCURRENT version holding it; the key rolled back from stays Active', async () => {
    // Arrange
    const { first, second } = twoRotations();
    fake.startRotation(SECRET, 'v3');
    const io = new CapturedIo();
    const waits: number[] = [];
    let reactivatedBeforeTheFirstWaitEnded = false;

    // Act
    const code = await runRollback(
      fake.dependencies(io, (milliseconds) => {
        if (waits.length === 0) reactivatedBeforeTheFirstWaitEnded = statusOf(first) === 'Active';
        waits.push(milliseconds);
        return Promise.resolve();
      }),
      { secret: 'alice', yes: true },
    );

    // Assert: it waited out the function's timeout after stopping the rotation, before any key,
    // and again after the change, before verifying
    expect(code).toBe(0);
    expect(waits).toEqual([121_000]); // strictly longer than the function's timeout
    expect(reactivatedBeforeTheFirstWaitEnded).toBe(false);
    const rolledBack = fake.versionWith(SECRET, 'AWSCURRENT') ?? '';
    expect(rolledBack).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(fake.version(SECRET, rolledBack).value ?? '{}')).toEqual(
      JSON.parse(fake.version(SECRET, 'v1').value ?? '{}'),
    );
    expect(stagesOf('v1')).toEqual([]);
    expect(stagesOf('v2')).toEqual(['AWSPREVIOUS']);
    expect(stagesOf('v3')).toEqual([]);
    expect(statusOf(first)).toBe('Active');
    expect(statusOf(second)).toBe('Active');
    const calls = [
      ...fake.secretsManager.commandCalls(UpdateSecretVersionStageCommand),
      ...fake.iam.commandCalls(UpdateAccessKeyCommand),
      ...fake.secretsManager.commandCalls(PutSecretValueCommand),
      ...fake.secretsManager.commandCalls(TagResourceCommand),
    ].map((call) => call.args[0].input as object);
    expect(calls).toEqual([
      expect.objectContaining({ VersionStage: 'AWSPENDING', RemoveFromVersionId: 'v3' }),
      expect.objectContaining({
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: rolledBack,
        RemoveFromVersionId: 'v2',
      }),
      expect.objectContaining({
        VersionStage: ROLLBACK_STAGE,
        RemoveFromVersionId: rolledBack,
      }),
      { UserName: 'alice', AccessKeyId: first, Status: 'Active' },
      expect.objectContaining({
        ClientRequestToken: rolledBack,
        VersionStages: [ROLLBACK_STAGE],
      }),
      {
        SecretId: fake.secret(SECRET).arn,
        Tags: [{ Key: CURRENT_KEY_TAG_KEY, Value: `${rolledBack}:${first}` }],
      },
    ]);
    expect(io.err).toContain(
      'Rollback:\n  1. remove AWSPENDING from version v3 (stops its rotation)\n  2. write a new version holding access key',
    );
    expect(io.out).toContain(
      `Rolled back ${SECRET}: AWSCURRENT holds access key ${first} again, in the new version ${rolledBack}.`,
    );
    expect(io.out).toMatch(
      new RegExp(`AWSPREVIOUS\\s+version v2\\s+access key ${second} \\(Active`),
    );
  });

  it('stops and waits out a rotation still finishing (AWSPENDING on the AWSCURRENT version) before it touches a key', async () => {
    // Arrange: finishSecret moved AWSCURRENT to v2 but has not removed AWSPENDING yet
    const { first } = twoRotations();
    fake.version(SECRET, 'v2').stages.add('AWSPENDING');
    const events: string[] = [];

    // Act
    const code = await runRollback(
      fake.dependencies(new CapturedIo(), () => {
        events.push(`wait (first key ${statusOf(first) ?? 'gone'})`);
        return Promise.resolve();
      }),
      { secret: 'alice', yes: true },
    );

    // Assert
    expect(code).toBe(0);
    expect(events).toEqual(['wait (first key Inactive)']);
    expect(stagesOf('v2')).toEqual(['AWSPREVIOUS']);
    expect(
      fake.secretsManager.commandCalls(UpdateSecretVersionStageCommand)[0]?.args[0].input,
    ).toEqual(expect.objectContaining({ VersionStage: 'AWSPENDING', RemoveFromVersionId: 'v2' }));
  });

  it('verifies after the move and reactivates the key when it was deactivated meanwhile, before reporting success', async () => {
    const { first } = twoRotations();
    const io = new CapturedIo();
    fake.secretsManager.on(TagResourceCommand).callsFake(() => {
      // Someone deactivates the key right after AWSCURRENT moved onto it.
      const key = fake.userKeys('alice').find((candidate) => candidate.accessKeyId === first);
      if (key !== undefined) key.status = 'Inactive';
      return {};
    });

    const code = await runRollback(fake.dependencies(io), { secret: 'alice', yes: true });

    expect(code).toBe(0);
    expect(statusOf(first)).toBe('Active');
    expect(fake.valueOf(SECRET, 'AWSCURRENT')?.AccessKeyId).toBe(first);
    expect(io.err).toContain(`access key ${first} is Inactive after the move`);
  });

  it('writes the new version with its own label and moves nothing before waiting out the function timeout', async () => {
    const { first } = twoRotations();
    const seen: string[] = [];

    await runRollback(
      fake.dependencies(new CapturedIo(), () => {
        const marked = [...fake.secret(SECRET).versions.entries()].find(([, version]) =>
          version.stages.has(ROLLBACK_STAGE),
        );
        seen.push(
          `${marked === undefined ? 'no label' : 'label'}, AWSCURRENT ${fake.versionWith(SECRET, 'AWSCURRENT') ?? ''}, key ${statusOf(first) ?? ''}`,
        );
        return Promise.resolve();
      }),
      { secret: 'alice', yes: true },
    );

    expect(seen).toEqual(['label, AWSCURRENT v2, key Inactive']);
    expect(
      [...fake.secret(SECRET).versions.values()].some((version) =>
        version.stages.has(ROLLBACK_STAGE),
      ),
    ).toBe(false);
  });

  it('reads the secret again when a label moves between its DescribeSecret and GetSecretValue', async () => {
    const { first } = twoRotations();
    fake.interceptNext('GetSecretValue', () => {
      throw Object.assign(
        new Error('You provided a VersionStage that is not associated to the provided VersionId.'),
        { name: 'InvalidRequestException', $metadata: { httpStatusCode: 400 } },
      );
    });

    const code = await runRollback(fake.dependencies(new CapturedIo()), {
      secret: 'alice',
      yes: true,
    });

    expect(code).toBe(0);
    expect(fake.valueOf(SECRET, 'AWSCURRENT')?.AccessKeyId).toBe(first);
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
    expect(fake.valueOf(SECRET, 'AWSCURRENT')?.AccessKeyId).toBe('AKIAFAKE000000000001');
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

  it("waits out the function's timeout after removing AWSPENDING, before deleting any key", async () => {
    twoRotations();
    const pendingKey = versionWithNewKey('v3', ['AWSPENDING']);
    const waits: number[] = [];
    let keyAtTheWait: string | undefined;

    const code = await runCancel(
      fake.dependencies(new CapturedIo(), (milliseconds) => {
        waits.push(milliseconds);
        keyAtTheWait = statusOf(pendingKey.accessKeyId);
        return Promise.resolve();
      }),
      { secret: 'alice', yes: true },
    );

    expect(code).toBe(0);
    expect(waits).toEqual([121_000]); // strictly longer than the function's timeout
    expect(keyAtTheWait).toBe('Active');
    expect(statusOf(pendingKey.accessKeyId)).toBeUndefined();
  });

  it('removes AWSPENDING again when a createSecret in flight put it back with a new key, and deletes that key', async () => {
    // Arrange: a placeholder; while cancel waits, createSecret stores a key and re-attaches the label
    const { second } = twoRotations();
    fake.startRotation(SECRET, 'v3');
    let stored: { accessKeyId: string } | undefined;
    const sleep = (): Promise<void> => {
      if (stored === undefined) {
        const key = fake.addKey('alice');
        stored = key;
        const version = fake.version(SECRET, 'v3');
        version.value = JSON.stringify({
          UserName: 'alice',
          AccessKeyId: key.accessKeyId,
          SecretAccessKey: key.secretAccessKey,
        });
        version.stages.add('AWSPENDING');
      }
      return Promise.resolve();
    };
    const io = new CapturedIo();

    // Act
    const code = await runCancel(fake.dependencies(io, sleep), { secret: 'alice', yes: true });

    // Assert
    expect(code).toBe(0);
    expect(stagesOf('v3')).toEqual([]);
    expect(statusOf(stored?.accessKeyId ?? '')).toBeUndefined();
    expect(statusOf(second)).toBe('Active');
    expect(io.err).toContain('put AWSPENDING back on version v3; removing it again');
  });

  it('reports a rotation that completed before the cancel took effect (exit 1, next: rollback) and deletes none of its keys', async () => {
    // Arrange: finishSecret, past its checks, moves AWSCURRENT while cancel waits
    const { second } = twoRotations();
    const pendingKey = versionWithNewKey('v3', ['AWSPENDING']);
    const sleep = (): Promise<void> => {
      fake.version(SECRET, 'v2').stages = new Set(['AWSPREVIOUS']);
      fake.version(SECRET, 'v1').stages = new Set();
      fake.version(SECRET, 'v3').stages = new Set(['AWSCURRENT']);
      return Promise.resolve();
    };

    // Act
    const failure = runCancel(fake.dependencies(new CapturedIo(), sleep), {
      secret: 'alice',
      yes: true,
    });

    // Assert
    await expect(failure).rejects.toMatchObject({ exitCode: 1 });
    await expect(failure).rejects.toThrow(
      /it completed before the cancel took effect \(version v3 is AWSCURRENT\), so none of its keys was deleted. To go back to the key before it: iam-key-rotation rollback alice$/,
    );
    expect(statusOf(pendingKey.accessKeyId)).toBe('Active');
    expect(statusOf(second)).toBe('Active');
    expect(fake.iam).not.toHaveReceivedCommand(DeleteAccessKeyCommand);
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

  it('keeps a key that a pending version names but that was created before it (a value put into AWSPENDING by hand), and says so', async () => {
    // Arrange: alice's key in use, made long before; a value put by hand into the placeholder names it
    const { second } = twoRotations();
    const inUse = fake.addKey('alice');
    fake.tick(3_600_000);
    fake.startRotation(SECRET, 'v3');
    fake.version(SECRET, 'v3').value = JSON.stringify({
      UserName: 'alice',
      AccessKeyId: inUse.accessKeyId,
      SecretAccessKey: inUse.secretAccessKey,
    });
    const io = new CapturedIo();

    // Act
    const code = await runCancel(fake.dependencies(io), { secret: 'alice', yes: true });

    // Assert: the rotation is cancelled, no key is touched, and the plan and the end say why
    expect(code).toBe(0);
    expect(stagesOf('v3')).toEqual([]);
    expect(statusOf(inUse.accessKeyId)).toBe('Active');
    expect(statusOf(second)).toBe('Active');
    expect(fake.iam).not.toHaveReceivedCommand(DeleteAccessKeyCommand);
    expect(fake.iam).not.toHaveReceivedCommand(UpdateAccessKeyCommand);
    expect(io.err).toContain(
      `keep its access key ${inUse.accessKeyId} (created ${inUse.createDate.toISOString()}, before version v3: not made by its rotation)`,
    );
    expect(io.err).toContain(`kept access key ${inUse.accessKeyId} (created`);
    expect(io.out + io.err).not.toContain(inUse.secretAccessKey);
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
