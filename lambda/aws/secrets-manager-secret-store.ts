import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { errorName } from './aws-error.js';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPENDING = 'AWSPENDING';
export const AWSPREVIOUS = 'AWSPREVIOUS';

export interface SecretMetadata {
  readonly arn: string;
  readonly name: string;
  /** `RotationEnabled` as DescribeSecret returns it; absent counts as false. */
  readonly rotationEnabled: boolean;
  readonly versionIdsToStages: Readonly<Record<string, readonly string[]>>;
  readonly tags: Readonly<Record<string, string>>;
}

export type VersionSelector =
  | { readonly versionStage: typeof AWSCURRENT | typeof AWSPREVIOUS }
  | { readonly versionId: string; readonly versionStage: string };

/** The Secrets Manager calls rotation makes, in rotation's own terms. */
export interface SecretStore {
  describeSecret(secretId: string): Promise<SecretMetadata>;
  /** The version's SecretString, or `undefined` when no such version holds a value. */
  getSecretString(secretId: string, selector: VersionSelector): Promise<string | undefined>;
  putPendingSecretString(input: {
    secretId: string;
    clientRequestToken: string;
    secretString: string;
    rotationToken: string | undefined;
  }): Promise<void>;
  moveStage(input: {
    secretId: string;
    versionStage: string;
    moveToVersionId?: string;
    removeFromVersionId?: string;
  }): Promise<void>;
  /** When the version was created, or `undefined` if the secret has no such version. */
  getVersionCreatedDate(secretId: string, versionId: string): Promise<Date | undefined>;
}

export class SecretsManagerSecretStore implements SecretStore {
  public constructor(private readonly client: SecretsManagerClient) {}

  public async describeSecret(secretId: string): Promise<SecretMetadata> {
    const output = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    const tags: Record<string, string> = {};
    for (const tag of output.Tags ?? []) {
      if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
    }
    const versionIdsToStages: Record<string, readonly string[]> = {};
    for (const [versionId, stages] of Object.entries(output.VersionIdsToStages ?? {})) {
      versionIdsToStages[versionId] = stages;
    }
    return {
      arn: output.ARN ?? secretId,
      name: output.Name ?? secretId,
      rotationEnabled: output.RotationEnabled === true,
      versionIdsToStages,
      tags,
    };
  }

  public async getSecretString(
    secretId: string,
    selector: VersionSelector,
  ): Promise<string | undefined> {
    try {
      const output = await this.client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          VersionStage: selector.versionStage,
          ...('versionId' in selector ? { VersionId: selector.versionId } : {}),
        }),
      );
      return output.SecretString;
    } catch (error) {
      // A version that carries the label but no value yet (the AWSPENDING placeholder that
      // RotateSecret creates), or no version with that label at all.
      if (errorName(error) === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  }

  public async putPendingSecretString(input: {
    secretId: string;
    clientRequestToken: string;
    secretString: string;
    rotationToken: string | undefined;
  }): Promise<void> {
    await this.client.send(
      new PutSecretValueCommand({
        SecretId: input.secretId,
        ClientRequestToken: input.clientRequestToken,
        SecretString: input.secretString,
        VersionStages: ['AWSPENDING'],
        ...(input.rotationToken === undefined ? {} : { RotationToken: input.rotationToken }),
      }),
    );
  }

  public async moveStage(input: {
    secretId: string;
    versionStage: string;
    moveToVersionId?: string;
    removeFromVersionId?: string;
  }): Promise<void> {
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: input.secretId,
        VersionStage: input.versionStage,
        ...(input.moveToVersionId === undefined ? {} : { MoveToVersionId: input.moveToVersionId }),
        ...(input.removeFromVersionId === undefined
          ? {}
          : { RemoveFromVersionId: input.removeFromVersionId }),
      }),
    );
  }

  public async getVersionCreatedDate(
    secretId: string,
    versionId: string,
  ): Promise<Date | undefined> {
    let nextToken: string | undefined;
    do {
      const output = await this.client.send(
        new ListSecretVersionIdsCommand({ SecretId: secretId, NextToken: nextToken }),
      );
      const version = output.Versions?.find((candidate) => candidate.VersionId === versionId);
      if (version !== undefined) return version.CreatedDate;
      // An empty token ends the listing too (some emulators send one instead of none).
      nextToken = output.NextToken === '' ? undefined : output.NextToken;
    } while (nextToken !== undefined);
    return undefined;
  }
}
