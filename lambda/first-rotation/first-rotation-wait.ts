import {
  DeleteAccessKeyCommand,
  type IAMClient,
  ListAccessKeysCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import {
  CancelRotateSecretCommand,
  DescribeSecretCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { errorName, ignoreNoSuchEntity } from '../aws/aws-error.js';
import type { StackStates } from '../aws/cloudformation-stack-resources.js';
import { parseCustomResourceRequest } from '../aws/custom-resource-request.js';
import { parseLogLine, type RotationLogEvent } from '../aws/rotation-log-events.js';
import {
  AWSCURRENT,
  AWSPENDING,
  type SecretMetadata,
} from '../aws/secrets-manager-secret-store.js';
import { CURRENT_KEY_TAG_KEY, SECRET_NAME_PREFIX } from '../rotation/binding.js';
import { provenVersionId } from '../rotation/proven-version.js';
import { verifyStackSecret } from '../rotation/trust.js';

/** The custom resource's properties: the user and the secret the stack created for it. */
export interface FirstRotationProperties {
  readonly UserName: string;
  readonly SecretArn: string;
}

/** What onEvent hands isComplete (through the Provider framework) about the awaited rotation. */
export interface FirstRotationData {
  /** `started` (onEvent called RotateSecret), `in-flight` (found one), `already-rotated`. */
  readonly Outcome?: string;
  /** The version id of the awaited rotation. */
  readonly ClientRequestToken?: string;
  /** When onEvent ran, in milliseconds since the epoch (a string: CloudFormation attributes are). */
  readonly StartedAt?: string;
}

/** A request of the Provider framework (CloudFormation's, plus onEvent's answer for isComplete). */
export interface FirstRotationEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly StackId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: FirstRotationProperties;
  readonly Data?: FirstRotationData;
}

/** onEvent's answer. */
export interface FirstRotationResult {
  readonly PhysicalResourceId: string;
  readonly Data?: FirstRotationData;
}

/** isComplete's answer (Data only once complete: the framework refuses it before). */
export interface FirstRotationCompletion {
  readonly IsComplete: boolean;
  readonly Data?: { readonly AccessKeyId: string };
}

/** The waiter's settings, from its environment. */
export interface FirstRotationSettings {
  /** The id (ARN) of the stack the function belongs to. */
  readonly stackId: string;
  /** How long after onEvent isComplete fails the deployment (less than the framework's totalTimeout). */
  readonly waitTimeoutMs: number;
  /** The rotation function's timeout: a step that passed its checks has ended after it. */
  readonly rotationTimeoutMs: number;
}

/** The rotation function's log lines that mention a text (a ClientRequestToken). */
export interface RotationLog {
  eventsContaining(text: string, since: Date): Promise<RotationLogEvent[]>;
}

export interface FirstRotationDependencies {
  readonly settings: FirstRotationSettings;
  readonly secretsManager: SecretsManagerClient;
  readonly iam: IAMClient;
  readonly stack: StackStates;
  readonly rotationLog: RotationLog;
  readonly clock: { now(): number; sleep(ms: number): Promise<void> };
  /** Writes one JSON log line (identifiers only). */
  readonly log: (line: Readonly<Record<string, unknown>>) => void;
}

/** A request the waiter refuses, or a first rotation that failed: the deployment fails with it. */
export class FirstRotationError extends Error {
  public override readonly name = 'FirstRotationError';
}

/** The physical id prefix of every wait: `first-rotation/<user>/<awaited|not-awaited>`. */
export const FIRST_ROTATION_ID_PREFIX = 'iam-key-rotation:first-rotation/';

/**
 * The physical id of the wait for user `userName`: `awaited` when Create found the secret created
 * in the same stack operation (only then may the rollback's Delete clean up), `not-awaited`
 * otherwise (Delete changes nothing).
 */
export const firstRotationPhysicalId = (userName: string, awaited: boolean): string =>
  `${FIRST_ROTATION_ID_PREFIX}${userName}/${awaited ? 'awaited' : 'not-awaited'}`;

/**
 * Errors of the rotation function that retrying cannot cure: the function refused the rotation
 * (a key in use, the ownership tag, the binding, its settings, a value put by hand) or gave it up.
 * Anything else (a new key not yet valid, throttling, a service error) is left to Secrets
 * Manager's retries until the wait's deadline.
 */
export const REFUSAL_ERROR_NAMES: ReadonlySet<string> = new Set([
  'AccessKeyInUseError',
  'UserOwnershipError',
  'SecretBindingError',
  'ForeignSecretError',
  'InvalidSettingsError',
  'InvalidSecretTagError',
  'InvalidSecretValueError',
  'RotationStateError',
  'PendingAccessKeyError',
  'RotationGivenUpError',
]);

/**
 * An access denial (an SCP, a KMS key policy) counts as a refusal only this long after the
 * rotation started: before, it may be IAM propagating the role's new policies.
 */
export const ACCESS_DENIED_GRACE_MS = 120_000;

/** Log lines are read from this long before onEvent (clocks differ). */
const LOG_LOOKBACK_MS = 60_000;

/** How many times the rollback removes an AWSPENDING that a step in flight put back. */
const MAX_REMOVALS = 3;

/**
 * How long the rollback's Delete waits in all for steps in flight to end: within the onEvent
 * function's 15-minute timeout, with time left for its calls. A rotation function timeout longer
 * than this is waited out for this long only.
 */
export const ROLLBACK_WAIT_BUDGET_MS = 12 * 60_000;

/** Stack states in which CloudFormation deletes what the failed deployment created. */
export const ROLLBACK_STACK_STATUSES: ReadonlySet<string> = new Set([
  'ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_IN_PROGRESS',
  'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
]);

/**
 * The event, checked: a request type, this function's own stack, a logical id, a user name and
 * a secret ARN.
 *
 * @throws FirstRotationError naming the field and what was expected
 */
export function parseFirstRotationEvent(event: unknown, stackId: string): FirstRotationEvent {
  const request = parseCustomResourceRequest(
    event,
    stackId,
    (message) => new FirstRotationError(message),
    'does nothing',
  );
  const data: Record<string, string> = {};
  for (const key of ['Outcome', 'ClientRequestToken', 'StartedAt'] as const) {
    const value = request.data?.[key];
    if (typeof value === 'string') data[key] = value;
  }
  return { ...request.event, Data: data };
}

/** The secret as DescribeSecret shows it, with its creation and last rotation dates. */
interface SecretView extends SecretMetadata {
  readonly createdDate?: Date;
  readonly lastRotatedDate?: Date;
}

/** DescribeSecret, trust-checked: this stack's secret, named after and bound to `userName`. */
const describeStackSecret = async (
  deps: FirstRotationDependencies,
  properties: FirstRotationProperties,
): Promise<SecretView> => {
  const output = await deps.secretsManager.send(
    new DescribeSecretCommand({ SecretId: properties.SecretArn }),
  );
  const tags: Record<string, string> = {};
  for (const tag of output.Tags ?? []) {
    if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
  }
  const secret: SecretView = {
    arn: output.ARN ?? properties.SecretArn,
    name: output.Name ?? '',
    rotationEnabled: output.RotationEnabled === true,
    versionIdsToStages: { ...output.VersionIdsToStages },
    tags,
    ...(output.CreatedDate === undefined ? {} : { createdDate: output.CreatedDate }),
    ...(output.LastRotatedDate === undefined ? {} : { lastRotatedDate: output.LastRotatedDate }),
  };
  const userName = verifyStackSecret(secret, deps.settings.stackId);
  if (userName !== properties.UserName) {
    throw new FirstRotationError(
      `secret ${secret.arn} is named after IAM user ${userName}, but ResourceProperties.UserName is ${properties.UserName}: nothing was changed`,
    );
  }
  return secret;
};

const versionWith = (secret: SecretMetadata, stage: string): string | undefined =>
  Object.entries(secret.versionIdsToStages).find(([, stages]) => stages.includes(stage))?.[0];

/** Versions that carry AWSPENDING but not AWSCURRENT: rotations not complete. */
const pendingVersionIds = (secret: SecretMetadata): string[] =>
  Object.entries(secret.versionIdsToStages)
    .filter(([, stages]) => stages.includes(AWSPENDING) && !stages.includes(AWSCURRENT))
    .map(([versionId]) => versionId);

/**
 * The AWSCURRENT version when testSecret proved it: finishSecret promotes only the version
 * testSecret proved, so before its current-key tag is written this is a rotation finishing (its
 * AWSPENDING may still sit on the AWSCURRENT version, which {@link pendingVersionIds} skips).
 */
const provenCurrentVersionId = (secret: SecretMetadata): string | undefined => {
  const current = versionWith(secret, AWSCURRENT);
  return current !== undefined && provenVersionId(secret) === current ? current : undefined;
};

/**
 * The key AWSCURRENT holds when testSecret proved it: the AWSCURRENT version carries the TESTED
 * label, and the current-key tag (`<versionId>:<accessKeyId>`, set by finishSecret) names that
 * version. Read without GetSecretValue: the waiter never sees a secret access key.
 */
export const provenCurrentKey = (
  secret: SecretMetadata,
): { readonly versionId: string; readonly accessKeyId: string } | undefined => {
  const current = versionWith(secret, AWSCURRENT);
  if (current === undefined || provenVersionId(secret) !== current) return undefined;
  const tag = secret.tags[CURRENT_KEY_TAG_KEY] ?? '';
  const separator = tag.lastIndexOf(':');
  if (separator < 0 || tag.slice(0, separator) !== current) return undefined;
  const accessKeyId = tag.slice(separator + 1);
  return accessKeyId === '' ? undefined : { versionId: current, accessKeyId };
};

const describeSubject = (properties: FirstRotationProperties): string =>
  `secret ${SECRET_NAME_PREFIX}${properties.UserName} (IAM user ${properties.UserName})`;

/**
 * onEvent and isComplete of the first-rotation wait (aws-cdk-lib's Provider framework):
 * - Create awaits only a secret created in the same stack operation (any other completes at
 *   once, never rotated, and its Delete changes nothing); it starts the rotation unless one is
 *   in flight (creating the rotation schedule started one) or AWSCURRENT already holds a proven
 *   key; isComplete then answers complete once
 *   AWSCURRENT holds a key testSecret proved, and fails the deployment with the function's own
 *   error when the rotation was refused or given up, or when the wait's deadline passes.
 * - Update changes nothing and rotates nothing (the physical id stays).
 * - Delete undoes the rotation only when CloudFormation rolls back this wait's creation, which
 *   awaited a new secret (see {@link rollBack}); any other Delete changes nothing.
 */
export const createFirstRotationHandlers = (deps: FirstRotationDependencies) => {
  const onEvent = async (rawEvent: unknown): Promise<FirstRotationResult> => {
    const event = parseFirstRotationEvent(rawEvent, deps.settings.stackId);
    const properties = event.ResourceProperties;
    const base = {
      requestType: event.RequestType,
      logicalResourceId: event.LogicalResourceId,
      userName: properties.UserName,
      secretArn: properties.SecretArn,
    };
    switch (event.RequestType) {
      case 'Create':
        return startOrFind(deps, event.LogicalResourceId, properties, base);
      case 'Update': {
        // Never a rotation on update: the wait is for the first rotation only.
        const physicalId =
          event.PhysicalResourceId ?? firstRotationPhysicalId(properties.UserName, false);
        deps.log({ ...base, action: 'unchanged' });
        return { PhysicalResourceId: physicalId, Data: { Outcome: 'unchanged' } };
      }
      case 'Delete':
        return rollBack(deps, event, base);
      default: {
        const unexpected: never = event.RequestType;
        throw new FirstRotationError(`unexpected RequestType ${String(unexpected)}`);
      }
    }
  };

  const isComplete = async (rawEvent: unknown): Promise<FirstRotationCompletion> => {
    const event = parseFirstRotationEvent(rawEvent, deps.settings.stackId);
    if (
      event.RequestType !== 'Create' ||
      event.Data?.Outcome === 'already-rotated' ||
      event.Data?.Outcome === 'not-awaited'
    ) {
      return { IsComplete: true };
    }
    return checkFirstRotation(deps, event);
  };

  return { onEvent, isComplete };
};

/**
 * Why the secret is not shown to be created in the stack operation that runs this Create
 * (`undefined` when it is): CloudFormation must show this wait's resource CREATE_IN_PROGRESS; a stack being created holds only new secrets; in an update, the
 * secret must be created since the update began (CloudFormation's LastUpdatedTime, floored to
 * the second as CreatedDate may be) and never rotated (no LastRotatedDate, no version but the
 * initial AWSCURRENT one and a rotation's AWSPENDING). Anything unclear counts as not new.
 */
async function notCreatedInThisOperation(
  deps: FirstRotationDependencies,
  logicalResourceId: string,
  secret: SecretView,
): Promise<string | undefined> {
  let status: string;
  let since: Date | undefined;
  try {
    // Tied to CloudFormation: a direct invoke of onEvent with a made-up Create (no resource being
    // created under this logical id) starts nothing.
    const resource = await deps.stack.describeStackResource(
      deps.settings.stackId,
      logicalResourceId,
    );
    if (resource.status !== 'CREATE_IN_PROGRESS') {
      return `CloudFormation is not creating ${logicalResourceId} (${resource.status})`;
    }
    const stack = await deps.stack.describeStack(deps.settings.stackId);
    status = stack.status;
    since = status === 'CREATE_IN_PROGRESS' ? stack.creationTime : stack.lastUpdatedTime;
  } catch (error) {
    return `CloudFormation could not be read (${errorName(error) ?? 'Error'})`;
  }
  if (status !== 'CREATE_IN_PROGRESS' && status !== 'UPDATE_IN_PROGRESS') {
    return `the stack is ${status}, neither CREATE_IN_PROGRESS nor UPDATE_IN_PROGRESS`;
  }
  if (since === undefined || secret.createdDate === undefined) {
    return "the stack operation's start or the secret's CreatedDate is unknown";
  }
  const floored = Math.floor(since.getTime() / 1_000) * 1_000;
  if (secret.createdDate.getTime() < floored) {
    return `the secret was created (${secret.createdDate.toISOString()}) before this stack operation began (${since.toISOString()})`;
  }
  if (status === 'CREATE_IN_PROGRESS') return undefined;
  if (secret.lastRotatedDate !== undefined) {
    return `the secret was rotated before (${secret.lastRotatedDate.toISOString()})`;
  }
  const settled = Object.entries(secret.versionIdsToStages).filter(
    ([, stages]) => !(stages.includes(AWSPENDING) && !stages.includes(AWSCURRENT)),
  );
  const [initial] = settled;
  if (settled.length !== 1 || initial === undefined || !initial[1].includes(AWSCURRENT)) {
    return `the secret has versions besides its initial one (${settled.map(([id]) => id).join(', ')})`;
  }
  return undefined;
}

async function startOrFind(
  deps: FirstRotationDependencies,
  logicalResourceId: string,
  properties: FirstRotationProperties,
  base: Readonly<Record<string, string>>,
): Promise<FirstRotationResult> {
  const startedAt = String(deps.clock.now());
  const secret = await describeStackSecret(deps, properties);
  const proven = provenCurrentKey(secret);
  const notNew = await notCreatedInThisOperation(deps, logicalResourceId, secret);
  if (notNew !== undefined) {
    // Never a rotation of a secret this operation did not create: it may be live (an operator's
    // rollback, a value put by hand, a secret of an earlier release), and the rollback of this
    // operation must not clean up after it.
    deps.log({
      ...base,
      action: 'not-awaited',
      reason: notNew,
      currentProven: proven !== undefined,
      ...(proven === undefined ? {} : { accessKeyId: proven.accessKeyId }),
      ...(proven === undefined ? { level: 'warning' } : {}),
    });
    return {
      PhysicalResourceId: firstRotationPhysicalId(properties.UserName, false),
      Data: { Outcome: 'not-awaited', StartedAt: startedAt },
    };
  }
  const awaited = firstRotationPhysicalId(properties.UserName, true);
  if (proven !== undefined) {
    deps.log({ ...base, action: 'already-rotated', accessKeyId: proven.accessKeyId });
    return {
      PhysicalResourceId: awaited,
      Data: { Outcome: 'already-rotated', StartedAt: startedAt },
    };
  }
  // A rotation finishing (AWSCURRENT proven, its current-key tag still to be written) is awaited
  // as one in flight: a second RotateSecret beside it would start another rotation.
  const inFlight = pendingVersionIds(secret)[0] ?? provenCurrentVersionId(secret);
  if (inFlight !== undefined) {
    deps.log({ ...base, action: 'awaiting', clientRequestToken: inFlight });
    return {
      PhysicalResourceId: awaited,
      Data: { Outcome: 'in-flight', ClientRequestToken: inFlight, StartedAt: startedAt },
    };
  }
  let token: string | undefined;
  try {
    token = (await deps.secretsManager.send(new RotateSecretCommand({ SecretId: secret.arn })))
      .VersionId;
  } catch (error) {
    // A rotation began between DescribeSecret and RotateSecret: await that one.
    if (errorName(error) !== 'InvalidRequestException') throw error;
    token = pendingVersionIds(await describeStackSecret(deps, properties))[0];
    if (token === undefined) {
      throw new FirstRotationError(
        `RotateSecret on ${describeSubject(properties)} was refused (${error instanceof Error ? error.message : String(error)}) and no rotation is in flight: deploy again once the cause is fixed`,
        { cause: error },
      );
    }
  }
  if (token === undefined) {
    throw new FirstRotationError(
      `RotateSecret on ${describeSubject(properties)} answered without a VersionId`,
    );
  }
  deps.log({ ...base, action: 'started', clientRequestToken: token });
  return {
    PhysicalResourceId: awaited,
    Data: { Outcome: 'started', ClientRequestToken: token, StartedAt: startedAt },
  };
}

/** The errors the rotation function logged for `token`, oldest first, with when they happened. */
const loggedErrors = async (
  deps: FirstRotationDependencies,
  token: string,
  startedAt: number,
): Promise<{ name: string; text: string; at: number }[]> => {
  let events: RotationLogEvent[];
  try {
    events = await deps.rotationLog.eventsContaining(token, new Date(startedAt - LOG_LOOKBACK_MS));
  } catch (error) {
    deps.log({ action: 'log-unreadable', error: errorName(error) ?? 'Error' });
    return [];
  }
  return events.flatMap((event) => {
    const line = parseLogLine(event.message);
    return line.error === undefined
      ? []
      : [{ name: line.errorName ?? '', text: line.error, at: event.timestamp.getTime() }];
  });
};

async function checkFirstRotation(
  deps: FirstRotationDependencies,
  event: FirstRotationEvent,
): Promise<FirstRotationCompletion> {
  const properties = event.ResourceProperties;
  const subject = describeSubject(properties);
  const token = event.Data?.ClientRequestToken;
  const startedAt = Number(event.Data?.StartedAt);
  if (token === undefined || !Number.isFinite(startedAt)) {
    throw new FirstRotationError(
      `the isComplete request for ${subject} lacks Data.ClientRequestToken or Data.StartedAt (onEvent's answer): nothing to wait for`,
    );
  }
  const secret = await describeStackSecret(deps, properties);
  const proven = provenCurrentKey(secret);
  if (proven !== undefined) {
    const keys = await deps.iam.send(new ListAccessKeysCommand({ UserName: properties.UserName }));
    const key = keys.AccessKeyMetadata?.find(
      (candidate) => candidate.AccessKeyId === proven.accessKeyId,
    );
    if (key?.Status === 'Active') {
      deps.log({
        action: 'rotated',
        userName: properties.UserName,
        accessKeyId: proven.accessKeyId,
      });
      return { IsComplete: true, Data: { AccessKeyId: proven.accessKeyId } };
    }
    throw new FirstRotationError(
      `First rotation of ${subject}: AWSCURRENT holds access key ${proven.accessKeyId}, which ${key === undefined ? 'no longer exists' : `is ${String(key.Status)}`} (changed by hand?). Deploy again once ${properties.UserName}'s keys are as expected`,
    );
  }
  // Secrets Manager may retry a failed rotation with a new version (whether a retry reuses the
  // ClientRequestToken is unverified): the rotation goes on while any version other than
  // AWSCURRENT carries AWSPENDING, and the errors of every version it used count.
  const inFlight = pendingVersionIds(secret);
  const followed = inFlight.includes(token) ? token : (inFlight[0] ?? token);
  const stages = secret.versionIdsToStages[followed] ?? [];
  const errors: Awaited<ReturnType<typeof loggedErrors>> = [];
  for (const version of new Set([token, ...inFlight])) {
    errors.push(...(await loggedErrors(deps, version, startedAt)));
  }
  errors.sort((left, right) => left.at - right.at);
  const last = errors.at(-1);
  // The first refusal says why; later attempts of a refused rotation only find it gone.
  const refusal = errors.find(
    (error) =>
      REFUSAL_ERROR_NAMES.has(error.name) ||
      (/AccessDenied/.test(error.name) && error.at - startedAt >= ACCESS_DENIED_GRACE_MS),
  );
  const fixThen =
    'The deployment rolls back: the secret it created and the keys its rotation made are removed. Fix the cause, then deploy again';
  // A proven AWSCURRENT whose current-key tag is still to be written is a rotation finishing,
  // not one given up.
  const finishing = provenCurrentVersionId(secret) !== undefined;
  if (inFlight.length === 0 && !finishing) {
    throw new FirstRotationError(
      `First rotation of ${subject} failed: ${(refusal ?? last)?.text ?? `AWSPENDING was removed from version ${token} without it becoming AWSCURRENT (the rotation was given up or cancelled)`}. ${fixThen}`,
    );
  }
  if (refusal !== undefined) {
    throw new FirstRotationError(
      `First rotation of ${subject} failed: ${refusal.text}. ${fixThen}`,
    );
  }
  const waited = deps.clock.now() - startedAt;
  if (waited >= deps.settings.waitTimeoutMs) {
    throw new FirstRotationError(
      `First rotation of ${subject} did not complete within ${String(Math.round(deps.settings.waitTimeoutMs / 60_000))} minutes (version ${followed} carries [${stages.join(', ')}])${
        last === undefined ? '' : `; the function's last error: ${last.text}`
      }. ${fixThen}; to deploy without waiting set "awaitFirstRotation": false`,
    );
  }
  deps.log({
    action: 'waiting',
    userName: properties.UserName,
    clientRequestToken: followed,
    stages: stages.join(','),
    errors: errors.length,
    waitedMs: waited,
  });
  return { IsComplete: false };
}

/**
 * Why CloudFormation is not shown to be rolling back this wait's creation (`undefined` when it
 * is): the resource must be DELETE_IN_PROGRESS with this physical id, and the stack rolling back.
 */
async function rollbackNotConfirmed(
  deps: FirstRotationDependencies,
  event: FirstRotationEvent,
  physicalId: string,
): Promise<string | undefined> {
  const { stackId } = deps.settings;
  let stackStatus: string;
  try {
    const resource = await deps.stack.describeStackResource(stackId, event.LogicalResourceId);
    if (resource.status !== 'DELETE_IN_PROGRESS' || resource.physicalResourceId !== physicalId) {
      return `CloudFormation is not deleting ${event.LogicalResourceId} (${resource.status}, ${String(resource.physicalResourceId)})`;
    }
    stackStatus = (await deps.stack.describeStack(stackId)).status;
  } catch (error) {
    return `CloudFormation could not be read (${errorName(error) ?? 'Error'}): the rollback is not confirmed`;
  }
  return ROLLBACK_STACK_STATUSES.has(stackStatus)
    ? undefined
    : `stack is ${stackStatus}, not rolling back: a normal delete undoes nothing`;
}

/**
 * Delete. Changes nothing unless CloudFormation is rolling back this wait's creation: the physical
 * id says Create awaited a first rotation (the secret held no proven key then), CloudFormation
 * shows this resource DELETE_IN_PROGRESS with that physical id, and the stack is rolling back.
 * Then, as `iam-key-rotation cancel` does: removes AWSPENDING from every version that carries it
 * but not AWSCURRENT, waits out the rotation function's timeout (so a step in flight has ended),
 * and again while a step put it back; then deletes the user's keys created since the secret,
 * the key AWSCURRENT holds included: Create awaited only a secret created in the same stack
 * operation, which this rollback deletes (`RetainExceptOnCreate` or `Destroy`).
 */
async function rollBack(
  deps: FirstRotationDependencies,
  event: FirstRotationEvent,
  base: Readonly<Record<string, string>>,
): Promise<FirstRotationResult> {
  const properties = event.ResourceProperties;
  const physicalId = event.PhysicalResourceId ?? '';
  const unchanged = (reason: string): FirstRotationResult => {
    deps.log({ ...base, action: 'left-unchanged', reason });
    return { PhysicalResourceId: physicalId };
  };
  if (physicalId !== firstRotationPhysicalId(properties.UserName, true)) {
    return unchanged(`PhysicalResourceId ${JSON.stringify(physicalId)} awaited no first rotation`);
  }
  const notRollingBack = await rollbackNotConfirmed(deps, event, physicalId);
  if (notRollingBack !== undefined) return unchanged(notRollingBack);
  let secret: SecretView;
  try {
    secret = await describeStackSecret(deps, properties);
  } catch (error) {
    return unchanged(`secret not readable as this stack's (${errorName(error) ?? 'Error'})`);
  }

  // 1. Turn rotation off first (CancelRotateSecret): a retry or schedule of Secrets Manager
  // after this rollback's last check then finds the rotation function refusing every step
  // (its guard requires RotationEnabled), so no key comes after the clean-up.
  try {
    await deps.secretsManager.send(new CancelRotateSecretCommand({ SecretId: secret.arn }));
  } catch (error) {
    // Rotation already off: nothing to cancel.
    if (errorName(error) !== 'InvalidRequestException') throw error;
  }
  deps.log({ ...base, action: 'cancelled-rotation' });
  // 2. Cancel the rotation in flight, as `cancel` does: remove AWSPENDING, wait, read again.
  const rollbackStartedAt = deps.clock.now();
  for (let removal = 1; ; removal += 1) {
    const labelled = pendingVersionIds(secret);
    if (labelled.length === 0) break;
    if (removal > MAX_REMOVALS) {
      throw new FirstRotationError(
        `rollback of ${describeSubject(properties)}: AWSPENDING came back on version ${labelled.join(', ')} after ${String(MAX_REMOVALS)} removals; cancel it by hand (iam-key-rotation cancel ${SECRET_NAME_PREFIX}${properties.UserName}), then continue the rollback`,
      );
    }
    for (const versionId of labelled) {
      try {
        await deps.secretsManager.send(
          new UpdateSecretVersionStageCommand({
            SecretId: secret.arn,
            VersionStage: AWSPENDING,
            RemoveFromVersionId: versionId,
          }),
        );
      } catch (error) {
        if (errorName(error) !== 'InvalidParameterException') throw error;
      }
      deps.log({ ...base, action: 'removed-pending', clientRequestToken: versionId });
    }
    const waited = deps.clock.now() - rollbackStartedAt;
    await deps.clock.sleep(
      Math.max(0, Math.min(deps.settings.rotationTimeoutMs, ROLLBACK_WAIT_BUDGET_MS - waited)),
    );
    secret = await describeStackSecret(deps, properties);
  }

  // 3. The keys the rotation made: every key of the user created since the secret. Create gave
  // this physical id only to a secret created in the same stack operation, which CloudFormation
  // deletes on this rollback (RetainExceptOnCreate or Destroy, the removal policies with the
  // wait on): even the key AWSCURRENT holds goes, and so does a key made by hand for this user
  // during the failed deployment. IAM dates keys to the second: a key created in the secret's
  // own second is left alone (the rotation starts seconds later, once the ownership tag and the
  // schedule exist). The stack's times are not read again here: CloudFormation may change
  // LastUpdatedTime when the rollback starts.
  const since = secret.createdDate?.getTime() ?? Number.POSITIVE_INFINITY;
  // The wait above may have lasted minutes: CloudFormation must still be rolling back this
  // resource right before any key goes.
  const stillRollingBack = await rollbackNotConfirmed(deps, event, physicalId);
  if (stillRollingBack !== undefined) {
    return unchanged(`${stillRollingBack} (checked again before deleting keys)`);
  }
  const keys =
    (await deps.iam.send(new ListAccessKeysCommand({ UserName: properties.UserName })))
      .AccessKeyMetadata ?? [];
  const deleted: string[] = [];
  for (const key of keys) {
    const accessKeyId = key.AccessKeyId;
    if (accessKeyId === undefined || (key.CreateDate?.getTime() ?? 0) <= since) continue;
    if (key.Status === 'Active') {
      await ignoreNoSuchEntity(async () => {
        await deps.iam.send(
          new UpdateAccessKeyCommand({
            UserName: properties.UserName,
            AccessKeyId: accessKeyId,
            Status: 'Inactive',
          }),
        );
      });
    }
    await ignoreNoSuchEntity(async () => {
      await deps.iam.send(
        new DeleteAccessKeyCommand({ UserName: properties.UserName, AccessKeyId: accessKeyId }),
      );
    });
    deleted.push(accessKeyId);
    deps.log({ ...base, action: 'deleted-key', accessKeyId });
  }
  deps.log({ ...base, action: 'rolled-back', deletedAccessKeyIds: deleted, secretDeleted: true });
  return { PhysicalResourceId: physicalId };
}
