import type { FunctionOperation } from './function-operation.js';

export interface RotationErrorOptions {
  /** The underlying error. Never an error whose message can contain a secret value. */
  cause?: unknown;
  step?: FunctionOperation;
  secretId?: string;
}

/**
 * Base of every error the rotation function raises on purpose. Messages carry identifiers
 * (secret ids, version ids, AccessKeyIds, user names) and expected-versus-found, never a
 * secret access key, a secret string or a RotationToken.
 */
export class RotationError extends Error {
  /** Spelled out in every class: the minified bundle renames classes, so `new.target.name` would not survive. */
  public override name = 'RotationError';
  public step?: FunctionOperation;
  public secretId?: string;

  public constructor(message: string, options: RotationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.step !== undefined) this.step = options.step;
    if (options.secretId !== undefined) this.secretId = options.secretId;
  }

  /** Records where the error happened, unless it already says so. */
  public withContext(step: FunctionOperation, secretId: string): this {
    this.step ??= step;
    this.secretId ??= secretId;
    return this;
  }
}

/** The invocation event does not have the shape Secrets Manager sends. */
export class InvalidEventError extends RotationError {
  public override name = 'InvalidEventError';
}

/** A secret version's value is not the JSON document this service stores. */
export class InvalidSecretValueError extends RotationError {
  public override name = 'InvalidSecretValueError';
}

/** The secret is not bound to an IAM user, or its value names a different user. */
export class SecretBindingError extends RotationError {
  public override name = 'SecretBindingError';
}

/** The secret or the token's version is not in a state in which the step may run. */
export class RotationStateError extends RotationError {
  public override name = 'RotationStateError';
}

/** The pending access key is missing, inactive, or IAM refused to make room for it. */
export class PendingAccessKeyError extends RotationError {
  public override name = 'PendingAccessKeyError';
}

/**
 * The rotation was given up: its pending key can never become current (deleted, Inactive, or
 * signing as someone else). The key was deleted and AWSPENDING removed, so the next rotation
 * starts fresh.
 */
export class RotationGivenUpError extends PendingAccessKeyError {
  public override name = 'RotationGivenUpError';
}

/** The IAM user's ownership tag is missing or names another secret: nothing may be touched. */
export class UserOwnershipError extends RotationError {
  public override name = 'UserOwnershipError';
}

/** Making room for a new key would delete a key that may still be in use. */
export class AccessKeyInUseError extends RotationError {
  public override name = 'AccessKeyInUseError';
}

/** The function's own configuration (its environment variables) is invalid. */
export class InvalidSettingsError extends RotationError {
  public override name = 'InvalidSettingsError';
}

/** The pending access key did not authenticate as the bound user before the deadline. */
export class AccessKeyTestError extends RotationError {
  public override name = 'AccessKeyTestError';
}

/** A tag of the secret that configures the rotation (its SES SMTP tags) has an invalid value. */
export class InvalidSecretTagError extends RotationError {
  public override name = 'InvalidSecretTagError';
}

/**
 * The secret was not created by the function's own stack (its `aws:cloudformation:stack-id` tag
 * is absent or names another stack): a look-alike, refused before any IAM call.
 */
export class ForeignSecretError extends RotationError {
  public override name = 'ForeignSecretError';
}
