/** Base of the errors the simulation raises to its own user (a test, a benchmark, the demo). */
export class SimulationError extends Error {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An error as an AWS service reports it. The request handler turns it into a real error
 * response (XML for IAM and STS, JSON for Secrets Manager), from which the SDK builds its own
 * exception class.
 */
export class AwsServiceError extends SimulationError {
  public constructor(
    /** The wire error code, e.g. `LimitExceeded` (IAM) or `ResourceNotFoundException`. */
    public readonly code: string,
    message: string,
    public readonly statusCode: number = 400,
  ) {
    super(message);
  }

  /** `Receiver` for 5xx, else `Sender`: the `<Type>` of a query-protocol error. */
  public get faultType(): 'Sender' | 'Receiver' {
    return this.statusCode >= 500 ? 'Receiver' : 'Sender';
  }
}

/**
 * What the SDK's request handler raises when a request does not answer within its
 * `requestTimeout`: `name` `TimeoutError`, `code` `ETIMEDOUT` (as @smithy/node-http-handler
 * does), which the SDK's retry strategy classifies as transient.
 */
export class SimulatedTimeoutError extends SimulationError {
  public readonly code = 'ETIMEDOUT';

  public constructor(timeoutMs: number, operation: string) {
    super(`${operation}: request timed out after ${timeoutMs} ms (simulated)`);
    this.name = 'TimeoutError';
  }
}

/**
 * Raised by every call a dead Lambda invocation makes: the process died after an earlier call
 * (or the invocation ran past its timeout), so nothing it does from then on has any effect.
 */
export class InvocationDeadError extends SimulationError {
  public constructor(
    public readonly invocationId: string,
    public readonly operation: string,
  ) {
    super(`${operation}: invocation ${invocationId} is dead (simulated crash or timeout)`);
  }
}
