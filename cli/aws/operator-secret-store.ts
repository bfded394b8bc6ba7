import {
  DescribeSecretCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  type DescribeSecretCommandOutput,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  SecretsManagerSecretStore,
  type SecretMetadata,
  type SecretStore,
  type SecretVersionInfo,
} from '../../lambda/aws/secrets-manager-secret-store.js';
import type { Whereabouts } from '../whereabouts.js';

export type { SecretVersionInfo } from '../../lambda/aws/secrets-manager-secret-store.js';

/** DescribeSecret in full: what rotation reads, plus the schedule and the rotation function. */
export interface SecretDescription extends SecretMetadata {
  readonly lastRotatedDate?: Date;
  readonly nextRotationDate?: Date;
  /** When anything about the secret last changed (a value, a staging label, a tag). */
  readonly lastChangedDate?: Date;
  /** The rotation function, when rotation was ever configured. */
  readonly rotationLambdaArn?: string;
  /** When the secret was scheduled for deletion; its name stays taken until it is deleted. */
  readonly deletedDate?: Date;
}

/** What the operator command does with Secrets Manager, beyond the rotation function's calls. */
export interface OperatorSecretStore extends SecretStore {
  describe(secretId: string): Promise<SecretDescription>;
  /** The ARNs of every secret that carries the tag key (ListSecrets, all pages). */
  listSecretArnsWithTagKey(tagKey: string): Promise<string[]>;
  /** Every version that carries a staging label (all, with `includeDeprecated`), with its creation date. */
  listVersions(
    secretId: string,
    options?: { readonly includeDeprecated?: boolean },
  ): Promise<SecretVersionInfo[]>;
  /**
   * PutSecretValue of a new version that carries only `versionStage` (a rollback's own label,
   * never AWSCURRENT): idempotent by its fresh `clientRequestToken`, so the SDK may retry it.
   */
  putSecretStringWithStage(input: {
    secretId: string;
    clientRequestToken: string;
    secretString: string;
    versionStage: string;
  }): Promise<void>;
  /** RotateSecret with the secret's own configuration; returns the new version's id. */
  rotateSecret(secretId: string): Promise<string>;
  /** The region, account and profile the store's client uses (for messages). */
  whereabouts(): Promise<Whereabouts>;
}

const toDescription = (
  secretId: string,
  output: DescribeSecretCommandOutput,
): SecretDescription => {
  const tags: Record<string, string> = {};
  for (const tag of output.Tags ?? []) {
    if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
  }
  const versionIdsToStages: Record<string, readonly string[]> = {};
  for (const [versionId, stages] of Object.entries(output.VersionIdsToStages ?? {})) {
    // AWS lists only versions with labels; some emulators also list unlabelled ones.
    if (stages.length > 0) versionIdsToStages[versionId] = stages;
  }
  return {
    arn: output.ARN ?? secretId,
    name: output.Name ?? secretId,
    rotationEnabled: output.RotationEnabled === true,
    versionIdsToStages,
    tags,
    ...(output.LastRotatedDate === undefined ? {} : { lastRotatedDate: output.LastRotatedDate }),
    ...(output.NextRotationDate === undefined ? {} : { nextRotationDate: output.NextRotationDate }),
    ...(output.LastChangedDate === undefined ? {} : { lastChangedDate: output.LastChangedDate }),
    ...(output.RotationLambdaARN === undefined || output.RotationLambdaARN === ''
      ? {}
      : { rotationLambdaArn: output.RotationLambdaARN }),
    ...(output.DeletedDate === undefined ? {} : { deletedDate: output.DeletedDate }),
  };
};

/**
 * The rotation function's Secrets Manager adapter (lambda/aws), extended with the calls only an
 * operator makes. The function's bundle does not include these commands.
 */
export class SecretsManagerOperatorStore
  extends SecretsManagerSecretStore
  implements OperatorSecretStore
{
  /**
   * Tells where the client looks (region, account, profile), for messages; createCliDependencies
   * sets it.
   * @default - nothing known
   */
  public locate: () => Promise<Whereabouts> = () => Promise.resolve({});

  public constructor(
    private readonly secretsManager: SecretsManagerClient,
    singleAttempt: SecretsManagerClient = secretsManager,
  ) {
    super(secretsManager, singleAttempt);
  }

  public async putSecretStringWithStage(input: {
    secretId: string;
    clientRequestToken: string;
    secretString: string;
    versionStage: string;
  }): Promise<void> {
    await this.secretsManager.send(
      new PutSecretValueCommand({
        SecretId: input.secretId,
        ClientRequestToken: input.clientRequestToken,
        SecretString: input.secretString,
        VersionStages: [input.versionStage],
      }),
    );
  }

  public whereabouts(): Promise<Whereabouts> {
    return this.locate();
  }

  public async describe(secretId: string): Promise<SecretDescription> {
    const output = await this.secretsManager.send(
      new DescribeSecretCommand({ SecretId: secretId }),
    );
    return toDescription(secretId, output);
  }

  public async listSecretArnsWithTagKey(tagKey: string): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const output = await this.secretsManager.send(
        new ListSecretsCommand({
          // A prefix match: the exact key is checked below.
          Filters: [{ Key: 'tag-key', Values: [tagKey] }],
          NextToken: nextToken,
        }),
      );
      for (const entry of output.SecretList ?? []) {
        if (entry.ARN === undefined || entry.DeletedDate !== undefined) continue;
        if ((entry.Tags ?? []).some((tag) => tag.Key === tagKey)) arns.push(entry.ARN);
      }
      // An empty token also ends the listing (some emulators send one on the last page).
      nextToken = output.NextToken === '' ? undefined : output.NextToken;
    } while (nextToken !== undefined);
    return arns;
  }

  public async rotateSecret(secretId: string): Promise<string> {
    const output = await this.secretsManager.send(new RotateSecretCommand({ SecretId: secretId }));
    if (output.VersionId === undefined) {
      throw new Error(`RotateSecret on ${secretId} returned no VersionId`);
    }
    return output.VersionId;
  }
}
