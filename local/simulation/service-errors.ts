import { AwsServiceError } from './errors.js';
import type { ServiceName } from './faults.js';

/**
 * The errors each service answers when a request fails authentication or an injected fault
 * refuses it. IAM and STS (query protocol) and Secrets Manager (JSON) use different codes and
 * status codes for the same failure.
 */

const INVALID_TOKEN = 'The security token included in the request is invalid.';
const BAD_SIGNATURE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * - `token`: unknown, inactive, expired or not yet propagated access key (or a session token
 *   with a long-term key).
 * - `signature`: the signature does not match the key's secret.
 * - `missing`: the request is not signed.
 */
export type AuthFailure = 'token' | 'signature' | 'missing';

export const authError = (service: ServiceName, kind: AuthFailure): AwsServiceError => {
  if (service === 'scheduler') {
    // REST-JSON: the same codes as Secrets Manager, with HTTP 403.
    const { code, message } = authError('secretsmanager', kind);
    return new AwsServiceError(code, message, 403);
  }
  const sm = service === 'secretsmanager';
  switch (kind) {
    case 'token':
      return sm
        ? new AwsServiceError('UnrecognizedClientException', INVALID_TOKEN, 400)
        : new AwsServiceError('InvalidClientTokenId', INVALID_TOKEN, 403);
    case 'signature':
      return sm
        ? new AwsServiceError('InvalidSignatureException', BAD_SIGNATURE, 400)
        : new AwsServiceError('SignatureDoesNotMatch', BAD_SIGNATURE, 403);
    case 'missing':
      return sm
        ? new AwsServiceError(
            'MissingAuthenticationTokenException',
            'Missing Authentication Token',
            400,
          )
        : new AwsServiceError(
            'MissingAuthenticationToken',
            'Request is missing Authentication Token',
            403,
          );
  }
};

/** The answer of a `throttling` or `server-error` fault; `code` overrides the service's code. */
export const faultError = (
  service: ServiceName,
  kind: 'throttling' | 'server-error',
  code?: string,
): AwsServiceError => {
  if (service === 'scheduler') {
    return kind === 'throttling'
      ? new AwsServiceError(code ?? 'ThrottlingException', 'Rate exceeded', 429)
      : new AwsServiceError(
          code ?? 'InternalServerException',
          'We encountered an internal error. Please try again.',
          500,
        );
  }
  if (kind === 'throttling') {
    return new AwsServiceError(
      code ?? (service === 'secretsmanager' ? 'ThrottlingException' : 'Throttling'),
      'Rate exceeded',
      400,
    );
  }
  const fallback = {
    iam: 'ServiceFailure',
    sts: 'InternalFailure',
    secretsmanager: 'InternalServiceError',
  }[service];
  return new AwsServiceError(
    code ?? fallback,
    'We encountered an internal error. Please try again.',
    500,
  );
};

/**
 * The answer of an `access-denied` fault: what AWS says when an explicit deny (a service control
 * policy, say) refuses the call. `resource` is named in the message when known; `code`
 * overrides the service's code.
 */
export const accessDeniedError = (
  service: ServiceName,
  operation: string,
  principalArn: string,
  resource: string | undefined,
  code?: string,
): AwsServiceError => {
  const message = `User: ${principalArn} is not authorized to perform: ${service}:${operation}${resource === undefined ? '' : ` on resource: ${resource}`} with an explicit deny in a service control policy`;
  if (service === 'scheduler')
    return new AwsServiceError(code ?? 'AccessDeniedException', message, 403);
  return service === 'secretsmanager'
    ? new AwsServiceError(code ?? 'AccessDeniedException', message, 400)
    : new AwsServiceError(code ?? 'AccessDenied', message, 403);
};
