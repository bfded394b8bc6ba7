import { TagUserCommand, UntagUserCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import {
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../../../lambda/rotation/binding.js';
import type { MotoAws } from './moto-aws.js';

/**
 * What operators do by hand to a deployed stack (see the README), each as the CLI commands it
 * documents, sent with the harness's (administrator's) clients.
 */

/** The version ids that carry `stage`. */
const versionsWith = (stages: Record<string, string[]>, stage: string): string[] =>
  Object.entries(stages)
    .filter(([, labels]) => labels.includes(stage))
    .map(([versionId]) => versionId);

export interface Rollback {
  /** The version AWSCURRENT moved back to (AWSPREVIOUS before). */
  readonly rolledBackTo: string;
  /** The version AWSCURRENT moved away from (now AWSPREVIOUS). */
  readonly rolledBackFrom: string;
}

/**
 * The README's "Roll back": 1. remove AWSPENDING from any version that is not AWSCURRENT;
 * 2. reactivate the AWSPREVIOUS key; 3. move AWSCURRENT back to the AWSPREVIOUS version. The key
 * rolled back from stays Active.
 */
export const rollBack = async (
  aws: MotoAws,
  secretId: string,
  userName: string,
): Promise<Rollback> => {
  const stages = await aws.versionStages(secretId);
  for (const versionId of versionsWith(stages, 'AWSPENDING')) {
    if (stages[versionId]?.includes('AWSCURRENT') === true) continue;
    await aws.secrets.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: versionId,
      }),
    );
  }
  const [rolledBackFrom] = versionsWith(stages, 'AWSCURRENT');
  const [rolledBackTo] = versionsWith(stages, 'AWSPREVIOUS');
  if (rolledBackFrom === undefined || rolledBackTo === undefined) {
    throw new Error(`Secret ${secretId} has nothing to roll back to: ${JSON.stringify(stages)}`);
  }
  const previousKeyId = (await aws.secretValue(secretId, 'AWSPREVIOUS')).AccessKeyId;
  if (typeof previousKeyId !== 'string') {
    throw new Error(`AWSPREVIOUS of ${secretId} holds no access key to reactivate`);
  }
  await aws.iam.send(
    new UpdateAccessKeyCommand({
      UserName: userName,
      AccessKeyId: previousKeyId,
      Status: 'Active',
    }),
  );
  await aws.secrets.send(
    new UpdateSecretVersionStageCommand({
      SecretId: secretId,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: rolledBackTo,
      RemoveFromVersionId: rolledBackFrom,
    }),
  );
  return { rolledBackTo, rolledBackFrom };
};

/** `aws secretsmanager tag-resource`: binds the secret to `userName` by its tag. */
export const tagSecretWithUser = async (
  aws: MotoAws,
  secretId: string,
  userName: string,
): Promise<void> => {
  await aws.secrets.send(
    new TagResourceCommand({
      SecretId: secretId,
      Tags: [{ Key: BINDING_TAG_KEY, Value: userName }],
    }),
  );
};

/** `aws iam untag-user --tag-keys iam-key-rotation:secret`. */
export const untagOwner = async (aws: MotoAws, userName: string): Promise<void> => {
  await aws.iam.send(new UntagUserCommand({ UserName: userName, TagKeys: [OWNER_TAG_KEY] }));
};

/** `aws iam tag-user --tags Key=iam-key-rotation:secret,Value=<secret ARN>`. */
export const tagOwner = async (
  aws: MotoAws,
  userName: string,
  secretArn: string,
): Promise<void> => {
  await aws.iam.send(
    new TagUserCommand({ UserName: userName, Tags: [{ Key: OWNER_TAG_KEY, Value: secretArn }] }),
  );
};

/** `aws iam update-access-key --status Inactive`. */
export const deactivateAccessKey = async (
  aws: MotoAws,
  userName: string,
  accessKeyId: string,
): Promise<void> => {
  await aws.iam.send(
    new UpdateAccessKeyCommand({
      UserName: userName,
      AccessKeyId: accessKeyId,
      Status: 'Inactive',
    }),
  );
};
