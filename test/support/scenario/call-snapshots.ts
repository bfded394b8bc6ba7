import type { HttpRequest } from '@smithy/core/protocols';
import { OWNER_TAG_KEY } from '../../../lambda/rotation/binding.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  type Simulation,
} from '../../../local/simulation/index.js';

/** One access key as it stood when a request arrived. */
export interface KeyAtCall {
  readonly userName: string;
  readonly status: string;
  readonly lastUsedDate?: number;
}

/** Which AccessKeyId each staging label's version of a secret held when a request arrived. */
export interface SecretAtCall {
  readonly current?: string;
  readonly previous?: string;
  readonly pending?: string;
  /** Every version the secret had (labelled or not). */
  readonly versionIds: readonly string[];
  /**
   * Keys stored by the secret's rotation function in versions that never carried AWSCURRENT or
   * AWSPREVIOUS (a rotation abandoned for a new token, by a value put by hand, a cancel or a
   * give-up), as the simulation's own bookkeeping knows them, not as the function infers them.
   * They are the secret's own: the next rotation may remove them whatever their last use.
   */
  readonly abandoned: ReadonlySet<string>;
}

/**
 * The world as a request found it on arrival: what the invariants judge the request by. Taken
 * by the scenario's instrumentation for every request, so the checks see what the rotation
 * function could have seen, not the state at the end.
 */
export interface CallSnapshot {
  readonly time: number;
  readonly keys: ReadonlyMap<string, KeyAtCall>;
  /** By secret ARN. */
  readonly secrets: ReadonlyMap<string, SecretAtCall>;
  /** Each user's `iam-key-rotation:secret` tag (undefined when the user has none). */
  readonly ownerTags: ReadonlyMap<string, string | undefined>;
  /** For a PutSecretValue: the AccessKeyId its SecretString stores, if any. */
  readonly storedAccessKeyId?: string;
}

const headerOf = (request: HttpRequest, name: string): string | undefined =>
  Object.entries(request.headers).find(([key]) => key.toLowerCase() === name)?.[1];

const bodyText = (body: unknown): string =>
  typeof body === 'string'
    ? body
    : body instanceof Uint8Array
      ? Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')
      : '';

/** The AccessKeyId a PutSecretValue request would store (parsed from its JSON body). */
const storedAccessKeyIdOf = (request: HttpRequest): string | undefined => {
  if (!(headerOf(request, 'x-amz-target') ?? '').endsWith('.PutSecretValue')) return undefined;
  try {
    const body = JSON.parse(bodyText(request.body)) as { SecretString?: unknown };
    if (typeof body.SecretString !== 'string') return undefined;
    const value = JSON.parse(body.SecretString) as { AccessKeyId?: unknown };
    return typeof value.AccessKeyId === 'string' ? value.AccessKeyId : undefined;
  } catch {
    return undefined;
  }
};

/** The AccessKeyId a stored secret string holds, if it parses and holds one. */
export const keyIdOf = (secretString: string | undefined): string | undefined => {
  if (secretString === undefined) return undefined;
  try {
    const id = (JSON.parse(secretString) as { AccessKeyId?: unknown }).AccessKeyId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
};

/** The state of every key, secret and ownership tag of the simulation, right now. */
export const takeSnapshot = (sim: Simulation, request?: HttpRequest): CallSnapshot => {
  const keys = new Map<string, KeyAtCall>();
  for (const key of sim.iam.allAccessKeys()) {
    keys.set(key.accessKeyId, {
      userName: key.userName,
      status: key.status,
      ...(key.lastUsed === undefined ? {} : { lastUsedDate: key.lastUsed.date }),
    });
  }
  const secrets = new Map<string, SecretAtCall>();
  for (const secret of sim.secretsManager.all()) {
    const at = (stage: string): string | undefined =>
      keyIdOf(sim.secretsManager.holderOf(secret, stage)?.value?.SecretString);
    const held = new Set([at(AWSCURRENT), at(AWSPREVIOUS)]);
    const abandoned = new Set<string>();
    for (const version of secret.versions.values()) {
      if (version.storedByRotation !== true) continue;
      if (version.labelsEverHeld.has(AWSCURRENT) || version.labelsEverHeld.has(AWSPREVIOUS)) {
        continue;
      }
      const id = keyIdOf(version.value?.SecretString);
      if (id !== undefined && !held.has(id)) abandoned.add(id);
    }
    secrets.set(secret.arn, {
      current: at(AWSCURRENT),
      previous: at(AWSPREVIOUS),
      pending: at(AWSPENDING),
      versionIds: [...secret.versions.keys()],
      abandoned,
    });
  }
  const ownerTags = new Map<string, string | undefined>();
  for (const user of sim.iam.listUsers()) {
    ownerTags.set(user.userName, user.tags.find((tag) => tag.Key === OWNER_TAG_KEY)?.Value);
  }
  const stored = request === undefined ? undefined : storedAccessKeyIdOf(request);
  return {
    time: sim.clock.now(),
    keys,
    secrets,
    ownerTags,
    ...(stored === undefined ? {} : { storedAccessKeyId: stored }),
  };
};
