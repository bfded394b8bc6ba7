import { AwsServiceError } from './errors.js';
import type { IamAccessKey, IamModel, IamUser, Tag } from './iam.js';
import type { Principal } from './principals.js';
import { queryList, queryStringList, type XmlObject } from './wire.js';

/** The IAM operations the simulation serves (AWS query protocol), on top of {@link IamModel}. */

const nullAt = (at: string): AwsServiceError =>
  new AwsServiceError(
    'ValidationError',
    `1 validation error detected: Value null at '${at}' failed to satisfy constraint: Member must not be null`,
  );

const tagXml = (tags: readonly Tag[]): XmlObject[] =>
  tags.map((tag) => ({ Key: tag.Key, Value: tag.Value }));

/** A user as ListUsers returns it: without tags ("listing operations return a subset"). */
const userSummaryXml = (user: IamUser): XmlObject => ({
  Path: user.path,
  UserName: user.userName,
  UserId: user.userId,
  Arn: user.arn,
  CreateDate: new Date(user.createDate),
});

/** A user as GetUser and CreateUser return it: with its tags, if it has any. */
const userXml = (user: IamUser): XmlObject => ({
  ...userSummaryXml(user),
  Tags: user.tags.length === 0 ? undefined : tagXml(user.tags),
});

const accessKeyMetadataXml = (key: IamAccessKey): XmlObject => ({
  UserName: key.userName,
  AccessKeyId: key.accessKeyId,
  Status: key.status,
  CreateDate: new Date(key.createDate),
});

/** `Tags.member.N.Key` / `.Value`; a member without Key or Value is a ValidationError. */
const tagsParam = (query: ReadonlyMap<string, string>): Tag[] =>
  queryList(query, 'Tags').map((member, index): Tag => {
    const { Key, Value } = member;
    if (Key === undefined) throw nullAt(`tags.${index + 1}.member.key`);
    if (Value === undefined) throw nullAt(`tags.${index + 1}.member.value`);
    return { Key, Value };
  });

interface Paging {
  readonly start: number;
  readonly maxItems: number;
}

/** MaxItems (1-1000, default 100) and Marker, validated before anything is looked up. */
const pagingParams = (query: ReadonlyMap<string, string>): Paging => {
  const maxItemsText = query.get('MaxItems');
  const maxItems = maxItemsText === undefined ? 100 : Number(maxItemsText);
  if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 1000) {
    throw new AwsServiceError(
      'ValidationError',
      `1 validation error detected: Value '${String(maxItemsText)}' at 'maxItems' failed to satisfy constraint: Member must have value ${maxItems > 1000 ? 'less than or equal to 1000' : 'greater than or equal to 1'}`,
    );
  }
  // The simulation's markers are offsets; AWS's are opaque strings.
  const marker = query.get('Marker');
  const start = marker === undefined ? 0 : Number(marker);
  if (!Number.isInteger(start) || start < 0) {
    throw new AwsServiceError('ValidationError', `Invalid Marker: ${String(marker)}`);
  }
  return { start, maxItems };
};

/** One page of a listing, with IsTruncated and, when truncated, the next page's Marker. */
const page = <T>(
  items: readonly T[],
  { start, maxItems }: Paging,
): { items: T[]; IsTruncated: boolean; Marker?: string } => {
  const truncated = start + maxItems < items.length;
  return {
    items: items.slice(start, start + maxItems),
    IsTruncated: truncated,
    ...(truncated ? { Marker: String(start + maxItems) } : {}),
  };
};

/** Runs one IAM action for an authenticated caller and returns its `<ActionResult>` content. */
export const executeIam = (
  iam: IamModel,
  action: string,
  query: ReadonlyMap<string, string>,
  caller: Principal,
): XmlObject => {
  const userNameOrSigner = (): string => {
    const given = query.get('UserName');
    if (given !== undefined) return given;
    if (caller.kind === 'user') return caller.userName;
    throw new AwsServiceError(
      'ValidationError',
      'Must specify userName when calling with non-User credentials',
    );
  };
  const required = (name: string): string => {
    const value = query.get(name);
    if (value === undefined || value === '') throw nullAt(name);
    return value;
  };
  switch (action) {
    case 'CreateUser':
      return {
        User: userXml(
          iam.createUser(required('UserName'), query.get('Path') ?? '/', tagsParam(query)),
        ),
      };
    case 'GetUser':
      return { User: userXml(iam.getUser(userNameOrSigner())) };
    case 'DeleteUser':
      iam.deleteUser(required('UserName'));
      return {};
    case 'ListUsers':
      return { Users: iam.listUsers().map(userSummaryXml), IsTruncated: false };
    case 'TagUser': {
      const userName = required('UserName');
      const tags = tagsParam(query);
      if (tags.length === 0 && !query.has('Tags')) throw nullAt('tags');
      iam.tagUser(userName, tags);
      return {};
    }
    case 'UntagUser': {
      const userName = required('UserName');
      const tagKeys = queryStringList(query, 'TagKeys');
      if (tagKeys.length === 0 && !query.has('TagKeys')) throw nullAt('tagKeys');
      iam.untagUser(userName, tagKeys);
      return {};
    }
    case 'ListUserTags': {
      const userName = required('UserName');
      const paging = pagingParams(query);
      const { items, ...rest } = page(iam.listUserTags(userName), paging);
      return { Tags: tagXml(items), ...rest };
    }
    case 'CreateAccessKey': {
      const key = iam.createAccessKey(query.get('UserName'), caller);
      return {
        AccessKey: {
          UserName: key.userName,
          AccessKeyId: key.accessKeyId,
          Status: key.status,
          SecretAccessKey: key.secretAccessKey,
          CreateDate: new Date(key.createDate),
        },
      };
    }
    case 'ListAccessKeys': {
      const paging = pagingParams(query);
      const { items, ...rest } = page(iam.listAccessKeys(userNameOrSigner()), paging);
      return { AccessKeyMetadata: items.map(accessKeyMetadataXml), ...rest };
    }
    case 'UpdateAccessKey':
      iam.updateAccessKey(userNameOrSigner(), required('AccessKeyId'), required('Status'));
      return {};
    case 'DeleteAccessKey':
      iam.deleteAccessKey(userNameOrSigner(), required('AccessKeyId'));
      return {};
    case 'GetAccessKeyLastUsed': {
      const key = iam.getAccessKeyLastUsed(required('AccessKeyId'));
      return {
        UserName: key.userName,
        AccessKeyLastUsed: {
          LastUsedDate: key.lastUsed === undefined ? undefined : new Date(key.lastUsed.date),
          ServiceName: key.lastUsed?.serviceName ?? 'N/A',
          Region: key.lastUsed?.region ?? 'N/A',
        },
      };
    }
    default:
      throw new AwsServiceError('InvalidAction', `The simulation does not implement IAM ${action}`);
  }
};
