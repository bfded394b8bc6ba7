import {
  GetUserCommand,
  type IAMClient,
  TagUserCommand,
  UntagUserCommand,
} from '@aws-sdk/client-iam';
import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { StackResources } from '../aws/cloudformation-stack-resources.js';
import { parseCustomResourceRequest } from '../aws/custom-resource-request.js';
import {
  BINDING_TAG_KEY,
  CLOUDFORMATION_STACK_ID_TAG_KEY,
  OWNER_TAG_KEY,
  SECRET_NAME_PREFIX,
} from '../rotation/binding.js';

/** The custom resource's properties: the user to tag, and the secret the stack created for it. */
export interface OwnershipTagProperties {
  readonly UserName: string;
  /** A cross-check only: the handler looks the secret up by its name. */
  readonly SecretArn: string;
}

/** What the Provider framework passes on (a CloudFormation custom resource request). */
export interface OwnershipTagEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly StackId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: OwnershipTagProperties;
}

/** What the handler answers the Provider framework. */
export interface OwnershipTagResult {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly SecretArn: string };
}

export interface OwnershipTagDependencies {
  /** The id (ARN) of the stack the function belongs to (`IAM_KEY_ROTATION_STACK_ID`). */
  readonly stackId: string;
  readonly secretsManager: SecretsManagerClient;
  readonly iam: IAMClient;
  readonly stackResources: StackResources;
  /** Writes one JSON log line (identifiers only). */
  readonly log: (line: Readonly<Record<string, unknown>>) => void;
}

/** A request the handler refuses; the Provider framework reports the message to CloudFormation. */
export class OwnershipTagError extends Error {
  public override readonly name = 'OwnershipTagError';
}

/** The physical id of the ownership tag of `userName` (the same as the earlier AwsCustomResource's). */
export const ownershipTagPhysicalId = (userName: string): string => `${OWNER_TAG_KEY}/${userName}`;

/**
 * The event, checked: a request type, this function's own stack, a logical id and a user name.
 *
 * @throws OwnershipTagError naming the field and what was expected
 */
export function parseOwnershipTagEvent(event: unknown, stackId: string): OwnershipTagEvent {
  const request = parseCustomResourceRequest(
    event,
    stackId,
    (message) => new OwnershipTagError(message),
    'tags nothing',
  );
  return request.event;
}

const errorName = (error: unknown): string => (error instanceof Error ? error.name : '');

/** The secret `iam-key-rotation/<userName>`: its ARN and tags, or undefined when there is none. */
async function describeUserSecret(
  deps: OwnershipTagDependencies,
  userName: string,
): Promise<{ arn: string; tags: Map<string, string>; deleted: boolean } | undefined> {
  try {
    const described = await deps.secretsManager.send(
      new DescribeSecretCommand({ SecretId: `${SECRET_NAME_PREFIX}${userName}` }),
    );
    if (described.ARN === undefined) return undefined;
    return {
      arn: described.ARN,
      tags: new Map((described.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
      deleted: described.DeletedDate !== undefined,
    };
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/**
 * Tags user U with the ARN of the secret `iam-key-rotation/U`, and only that: whatever the event
 * says, the value written is the ARN of U's own secret, and only when that secret's
 * `aws:cloudformation:stack-id` tag (reserved: only CloudFormation sets it) is this function's
 * stack, and never over an ownership tag that names another secret (another deployment's: the
 * request fails, naming both secrets and the fix). On Delete it removes the tag only when it names that secret and CloudFormation really is
 * deleting this resource (DescribeStackResource of its own stack: `DELETE_IN_PROGRESS`, same
 * physical id); a Delete it cannot confirm changes nothing and succeeds, so a forged Delete
 * cannot untag and a real one never blocks the stack.
 */
export const createOwnershipTagHandler =
  (deps: OwnershipTagDependencies) =>
  async (rawEvent: unknown): Promise<OwnershipTagResult> => {
    const event = parseOwnershipTagEvent(rawEvent, deps.stackId);
    const { UserName: userName, SecretArn: expectedArn } = event.ResourceProperties;
    const physicalId = ownershipTagPhysicalId(userName);
    const secretName = `${SECRET_NAME_PREFIX}${userName}`;
    const base = {
      requestType: event.RequestType,
      logicalResourceId: event.LogicalResourceId,
      userName,
      secretName,
    };

    if (event.RequestType === 'Delete') {
      return deleteOwnershipTag(deps, event, physicalId, base);
    }

    const secret = await describeUserSecret(deps, userName);
    if (secret === undefined || secret.deleted) {
      throw new OwnershipTagError(
        `secret ${secretName} ${secret === undefined ? 'does not exist' : 'is scheduled for deletion'}: user ${userName} is tagged only with the secret this stack created for it (deploy the stack that creates ${secretName})`,
      );
    }
    const stackTag = secret.tags.get(CLOUDFORMATION_STACK_ID_TAG_KEY);
    if (stackTag !== deps.stackId) {
      throw new OwnershipTagError(
        `secret ${secret.arn} was not created by stack ${deps.stackId} (its ${CLOUDFORMATION_STACK_ID_TAG_KEY} tag is ${JSON.stringify(stackTag ?? null)}): user ${userName} is not tagged`,
      );
    }
    const boundUser = secret.tags.get(BINDING_TAG_KEY);
    if (boundUser !== userName) {
      throw new OwnershipTagError(
        `secret ${secret.arn} is bound to ${JSON.stringify(boundUser ?? null)} by its ${BINDING_TAG_KEY} tag, expected ${userName}: user ${userName} is not tagged`,
      );
    }
    if (secret.arn !== expectedArn) {
      throw new OwnershipTagError(
        `ResourceProperties.SecretArn is ${expectedArn}, but ${secretName} is ${secret.arn}: user ${userName} is not tagged`,
      );
    }
    // Never take a user over: another deployment (a second region, a second stack) that tagged it
    // first keeps it, else its rotation would fail from then on without anyone being told.
    const user = await deps.iam.send(new GetUserCommand({ UserName: userName }));
    const ownerTag = user.User?.Tags?.find((tag) => tag.Key === OWNER_TAG_KEY);
    if (ownerTag !== undefined && ownerTag.Value !== secret.arn) {
      throw new OwnershipTagError(
        `user ${userName} is already owned by secret ${JSON.stringify(ownerTag.Value ?? null)} (its ${OWNER_TAG_KEY} tag), not by ${secret.arn}: user ${userName} is not tagged; remove ${userName} from the other deployment, or if that deployment is gone run \`aws iam untag-user --user-name ${userName} --tag-keys ${OWNER_TAG_KEY}\`, then deploy again`,
      );
    }
    if (ownerTag !== undefined) {
      deps.log({ ...base, action: 'already-tagged', secretArn: secret.arn });
      return { PhysicalResourceId: physicalId, Data: { SecretArn: secret.arn } };
    }
    await deps.iam.send(
      new TagUserCommand({
        UserName: userName,
        Tags: [{ Key: OWNER_TAG_KEY, Value: secret.arn }],
      }),
    );
    deps.log({ ...base, action: 'tagged', secretArn: secret.arn });
    return { PhysicalResourceId: physicalId, Data: { SecretArn: secret.arn } };
  };

async function deleteOwnershipTag(
  deps: OwnershipTagDependencies,
  event: OwnershipTagEvent,
  physicalId: string,
  base: Readonly<Record<string, string>>,
): Promise<OwnershipTagResult> {
  const unchanged = (reason: string): OwnershipTagResult => {
    deps.log({ ...base, action: 'left-unchanged', reason });
    return { PhysicalResourceId: event.PhysicalResourceId ?? physicalId };
  };
  if (event.PhysicalResourceId !== physicalId) {
    return unchanged(
      `PhysicalResourceId is ${JSON.stringify(event.PhysicalResourceId ?? null)}, not ${physicalId}`,
    );
  }
  let state;
  try {
    state = await deps.stackResources.describeStackResource(deps.stackId, event.LogicalResourceId);
  } catch (error) {
    return unchanged(
      `DescribeStackResource ${event.LogicalResourceId} failed (${errorName(error)}): the deletion is not confirmed`,
    );
  }
  if (state.status !== 'DELETE_IN_PROGRESS' || state.physicalResourceId !== physicalId) {
    return unchanged(
      `CloudFormation is not deleting ${event.LogicalResourceId} (${state.status}, ${String(state.physicalResourceId)})`,
    );
  }
  const userName = event.ResourceProperties.UserName;
  const secret = await describeUserSecret(deps, userName);
  if (secret?.tags.get(CLOUDFORMATION_STACK_ID_TAG_KEY) !== deps.stackId) {
    return unchanged(`no secret of this stack is named ${SECRET_NAME_PREFIX}${userName}`);
  }
  let ownerTag: string | undefined;
  try {
    const user = await deps.iam.send(new GetUserCommand({ UserName: userName }));
    ownerTag = user.User?.Tags?.find((tag) => tag.Key === OWNER_TAG_KEY)?.Value;
  } catch (error) {
    if (errorName(error) === 'NoSuchEntityException' || errorName(error) === 'NoSuchEntity') {
      return unchanged(`user ${userName} does not exist`);
    }
    // A user removed from the stack lost its statement before CloudFormation deletes its tag.
    if (errorName(error) === 'AccessDeniedException' || errorName(error) === 'AccessDenied') {
      return unchanged(`the role may no longer read user ${userName}`);
    }
    throw error;
  }
  if (ownerTag !== secret.arn) {
    return unchanged(
      `the user's ${OWNER_TAG_KEY} tag names ${String(ownerTag)}, not ${secret.arn}`,
    );
  }
  await deps.iam.send(new UntagUserCommand({ UserName: userName, TagKeys: [OWNER_TAG_KEY] }));
  deps.log({ ...base, action: 'untagged', secretArn: secret.arn });
  return { PhysicalResourceId: physicalId };
}
