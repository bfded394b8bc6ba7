import {
  CreateUserCommand,
  GetUserCommand,
  InvalidInputException,
  LimitExceededException,
  ListUserTagsCommand,
  ListUsersCommand,
  NoSuchEntityException,
  TagUserCommand,
  UntagUserCommand,
  type IAMClient,
  type Tag,
} from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { TAGS_PER_USER } from '../../../local/simulation/index.js';
import { USER, createFixture } from './fixtures.js';

const tagsNamed = (count: number, prefix = 'key'): Tag[] =>
  Array.from({ length: count }, (_, index) => ({ Key: `${prefix}-${index}`, Value: `v${index}` }));

const listAllTags = async (iam: IAMClient): Promise<Tag[]> =>
  (await iam.send(new ListUserTagsCommand({ UserName: USER }))).Tags ?? [];

describe('Class: Simulation', () => {
  describe('Method: IAM TagUser', () => {
    it('adds tags that GetUser and ListUserTags both return', async () => {
      const { iam } = await createFixture();
      const tags = [
        { Key: 'team', Value: 'payments' },
        { Key: 'cost-center', Value: '' },
      ];

      await iam.send(new TagUserCommand({ UserName: USER, Tags: tags }));

      const { User } = await iam.send(new GetUserCommand({ UserName: USER }));
      const listed = await iam.send(new ListUserTagsCommand({ UserName: USER }));
      expect(User?.Tags).toEqual(tags);
      expect(listed.Tags).toEqual(tags);
      expect(listed.IsTruncated).toBe(false);
      expect(listed.Marker).toBeUndefined();
    });

    it('overwrites the value of a key the user has, comparing keys case-insensitively', async () => {
      const { sim, iam } = await createFixture();
      await iam.send(
        new TagUserCommand({
          UserName: USER,
          Tags: [
            { Key: 'team', Value: 'payments' },
            { Key: 'owner', Value: 'alice' },
          ],
        }),
      );

      await iam.send(new TagUserCommand({ UserName: USER, Tags: [{ Key: 'team', Value: 'ops' }] }));
      await iam.send(
        new TagUserCommand({ UserName: USER, Tags: [{ Key: 'OWNER', Value: 'bob' }] }),
      );

      expect(await listAllTags(iam)).toEqual([
        { Key: 'team', Value: 'ops' },
        { Key: 'OWNER', Value: 'bob' },
      ]);
      expect(sim.user(USER)?.tags).toEqual([
        { Key: 'team', Value: 'ops' },
        { Key: 'OWNER', Value: 'bob' },
      ]);
    });

    it('accepts up to 50 tags per user, and replacing a tag at the limit', async () => {
      const { iam } = await createFixture();
      await iam.send(new TagUserCommand({ UserName: USER, Tags: tagsNamed(TAGS_PER_USER) }));

      await iam.send(
        new TagUserCommand({ UserName: USER, Tags: [{ Key: 'key-0', Value: 'replaced' }] }),
      );

      const tags = await listAllTags(iam);
      expect(tags).toHaveLength(50);
      expect(tags[0]).toEqual({ Key: 'key-0', Value: 'replaced' });
    });

    it('fails with LimitExceeded (409) when the user would have more than 50 tags, without change', async () => {
      const { iam } = await createFixture();
      await iam.send(new TagUserCommand({ UserName: USER, Tags: tagsNamed(48) }));

      const error: unknown = await iam
        .send(new TagUserCommand({ UserName: USER, Tags: tagsNamed(3, 'more') }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(LimitExceededException);
      expect(error).toMatchObject({
        message: 'The number of tags has reached the maximum limit.',
        $metadata: { httpStatusCode: 409 },
      });
      expect(await listAllTags(iam)).toEqual(tagsNamed(48));
    });

    it('fails with ValidationError when one request carries more than 50 tags', async () => {
      const { iam } = await createFixture();

      await expect(
        iam.send(new TagUserCommand({ UserName: USER, Tags: tagsNamed(51) })),
      ).rejects.toMatchObject({
        name: 'ValidationError',
        message: expect.stringContaining(
          "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
        ) as unknown,
        $metadata: { httpStatusCode: 400 },
      });
      expect(await listAllTags(iam)).toEqual([]);
    });

    it('accepts a key of 128 and a value of 256 characters, and an empty value', async () => {
      const { iam } = await createFixture();
      const tags = [
        { Key: 'k'.repeat(128), Value: 'v'.repeat(256) },
        { Key: 'empty', Value: '' },
      ];

      await iam.send(new TagUserCommand({ UserName: USER, Tags: tags }));

      expect(await listAllTags(iam)).toEqual(tags);
    });

    it.each([
      [
        'an empty key',
        { Key: '', Value: 'v' },
        "at 'tags.1.member.key'",
        'greater than or equal to 1',
      ],
      [
        'a key of 129 characters',
        { Key: 'k'.repeat(129), Value: 'v' },
        "at 'tags.1.member.key'",
        'less than or equal to 128',
      ],
      [
        'a value of 257 characters',
        { Key: 'k', Value: 'v'.repeat(257) },
        "at 'tags.1.member.value'",
        'less than or equal to 256',
      ],
    ])('fails with ValidationError when a tag has %s', async (_, tag, at, rule) => {
      const { iam } = await createFixture();

      const error: unknown = await iam
        .send(new TagUserCommand({ UserName: USER, Tags: [tag] }))
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
      expect((error as Error).message).toContain(at);
      expect((error as Error).message).toContain(`Member must have length ${rule}`);
      expect(await listAllTags(iam)).toEqual([]);
    });

    it('fails with ValidationError when a key has a character outside the allowed set', async () => {
      const { iam } = await createFixture();

      await expect(
        iam.send(new TagUserCommand({ UserName: USER, Tags: [{ Key: 'bad*key', Value: 'v' }] })),
      ).rejects.toMatchObject({
        name: 'ValidationError',
        message: expect.stringContaining('regular expression pattern') as unknown,
      });
    });

    it('fails with InvalidInput when a request names a key twice, case-insensitively', async () => {
      const { iam } = await createFixture();

      const error: unknown = await iam
        .send(
          new TagUserCommand({
            UserName: USER,
            Tags: [
              { Key: 'team', Value: 'a' },
              { Key: 'Team', Value: 'b' },
            ],
          }),
        )
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(InvalidInputException);
      expect(error).toMatchObject({ $metadata: { httpStatusCode: 400 } });
      expect(await listAllTags(iam)).toEqual([]);
    });

    it('fails with NoSuchEntity (404) when the user does not exist', async () => {
      const { iam } = await createFixture();

      const error: unknown = await iam
        .send(new TagUserCommand({ UserName: 'nobody', Tags: [{ Key: 'k', Value: 'v' }] }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(NoSuchEntityException);
      expect(error).toMatchObject({
        message: 'The user with name nobody cannot be found.',
        $metadata: { httpStatusCode: 404 },
      });
    });
  });

  describe('Method: IAM UntagUser', () => {
    it('removes the tags with the given keys, case-insensitively, and ignores unknown keys', async () => {
      const { iam } = await createFixture();
      await iam.send(
        new TagUserCommand({
          UserName: USER,
          Tags: [
            { Key: 'team', Value: 'ops' },
            { Key: 'owner', Value: 'alice' },
            { Key: 'env', Value: 'prod' },
          ],
        }),
      );

      await iam.send(new UntagUserCommand({ UserName: USER, TagKeys: ['TEAM', 'env', 'absent'] }));

      expect(await listAllTags(iam)).toEqual([{ Key: 'owner', Value: 'alice' }]);
      const { User } = await iam.send(new GetUserCommand({ UserName: USER }));
      expect(User?.Tags).toEqual([{ Key: 'owner', Value: 'alice' }]);
    });

    it('leaves GetUser without Tags once the last tag is removed', async () => {
      const { iam } = await createFixture();
      await iam.send(new TagUserCommand({ UserName: USER, Tags: [{ Key: 'k', Value: 'v' }] }));

      await iam.send(new UntagUserCommand({ UserName: USER, TagKeys: ['k'] }));

      const { User } = await iam.send(new GetUserCommand({ UserName: USER }));
      expect(User).not.toHaveProperty('Tags');
    });

    it('fails with ValidationError when one request names more than 50 keys', async () => {
      const { iam } = await createFixture();

      await expect(
        iam.send(
          new UntagUserCommand({
            UserName: USER,
            TagKeys: tagsNamed(51).map((tag) => tag.Key ?? ''),
          }),
        ),
      ).rejects.toMatchObject({ name: 'ValidationError' });
    });

    it('fails with NoSuchEntity (404) when the user does not exist', async () => {
      const { iam } = await createFixture();

      await expect(
        iam.send(new UntagUserCommand({ UserName: 'nobody', TagKeys: ['k'] })),
      ).rejects.toBeInstanceOf(NoSuchEntityException);
    });
  });

  describe('Method: IAM ListUserTags', () => {
    it('pages with MaxItems and Marker, IsTruncated on every page but the last', async () => {
      const { iam } = await createFixture();
      await iam.send(new TagUserCommand({ UserName: USER, Tags: tagsNamed(5) }));
      const pages: { tags: Tag[]; truncated: boolean | undefined }[] = [];

      let marker: string | undefined;
      do {
        const output = await iam.send(
          new ListUserTagsCommand({ UserName: USER, MaxItems: 2, Marker: marker }),
        );
        pages.push({ tags: output.Tags ?? [], truncated: output.IsTruncated });
        marker = output.IsTruncated === true ? output.Marker : undefined;
      } while (marker !== undefined);

      expect(pages.map((page) => [page.tags.length, page.truncated])).toEqual([
        [2, true],
        [2, true],
        [1, false],
      ]);
      expect(pages.flatMap((page) => page.tags)).toEqual(tagsNamed(5));
    });

    it('returns an empty list for a user without tags', async () => {
      const { iam } = await createFixture();

      const output = await iam.send(new ListUserTagsCommand({ UserName: USER }));

      expect(output.Tags).toEqual([]);
      expect(output.IsTruncated).toBe(false);
    });

    it.each([0, 1001])('fails with ValidationError when MaxItems is %i', async (maxItems) => {
      const { iam } = await createFixture();

      await expect(
        iam.send(new ListUserTagsCommand({ UserName: USER, MaxItems: maxItems })),
      ).rejects.toMatchObject({
        name: 'ValidationError',
        message: expect.stringContaining("at 'maxItems'") as unknown,
      });
    });

    it('fails with NoSuchEntity (404) when the user does not exist', async () => {
      const { iam } = await createFixture();

      await expect(iam.send(new ListUserTagsCommand({ UserName: 'nobody' }))).rejects.toMatchObject(
        { name: 'NoSuchEntityException', $metadata: { httpStatusCode: 404 } },
      );
    });
  });

  describe('Method: IAM CreateUser and ListUsers', () => {
    it('creates a user with tags, which ListUsers leaves out as AWS listings do', async () => {
      const { iam } = await createFixture();

      await iam.send(
        new CreateUserCommand({ UserName: 'bob', Tags: [{ Key: 'team', Value: 'ops' }] }),
      );

      const { User } = await iam.send(new GetUserCommand({ UserName: 'bob' }));
      const { Users } = await iam.send(new ListUsersCommand({}));
      expect(User?.Tags).toEqual([{ Key: 'team', Value: 'ops' }]);
      expect(Users?.map((user) => user.UserName)).toEqual([USER, 'bob']);
      expect(Users?.every((user) => user.Tags === undefined)).toBe(true);
    });

    it('fails with InvalidInput when CreateUser names a tag key twice, and creates no user', async () => {
      const { sim, iam } = await createFixture();

      await expect(
        iam.send(
          new CreateUserCommand({
            UserName: 'bob',
            Tags: [
              { Key: 'team', Value: 'a' },
              { Key: 'TEAM', Value: 'b' },
            ],
          }),
        ),
      ).rejects.toBeInstanceOf(InvalidInputException);
      expect(sim.user('bob')).toBeUndefined();
    });
  });
});
