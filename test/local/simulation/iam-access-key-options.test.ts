import {
  CreateAccessKeyCommand,
  DeleteAccessKeyCommand,
  LimitExceededException,
  ListAccessKeysCommand,
  UpdateAccessKeyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { Simulation, SimulationError } from '../../../local/simulation/index.js';
import { USER, createFixture } from './fixtures.js';

const newKey = async (iam: IAMClient): Promise<{ id: string; secret: string }> => {
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: USER }));
  return { id: AccessKey?.AccessKeyId ?? '', secret: AccessKey?.SecretAccessKey ?? '' };
};

const listedKeyIds = async (iam: IAMClient): Promise<string[]> =>
  ((await iam.send(new ListAccessKeysCommand({ UserName: USER }))).AccessKeyMetadata ?? []).map(
    (key) => key.AccessKeyId ?? '',
  );

describe('Class: Simulation', () => {
  describe('Option: listPropagationDelayMs', () => {
    it('leaves a new key out of ListAccessKeys until the delay has passed', async () => {
      const { sim, iam, firstKeyId } = await createFixture({ listPropagationDelayMs: 3_000 });
      await sim.clock.sleep(3_000);
      const key = await newKey(iam);

      const early = await listedKeyIds(iam);
      await sim.clock.sleep(2_999);
      const stillEarly = await listedKeyIds(iam);
      await sim.clock.sleep(1);
      const late = await listedKeyIds(iam);

      expect(early).toEqual([firstKeyId]);
      expect(stillEarly).toEqual([firstKeyId]);
      expect(late).toEqual([firstKeyId, key.id]);
      expect(sim.accessKey(key.id)).toMatchObject({ listPropagationDelayMs: 3_000, listed: true });
    });

    it('counts an unlisted key against the quota, and lets it authenticate, be updated and deleted', async () => {
      const { sim, iam, sts, firstKeyId } = await createFixture({
        listPropagationDelayMs: 60_000,
        sdkMaxAttempts: 1,
      });
      const key = await newKey(iam);

      const third: unknown = await iam
        .send(new CreateAccessKeyCommand({ UserName: USER }))
        .catch((e: unknown) => e);
      const identity = await sts(key.id, key.secret).send(new GetCallerIdentityCommand({}));
      await iam.send(
        new UpdateAccessKeyCommand({ UserName: USER, AccessKeyId: key.id, Status: 'Inactive' }),
      );
      const updated = sim.accessKey(key.id);
      await iam.send(new DeleteAccessKeyCommand({ UserName: USER, AccessKeyId: key.id }));

      expect(third).toBeInstanceOf(LimitExceededException);
      expect(identity.Arn).toBe(`arn:aws:iam::123456789012:user/${USER}`);
      expect(updated).toMatchObject({ status: 'Inactive', listed: false });
      expect(sim.accessKey(key.id)).toBeUndefined();
      expect(sim.accessKeys(USER).map((k) => k.accessKeyId)).toEqual([firstKeyId]);
    });

    it('keeps the authentication delay of its own: an unlisted key can still be rejected', async () => {
      const { iam, sts } = await createFixture({
        propagationDelayMs: 5_000,
        listPropagationDelayMs: 1_000,
      });
      const key = await newKey(iam);

      await expect(
        sts(key.id, key.secret).send(new GetCallerIdentityCommand({})),
      ).rejects.toMatchObject({ name: 'InvalidClientTokenId' });
    });

    it('applies a delay set later with setListPropagationDelay to keys created from then on', async () => {
      const { sim, iam, firstKeyId } = await createFixture();
      sim.setListPropagationDelay(10_000);

      const key = await newKey(iam);

      expect(await listedKeyIds(iam)).toEqual([firstKeyId]);
      expect(sim.accessKey(firstKeyId)?.listed).toBe(true);
      expect(sim.accessKey(key.id)?.listed).toBe(false);
    });

    it.each([-1, Number.NaN])('fails when the delay is %d', (ms) => {
      expect(() => new Simulation({ listPropagationDelayMs: ms })).toThrow(SimulationError);
      expect(() => {
        new Simulation().setListPropagationDelay(ms);
      }).toThrow(`listPropagationDelayMs must be a finite number >= 0, got ${ms}`);
    });
  });

  describe('Option: accessKeysPerUser', () => {
    it('lets a user hold that many keys, then fails with LimitExceeded naming that quota', async () => {
      const { sim, iam } = await createFixture({ accessKeysPerUser: 3, sdkMaxAttempts: 1 });
      await newKey(iam);
      await newKey(iam);

      const error: unknown = await iam
        .send(new CreateAccessKeyCommand({ UserName: USER }))
        .catch((e: unknown) => e);

      expect(sim.accessKeys(USER)).toHaveLength(3);
      expect(error).toBeInstanceOf(LimitExceededException);
      expect(error).toMatchObject({
        message: 'Cannot exceed quota for AccessKeysPerUser: 3',
        $metadata: { httpStatusCode: 409 },
      });
    });

    it("defaults to AWS's fixed quota of two keys", async () => {
      const { iam } = await createFixture({ sdkMaxAttempts: 1 });
      await newKey(iam);

      await expect(iam.send(new CreateAccessKeyCommand({ UserName: USER }))).rejects.toMatchObject({
        message: 'Cannot exceed quota for AccessKeysPerUser: 2',
      });
    });

    it.each([0, 2.5])('fails when accessKeysPerUser is %d', (accessKeysPerUser) => {
      expect(() => new Simulation({ accessKeysPerUser })).toThrow(
        `accessKeysPerUser must be a positive integer, got ${accessKeysPerUser}`,
      );
    });
  });
});
