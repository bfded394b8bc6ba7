import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderStatus, runStatus, type StatusRow } from '../../cli/commands/status.js';
import { OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { CapturedIo, FakeOperatorAws } from '../support/fake-operator-aws.js';

const DAY = 86_400_000;
let fake: FakeOperatorAws;

beforeEach(() => {
  fake = new FakeOperatorAws();
});

afterEach(() => {
  fake.restore();
});

/** A secret after one rotation: AWSCURRENT holds a key, AWSPREVIOUS the initial value. */
const rotatedSecret = (userName: string, options: { nextInDays?: number } = {}): string => {
  const secret = fake.addManagedSecret(userName, {
    lastRotatedDate: new Date(fake.now() - DAY),
    nextRotationDate: new Date(fake.now() + (options.nextInDays ?? 29) * DAY),
  });
  const key = fake.addKey(userName);
  fake.startRotation(secret.name, `${userName}-version-2`);
  const pending = fake.version(secret.name, `${userName}-version-2`);
  pending.value = JSON.stringify({
    UserName: userName,
    AccessKeyId: key.accessKeyId,
    SecretAccessKey: key.secretAccessKey,
  });
  pending.stages = new Set(['AWSCURRENT']);
  fake.version(secret.name, 'initial-version').stages = new Set(['AWSPREVIOUS']);
  return key.accessKeyId;
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

    it('says old key still used when the AWSPREVIOUS key signed after the AWSCURRENT key was made', async () => {
      // Arrange: a second rotation, then the old key signs a request
      const oldKeyId = rotatedSecret('alice');
      const newKey = fake.addKey('alice');
      fake.version('iam-key-rotation/alice', 'initial-version').stages = new Set();
      fake.version('iam-key-rotation/alice', 'alice-version-2').stages = new Set(['AWSPREVIOUS']);
      fake.startRotation('iam-key-rotation/alice', 'alice-version-3');
      const third = fake.version('iam-key-rotation/alice', 'alice-version-3');
      third.value = JSON.stringify({
        UserName: 'alice',
        AccessKeyId: newKey.accessKeyId,
        SecretAccessKey: newKey.secretAccessKey,
      });
      third.stages = new Set(['AWSCURRENT']);
      const oldKey = fake.userKeys('alice').find((key) => key.accessKeyId === oldKeyId);
      if (oldKey === undefined) throw new Error('old key missing');
      oldKey.status = 'Inactive';
      oldKey.lastUsedDate = fake.tick(60_000);

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
        `the AWSPREVIOUS access key ${oldKeyId} (Inactive) signed a request 0s ago, sts eu-west-1`,
      );
      expect(report.table).toContain(`${oldKeyId} Inactive`);
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

    it('reads named secrets by user name, name or ARN, and reports one it cannot find as an error row', async () => {
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
        ['nobody', ['error']],
      ]);
      expect(report.notes).toEqual([
        'nobody: error: No secret iam-key-rotation/nobody or nobody was found (named by user name or secret name, in the region the AWS SDK uses). List the managed secrets with: iam-key-rotation status',
      ]);
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

    it('shows a secret that does not follow the naming by its name, and names it so in hints', async () => {
      // Arrange
      fake.addManagedSecret('dave', {}, { name: 'legacy/dave-key' });

      // Act
      const report = await renderStatus(fake.dependencies(new CapturedIo()));

      // Assert
      expect(report.table).toContain('dave (legacy/dave-key)');
      expect(report.notes.join('\n')).toContain('iam-key-rotation rotate legacy/dave-key --wait');
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
        'No secrets tagged iam-key-rotation:user were found in this region and account.\n',
      );
    });
  });
});
