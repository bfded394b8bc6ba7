import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCredentialProcess } from '../../cli/commands/credential-process.js';
import { describeManagedSecret, secretIdOf } from '../../cli/secret-ref.js';
import { CapturedIo, FakeOperatorAws } from '../support/fake-operator-aws.js';

let fake: FakeOperatorAws;

beforeEach(() => {
  fake = new FakeOperatorAws();
});

afterEach(() => {
  fake.restore();
});

describe('Command: credential-process', () => {
  it('prints the AWSCURRENT key as credential_process JSON on stdout and nothing on stderr', async () => {
    // Arrange
    fake.addManagedSecret('alice');
    const key = fake.addKey('alice');
    fake.version('iam-key-rotation/alice', 'initial-version').value = JSON.stringify({
      UserName: 'alice',
      AccessKeyId: key.accessKeyId,
      SecretAccessKey: key.secretAccessKey,
      ReplacesVersionId: 'x',
    });
    const io = new CapturedIo();

    // Act
    const code = await runCredentialProcess(fake.dependencies(io), { secret: 'alice' });

    // Assert
    expect(code).toBe(0);
    expect(io.out).toBe(
      `${JSON.stringify({ Version: 1, AccessKeyId: key.accessKeyId, SecretAccessKey: key.secretAccessKey })}\n`,
    );
    expect(io.err).toBe('');
  });

  it('fails (exit 1) naming the secret and the next commands when the secret holds no key yet', async () => {
    // Arrange
    fake.addManagedSecret('alice');

    // Act & Assert
    await expect(
      runCredentialProcess(fake.dependencies(new CapturedIo()), { secret: 'alice' }),
    ).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringContaining(
        'Secret iam-key-rotation/alice holds no access key yet ({"UserName"} only)',
      ) as unknown,
    });
  });

  it('fails naming the secret and where it looked when there is no such secret, and never quotes a malformed value', async () => {
    // Arrange
    fake.addManagedSecret('bob');
    fake.version('iam-key-rotation/bob', 'initial-version').value =
      '{"UserName":"bob","AccessKeyId":"short","SecretAccessKey":"leak-me"}';

    // Act & Assert
    await expect(
      runCredentialProcess(fake.dependencies(new CapturedIo()), { secret: 'nobody' }),
    ).rejects.toThrow(
      'No secret iam-key-rotation/nobody was found in region eu-west-1, the default credentials',
    );
    const malformed = runCredentialProcess(fake.dependencies(new CapturedIo()), { secret: 'bob' });
    await expect(malformed).rejects.toThrow('field AccessKeyId must be an IAM access key id');
    await expect(malformed).rejects.not.toThrow('leak-me');
  });

  describe('prints nothing from a secret this project does not manage', () => {
    /** A secret holding a working key of `userName`, as the stack would make it. */
    const keyedSecret = (userName: string): string => {
      fake.addManagedSecret(userName);
      const key = fake.addKey(userName);
      fake.version(`iam-key-rotation/${userName}`, 'initial-version').value = JSON.stringify({
        UserName: userName,
        AccessKeyId: key.accessKeyId,
        SecretAccessKey: key.secretAccessKey,
      });
      return key.secretAccessKey;
    };

    it.each([
      [
        'no CloudFormation stack-id tag (a look-alike with copied tags)',
        (name: string) => {
          delete fake.secret(name).tags['aws:cloudformation:stack-id'];
        },
        'has no tag aws:cloudformation:stack-id: no CloudFormation stack created it',
      ],
      [
        'no binding tag',
        (name: string) => {
          delete fake.secret(name).tags['iam-key-rotation:user'];
        },
        'has no tag iam-key-rotation:user',
      ],
      [
        'a binding tag naming another user than the name does',
        (name: string) => {
          fake.secret(name).tags['iam-key-rotation:user'] = 'mallory';
        },
        'is named iam-key-rotation/alice, but its tag iam-key-rotation:user names IAM user mallory',
      ],
      [
        'a value whose UserName is another user',
        (name: string) => {
          const version = fake.version(name, 'initial-version');
          version.value = (version.value ?? '').replace('"UserName":"alice"', '"UserName":"bob"');
        },
        "names IAM user bob in its UserName, but the secret's name and tag iam-key-rotation:user bind it to alice",
      ],
    ])('fails (exit 1) on a secret with %s', async (_case, spoil, reason) => {
      // Arrange
      const secretAccessKey = keyedSecret('alice');
      spoil('iam-key-rotation/alice');
      const io = new CapturedIo();

      // Act
      const run = runCredentialProcess(fake.dependencies(io), { secret: 'alice' });

      // Assert
      await expect(run).rejects.toMatchObject({ exitCode: 1 });
      await expect(run).rejects.toThrow(reason);
      await expect(run).rejects.not.toThrow(secretAccessKey);
      expect(io.out).toBe('');
    });

    it('fails on a secret named otherwise, even with every tag', async () => {
      // Arrange
      fake.addManagedSecret('carol', {}, { name: 'carol-key' });
      const io = new CapturedIo();

      // Act & Assert
      await expect(
        runCredentialProcess(fake.dependencies(io), { secret: fake.secret('carol-key').arn }),
      ).rejects.toThrow(
        'is named carol-key, but its tag iam-key-rotation:user names IAM user carol, whose secret is named iam-key-rotation/carol',
      );
      expect(io.out).toBe('');
    });

    it('needs no IAM call (a consumer holds no IAM permission)', async () => {
      // Arrange
      keyedSecret('alice');

      // Act
      await runCredentialProcess(fake.dependencies(new CapturedIo()), { secret: 'alice' });

      // Assert
      expect(fake.iam.calls()).toHaveLength(0);
    });
  });
});

describe('Secret references', () => {
  it('reads a bare word as a user name; an ARN or a path as given', () => {
    expect(secretIdOf('alice')).toBe('iam-key-rotation/alice');
    expect(secretIdOf('iam-key-rotation/alice')).toBe('iam-key-rotation/alice');
    expect(secretIdOf('arn:aws:secretsmanager:eu-west-1:1:secret:x')).toBe(
      'arn:aws:secretsmanager:eu-west-1:1:secret:x',
    );
    expect(secretIdOf('has space')).toBe('has space');
  });

  it('refuses a secret without the iam-key-rotation:user tag', async () => {
    // Arrange
    fake.addManagedSecret('carol');
    fake.addSecret('plain', 'carol', { ownUser: false });
    delete fake.secret('plain').tags['iam-key-rotation:user'];
    const deps = fake.dependencies(new CapturedIo());

    // Act & Assert
    await expect(describeManagedSecret(deps.secrets, 'carol')).resolves.toMatchObject({
      userName: 'carol',
      reference: 'carol',
    });
    await expect(describeManagedSecret(deps.secrets, fake.secret('plain').arn)).rejects.toThrow(
      'has no tag iam-key-rotation:user; expected the name of the IAM user whose key it rotates. It is not a secret of iam-key-rotation',
    );
  });
});
