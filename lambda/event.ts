import { describeType } from './describe-type.js';
import { InvalidEventError } from './errors.js';
import { RETIRE_EVENT_SOURCE, RETIRE_OPERATION } from './observability.js';
import { ROTATION_STEPS, type RotationStep } from './function-operation.js';

export { ROTATION_STEPS, type FunctionOperation, type RotationStep } from './function-operation.js';

/**
 * The event Secrets Manager sends to a rotation function. `@types/aws-lambda` lacks
 * `RotationToken`, which Secrets Manager adds for rotation with an assumed role.
 */
export interface RotationEvent {
  readonly Step: RotationStep;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  /** Sensitive: pass it to PutSecretValue, never log it. */
  readonly RotationToken?: string;
}

const isRotationStep = (value: unknown): value is RotationStep =>
  typeof value === 'string' && (ROTATION_STEPS as readonly string[]).includes(value);

const requireNonEmptyString = (record: Record<string, unknown>, field: string): string => {
  const value = record[field];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidEventError(
      `Invalid rotation event: field ${field} must be a non-empty string, got ${
        typeof value === 'string' ? 'an empty string' : describeType(value)
      }`,
    );
  }
  return value;
};

/**
 * Validates a raw Lambda event into a {@link RotationEvent}. The error names the field and
 * what was expected; it never echoes the RotationToken.
 */
export const parseRotationEvent = (raw: unknown): RotationEvent => {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidEventError(
      `Invalid rotation event: expected an object with Step, SecretId and ClientRequestToken, got ${describeType(raw)}`,
    );
  }
  const record = raw as Record<string, unknown>;
  const step = record.Step;
  if (!isRotationStep(step)) {
    const found = typeof step === 'string' ? JSON.stringify(step.slice(0, 64)) : describeType(step);
    throw new InvalidEventError(
      `Invalid rotation event: field Step must be one of ${ROTATION_STEPS.join(', ')}, got ${found}`,
    );
  }
  const secretId = requireNonEmptyString(record, 'SecretId');
  const clientRequestToken = requireNonEmptyString(record, 'ClientRequestToken');
  const rotationToken = record.RotationToken;
  if (rotationToken !== undefined && (typeof rotationToken !== 'string' || rotationToken === '')) {
    throw new InvalidEventError(
      `Invalid rotation event: field RotationToken must be a non-empty string when present, got ${
        typeof rotationToken === 'string' ? 'an empty string' : describeType(rotationToken)
      }`,
    );
  }
  return {
    Step: step,
    SecretId: secretId,
    ClientRequestToken: clientRequestToken,
    ...(rotationToken === undefined ? {} : { RotationToken: rotationToken }),
  };
};

/**
 * The event a grace-period schedule sends (its `Target.Input`): deactivate `AccessKeyId` if it
 * is still the key of version `VersionId`, that version still AWSPREVIOUS of `SecretId`, the
 * version `RotationVersionId` (the rotation that scheduled it) still AWSCURRENT, and `NotBefore`
 * has passed.
 *
 * Events of the first format (scheduled by an earlier release) lack `RotationVersionId` and
 * `NotBefore`: the retirement then takes the AWSCURRENT version as the rotation only when its
 * value names `VersionId` as the version it replaced, and its deadline from that version alone
 * (see retire-previous-key.ts).
 */
export interface RetirePreviousKeyEvent {
  readonly source: typeof RETIRE_EVENT_SOURCE;
  /** The secret's full ARN. */
  readonly SecretId: string;
  /** The version that became AWSPREVIOUS when the rotation completed. */
  readonly VersionId: string;
  /** The key that version holds. */
  readonly AccessKeyId: string;
  /** The rotation's ClientRequestToken: the version that became AWSCURRENT. Absent in the first format. */
  readonly RotationVersionId?: string;
  /** The end of the grace period the schedule was created with (ISO 8601). Absent in the first format. */
  readonly NotBefore?: string;
}

/** Either kind of event the function accepts. */
export type FunctionEvent =
  | { readonly kind: 'step'; readonly event: RotationEvent }
  | { readonly kind: 'retire'; readonly event: RetirePreviousKeyEvent };

/** A Secrets Manager secret ARN: partition, region, account, name and its 6-character suffix. */
export const SECRET_ARN_PATTERN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:[\w/+=.@-]{1,512}-[A-Za-z0-9]{6}$/;

/** A secret version id (a ClientRequestToken): 32-64 characters, as Secrets Manager requires. */
export const SECRET_VERSION_ID_PATTERN = /^[\w-]{32,64}$/;

/** An IAM access key id: 16-128 word characters. */
export const ACCESS_KEY_ID_PATTERN = /^\w{16,128}$/;

const RETIRE_EVENT_FIELDS = [
  'source',
  'SecretId',
  'VersionId',
  'AccessKeyId',
  'RotationVersionId',
  'NotBefore',
] as const;

/** `NotBefore`: a UTC time to the second, as {@link serializeRetireEvent} writes it. */
const NOT_BEFORE_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

const describeFound = (value: unknown): string =>
  typeof value === 'string'
    ? value === ''
      ? 'an empty string'
      : `a string of length ${String(value.length)}`
    : describeType(value);

const requirePattern = (
  record: Record<string, unknown>,
  field: string,
  pattern: RegExp,
  expected: string,
): string => {
  const value = record[field];
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidEventError(
      `Invalid ${RETIRE_OPERATION} event: field ${field} must be ${expected}, got ${
        typeof value === 'string' && pattern.test(value.trim())
          ? 'it with surrounding spaces'
          : describeFound(value)
      }; nothing was changed`,
    );
  }
  return value;
};

/**
 * Validates a grace-period schedule's event: exactly the fields {@link RetirePreviousKeyEvent}
 * names, each of its shape. The error names the field and what was expected, never its value
 * (a forged event's content is not echoed into the log).
 */
export const parseRetireEvent = (raw: object): RetirePreviousKeyEvent => {
  const record = raw as Record<string, unknown>;
  const unknown = Object.keys(record).filter(
    (field) => !(RETIRE_EVENT_FIELDS as readonly string[]).includes(field),
  );
  if (unknown.length > 0) {
    throw new InvalidEventError(
      `Invalid ${RETIRE_OPERATION} event: unexpected field${unknown.length > 1 ? 's' : ''} ${unknown
        .slice(0, 5)
        .map((field) => JSON.stringify(field.slice(0, 40)))
        .join(', ')}; expected only ${RETIRE_EVENT_FIELDS.join(', ')}; nothing was changed`,
    );
  }
  if (record.source !== RETIRE_EVENT_SOURCE) {
    throw new InvalidEventError(
      `Invalid event: field source must be "${RETIRE_EVENT_SOURCE}" (a grace-period schedule), got ${describeFound(record.source)}; nothing was changed`,
    );
  }
  const fenced = record.RotationVersionId !== undefined || record.NotBefore !== undefined;
  const base = {
    source: RETIRE_EVENT_SOURCE,
    SecretId: requirePattern(
      record,
      'SecretId',
      SECRET_ARN_PATTERN,
      'the full ARN of a secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>)',
    ),
    VersionId: requirePattern(
      record,
      'VersionId',
      SECRET_VERSION_ID_PATTERN,
      'a secret version id (32-64 letters, digits, _ and -)',
    ),
    AccessKeyId: requirePattern(
      record,
      'AccessKeyId',
      ACCESS_KEY_ID_PATTERN,
      'an IAM access key id (16-128 letters, digits and _)',
    ),
  } as const;
  if (!fenced) return base;
  const rotationVersionId = requirePattern(
    record,
    'RotationVersionId',
    SECRET_VERSION_ID_PATTERN,
    'a secret version id (32-64 letters, digits, _ and -) together with NotBefore',
  );
  const notBefore = requirePattern(
    record,
    'NotBefore',
    NOT_BEFORE_PATTERN,
    'a UTC time such as 2026-01-01T00:00:00Z together with RotationVersionId',
  );
  if (Number.isNaN(Date.parse(notBefore))) {
    throw new InvalidEventError(
      `Invalid ${RETIRE_OPERATION} event: field NotBefore must be a valid UTC time such as 2026-01-01T00:00:00Z, got a string of length ${String(notBefore.length)}; nothing was changed`,
    );
  }
  return { ...base, RotationVersionId: rotationVersionId, NotBefore: notBefore };
};

/**
 * Tells a grace-period schedule's event (it has `source`) from a Secrets Manager step event
 * and validates it as such.
 */
export const parseFunctionEvent = (raw: unknown): FunctionEvent => {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'source' in raw) {
    return { kind: 'retire', event: parseRetireEvent(raw) };
  }
  return { kind: 'step', event: parseRotationEvent(raw) };
};

/** The `Target.Input` of a grace-period schedule: the event {@link parseRetireEvent} accepts. */
export const serializeRetireEvent = (
  event: Omit<RetirePreviousKeyEvent, 'source' | 'RotationVersionId' | 'NotBefore'> & {
    readonly RotationVersionId: string;
    readonly NotBefore: Date;
  },
): string =>
  JSON.stringify({
    source: RETIRE_EVENT_SOURCE,
    SecretId: event.SecretId,
    VersionId: event.VersionId,
    AccessKeyId: event.AccessKeyId,
    RotationVersionId: event.RotationVersionId,
    NotBefore: event.NotBefore.toISOString(),
  });
