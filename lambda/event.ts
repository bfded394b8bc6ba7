import { describeType } from './describe-type.js';
import { InvalidEventError } from './errors.js';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

export type RotationStep = (typeof ROTATION_STEPS)[number];

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
