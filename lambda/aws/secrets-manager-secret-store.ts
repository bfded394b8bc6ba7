import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  TagResourceCommand,
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
  /** By id; without a stage it also reads a version that lost its labels (cancel does). */
  | { readonly versionId: string; readonly versionStage?: string };

/** One version of a secret as ListSecretVersionIds lists it. */
export interface SecretVersionInfo {
  readonly versionId: string;
  readonly stages: readonly string[];
  readonly createdDate?: Date;
}

/** The input of UpdateSecretVersionStage. */
export interface MoveStageInput {
  readonly secretId: string;
  readonly versionStage: string;
  readonly moveToVersionId?: string;
  readonly removeFromVersionId?: string;
}

/** The Secrets Manager calls rotation makes, in rotation's own terms. */
export interface SecretStore {
  describeSecret(secretId: string): Promise<SecretMetadata>;
  /** The version's SecretString, or `undefined` when no such version holds a value. */
  getSecretString(secretId: string, selector: VersionSelector): Promise<string | undefined>;
  /**
   * The version's SecretString and creation date (GetSecretValue's CreatedDate), or `undefined`
   * when no such version holds a value.
   */
  getSecretVersion(
    secretId: string,
    selector: VersionSelector,
  ): Promise<{ readonly secretString?: string; readonly createdDate?: Date } | undefined>;
  putPendingSecretString(input: {
    secretId: string;
    clientRequestToken: string;
    secretString: string;
    rotationToken: string | undefined;
  }): Promise<void>;
  moveStage(input: MoveStageInput): Promise<void>;
  /**
   * UpdateSecretVersionStage sent once, without the SDK's retries: a retry that stalls in backoff
   * and lands after the labels changed could move a label back (the caller re-reads and decides).
   */
  moveStageOnce(input: MoveStageInput): Promise<void>;
  /** When the version was created, or `undefined` if the secret has no such version. */
  getVersionCreatedDate(secretId: string, versionId: string): Promise<Date | undefined>;
  /**
   * Every version that carries a staging label, with its creation date; with
   * `includeDeprecated`, also those without one (ListSecretVersionIds IncludeDeprecated).
   */
  listVersions(
    secretId: string,
    options?: { readonly includeDeprecated?: boolean },
  ): Promise<SecretVersionInfo[]>;
  /** TagResource with one tag. */
  tagSecret(secretId: string, key: string, value: string): Promise<void>;
}

export class SecretsManagerSecretStore implements SecretStore {
  private singleAttemptClient: SecretsManagerClient | undefined;

  /**
   * @param client the client for every call
   * @param singleAttempt a client configured with `maxAttempts: 1` for {@link moveStageOnce}, or
   *   a function that creates it when finishSecret first needs it (every other step never does);
   *   defaults to `client`
   */
  public constructor(
    private readonly client: SecretsManagerClient,
    private readonly singleAttempt: SecretsManagerClient | (() => SecretsManagerClient) = client,
  ) {}

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
    return (await this.getSecretVersion(secretId, selector))?.secretString;
  }

  public async getSecretVersion(
    secretId: string,
    selector: VersionSelector,
  ): Promise<{ readonly secretString?: string; readonly createdDate?: Date } | undefined> {
    try {
      const output = await this.client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          ...(selector.versionStage === undefined ? {} : { VersionStage: selector.versionStage }),
          ...('versionId' in selector ? { VersionId: selector.versionId } : {}),
        }),
      );
      return {
        ...(output.SecretString === undefined ? {} : { secretString: output.SecretString }),
        ...(output.CreatedDate === undefined ? {} : { createdDate: output.CreatedDate }),
      };
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

  public async moveStage(input: MoveStageInput): Promise<void> {
    await this.client.send(toUpdateSecretVersionStage(input));
  }

  public async moveStageOnce(input: MoveStageInput): Promise<void> {
    this.singleAttemptClient ??=
      typeof this.singleAttempt === 'function' ? this.singleAttempt() : this.singleAttempt;
    await this.singleAttemptClient.send(toUpdateSecretVersionStage(input));
  }

  public async tagSecret(secretId: string, key: string, value: string): Promise<void> {
    await this.client.send(
      new TagResourceCommand({ SecretId: secretId, Tags: [{ Key: key, Value: value }] }),
    );
  }

  public async listVersions(
    secretId: string,
    options: { readonly includeDeprecated?: boolean } = {},
  ): Promise<SecretVersionInfo[]> {
    const versions: SecretVersionInfo[] = [];
    let nextToken: string | undefined;
    do {
      const output = await this.client.send(
        new ListSecretVersionIdsCommand({
          SecretId: secretId,
          NextToken: nextToken,
          ...(options.includeDeprecated === true ? { IncludeDeprecated: true } : {}),
        }),
      );
      for (const version of output.Versions ?? []) {
        if (version.VersionId === undefined) continue;
        versions.push({
          versionId: version.VersionId,
          stages: version.VersionStages ?? [],
          ...(version.CreatedDate === undefined ? {} : { createdDate: version.CreatedDate }),
        });
      }
      // An empty token also ends the listing (some emulators send one on the last page).
      nextToken = output.NextToken === '' ? undefined : output.NextToken;
    } while (nextToken !== undefined);
    return versions;
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

const toUpdateSecretVersionStage = (input: MoveStageInput): UpdateSecretVersionStageCommand =>
  new UpdateSecretVersionStageCommand({
    SecretId: input.secretId,
    VersionStage: input.versionStage,
    ...(input.moveToVersionId === undefined ? {} : { MoveToVersionId: input.moveToVersionId }),
    ...(input.removeFromVersionId === undefined
      ? {}
      : { RemoveFromVersionId: input.removeFromVersionId }),
  });
