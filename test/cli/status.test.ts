import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { renderStatus, runStatus, type StatusRow } from '../../cli/commands/status.js';
import { parseCurrentKeyTag } from '../../cli/status/current-key.js';
import { CURRENT_KEY_TAG_KEY, OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { CapturedIo, FakeOperatorAws } from '../support/fake-operator-aws.js';

const DAY = 86_400_000;
let fake: FakeOperatorAws;

beforeEach(() => {
  fake = new FakeOperatorAws();
});

afterEach(() => {
  fake.restore();
});

/**
 * A rotation of `userName`'s secret done as the function does it: a new key in a new version
 * that becomes AWSCURRENT (the one before becomes AWSPREVIOUS), the tag
 * iam-key-rotation:current-key recording it (unless `tag` is false). Returns the new key's id.
 */
const rotate = (userName: string, versionId: string, options: { tag?: boolean } = {}): string => {
  const name = `iam-key-rotation/${userName}`;
  const key = fake.addKey(userName);
  fake.startRotation(name, versionId);
  const version = fake.version(name, versionId);
  version.value = JSON.stringify({
    UserName: userName,
    AccessKeyId: key.accessKeyId,
    SecretAccessKey: key.secretAccessKey,
  });
  for (const other of fake.secret(name).versions.values()) {
    if (other.stages.has('AWSPREVIOUS')) other.stages.delete('AWSPREVIOUS');
    if (other.stages.has('AWSCURRENT')) other.stages = new Set(['AWSPREVIOUS']);
  }
  version.stages = new Set(['AWSCURRENT']);
  if (options.tag !== false) {
    fake.secret(name).tags[CURRENT_KEY_TAG_KEY] = `${versionId}:${key.accessKeyId}`;
  }
  return key.accessKeyId;
};

/** A secret after one rotation: AWSCURRENT holds a key, AWSPREVIOUS the initial value. */
const rotatedSecret = (
  userName: string,
  options: { nextInDays?: number; tag?: boolean } = {},
): string => {
  fake.addManagedSecret(userName, {
    lastRotatedDate: new Date(fake.now() - DAY),
    nextRotationDate: new Date(fake.now() + (options.nextInDays ?? 29) * DAY),
  });
  return rotate(userName, `${userName}-version-2`, options);
};

const rowOf = (rows: readonly StatusRow[], userName: string): StatusRow => {
  const row = rows.find((candidate) => candidate.userName === userName);
  if (row === undefined) throw new Error(`no row for ${userName}`);
  return row;
};

describe('Command: status', () => {
  describe('Function: renderStatus', () => {
    it('finds every secret tagged iam-key-rotation:user and judges a healthy one ok', async () => {
      // Arrange
      const keyId = rotatedSecret('alice');
      fake.addSecret('unrelated-secret', 'alice', { ownUser: false });
      delete fake.secret('unrelated-secret').tags['iam-key-rotation:user'];

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()));

      // Assert
      expect(report.rows).toHaveLength(1);
      const row = rowOf(report.rows, 'alice');
      expect(row).toMatchObject({
        secretName: 'iam-key-rotation/alice',
        reference: 'alice',
        currentVersionId: 'alice-version-2',
        currentKey: { accessKeyId: keyId, status: 'Active', lastUsed: {} },
        previousVersionId: 'initial-version',
        rotationEnabled: true,
        verdicts: ['ok'],
        notes: [],
      });
      expect(row.previousKey).toBeUndefined();
      expect(row.currentKeySource).toBe('tag');
      expect(fake.secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(0);
      expect(report.needsAttention).toBe(false);
      expect(report.table).toMatch(
        /^USER\s+CURRENT KEY\s+AGE\s+LAST USED\s+PREVIOUS KEY\s+ROTATED\s+NEXT\s+VERDICT\n/,
      );
      expect(report.table).toContain(`alice  ${keyId}`);
      expect(report.table).toMatch(/1d ago\s+in 28d\s+ok\n$/);
    });

    it('says rotating while AWSPENDING is on a new version younger than the function timeout, and stuck after', async () => {
      // Arrange
      rotatedSecret('alice');
      fake.startRotation('iam-key-rotation/alice', 'pending-version');
      fake.tick(30_000);

      // Act
      const young = await renderStatus(fake.dependencies(new CapturedIo()));
      fake.tick(100_000);
      const old = await renderStatus(fake.dependencies(new CapturedIo()));
      const withLongerLimit = await renderStatus(fake.dependencies(new CapturedIo()), {
        stuckAfterMs: 600_000,
      });

      // Assert
      expect(rowOf(young.rows, 'alice')).toMatchObject({
        verdicts: ['rotating'],
        pending: { versionId: 'pending-version', ageSeconds: 30 },
      });
      expect(young.needsAttention).toBe(false);
      expect(young.table).toContain('rotating 30s');
      expect(rowOf(old.rows, 'alice').verdicts).toEqual(['stuck']);
      expect(old.needsAttention).toBe(true);
      expect(old.notes[0]).toContain('AWSPENDING has been on version pending-version for 2m');
      expect(old.notes[0]).toContain('iam-key-rotation cancel alice');
      expect(rowOf(withLongerLimit.rows, 'alice').verdicts).toEqual(['rotating']);
    });

    it('says overdue when the next rotation date has passed, naming the rotate command', async () => {
      // Arrange
      rotatedSecret('alice', { nextInDays: -2 });

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()));

      // Assert
      expect(rowOf(report.rows, 'alice').verdicts).toEqual(['overdue']);
      expect(report.notes).toEqual([
        'alice: overdue: its next rotation was due 2d ago. Rotate it now: iam-key-rotation rotate alice --wait',
      ]);
    });

    it.each([
      ['missing', undefined, `IAM user alice has no tag ${OWNER_TAG_KEY}`],
      [
        'naming another secret',
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:elsewhere-XyZ',
        'is owned by secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:elsewhere-XyZ',
      ],
    ])('says ownership mismatch when the user tag is %s', async (_case, owner, expected) => {
      // Arrange
      rotatedSecret('alice');
      const tags = fake.userTags.get('alice') ?? {};
      if (owner === undefined) Reflect.deleteProperty(tags, OWNER_TAG_KEY);
      else tags[OWNER_TAG_KEY] = owner;

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()));

      // Assert
      expect(rowOf(report.rows, 'alice').verdicts).toEqual(['ownership mismatch']);
      expect(report.notes[0]).toContain(expected);
      expect(report.needsAttention).toBe(true);
    });

    it('says old key still used when the previous key signed after AWSCURRENT moved, beyond one rotation', async () => {
      // Arrange: a second rotation, then the old key signs a request 3 minutes later
      const oldKeyId = rotatedSecret('alice');
      fake.tick(DAY);
      const newKeyId = rotate('alice', 'alice-version-3');
      const oldKey = fake.userKeys('alice').find((key) => key.accessKeyId === oldKeyId);
      if (oldKey === undefined) throw new Error('old key missing');
      oldKey.status = 'Inactive';
      oldKey.lastUsedDate = fake.tick(180_000);

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()));

      // Assert
      const row = rowOf(report.rows, 'alice');
      expect(row.verdicts).toEqual(['old key still used']);
      expect(row.previousKey).toMatchObject({
        accessKeyId: oldKeyId,
        status: 'Inactive',
        lastUsed: { serviceName: 'sts' },
      });
      expect(report.notes[0]).toContain(
        `the previous access key ${oldKeyId} (Inactive) signed a request 0s ago, sts eu-west-1, after AWSCURRENT moved to access key ${newKeyId} (3m ago)`,
      );
      expect(report.table).toContain(`${oldKeyId} Inactive`);
    });

    it('does not count a use of the previous key during the rotation itself (before finishSecret)', async () => {
      // Arrange
      const oldKeyId = rotatedSecret('alice');
      fake.tick(DAY);
      rotate('alice', 'alice-version-3');
      const oldKey = fake.userKeys('alice').find((key) => key.accessKeyId === oldKeyId);
      if (oldKey === undefined) throw new Error('old key missing');
      oldKey.lastUsedDate = fake.tick(30_000);

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()));

      // Assert
      expect(rowOf(report.rows, 'alice').verdicts).toEqual(['ok']);
    });

    describe('after a rollback', () => {
      /** Two rotations (keys A then B), B used until the rollback an hour later. */
      const twoRotations = (): { keyA: string; keyB: string } => {
        const keyA = rotatedSecret('alice');
        fake.tick(DAY);
        const keyB = rotate('alice', 'alice-version-3');
        const used = fake.userKeys('alice').find((key) => key.accessKeyId === keyB);
        if (used === undefined) throw new Error('key B missing');
        used.lastUsedDate = fake.tick(3_600_000);
        fake.tick(1_000);
        return { keyA, keyB };
      };

      it('does not report the key rolled back from, used before the rollback, when the rollback put A as a new version', async () => {
        // Arrange: a rollback that puts A's value as a new AWSCURRENT version
        const { keyA, keyB } = twoRotations();
        const name = 'iam-key-rotation/alice';
        const keyAPair = fake.userKeys('alice').find((key) => key.accessKeyId === keyA);
        fake.startRotation(name, 'alice-rollback');
        const rollback = fake.version(name, 'alice-rollback');
        rollback.value = JSON.stringify({
          UserName: 'alice',
          AccessKeyId: keyA,
          SecretAccessKey: keyAPair?.secretAccessKey,
        });
        fake.version(name, 'alice-version-2').stages = new Set();
        fake.version(name, 'alice-version-3').stages = new Set(['AWSPREVIOUS']);
        rollback.stages = new Set(['AWSCURRENT']);
        fake.secret(name).tags[CURRENT_KEY_TAG_KEY] = `alice-rollback:${keyA}`;

        // Act
        const right = await renderStatus(fake.dependencies(new CapturedIo()));
        const used = fake.userKeys('alice').find((key) => key.accessKeyId === keyB);
        if (used !== undefined) used.lastUsedDate = fake.tick(600_000);
        const later = await renderStatus(fake.dependencies(new CapturedIo()));

        // Assert
        expect(rowOf(right.rows, 'alice')).toMatchObject({
          verdicts: ['ok'],
          currentKey: { accessKeyId: keyA },
          previousKey: { accessKeyId: keyB },
        });
        expect(rowOf(later.rows, 'alice').verdicts).toEqual(['old key still used']);
      });

      it('does not report it when AWSCURRENT was moved back to the older version (by label)', async () => {
        // Arrange: AWSCURRENT moved back to version 2 (key A); version 3 (key B) AWSPREVIOUS
        const { keyA, keyB } = twoRotations();
        const name = 'iam-key-rotation/alice';
        fake.version(name, 'alice-version-2').stages = new Set(['AWSCURRENT']);
        fake.version(name, 'alice-version-3').stages = new Set(['AWSPREVIOUS']);
        fake.secret(name).tags[CURRENT_KEY_TAG_KEY] = `alice-version-2:${keyA}`;
        const config = fake.rotation.get(name) ?? {};
        config.lastChangedDate = new Date(fake.now());

        // Act
        const report = await renderStatus(fake.dependencies(new CapturedIo()));

        // Assert
        expect(rowOf(report.rows, 'alice')).toMatchObject({
          verdicts: ['ok'],
          currentKey: { accessKeyId: keyA },
          previousKey: { accessKeyId: keyB },
        });
      });
    });

    it('says no key yet for a secret whose first rotation has not run, and current key not active for a deleted key', async () => {
      // Arrange
      fake.addManagedSecret('bob', { nextRotationDate: new Date(fake.now() + DAY) });
      const carolKey = rotatedSecret('carol');
      fake.users.set(
        'carol',
        fake.userKeys('carol').filter((key) => key.accessKeyId !== carolKey),
      );

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()));

      // Assert
      expect(rowOf(report.rows, 'bob').verdicts).toEqual(['no key yet']);
      expect(rowOf(report.rows, 'carol').verdicts).toEqual(['current key not active']);
      expect(rowOf(report.rows, 'carol').currentKey).toEqual({
        accessKeyId: carolKey,
        status: 'deleted',
      });
      expect(report.notes.join('\n')).toContain('iam-key-rotation rotate bob --wait');
      expect(report.notes.join('\n')).toContain('iam-key-rotation rollback carol');
    });

    it('says rotation disabled when RotationEnabled is false', async () => {
      // Arrange
      rotatedSecret('alice');
      fake.secret('iam-key-rotation/alice').rotationEnabled = false;

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()));

      // Assert
      expect(rowOf(report.rows, 'alice').verdicts).toEqual(['rotation disabled']);
      expect(report.table).toContain('disabled');
    });

    it('reads named secrets by user name, name or ARN, and reports one it cannot find as a missing secret', async () => {
      // Arrange
      rotatedSecret('alice');
      rotatedSecret('bob');
      const bobArn = fake.secret('iam-key-rotation/bob').arn;

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()), {
        secrets: ['alice', bobArn, 'nobody'],
      });

      // Assert
      expect(report.rows.map((row) => [row.reference, row.verdicts])).toEqual([
        ['alice', ['ok']],
        ['bob', ['ok']],
        ['nobody', ['missing secret']],
      ]);
      expect(report.notes).toEqual([
        'nobody: missing secret: No secret iam-key-rotation/nobody was found in region eu-west-1, the default credentials (a secret is named by its user name, its name or its ARN). Check --region and --profile, or list the managed secrets with: iam-key-rotation status',
      ]);
      expect(report.needsAttention).toBe(true);
    });

    it('keeps only the secrets of --stack (the aws:cloudformation:stack-name tag)', async () => {
      // Arrange
      rotatedSecret('alice');
      rotatedSecret('bob');
      fake.secret('iam-key-rotation/alice').tags['aws:cloudformation:stack-name'] =
        'IamKeyRotation';
      fake.secret('iam-key-rotation/bob').tags['aws:cloudformation:stack-name'] = 'OtherStack';

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()), {
        stack: 'IamKeyRotation',
      });

      // Assert
      expect(report.rows.map((row) => row.reference)).toEqual(['alice']);
    });

    it.each([
      [
        'without the CloudFormation stack-id tag (a look-alike)',
        () => {
          const secret = fake.addManagedSecret('mallory');
          delete secret.tags['aws:cloudformation:stack-id'];
        },
        'has no tag aws:cloudformation:stack-id: no CloudFormation stack created it',
      ],
      [
        'named otherwise than iam-key-rotation/<its user>',
        () => {
          fake.addManagedSecret('mallory', {}, { name: 'legacy/mallory-key' });
        },
        'is named legacy/mallory-key, but its tag iam-key-rotation:user names IAM user mallory',
      ],
    ])(
      'lists a secret %s as not managed, reading nothing else of it',
      async (_case, arrange, reason) => {
        // Arrange
        arrange();

        // Act
        const report = await renderStatus(fake.dependencies(new CapturedIo()));

        // Assert
        expect(report.rows).toHaveLength(1);
        expect(report.rows[0]?.verdicts).toEqual(['not managed']);
        expect(report.notes[0]).toContain(reason);
        expect(report.needsAttention).toBe(true);
        expect(fake.iam.calls()).toHaveLength(0);
        expect(fake.secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(0);
      },
    );

    describe('the current key without GetSecretValue', () => {
      it('parses the tag <versionId>:<accessKeyId>, and nothing else', () => {
        expect(parseCurrentKeyTag('3f2a-version:AKIAFAKE000000000001')).toEqual({
          versionId: '3f2a-version',
          accessKeyId: 'AKIAFAKE000000000001',
        });
        expect(parseCurrentKeyTag('AKIAFAKE000000000001')).toBeUndefined();
        expect(parseCurrentKeyTag('v:short')).toBeUndefined();
      });

      it('says current key unknown: tag stale, then reads the AWSCURRENT value', async () => {
        // Arrange: the tag names version 2, AWSCURRENT is version 3 (a value put by hand, say)
        rotatedSecret('alice');
        const newKeyId = rotate('alice', 'alice-version-3', { tag: false });

        // Act
        const report = await renderStatus(fake.dependencies(new CapturedIo()));

        // Assert
        const row = rowOf(report.rows, 'alice');
        expect(row).toMatchObject({
          verdicts: ['ok'],
          currentKey: { accessKeyId: newKeyId },
          currentKeySource: 'value',
        });
        expect(report.notes).toEqual([
          'alice: current key unknown: tag stale (iam-key-rotation:current-key names version alice-version-2, AWSCURRENT is version alice-version-3); read it from the AWSCURRENT value instead (GetSecretValue)',
        ]);
        expect(fake.secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
      });

      it('makes a denied GetSecretValue a finding (current key unknown), not a failure', async () => {
        // Arrange: no tag, and credentials that may read metadata only
        rotatedSecret('alice', { tag: false });
        fake.secretsManager.on(GetSecretValueCommand).rejects(
          Object.assign(
            new Error('User is not authorized to perform: secretsmanager:GetSecretValue'),
            {
              name: 'AccessDeniedException',
            },
          ),
        );
        const io = new CapturedIo();

        // Act
        const code = await runStatus(fake.dependencies(io), {});

        // Assert
        expect(code).toBe(1);
        expect(io.out).toMatch(/alice\s+unknown\s.*current key unknown\n/);
        expect(io.err).toContain(
          'alice: current key unknown: tag absent (iam-key-rotation:current-key), and GetSecretValue of AWSCURRENT was denied (AccessDeniedException)',
        );
      });
    });

    it('fits the table to the terminal by cutting the user and last-use columns', async () => {
      // Arrange
      rotatedSecret('a-user-with-a-rather-long-name-for-a-terminal');

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()), {}, 90);

      // Assert
      const lines = report.table.trimEnd().split('\n');
      expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(90);
      expect(report.table).toContain('…');
    });
  });

  describe('Function: runStatus', () => {
    it('exits 0 with the table on stdout when every secret is ok or rotating', async () => {
      // Arrange
      rotatedSecret('alice');
      rotatedSecret('bob');
      fake.startRotation('iam-key-rotation/bob', 'pending');
      const io = new CapturedIo();

      // Act
      const code = await runStatus(fake.dependencies(io), {});

      // Assert
      expect(code).toBe(0);
      expect(io.out.split('\n')[0]).toMatch(/^USER/);
      expect(io.err).toBe('');
    });

    it('exits 1 and explains each problem on stderr when one needs attention; --json prints every row', async () => {
      // Arrange
      const aliceKey = rotatedSecret('alice', { nextInDays: -1 });
      const io = new CapturedIo();

      // Act
      const code = await runStatus(fake.dependencies(io), { json: true });

      // Assert
      expect(code).toBe(1);
      const printed = JSON.parse(io.out) as { secrets: StatusRow[] };
      expect(printed.secrets[0]).toMatchObject({
        userName: 'alice',
        currentKey: { accessKeyId: aliceKey },
        verdicts: ['overdue'],
      });
      expect(io.err).toContain('alice: overdue');
    });

    it('never prints a secret access key', async () => {
      // Arrange
      rotatedSecret('alice');
      fake.startRotation('iam-key-rotation/alice', 'pending');
      fake.tick(600_000);
      const io = new CapturedIo();

      // Act
      await runStatus(fake.dependencies(io), {});
      await runStatus(fake.dependencies(io), { json: true });

      // Assert
      for (const key of fake.userKeys('alice')) {
        expect(io.out + io.err).not.toContain(key.secretAccessKey);
      }
      expect(io.out + io.err).not.toContain('SecretAccessKey');
    });

    it('says so on stderr and exits 0 when there is no managed secret', async () => {
      // Arrange
      const io = new CapturedIo();

      // Act
      const code = await runStatus(fake.dependencies(io), {});

      // Assert
      expect(code).toBe(0);
      expect(io.out).toBe('');
      expect(io.err).toBe(
        'No secrets tagged iam-key-rotation:user were found in region eu-west-1, the default credentials. Check --region and --profile.\n',
      );
    });
  });
});
