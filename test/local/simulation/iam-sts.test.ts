import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  GetAccessKeyLastUsedCommand,
  IAMClient,
  LimitExceededException,
  ListAccessKeysCommand,
  NoSuchEntityException,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { Simulation } from '../../../local/simulation/index.js';
import { USER, createFixture } from './fixtures.js';

const newKey = async (iam: IAMClient): Promise<{ id: string; secret: string }> => {
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: USER }));
  return { id: AccessKey?.AccessKeyId ?? '', secret: AccessKey?.SecretAccessKey ?? '' };
};

describe('Class: Simulation', () => {
  describe('IAM access keys', () => {
    it('creates keys with an AKIA id of 20 characters, Active, with the creation time', async () => {
      const { sim, iam } = await createFixture();

      const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: USER }));

      expect(AccessKey?.AccessKeyId).toMatch(/^AKIA[A-Z0-9]{16}$/);
      expect(AccessKey?.SecretAccessKey).toHaveLength(40);
      expect(AccessKey?.Status).toBe('Active');
      expect(AccessKey?.CreateDate?.getTime()).toBe(sim.clock.now());
    });

    it('fails when a third key is created, inactive keys counting (LimitExceeded, 409)', async () => {
      const { iam, firstKeyId } = await createFixture({ sdkMaxAttempts: 1 });
      await newKey(iam);
      await iam.send(
        new UpdateAccessKeyCommand({ UserName: USER, AccessKeyId: firstKeyId, Status: 'Inactive' }),
      );

      const error: unknown = await iam
        .send(new CreateAccessKeyCommand({ UserName: USER }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(LimitExceededException);
      expect(error).toMatchObject({
        message: 'Cannot exceed quota for AccessKeysPerUser: 2',
        $metadata: { httpStatusCode: 409 },
      });
    });

    it('fails with NoSuchEntity (404) when the user does not exist', async () => {
      const sim = new Simulation();
      const iam = new IAMClient({ ...sim.adminClientConfig() });

      const error: unknown = await iam
        .send(new ListAccessKeysCommand({ UserName: 'nobody' }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(NoSuchEntityException);
      expect(error).toMatchObject({ $metadata: { httpStatusCode: 404 } });
    });

    it('fails with NoSuchEntity when the key belongs to another user or is gone', async () => {
      const { iam, firstKeyId } = await createFixture();
      await iam.send(new CreateUserCommand({ UserName: 'bob' }));
      await iam.send(new DeleteAccessKeyCommand({ UserName: USER, AccessKeyId: firstKeyId }));

      await expect(
        iam.send(
          new UpdateAccessKeyCommand({
            UserName: USER,
            AccessKeyId: firstKeyId,
            Status: 'Inactive',
          }),
        ),
      ).rejects.toBeInstanceOf(NoSuchEntityException);
    });

    it('fails with DeleteConflict when the user still has keys', async () => {
      const { iam } = await createFixture();

      await expect(iam.send(new DeleteUserCommand({ UserName: USER }))).rejects.toMatchObject({
        name: 'DeleteConflictException',
        $metadata: { httpStatusCode: 409 },
      });
    });

    it('fails CreateAccessKey without UserName for a role and records that it was tried', async () => {
      const { sim, iam } = await createFixture();

      await expect(iam.send(new CreateAccessKeyCommand({}))).rejects.toMatchObject({
        name: 'ValidationError',
      });

      expect(sim.iam.createAccessKeyWithoutUserName).toEqual([
        { principalArn: sim.adminRole.arn, time: sim.clock.now() },
      ]);
    });

    it('creates a key for the signing user when CreateAccessKey has no UserName', async () => {
      const { sim, firstKeyId } = await createFixture();
      const signer = sim.accessKey(firstKeyId);
      const asUser = new IAMClient({
        ...sim.adminClientConfig(),
        credentials: { accessKeyId: firstKeyId, secretAccessKey: signer?.secretAccessKey ?? '' },
      });

      const { AccessKey } = await asUser.send(new CreateAccessKeyCommand({}));

      expect(AccessKey?.UserName).toBe(USER);
      expect(sim.iam.createAccessKeyWithoutUserName).toHaveLength(1);
      expect(sim.accessKeys(USER)).toHaveLength(2);
    });

    it('reports N/A from GetAccessKeyLastUsed until the key is used, then the use', async () => {
      const { sim, iam, sts } = await createFixture();
      const key = await newKey(iam);
      const before = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.id }));

      await sim.clock.sleep(10);
      await sts(key.id, key.secret).send(new GetCallerIdentityCommand({}));
      const after = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: key.id }));

      expect(before.AccessKeyLastUsed).toEqual({ ServiceName: 'N/A', Region: 'N/A' });
      expect(after.UserName).toBe(USER);
      expect(after.AccessKeyLastUsed).toEqual({
        ServiceName: 'sts',
        Region: 'us-east-1',
        LastUsedDate: new Date(sim.clock.now()),
      });
    });
  });

  describe('STS GetCallerIdentity', () => {
    it('fails with InvalidClientTokenId during the propagation delay, then returns the user ARN', async () => {
      const { sim, iam, sts } = await createFixture({ propagationDelayMs: 8_000 });
      const key = await newKey(iam);
      const client = sts(key.id, key.secret);

      const early: unknown = await client
        .send(new GetCallerIdentityCommand({}))
        .catch((e: unknown) => e);
      await sim.clock.sleep(7_999);
      const stillEarly: unknown = await client
        .send(new GetCallerIdentityCommand({}))
        .catch((e: unknown) => e);
      await sim.clock.sleep(1);
      const identity = await client.send(new GetCallerIdentityCommand({}));

      expect(early).toMatchObject({
        name: 'InvalidClientTokenId',
        message: 'The security token included in the request is invalid.',
        $metadata: { httpStatusCode: 403 },
      });
      expect(stillEarly).toMatchObject({ name: 'InvalidClientTokenId' });
      expect(identity).toMatchObject({
        Arn: `arn:aws:iam::123456789012:user/${USER}`,
        Account: '123456789012',
      });
    });

    it('applies a per-key propagation delay from a function and an override', async () => {
      const { sim, iam, sts } = await createFixture({
        propagationDelayMs: ({ accessKeyId }) => (accessKeyId.endsWith('X') ? 1 : 3_000),
      });
      const key = await newKey(iam);
      sim.setKeyPropagationDelay(key.id, 15_000);

      await sim.clock.sleep(14_000);

      await expect(
        sts(key.id, key.secret).send(new GetCallerIdentityCommand({})),
      ).rejects.toMatchObject({
        name: 'InvalidClientTokenId',
      });
      expect(sim.accessKey(key.id)?.propagationDelayMs).toBe(15_000);
    });

    it('fails with SignatureDoesNotMatch when the request is signed with a wrong secret', async () => {
      const { iam, sts } = await createFixture();
      const key = await newKey(iam);

      await expect(
        sts(key.id, `${key.secret.slice(0, -1)}${key.secret.endsWith('A') ? 'B' : 'A'}`).send(
          new GetCallerIdentityCommand({}),
        ),
      ).rejects.toMatchObject({
        name: 'SignatureDoesNotMatch',
        $metadata: { httpStatusCode: 403 },
      });
    });

    it('fails with InvalidClientTokenId when the key is inactive', async () => {
      const { iam, sts } = await createFixture();
      const key = await newKey(iam);
      await iam.send(
        new UpdateAccessKeyCommand({ UserName: USER, AccessKeyId: key.id, Status: 'Inactive' }),
      );

      await expect(
        sts(key.id, key.secret).send(new GetCallerIdentityCommand({})),
      ).rejects.toMatchObject({
        name: 'InvalidClientTokenId',
      });
    });

    it('fails with InvalidClientTokenId when the key is expired or deleted', async () => {
      const { sim, iam, sts } = await createFixture();
      const expired = await newKey(iam);
      sim.setAccessKeyStatus(expired.id, 'Expired');
      const deleted = { id: 'AKIAAAAAAAAAAAAAAAAA', secret: 'x'.repeat(40) };

      await expect(
        sts(expired.id, expired.secret).send(new GetCallerIdentityCommand({})),
      ).rejects.toMatchObject({
        name: 'InvalidClientTokenId',
      });
      await expect(
        sts(deleted.id, deleted.secret).send(new GetCallerIdentityCommand({})),
      ).rejects.toMatchObject({
        name: 'InvalidClientTokenId',
      });
    });

    it('fails when role credentials come with a wrong session token', async () => {
      const sim = new Simulation();
      const client = new STSClient({
        ...sim.lambdaClientConfig(),
        credentials: { ...sim.lambdaRole, sessionToken: 'forged' },
      });

      await expect(client.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
        name: 'SignatureDoesNotMatch',
      });
    });
  });
});
