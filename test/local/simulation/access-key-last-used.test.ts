import {
  CreateAccessKeyCommand,
  GetAccessKeyLastUsedCommand,
  GetUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  UpdateAccessKeyCommand,
  type AccessKeyLastUsed,
} from '@aws-sdk/client-iam';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import type { Simulation } from '../../../local/simulation/index.js';
import { SECRET, USER, createFixture } from './fixtures.js';

interface Key {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

const newKey = async (iam: IAMClient): Promise<Key> => {
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: USER }));
  return {
    accessKeyId: AccessKey?.AccessKeyId ?? '',
    secretAccessKey: AccessKey?.SecretAccessKey ?? '',
  };
};

const lastUsed = async (iam: IAMClient, key: Key): Promise<AccessKeyLastUsed | undefined> =>
  (await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.accessKeyId })))
    .AccessKeyLastUsed;

/** Clients signed with the key, not with the admin role. */
const signedWith = (sim: Simulation, key: Key, region?: string) => {
  const config = { ...sim.clientConfig(key), ...(region === undefined ? {} : { region }) };
  return {
    iam: new IAMClient(config),
    sts: new STSClient(config),
    sm: new SecretsManagerClient(config),
  };
};

describe('Class: Simulation', () => {
  describe('Method: IAM GetAccessKeyLastUsed', () => {
    it('answers without LastUsedDate and with ServiceName and Region "N/A" for a key never used', async () => {
      const { iam } = await createFixture();
      const key = await newKey(iam);

      const output = await iam.send(
        new GetAccessKeyLastUsedCommand({ AccessKeyId: key.accessKeyId }),
      );

      expect(output.UserName).toBe(USER);
      expect(output.AccessKeyLastUsed).toStrictEqual({ ServiceName: 'N/A', Region: 'N/A' });
    });

    it('records every authenticated use: the clock time, the service namespace and the signing region', async () => {
      const { sim, iam } = await createFixture();
      const key = await newKey(iam);
      const uses: (AccessKeyLastUsed | undefined)[] = [];

      await sim.clock.sleep(1_000);
      await signedWith(sim, key, 'eu-west-1').sts.send(new GetCallerIdentityCommand({}));
      uses.push(await lastUsed(iam, key));
      await sim.clock.sleep(1_000);
      await signedWith(sim, key).sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      uses.push(await lastUsed(iam, key));
      await sim.clock.sleep(1_000);
      await signedWith(sim, key).iam.send(new ListAccessKeysCommand({ UserName: USER }));
      uses.push(await lastUsed(iam, key));

      const start = sim.clock.now() - 3_000;
      expect(uses).toEqual([
        { LastUsedDate: new Date(start + 1_000), ServiceName: 'sts', Region: 'eu-west-1' },
        {
          LastUsedDate: new Date(start + 2_000),
          ServiceName: 'secretsmanager',
          Region: 'us-east-1',
        },
        { LastUsedDate: new Date(start + 3_000), ServiceName: 'iam', Region: 'us-east-1' },
      ]);
      expect(sim.accessKey(key.accessKeyId)?.lastUsedDate).toBe(start + 3_000);
    });

    it('records a use when the request authenticates and the call then fails', async () => {
      const { sim, iam } = await createFixture();
      const key = await newKey(iam);

      await expect(
        signedWith(sim, key).iam.send(new GetUserCommand({ UserName: 'nobody' })),
      ).rejects.toMatchObject({ name: 'NoSuchEntityException' });

      expect(await lastUsed(iam, key)).toEqual({
        LastUsedDate: new Date(sim.clock.now()),
        ServiceName: 'iam',
        Region: 'us-east-1',
      });
    });

    it('does not record a use when the signature does not match', async () => {
      const { sim, iam } = await createFixture();
      const key = await newKey(iam);
      const forged = { ...key, secretAccessKey: 'x'.repeat(40) };

      await expect(
        signedWith(sim, forged).sts.send(new GetCallerIdentityCommand({})),
      ).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });

      expect(await lastUsed(iam, key)).toStrictEqual({ ServiceName: 'N/A', Region: 'N/A' });
    });

    it('does not record a use while the key is still propagating or inactive', async () => {
      const { sim, iam } = await createFixture({ propagationDelayMs: 5_000 });
      const key = await newKey(iam);
      const sts = signedWith(sim, key).sts;

      await expect(sts.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
        name: 'InvalidClientTokenId',
      });
      await sim.clock.sleep(5_000);
      await iam.send(
        new UpdateAccessKeyCommand({
          UserName: USER,
          AccessKeyId: key.accessKeyId,
          Status: 'Inactive',
        }),
      );
      await expect(sts.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
        name: 'InvalidClientTokenId',
      });

      expect(await lastUsed(iam, key)).toStrictEqual({ ServiceName: 'N/A', Region: 'N/A' });
    });
  });
});
