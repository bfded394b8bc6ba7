import { spawnSync } from 'node:child_process';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListUserTagsCommand,
  TagUserCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { codeBlocks, PROJECT_ROOT } from '../docs/readme-blocks.js';
import { REGION, UNCHECKED_CREDENTIALS } from '../support/moto/moto-aws.js';
import { MotoServer } from '../support/moto/moto-server.js';

/**
 * README's "Remove a user" procedure, run as written with aws CLI v1 against moto: afterwards the
 * user has no Active key (no key at all), no ownership tag, and its secret is scheduled for
 * deletion.
 */
const USER = 'ci-deployer';

const [procedure] = codeBlocks('README.md').filter(
  (block) => block.heading === 'Remove a user' && block.info === 'sh aws',
);

let moto: MotoServer;
let iam: IAMClient;
let secrets: SecretsManagerClient;

beforeAll(async () => {
  moto = await MotoServer.start();
  const clientConfig = {
    endpoint: moto.endpoint,
    region: REGION,
    credentials: UNCHECKED_CREDENTIALS,
  };
  iam = new IAMClient(clientConfig);
  secrets = new SecretsManagerClient(clientConfig);
});

afterAll(async () => {
  try {
    iam.destroy();
    secrets.destroy();
  } finally {
    await moto.stop();
  }
});

describe('README: Remove a user, over moto', () => {
  it('leaves no key Active, no ownership tag and the secret scheduled for deletion', async () => {
    // Arrange: the state a removed, retained user is in: two keys (one Active), its tag, its secret
    await iam.send(new CreateUserCommand({ UserName: USER }));
    const keys = [];
    for (let i = 0; i < 2; i++) {
      keys.push((await iam.send(new CreateAccessKeyCommand({ UserName: USER }))).AccessKey);
    }
    await iam.send(
      new UpdateAccessKeyCommand({
        UserName: USER,
        AccessKeyId: keys[0]?.AccessKeyId,
        Status: 'Inactive',
      }),
    );
    const { ARN: secretArn } = await secrets.send(
      new CreateSecretCommand({
        Name: `iam-key-rotation/${USER}`,
        SecretString: JSON.stringify({
          UserName: USER,
          AccessKeyId: keys[1]?.AccessKeyId,
          SecretAccessKey: keys[1]?.SecretAccessKey,
        }),
      }),
    );
    await iam.send(
      new TagUserCommand({
        UserName: USER,
        Tags: [
          { Key: OWNER_TAG_KEY, Value: String(secretArn) },
          { Key: 'team', Value: 'platform' },
        ],
      }),
    );
    expect(procedure?.code).toContain(`U=${USER}`);

    // Act: the block exactly as README shows it
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', procedure?.code ?? 'false'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_ACCESS_KEY_ID: UNCHECKED_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: UNCHECKED_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: REGION,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      },
      timeout: 60_000,
    });

    // Assert
    expect(result.status, result.stderr).toBe(0);
    const remaining = await iam.send(new ListAccessKeysCommand({ UserName: USER }));
    expect(remaining.AccessKeyMetadata ?? []).toEqual([]);
    const { Tags } = await iam.send(new ListUserTagsCommand({ UserName: USER }));
    expect(Tags).toEqual([{ Key: 'team', Value: 'platform' }]);
    const secret = await secrets.send(new DescribeSecretCommand({ SecretId: String(secretArn) }));
    expect(secret.DeletedDate).toBeInstanceOf(Date);
  });
});
