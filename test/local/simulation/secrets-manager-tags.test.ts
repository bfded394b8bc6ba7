import {
  DescribeSecretCommand,
  ResourceNotFoundException,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { SECRET, USER, createFixture } from './fixtures.js';

const OWNER_TAG = { Key: 'iam-key-rotation:user', Value: USER };

describe('Class: Simulation', () => {
  describe('Method: Secrets Manager TagResource', () => {
    it('adds tags that DescribeSecret then returns', async () => {
      const { sm } = await createFixture();

      await sm.send(
        new TagResourceCommand({
          SecretId: SECRET,
          Tags: [
            { Key: 'team', Value: 'ops' },
            { Key: 'empty', Value: '' },
          ],
        }),
      );

      const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      expect(described.Tags).toEqual([
        OWNER_TAG,
        { Key: 'team', Value: 'ops' },
        { Key: 'empty', Value: '' },
      ]);
    });

    it('overwrites the value of a key the secret has; keys are case-sensitive', async () => {
      const { sm, secretArn } = await createFixture();

      await sm.send(
        new TagResourceCommand({
          SecretId: secretArn,
          Tags: [
            { Key: OWNER_TAG.Key, Value: 'bob' },
            { Key: 'IAM-KEY-ROTATION:USER', Value: 'carol' },
          ],
        }),
      );

      const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      expect(described.Tags).toEqual([
        { Key: OWNER_TAG.Key, Value: 'bob' },
        { Key: 'IAM-KEY-ROTATION:USER', Value: 'carol' },
      ]);
    });

    it('fails with ResourceNotFoundException when the secret does not exist', async () => {
      const { sm } = await createFixture();

      await expect(
        sm.send(new TagResourceCommand({ SecretId: 'nope', Tags: [{ Key: 'k', Value: 'v' }] })),
      ).rejects.toBeInstanceOf(ResourceNotFoundException);
    });
  });

  describe('Method: Secrets Manager UntagResource', () => {
    it('removes the tags with the given keys, ignoring keys the secret does not have', async () => {
      const { sm } = await createFixture();
      await sm.send(
        new TagResourceCommand({ SecretId: SECRET, Tags: [{ Key: 'team', Value: 'ops' }] }),
      );

      await sm.send(
        new UntagResourceCommand({ SecretId: SECRET, TagKeys: [OWNER_TAG.Key, 'absent', 'TEAM'] }),
      );

      const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      expect(described.Tags).toEqual([{ Key: 'team', Value: 'ops' }]);
    });

    it('leaves DescribeSecret without Tags once the last tag is removed', async () => {
      const { sm } = await createFixture();

      await sm.send(new UntagResourceCommand({ SecretId: SECRET, TagKeys: [OWNER_TAG.Key] }));

      const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      expect(described).not.toHaveProperty('Tags');
    });

    it('fails with ResourceNotFoundException when the secret does not exist', async () => {
      const { sm } = await createFixture();

      await expect(
        sm.send(new UntagResourceCommand({ SecretId: 'nope', TagKeys: ['k'] })),
      ).rejects.toBeInstanceOf(ResourceNotFoundException);
    });
  });
});
