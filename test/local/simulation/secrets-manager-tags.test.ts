import {
  CreateSecretCommand,
  DescribeSecretCommand,
  InvalidParameterException,
  ResourceNotFoundException,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { SECRET, USER, cloudFormationTagsOf, createFixture } from './fixtures.js';

const OWNER_TAG = { Key: 'iam-key-rotation:user', Value: USER };
const STACK_ID_KEY = 'aws:cloudformation:stack-id';

describe('Class: Simulation', () => {
  describe('Method: Secrets Manager TagResource', () => {
    it('adds tags that DescribeSecret then returns', async () => {
      const { sim, sm } = await createFixture();

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
        ...cloudFormationTagsOf(sim),
        { Key: 'team', Value: 'ops' },
        { Key: 'empty', Value: '' },
      ]);
    });

    it('overwrites the value of a key the secret has; keys are case-sensitive', async () => {
      const { sim, sm, secretArn } = await createFixture();

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
        ...cloudFormationTagsOf(sim),
        { Key: 'IAM-KEY-ROTATION:USER', Value: 'carol' },
      ]);
    });

    it.each([STACK_ID_KEY, 'AWS:cloudformation:stack-id', 'aws:anything'])(
      'fails with InvalidParameterException for the reserved key %s, and changes no tag',
      async (key) => {
        const { sim, sm } = await createFixture();
        const other = sim.stack('SomeoneElsesStack').stackId;

        const outcome = sm.send(
          new TagResourceCommand({
            SecretId: SECRET,
            Tags: [
              { Key: 'team', Value: 'ops' },
              { Key: key, Value: other },
            ],
          }),
        );

        await expect(outcome).rejects.toBeInstanceOf(InvalidParameterException);
        await expect(outcome).rejects.toThrow(`uses the reserved prefix aws:`);
        const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
        expect(described.Tags).toEqual([OWNER_TAG, ...cloudFormationTagsOf(sim)]);
      },
    );

    it('fails with ResourceNotFoundException when the secret does not exist', async () => {
      const { sm } = await createFixture();

      await expect(
        sm.send(new TagResourceCommand({ SecretId: 'nope', Tags: [{ Key: 'k', Value: 'v' }] })),
      ).rejects.toBeInstanceOf(ResourceNotFoundException);
    });
  });

  describe('Method: Secrets Manager UntagResource', () => {
    it('removes the tags with the given keys, ignoring keys the secret does not have', async () => {
      const { sim, sm } = await createFixture();
      await sm.send(
        new TagResourceCommand({ SecretId: SECRET, Tags: [{ Key: 'team', Value: 'ops' }] }),
      );

      await sm.send(
        new UntagResourceCommand({ SecretId: SECRET, TagKeys: [OWNER_TAG.Key, 'absent', 'TEAM'] }),
      );

      const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      expect(described.Tags).toEqual([...cloudFormationTagsOf(sim), { Key: 'team', Value: 'ops' }]);
    });

    it('leaves DescribeSecret without Tags once the last tag is removed', async () => {
      const { sim, sm, secretArn } = await createFixture();
      sim.secretsManager.get(secretArn).tags = [OWNER_TAG];

      await sm.send(new UntagResourceCommand({ SecretId: SECRET, TagKeys: [OWNER_TAG.Key] }));

      const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      expect(described).not.toHaveProperty('Tags');
    });

    it('fails with InvalidParameterException for a reserved key, and removes nothing', async () => {
      const { sim, sm } = await createFixture();

      const outcome = sm.send(
        new UntagResourceCommand({ SecretId: SECRET, TagKeys: [OWNER_TAG.Key, STACK_ID_KEY] }),
      );

      await expect(outcome).rejects.toBeInstanceOf(InvalidParameterException);
      const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      expect(described.Tags).toEqual([OWNER_TAG, ...cloudFormationTagsOf(sim)]);
    });

    it('fails with ResourceNotFoundException when the secret does not exist', async () => {
      const { sm } = await createFixture();

      await expect(
        sm.send(new UntagResourceCommand({ SecretId: 'nope', TagKeys: ['k'] })),
      ).rejects.toBeInstanceOf(ResourceNotFoundException);
    });
  });

  describe('Method: Secrets Manager CreateSecret', () => {
    it('fails with InvalidParameterException when a caller gives an aws: tag, and creates nothing', async () => {
      const { sim, sm } = await createFixture();

      const outcome = sm.send(
        new CreateSecretCommand({
          Name: 'iam-key-rotation/bob',
          SecretString: '{"UserName":"bob"}',
          Tags: [
            { Key: OWNER_TAG.Key, Value: 'bob' },
            { Key: STACK_ID_KEY, Value: sim.stack('IamKeyRotation').stackId },
          ],
        }),
      );

      await expect(outcome).rejects.toBeInstanceOf(InvalidParameterException);
      expect(sim.secret('iam-key-rotation/bob')).toBeUndefined();
    });

    it('gives a secret CloudFormation creates for a stack its system tags, and a caller’s none', async () => {
      const { sim, sm } = await createFixture();
      const stack = sim.stack('AnotherStack');

      const created = sim.createStackSecret(stack, 'BobSecret', {
        Name: 'iam-key-rotation/bob',
        SecretString: '{"UserName":"bob"}',
      });
      const byHand = await sm.send(
        new CreateSecretCommand({ Name: 'by-hand', SecretString: 'x', Tags: [OWNER_TAG] }),
      );

      expect(created.tags).toEqual([
        { Key: 'aws:cloudformation:stack-name', Value: 'AnotherStack' },
        { Key: 'aws:cloudformation:logical-id', Value: 'BobSecret' },
        { Key: STACK_ID_KEY, Value: stack.stackId },
      ]);
      expect(stack.stackId).toMatch(
        /^arn:aws:cloudformation:us-east-1:123456789012:stack\/AnotherStack\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
      expect(stack.stackId).not.toBe(sim.stack('IamKeyRotation').stackId);
      const described = await sm.send(new DescribeSecretCommand({ SecretId: byHand.ARN }));
      expect(described.Tags).toEqual([OWNER_TAG]);
    });
  });

  describe('Method: Secrets Manager UpdateSecretVersionStage with a label of its own', () => {
    it('moves, requires RemoveFromVersionId, and removes a label other than AWS’s', async () => {
      const { sim, sm, secretArn } = await createFixture();
      const secret = sim.secretsManager.get(secretArn);
      const first = [...secret.versions.keys()][0] ?? '';
      sim.secretsManager.createPendingVersion(secret, 'v2-0123456789abcdef0123456789abcdef');
      const label = 'IAM_KEY_ROTATION_TESTED';

      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: SECRET,
          VersionStage: label,
          MoveToVersionId: first,
        }),
      );
      const unnamed = sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: SECRET,
          VersionStage: label,
          MoveToVersionId: 'v2-0123456789abcdef0123456789abcdef',
        }),
      );
      await expect(unnamed).rejects.toThrow(/RemoveFromVersionId can't be empty/);
      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: SECRET,
          VersionStage: label,
          MoveToVersionId: 'v2-0123456789abcdef0123456789abcdef',
          RemoveFromVersionId: first,
        }),
      );
      const moved = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: SECRET,
          VersionStage: label,
          RemoveFromVersionId: 'v2-0123456789abcdef0123456789abcdef',
        }),
      );
      const removed = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));

      expect(moved.VersionIdsToStages).toEqual({
        [first]: ['AWSCURRENT'],
        'v2-0123456789abcdef0123456789abcdef': ['AWSPENDING', label],
      });
      expect(removed.VersionIdsToStages).toEqual({
        [first]: ['AWSCURRENT'],
        'v2-0123456789abcdef0123456789abcdef': ['AWSPENDING'],
      });
    });
  });
});
