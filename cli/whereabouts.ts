/**
 * Where a command looked: the region, the account and the profile its AWS clients use, so that
 * a message such as "no secret found" says where it was not found.
 */
export interface Whereabouts {
  readonly region?: string;
  /** The account of the credentials (STS GetCallerIdentity), when known. */
  readonly account?: string;
  /** The profile of ~/.aws/config in use (--profile or AWS_PROFILE); absent: the default chain. */
  readonly profile?: string;
}

/** `region eu-west-1, account 111111111111, profile ops` (unknown parts say so). */
export const describeWhere = (where: Whereabouts): string =>
  [
    where.region === undefined ? 'no region set' : `region ${where.region}`,
    ...(where.account === undefined ? [] : [`account ${where.account}`]),
    where.profile === undefined ? 'the default credentials' : `profile ${where.profile}`,
  ].join(', ');
