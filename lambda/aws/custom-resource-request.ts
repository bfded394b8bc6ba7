import { SECRET_NAME_PREFIX, STACK_ID_ENV } from '../rotation/binding.js';

/** IAM's user name syntax. */
export const USER_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;

/** The fields every CloudFormation custom resource request (through the Provider framework) has. */
export interface CustomResourceRequest {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly StackId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  /** The resource's properties, unchecked (`{}` when absent). */
  readonly properties: Readonly<Record<string, unknown>>;
  /** What onEvent answered, for isComplete (unchecked; absent for onEvent). */
  readonly data?: Readonly<Record<string, unknown>>;
}

/**
 * A checked request for one user's secret, in the shape the functions' handlers take: the
 * request's own fields and the two properties every resource of this project carries.
 */
export interface UserSecretResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly StackId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: { readonly UserName: string; readonly SecretArn: string };
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The common part of a custom resource request of this project's functions, checked: a request
 * type, this function's own stack, a logical id, a string physical id if any; a user name in
 * `ResourceProperties.UserName` and an ARN in `ResourceProperties.SecretArn` (the functions
 * check it is that user's secret of their stack); `event` is all of it in the handlers' shape.
 *
 * @param fail makes the function's own error from a message naming the field and what was expected
 * @param doesNothing what the function does not do without its stack id ("tags nothing")
 */
export function parseCustomResourceRequest(
  event: unknown,
  stackId: string,
  fail: (message: string) => Error,
  doesNothing: string,
): CustomResourceRequest & { readonly userName: string; readonly event: UserSecretResourceEvent } {
  if (stackId === '') {
    throw fail(
      `${STACK_ID_ENV} is not set: the function cannot tell its own stack's secrets, and ${doesNothing}`,
    );
  }
  if (!isRecord(event)) throw fail(`the event must be an object, got ${typeof event}`);
  const { RequestType, StackId, LogicalResourceId, PhysicalResourceId, ResourceProperties, Data } =
    event;
  if (RequestType !== 'Create' && RequestType !== 'Update' && RequestType !== 'Delete') {
    throw fail(`RequestType must be Create, Update or Delete, got ${JSON.stringify(RequestType)}`);
  }
  if (StackId !== stackId) {
    throw fail(`StackId must be this function's stack ${stackId}, got ${JSON.stringify(StackId)}`);
  }
  if (typeof LogicalResourceId !== 'string' || LogicalResourceId === '') {
    throw fail(`LogicalResourceId must be a logical id, got ${JSON.stringify(LogicalResourceId)}`);
  }
  if (PhysicalResourceId !== undefined && typeof PhysicalResourceId !== 'string') {
    throw fail(`PhysicalResourceId must be a string, got ${JSON.stringify(PhysicalResourceId)}`);
  }
  const properties = isRecord(ResourceProperties) ? ResourceProperties : {};
  const { UserName } = properties;
  if (typeof UserName !== 'string' || !USER_NAME_PATTERN.test(UserName)) {
    throw fail(
      `ResourceProperties.UserName must be an IAM user name (1-64 of letters, digits and +=,.@_-), got ${JSON.stringify(UserName)}`,
    );
  }
  const { SecretArn } = properties;
  if (typeof SecretArn !== 'string' || !SecretArn.startsWith('arn:')) {
    throw fail(
      `ResourceProperties.SecretArn must be the ARN of ${SECRET_NAME_PREFIX}${UserName}, got ${JSON.stringify(SecretArn)}`,
    );
  }
  const checked: UserSecretResourceEvent = {
    RequestType,
    StackId,
    LogicalResourceId,
    ...(PhysicalResourceId === undefined ? {} : { PhysicalResourceId }),
    ResourceProperties: { UserName, SecretArn },
  };
  return {
    ...checked,
    properties,
    ...(isRecord(Data) ? { data: Data } : {}),
    userName: UserName,
    event: checked,
  };
}
