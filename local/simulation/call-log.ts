import type { CallInfo, FaultKind } from './faults.js';

/**
 * - `success`: the service answered 2xx.
 * - `error`: the service answered with an error (authentication, validation, state).
 * - `fault`: an injected fault decided the outcome (see {@link CallRecord.fault}).
 * - `dead`: made by a dead or finished Lambda invocation: no effect.
 */
export type CallOutcome = 'success' | 'error' | 'fault' | 'dead';

/** One request the simulation received. Carries no secret values. */
export interface CallRecord extends CallInfo {
  /** Clock time when the request arrived. */
  readonly time: number;
  /** The signer's AccessKeyId (an identifier, not a secret). */
  readonly accessKeyId?: string;
  /** The ARN of the authenticated signer, if authentication succeeded. */
  readonly principalArn?: string;
  readonly outcome: CallOutcome;
  /** The wire error code returned (or `TimeoutError` / `InvocationDead`). */
  readonly errorCode?: string;
  readonly statusCode?: number;
  readonly fault?: FaultKind;
  /** Whether the call changed (or could have changed) the simulated state. */
  readonly effectApplied: boolean;
}

export type CallFilter = Partial<
  Pick<CallRecord, 'service' | 'operation' | 'invocationId' | 'step' | 'outcome'>
>;

export const filterCalls = (calls: readonly CallRecord[], filter: CallFilter): CallRecord[] =>
  calls.filter((call) =>
    (Object.entries(filter) as [keyof CallFilter, unknown][]).every(
      ([field, value]) => value === undefined || call[field] === value,
    ),
  );

const SENSITIVE_PARAMS = new Set([
  'SecretString',
  'SecretBinary',
  'RotationToken',
  'SecretAccessKey',
]);

/** Copies request parameters for the log, replacing secret values with `[REDACTED]`. */
export const redactParams = (params: Readonly<Record<string, unknown>>): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(params).map(([name, value]) => [
      name,
      SENSITIVE_PARAMS.has(name) ? '[REDACTED]' : value,
    ]),
  );
