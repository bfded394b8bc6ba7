/**
 * The AWS partition of a region, for the ARNs the command builds (`arn:<partition>:iam::...`):
 * the prefixes of the partitions AWS publishes (its endpoints' `partitions.json`).
 */
const PARTITION_BY_PREFIX: readonly (readonly [string, string])[] = [
  ['cn-', 'aws-cn'],
  ['us-gov-', 'aws-us-gov'],
  ['us-isob-', 'aws-iso-b'],
  ['us-isof-', 'aws-iso-f'],
  ['us-iso-', 'aws-iso'],
  ['eu-isoe-', 'aws-iso-e'],
  ['eusc-', 'aws-eusc'],
];

/** `aws-cn` for `cn-north-1`, `aws-us-gov` for `us-gov-west-1`, ..., `aws` for any other. */
export const partitionOfRegion = (region: string): string =>
  PARTITION_BY_PREFIX.find(([prefix]) => region.startsWith(prefix))?.[1] ?? 'aws';

/** `arn:<partition>:iam::<account>:role/<roleName>`, the partition taken from `region`. */
export const roleArnOf = (account: string, roleName: string, region: string): string =>
  `arn:${partitionOfRegion(region)}:iam::${account}:role/${roleName}`;
