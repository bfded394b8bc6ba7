import type { RotationStep } from './event.js';

export interface RotationErrorOptions {
  /** The underlying error. Never an error whose message can contain a secret value. */
  cause?: unknown;
  step?: RotationStep;
  secretId?: string;
}

/**
 * Base of every error the rotation function raises on purpose. Messages carry identifiers
 * (secret ids, version ids, AccessKeyIds, user names) and expected-versus-found, never a
 * secret access key, a secret string or a RotationToken.
 */
export class RotationError extends Error {
  public step?: RotationStep;
  public secretId?: string;

  public constructor(message: string, options: RotationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options.step !== undefined) this.step = options.step;
    if (options.secretId !== undefined) this.secretId = options.secretId;
  }

  /** Records where the error happened, unless it already says so. */
  public withContext(step: RotationStep, secretId: string): this {
    this.step ??= step;
    this.secretId ??= secretId;
    return this;
  }
}

/** The invocation event does not have the shape Secrets Manager sends. */
export class InvalidEventError extends RotationError {}

/** A secret version's value is not the JSON document this service stores. */
export class InvalidSecretValueError extends RotationError {}

/** The secret is not bound to an IAM user, or its value names a different user. */
export class SecretBindingError extends RotationError {}

/** The secret or the token's version is not in a state in which the step may run. */
export class RotationStateError extends RotationError {}

/** The pending access key is missing, inactive, or IAM refused to make room for it. */
export class PendingAccessKeyError extends RotationError {}

/** The pending access key did not authenticate as the bound user before the deadline. */
export class AccessKeyTestError extends RotationError {}
