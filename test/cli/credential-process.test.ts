import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCredentialProcess } from '../../cli/commands/credential-process.js';
import { candidateSecretIds, describeManagedSecret } from '../../cli/secret-ref.js';
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

  it('fails naming both names it tried when there is no such secret, and never quotes a malformed value', async () => {
    // Arrange
    fake.addManagedSecret('bob');
    fake.version('iam-key-rotation/bob', 'initial-version').value =
      '{"UserName":"bob","AccessKeyId":"short","SecretAccessKey":"leak-me"}';

    // Act & Assert
    await expect(
      runCredentialProcess(fake.dependencies(new CapturedIo()), { secret: 'nobody' }),
    ).rejects.toThrow('No secret iam-key-rotation/nobody or nobody was found');
    const malformed = runCredentialProcess(fake.dependencies(new CapturedIo()), { secret: 'bob' });
    await expect(malformed).rejects.toThrow('field AccessKeyId must be an IAM access key id');
    await expect(malformed).rejects.not.toThrow('leak-me');
  });
});

describe('Secret references', () => {
  it('reads a bare word as a user name first, then as a secret name; an ARN or a path as given', () => {
    expect(candidateSecretIds('alice')).toEqual(['iam-key-rotation/alice', 'alice']);
    expect(candidateSecretIds('iam-key-rotation/alice')).toEqual(['iam-key-rotation/alice']);
    expect(candidateSecretIds('arn:aws:secretsmanager:eu-west-1:1:secret:x')).toEqual([
      'arn:aws:secretsmanager:eu-west-1:1:secret:x',
    ]);
    expect(candidateSecretIds('has space')).toEqual(['has space']);
  });

  it('falls back to the bare name, and refuses a secret without the iam-key-rotation:user tag', async () => {
    // Arrange
    fake.addManagedSecret('carol', {}, { name: 'carol-key' });
    fake.addSecret('plain', 'carol', { ownUser: false });
    delete fake.secret('plain').tags['iam-key-rotation:user'];
    const deps = fake.dependencies(new CapturedIo());

    // Act & Assert
    await expect(describeManagedSecret(deps.secrets, 'carol-key')).resolves.toMatchObject({
      userName: 'carol',
      reference: 'carol-key',
    });
    await expect(describeManagedSecret(deps.secrets, 'plain')).rejects.toThrow(
      'has no tag iam-key-rotation:user; expected the name of the IAM user whose key it rotates. It is not a secret that iam-key-rotation rotates',
    );
  });
});
