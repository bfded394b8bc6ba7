import type { AccessKeyLastUse, AccessKeyMetadata } from '../../lambda/aws/iam-access-key-store.js';
import { AWSPREVIOUS } from '../../lambda/aws/secrets-manager-secret-store.js';
import { SecretBindingError } from '../../lambda/errors.js';
import {
  CLOUDFORMATION_STACK_ID_TAG_KEY,
  CURRENT_KEY_TAG_KEY,
  OWNER_TAG_KEY,
  SECRET_NAME_PREFIX,
} from '../../lambda/rotation/binding.js';
import { findCurrentVersionId } from '../../lambda/rotation/guard.js';
import {
  describeKeyUse,
  needsOrphanCutoff,
  noRoomMessage,
  planKeyRemoval,
  staleBefore,
  type KeyRemovalPlan,
} from '../../lambda/rotation/key-plan.js';
import { ownershipProblem } from '../../lambda/rotation/ownership.js';
import { verifyStackSecret } from '../../lambda/rotation/trust.js';
import type { SecretDescription } from '../aws/operator-secret-store.js';
import { DEFAULT_STUCK_AFTER_MS } from '../command-defaults.js';
import { formatSpan } from '../format.js';
import { pendingVersionIds, versionsWithStage } from '../secret-state.js';
import { parseCurrentKeyTag } from '../status/current-key.js';

/** What `plan` needs to know of a configured user (lib/config-user.ts). */
export interface PlannedUserConfig {
  readonly userName: string;
  /** The configured IAM path, `/` or `/division/`. */
  readonly path: string;
  readonly createUser: boolean;
  /** The stack that holds (or will hold) the user's secret. */
  readonly stackName: string;
}

/** The IAM user as GetUser returned it (its path comes from its ARN). */
export interface ReadUser {
  readonly arn: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Everything `plan` read about one user, with Get/List/Describe calls only. */
export interface UserFacts {
  /** Absent: GetUser said NoSuchEntity. */
  readonly user?: ReadUser;
  /** The user's keys (none when the user does not exist). */
  readonly keys: readonly AccessKeyMetadata[];
  /** GetAccessKeyLastUsed of every key. */
  readonly lastUse: ReadonlyMap<string, AccessKeyLastUse>;
  /** DescribeSecret of `iam-key-rotation/<user>`; absent: ResourceNotFoundException. */
  readonly secret?: SecretDescription;
  /** When the secret's AWSCURRENT version was created (ListSecretVersionIds), if read. */
  readonly currentVersionCreated?: Date;
  /** When the secret's AWSPENDING version (not AWSCURRENT) was created, if there is one. */
  readonly pendingVersionCreated?: Date;
  /**
   * Whether the configured stack holds the secret now (CloudFormation DescribeStackResource of
   * its `aws:cloudformation:logical-id`), asked of a secret whose stack-id tag names that stack:
   * `false` for a secret retained when its user was removed or its stack deleted; `unknown`
   * when CloudFormation could not be asked.
   */
  readonly heldByStack?:
    { readonly held: true } | { readonly held: false | 'unknown'; readonly why: string };
}

export interface PlanOptions {
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** The configuration's `staleKeyDays`, which the function is deployed with. */
  readonly staleKeyDays: number;
  /**
   * A pending rotation older than this is stuck (failing and retried, or left behind).
   * @default DEFAULT_STUCK_AFTER_MS, as `status` takes it
   */
  readonly stuckAfterMs?: number;
  /** The user's region, when known: an ownership tag naming its own deleted secret is told apart. */
  readonly region?: string;
}

/**
 * Whether `owner` is the ARN of a secret `secretName` in the user's own account and `region`: the
 * user's own secret of an earlier deployment (kept, scheduled for deletion, or deleted).
 */
const isOwnSecretArn = (
  owner: string,
  secretName: string,
  userArn: string,
  region: string | undefined,
): boolean => {
  const parts = /^arn:[^:]+:secretsmanager:([^:]+):(\d+):secret:(.+)-[A-Za-z0-9]{6}$/.exec(owner);
  const userAccount = /^arn:[^:]+:iam::(\d+):/.exec(userArn)?.[1];
  return (
    parts !== null &&
    region !== undefined &&
    parts[1] === region &&
    parts[2] === userAccount &&
    parts[3] === secretName
  );
};

/**
 * - `ok`: the rotation can run;
 * - `rotating`: a rotation started less than `stuckAfterMs` ago is in progress, and the key plan
 *   of its resumed createSecret has room;
 * - `refused`: the deployment or the rotation will fail, for the reasons in `findings` (a
 *   rotation pending for longer than `stuckAfterMs` included: it is stuck);
 * - `unknown`: what the rotation will do cannot be told without reading the secret's value;
 * - `error`: the facts could not be read (access denied, a role that cannot be assumed).
 */
export type PlanVerdict = 'ok' | 'rotating' | 'refused' | 'unknown' | 'error';

/** The verdicts after which `plan` exits 0 (every other verdict exits 1). */
export const CAN_ROTATE: ReadonlySet<PlanVerdict> = new Set<PlanVerdict>(['ok', 'rotating']);

/**
 * `exists`, `will be created` (`createUser`), `missing` (the deployment fails), or `unknown` (it
 * could not be read).
 */
export type UserState = 'exists' | 'will be created' | 'missing' | 'unknown';

/**
 * The secret `iam-key-rotation/<user>` in the user's account and region:
 * - `none`: the deployment creates it;
 * - `managed`: this deployment's stack created it (its `aws:cloudformation:stack-id` tag names
 *   the configured stack);
 * - `look-alike`: no `aws:cloudformation:stack-id` tag (no stack created it);
 * - `another stack`: created by a stack of another name;
 * - `retained`: created by the configured stack, which no longer holds it (retained when its
 *   user was removed from the configuration, or its stack deleted);
 * - `scheduled for deletion`: its name stays taken until it is deleted;
 * - `unknown`: it could not be read.
 */
export type SecretState =
  | 'none'
  | 'managed'
  | 'look-alike'
  | 'another stack'
  | 'retained'
  | 'scheduled for deletion'
  | 'unknown';

/** What the rotation does with one key. */
export type KeyAction = 'keep' | 'delete' | 'blocks' | 'unknown';

export interface PlannedKey {
  readonly accessKeyId: string;
  readonly status: string;
  readonly createDate: string;
  readonly ageSeconds: number;
  /** `date` absent: never used. */
  readonly lastUsed: {
    readonly date?: string;
    readonly serviceName?: string;
    readonly region?: string;
  };
  readonly action: KeyAction;
  /** Why: `AWSCURRENT`, `in use`, `room left`, or a removal reason of the function. */
  readonly reason?: string;
}

/** The findings `plan` reports; the blocking ones make the verdict `refused`. */
export type FindingCode =
  | 'user missing'
  | 'user already exists'
  | 'path mismatch'
  | 'owned by another secret'
  | 'ownership tag missing'
  | 'look-alike secret'
  | 'secret of another stack'
  | 'retained secret'
  | 'stack not checked'
  | 'secret scheduled for deletion'
  | 'secret binding'
  | 'rotation disabled'
  | 'keys in use'
  | 'kept key in use'
  | 'current key unknown'
  | 'rotation pending'
  | 'rotation stuck'
  | 'error';

export interface Finding {
  readonly code: FindingCode;
  /** Whether the deployment or the rotation fails because of it. */
  readonly blocking: boolean;
  /** What was found, and what to do about it. */
  readonly message: string;
}

/** The plan of one user's first (or next) rotation. */
export interface UserPlan {
  readonly userName: string;
  readonly stack: string;
  readonly secretName: string;
  readonly user: UserState;
  readonly secret: SecretState;
  readonly secretArn?: string;
  /** `first`: the secret holds no key yet (or does not exist); `next`: it holds one. */
  readonly rotation: 'first' | 'next';
  readonly verdict: PlanVerdict;
  /** One line: what the rotation will do. */
  readonly summary: string;
  readonly keys: readonly PlannedKey[];
  readonly findings: readonly Finding[];
}

/** The closing fix of the function's no-room message, which names a secret that exists. */
const ROTATE_AGAIN = /, then rotate again \(aws secretsmanager rotate-secret [^)]*\)$/;

/** The stack name in an `aws:cloudformation:stack-id` (`arn:...:stack/<name>/<id>`). */
export const stackNameOfStackId = (stackId: string): string | undefined =>
  /:stack\/([^/]+)\//.exec(stackId)?.[1];

/** The IAM path in a user's ARN: `arn:aws:iam::1:user/ci/alice` -> `/ci/`. */
export const pathOfUserArn = (arn: string, userName: string): string | undefined => {
  const resource = /:user(\/.*)$/.exec(arn)?.[1];
  if (resource?.endsWith(`/${userName}`) !== true) return undefined;
  return resource.slice(0, resource.length - userName.length);
};

const keyFacts = (
  key: AccessKeyMetadata,
  lastUse: AccessKeyLastUse | undefined,
  now: number,
): Omit<PlannedKey, 'action' | 'reason'> => ({
  accessKeyId: key.accessKeyId,
  status: key.status,
  createDate: key.createDate.toISOString(),
  ageSeconds: Math.max(0, Math.floor((now - key.createDate.getTime()) / 1000)),
  lastUsed: {
    ...(lastUse?.lastUsedDate === undefined ? {} : { date: lastUse.lastUsedDate.toISOString() }),
    ...(lastUse?.serviceName === undefined ? {} : { serviceName: lastUse.serviceName }),
    ...(lastUse?.region === undefined ? {} : { region: lastUse.region }),
  },
});

/** Which key the secret's AWSCURRENT holds, as far as its metadata tells. */
type CurrentKey =
  | { readonly known: true; readonly accessKeyId: string | undefined }
  | { readonly known: false; readonly why: string };

/**
 * The AWSCURRENT key of a managed secret, without GetSecretValue: the function's tag
 * `iam-key-rotation:current-key` when it names the AWSCURRENT version; none when the secret has
 * only the version the stack created (no tag, no AWSPREVIOUS: no rotation ever completed).
 */
const currentKeyOf = (secret: SecretDescription): CurrentKey => {
  const versionId = findCurrentVersionId(secret);
  const raw = secret.tags[CURRENT_KEY_TAG_KEY];
  const tag = raw === undefined ? undefined : parseCurrentKeyTag(raw);
  if (versionId !== undefined && tag?.versionId === versionId) {
    return { known: true, accessKeyId: tag.accessKeyId };
  }
  if (raw === undefined && versionsWithStage(secret, AWSPREVIOUS).length === 0) {
    return { known: true, accessKeyId: undefined };
  }
  return {
    known: false,
    why:
      raw === undefined
        ? `its tag ${CURRENT_KEY_TAG_KEY} is absent`
        : `its tag ${CURRENT_KEY_TAG_KEY} does not name the AWSCURRENT version ${versionId ?? '(none)'}`,
  };
};

/**
 * The tag `iam-key-rotation:current-key` is writable by anyone allowed TagResource on the secret,
 * so it alone never decides: the key it names must exist, be Active, and have been created no
 * later than the AWSCURRENT version (the function creates the key, then the version that holds
 * it). Otherwise the key is unknown, and the verdict with it.
 */
const crossCheckCurrentKey = (
  current: CurrentKey,
  keys: readonly AccessKeyMetadata[],
  currentVersionCreated: Date | undefined,
): CurrentKey => {
  if (!current.known || current.accessKeyId === undefined) return current;
  const tagged = keys.find((key) => key.accessKeyId === current.accessKeyId);
  const disagrees = (why: string): CurrentKey => ({
    known: false,
    why: `its tag ${CURRENT_KEY_TAG_KEY} disagrees with IAM: ${why}`,
  });
  if (tagged === undefined) {
    return disagrees(`the user has no access key ${current.accessKeyId}`);
  }
  if (tagged.status !== 'Active') {
    return disagrees(`access key ${current.accessKeyId} is ${tagged.status}`);
  }
  if (currentVersionCreated === undefined) {
    return {
      known: false,
      why: `when the AWSCURRENT version was created was not read, so its tag ${CURRENT_KEY_TAG_KEY} (${current.accessKeyId}) cannot be checked`,
    };
  }
  if (tagged.createDate.getTime() > currentVersionCreated.getTime()) {
    return disagrees(
      `access key ${current.accessKeyId} was created ${tagged.createDate.toISOString()}, after the AWSCURRENT version (${currentVersionCreated.toISOString()})`,
    );
  }
  return current;
};

/** What the rotation does with each key, from the function's own plan. */
const plannedKeys = (
  keys: readonly AccessKeyMetadata[],
  facts: UserFacts,
  plan: KeyRemovalPlan,
  currentAccessKeyId: string | undefined,
  pendingAccessKeyId: string | undefined,
  options: PlanOptions,
): PlannedKey[] => {
  const stale = staleBefore(options.now, options.staleKeyDays).getTime();
  return keys.map((key): PlannedKey => {
    const use = facts.lastUse.get(key.accessKeyId);
    const base = keyFacts(key, use, options.now);
    if (key.accessKeyId === currentAccessKeyId) {
      return { ...base, action: 'keep', reason: 'AWSCURRENT' };
    }
    if (key.accessKeyId === pendingAccessKeyId) {
      return { ...base, action: 'keep', reason: 'AWSPENDING' };
    }
    if (plan.kind === 'remove') {
      const removal = plan.removals.find((entry) => entry.key === key);
      if (removal !== undefined) {
        const reason =
          removal.reason === 'unused' || removal.reason === 'orphan'
            ? `${removal.reason}, ${describeKeyUse(use)}`
            : removal.reason;
        return { ...base, action: 'delete', reason };
      }
    } else if (plan.blocking.some((entry) => entry.key === key)) {
      return { ...base, action: 'blocks', reason: 'in use' };
    }
    const inUse = (use?.lastUsedDate?.getTime() ?? Number.NEGATIVE_INFINITY) >= stale;
    return { ...base, action: 'keep', reason: inUse ? 'in use' : 'room left' };
  });
};

const summaryOf = (rotation: 'first' | 'next', keys: readonly PlannedKey[]): string => {
  const deleted = keys.filter((key) => key.action === 'delete');
  const kept = keys.filter(
    (key) => key.action === 'keep' && key.reason !== 'AWSCURRENT' && key.reason !== 'AWSPENDING',
  );
  const current = keys.find((key) => key.reason === 'AWSCURRENT');
  return [
    rotation === 'first' ? 'creates the first key of the secret' : 'creates a new key',
    ...(deleted.length === 0
      ? []
      : [`deletes ${deleted.map((key) => `${key.accessKeyId} (${key.reason ?? ''})`).join(', ')}`]),
    ...(kept.length === 0
      ? []
      : [`keeps ${kept.map((key) => `${key.accessKeyId} (${key.reason ?? ''})`).join(', ')}`]),
    ...(current === undefined ? [] : [`${current.accessKeyId} becomes ${AWSPREVIOUS}`]),
  ].join('; ');
};

/**
 * Judges one configured user: whether the deployment can take it and what its first (or next)
 * rotation will do, with the function's own key plan (lambda/rotation/key-plan.ts) and its own
 * checks and messages (trust.ts, ownership.ts), on what `plan` read. Pure.
 */
export const planUser = (
  config: PlannedUserConfig,
  facts: UserFacts,
  options: PlanOptions,
): UserPlan => {
  const { userName, createUser, stackName } = config;
  const secretName = `${SECRET_NAME_PREFIX}${userName}`;
  const findings: Finding[] = [];
  const refuse = (code: FindingCode, message: string): void => {
    findings.push({ code, blocking: true, message });
  };
  const note = (code: FindingCode, message: string): void => {
    findings.push({ code, blocking: false, message });
  };

  // The user.
  const user = facts.user;
  let userState: UserState =
    user !== undefined ? 'exists' : createUser ? 'will be created' : 'missing';
  if (userState === 'missing') {
    refuse(
      'user missing',
      `IAM user ${userName} does not exist and "createUser" is false: the stack does not create it, so the deployment fails (its ownership tag cannot be set) and no key is rotated. Create it (aws iam create-user --user-name ${userName}${config.path === '/' ? '' : ` --path ${config.path}`}), or set "createUser": true for this user`,
    );
  }

  // The secret name, taken or not.
  const secret = facts.secret;
  let secretState: SecretState = 'none';
  if (secret !== undefined) {
    const stackId = secret.tags[CLOUDFORMATION_STACK_ID_TAG_KEY];
    const otherStack = stackId === undefined ? undefined : stackNameOfStackId(stackId);
    if (secret.deletedDate !== undefined) {
      secretState = 'scheduled for deletion';
      const held = otherStack === stackName ? facts.heldByStack : undefined;
      refuse(
        'secret scheduled for deletion',
        held?.held === true
          ? `Secret ${secret.arn} is scheduled for deletion (since ${secret.deletedDate.toISOString()}), but stack ${stackName} still holds it: a deployment without a template change does not create it again, so deleting it for good would leave ${userName} without its secret. Restore it (aws secretsmanager restore-secret --secret-id ${secret.arn}), then plan again`
          : `Secret ${secret.arn} is scheduled for deletion (since ${secret.deletedDate.toISOString()})${held?.held === 'unknown' ? ` and whether stack ${stackName} still holds it was not checked (${held.why}); if it does, restore it instead (aws secretsmanager restore-secret --secret-id ${secret.arn})` : ''}: its name ${secretName} stays taken until it is deleted, so the deployment cannot create it. Delete it now (aws secretsmanager delete-secret --secret-id ${secret.arn} --force-delete-without-recovery), then deploy`,
      );
    } else if (stackId === undefined) {
      secretState = 'look-alike';
      refuse(
        'look-alike secret',
        `Secret ${secret.arn} already uses the name ${secretName} but has no tag ${CLOUDFORMATION_STACK_ID_TAG_KEY}: no CloudFormation stack created it, so the deployment cannot create the secret of this name, and the rotation function never rotates a secret its own stack did not create. Move its readers off it and delete it (aws secretsmanager delete-secret --secret-id ${secret.arn} --force-delete-without-recovery), then deploy`,
      );
    } else if (otherStack !== stackName) {
      secretState = 'another stack';
      refuse(
        'secret of another stack',
        `Secret ${secret.arn} was created by stack ${otherStack ?? stackId} (its tag ${CLOUDFORMATION_STACK_ID_TAG_KEY}), not by ${stackName}, where this configuration places ${userName}: the deployment cannot create a second secret of that name, and the function of ${stackName} never rotates another stack's secret. Keep ${userName} in the deployment of ${otherStack ?? 'that stack'} (see iam-key-rotation placement --config), or remove it there ("Remove a user" in the README) and delete its retained secret, then deploy`,
      );
    } else if (facts.heldByStack?.held === false) {
      secretState = 'retained';
      refuse(
        'retained secret',
        `Secret ${secret.arn} was created by stack ${stackName} (${stackId}), which does not hold it any more (${facts.heldByStack.why}): it was kept when the stack's first creation rolled back, when ${userName} was removed from the configuration or when the stack was deleted, and the deployment cannot create a secret of that name again. Delete it (aws secretsmanager delete-secret --secret-id ${secret.arn} --force-delete-without-recovery; the key it holds stays in IAM, and the first rotation keeps it while it is in use), then deploy`,
      );
    } else {
      secretState = 'managed';
      if (facts.heldByStack?.held === 'unknown') {
        note(
          'stack not checked',
          `Secret ${secret.arn} carries the id of stack ${stackName}, but whether that stack still holds it was not checked (${facts.heldByStack.why}); a secret retained after its user was removed or its stack deleted cannot be created again. Allow cloudformation:DescribeStackResource on the stack (docs/organization.md) to check it`,
        );
      }
      try {
        verifyStackSecret(secret, stackId);
      } catch (error) {
        if (!(error instanceof SecretBindingError)) throw error;
        refuse('secret binding', error.message);
      }
    }
  }
  const managed = secret !== undefined && secretState === 'managed';
  if (userState === 'will be created' && managed) {
    // The stack created the user and someone deleted it: an update does not create it again.
    userState = 'missing';
    refuse(
      'user missing',
      `IAM user ${userName} does not exist, but its secret ${secret.arn} of stack ${stackName} does: the stack created the user and it was deleted since, and CloudFormation does not create it again on an update, so every rotation fails. Create it again (aws iam create-user --user-name ${userName}${config.path === '/' ? '' : ` --path ${config.path}`}) and tag it by hand, since a deployment does not run the ownership tagger again (aws iam tag-user --user-name ${userName} --tags Key=${OWNER_TAG_KEY},Value=${secret.arn})`,
    );
  }

  if (user !== undefined) {
    if (createUser && !managed) {
      refuse(
        'user already exists',
        `IAM user ${userName} already exists, but "createUser" is true and no secret of stack ${stackName} holds it: CloudFormation cannot create a user that exists (EntityAlreadyExists) and the deployment fails. Set "createUser": false to rotate the existing user, or choose another userName`,
      );
    }
    const actualPath = pathOfUserArn(user.arn, userName);
    if (!createUser && actualPath !== undefined && (actualPath === '/') !== (config.path === '/')) {
      refuse(
        'path mismatch',
        `IAM user ${userName} has the path ${actualPath} (${user.arn}), but the configuration says "path": "${config.path}": the policies of the rotation function and of the ownership tagger name the user at ${config.path === '/' ? 'the root path' : 'a path below /'}, so IAM refuses their calls (AccessDenied). Set "path": "${actualPath}" for this user`,
      );
    }
    if (managed) {
      const problem = ownershipProblem(user, secret.arn, userName);
      if (problem !== undefined) {
        refuse(
          user.tags[OWNER_TAG_KEY] === undefined
            ? 'ownership tag missing'
            : 'owned by another secret',
          problem,
        );
      }
    } else {
      const owner = user.tags[OWNER_TAG_KEY];
      const ownSecret =
        owner !== undefined &&
        (owner === secret?.arn || isOwnSecretArn(owner, secretName, user.arn, options.region));
      if (owner !== undefined && ownSecret) {
        refuse(
          'owned by another secret',
          `IAM user ${userName} is tagged as owned by secret ${owner.slice(0, 2048)} (its tag ${OWNER_TAG_KEY}), its own secret of an earlier deployment, which is kept, scheduled for deletion or deleted: the deployment fails to tag it for the new secret. Once that secret is deleted, remove the tag (aws iam untag-user --user-name ${userName} --tag-keys ${OWNER_TAG_KEY}), then deploy`,
        );
      } else if (owner !== undefined) {
        refuse(
          'owned by another secret',
          `IAM user ${userName} is already owned by secret ${owner.slice(0, 2048)} (its tag ${OWNER_TAG_KEY}), not by ${secretName} of stack ${stackName}: the deployment fails to tag it, and the function would refuse to touch its keys. Remove ${userName} from the other deployment, or if that deployment is gone run \`aws iam untag-user --user-name ${userName} --tag-keys ${OWNER_TAG_KEY}\`, then deploy`,
        );
      }
    }
  }

  if (managed && !secret.rotationEnabled) {
    refuse(
      'rotation disabled',
      `Rotation of ${secret.arn} is not enabled (turned off by hand: aws secretsmanager cancel-rotate-secret), so Secrets Manager never rotates it and the function refuses every step. A deployment without a template change does not turn it on again: turn it on with the stack's function and the user's schedule of the configuration (aws secretsmanager rotate-secret --secret-id ${secret.arn} --rotation-lambda-arn ${secret.rotationLambdaArn ?? `<the rotation function of stack ${stackName}>`} --rotation-rules '{"ScheduleExpression":"<the user's schedule>"}' --no-rotate-immediately)`,
    );
  }

  // The keys and what the rotation does with them.
  const keys = facts.keys;
  let rotation: 'first' | 'next' = 'first';
  let planned: PlannedKey[] = keys.map((key) => ({
    ...keyFacts(key, facts.lastUse.get(key.accessKeyId), options.now),
    action: 'unknown',
  }));
  let summary: string;
  let unknown = false;
  let pending = false;
  const pendingVersion = managed ? pendingVersionIds(secret)[0] : undefined;
  const current: CurrentKey = managed
    ? crossCheckCurrentKey(currentKeyOf(secret), keys, facts.currentVersionCreated)
    : { known: true, accessKeyId: undefined };
  if (current.known && current.accessKeyId !== undefined) rotation = 'next';

  const pendingCreated = facts.pendingVersionCreated?.getTime();
  if (userState === 'exists' && pendingVersion !== undefined && pendingCreated !== undefined) {
    const ageMs = options.now - pendingCreated;
    const stuckAfterMs = options.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
    if (ageMs > stuckAfterMs) {
      refuse(
        'rotation stuck',
        `A rotation of ${secretName} has been pending for ${formatSpan(ageMs)} (version ${pendingVersion} carries AWSPENDING), longer than a rotation takes (${formatSpan(stuckAfterMs)}): it is failing and being retried, or was left behind, and no other rotation starts while it stays. Its errors are in the rotation function's log group (search for the version id); give it up with iam-key-rotation cancel ${userName}, then plan again`,
      );
    } else {
      pending = true;
      note(
        'rotation pending',
        `A rotation of ${secretName} is in progress (version ${pendingVersion} carries AWSPENDING, created ${formatSpan(ageMs)} ago): follow it with iam-key-rotation status ${userName}, and plan again when it has ended`,
      );
    }
  }
  if (userState === 'will be created') {
    summary = `creates IAM user ${userName}, then the first key of the secret`;
  } else if (userState === 'missing') {
    summary = 'nothing can be rotated: the user does not exist';
  } else if (!current.known) {
    unknown = true;
    summary = `unknown: the AWSCURRENT key of ${secretName} is not known without reading the secret`;
    note(
      'current key unknown',
      `The key ${secretName} holds is not known: ${current.why}, and plan never reads a secret's value. The function sets the tag whenever AWSCURRENT moves; see the key with iam-key-rotation status ${userName} (it may read the value), or rotate it (iam-key-rotation rotate ${userName} --wait)`,
    );
  } else if (pendingVersion !== undefined && facts.pendingVersionCreated === undefined) {
    unknown = true;
    summary = `unknown: a rotation of ${secretName} is in progress (version ${pendingVersion} carries AWSPENDING)`;
    note(
      'rotation pending',
      `A rotation of ${secretName} is in progress (version ${pendingVersion} carries AWSPENDING), and when it started was not read: follow it with iam-key-rotation status ${userName}, and plan again when it has ended`,
    );
  } else {
    const currentAccessKeyId = current.accessKeyId;
    // A pending rotation: Secrets Manager created its version, then createSecret created the key
    // it holds, so that key is the one Active key created since. Resumed, createSecret keeps it
    // (one slot reserved) and creates none.
    const pendingCandidates =
      pendingCreated === undefined
        ? []
        : keys.filter(
            (key) =>
              key.accessKeyId !== currentAccessKeyId &&
              key.status === 'Active' &&
              key.createDate.getTime() >= pendingCreated,
          );
    const pendingKey = pendingCandidates.length === 1 ? pendingCandidates[0] : undefined;
    if (pendingVersion !== undefined && pendingCandidates.length > 1) {
      unknown = true;
      note(
        'rotation pending',
        `Which key the pending version ${pendingVersion} of ${secretName} holds is not known: ${pendingCandidates.map((key) => key.accessKeyId).join(' and ')} were both created since it was, and plan never reads a secret's value. See it with iam-key-rotation status ${userName}, and plan again when the rotation has ended`,
      );
    }
    const resumed = pendingVersion !== undefined && pendingKey !== undefined;
    const plannedKeyList = resumed
      ? keys.filter((key) => key.accessKeyId !== pendingKey.accessKeyId)
      : keys;
    const others = plannedKeyList.filter((key) => key.accessKeyId !== currentAccessKeyId);
    // The secret's AWSPREVIOUS key is not readable without its value: after a rotation it is the
    // user's one other key (as status takes it), if that key was made before the AWSCURRENT
    // version (a key made after it was made by hand: the function finds it in no version).
    const [onlyOther] = others;
    const previousCandidate =
      managed &&
      currentAccessKeyId !== undefined &&
      others.length === 1 &&
      onlyOther?.status === 'Active' &&
      versionsWithStage(secret, AWSPREVIOUS).length > 0
        ? onlyOther
        : undefined;
    const currentCreated = facts.currentVersionCreated?.getTime();
    // (Without that date the current key is unknown already: crossCheckCurrentKey.)
    const previousAccessKeyId =
      previousCandidate !== undefined &&
      currentCreated !== undefined &&
      previousCandidate.createDate.getTime() <= currentCreated
        ? previousCandidate.accessKeyId
        : undefined;
    if (unknown) {
      // In doubt, no guess: the keys' actions stay unknown.
      summary = `unknown: which keys the versions of ${secretName} hold is not known without reading the secret`;
    } else {
      const plan = planKeyRemoval({
        keys: plannedKeyList,
        currentAccessKeyId,
        previousAccessKeyId,
        orphanCutoff: needsOrphanCutoff(plannedKeyList, currentAccessKeyId)
          ? facts.currentVersionCreated
          : undefined,
        reservedSlots: resumed ? 1 : 0,
        slotsNeeded: resumed ? 0 : 1,
        lastUse: facts.lastUse,
        staleBefore: staleBefore(options.now, options.staleKeyDays),
      });
      planned = plannedKeys(
        keys,
        facts,
        plan,
        currentAccessKeyId,
        resumed ? pendingKey.accessKeyId : undefined,
        options,
      );
      if (plan.kind === 'no-room') {
        refuse(
          'keys in use',
          noRoomMessage({
            step: 'createSecret',
            userName,
            keyCount: keys.length,
            blocking: plan.blocking,
            staleKeyDays: options.staleKeyDays,
            secretId: secret?.arn ?? secretName,
          }).replace(
            // Before the secret exists there is nothing to rotate: the deployment does it.
            secret === undefined ? ROTATE_AGAIN : /$^/,
            ', then plan again and deploy',
          ),
        );
      }
      for (const key of planned) {
        if (key.action === 'keep' && key.reason === 'in use') {
          note(
            'kept key in use',
            `Access key ${key.accessKeyId} of IAM user ${userName} is kept: it was used within ${String(options.staleKeyDays)} days (staleKeyDays), and the secret does not hold it. Move its applications to the secret; a later rotation deletes it once it has not been used for ${String(options.staleKeyDays)} days, and is refused while it is still used`,
          );
        }
      }
      summary =
        pendingVersion === undefined
          ? summaryOf(rotation, planned)
          : `a rotation is in progress (${secretName} version ${pendingVersion} carries AWSPENDING${resumed ? `, key ${pendingKey.accessKeyId}` : ''}); ${summaryOf(rotation, planned)}`;
    }
  }

  const refused = findings.some((finding) => finding.blocking);
  const verdict: PlanVerdict = refused
    ? 'refused'
    : unknown
      ? 'unknown'
      : pending
        ? 'rotating'
        : 'ok';
  return {
    userName,
    stack: stackName,
    secretName,
    user: userState,
    secret: secretState,
    ...(secret === undefined ? {} : { secretArn: secret.arn }),
    rotation,
    verdict,
    summary: refused
      ? `refused: ${[...new Set(findings.filter((finding) => finding.blocking).map((finding) => finding.code))].join(', ')}`
      : summary,
    keys: planned,
    findings,
  };
};
