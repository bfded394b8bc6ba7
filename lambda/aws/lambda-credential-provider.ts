/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundle only (an esbuild alias
 * in lib/key-rotation-function.ts). It keeps the two links of the SDK's default chain through
 * which a Lambda runtime hands the function its role's credentials, with the SDK's own providers:
 *
 * 1. `fromEnv`: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, as the
 *    standard Lambda runtime sets them;
 * 2. `fromHttp`: the container credentials endpoint named by `AWS_CONTAINER_CREDENTIALS_FULL_URI`
 *    (with `AWS_CONTAINER_AUTHORIZATION_TOKEN` or `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`) or
 *    `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, as runtimes that do not put the credentials in the
 *    environment (SnapStart, managed instances) provide them. The default chain uses `fromHttp`
 *    for exactly these variables.
 *
 * The chain's other links (SSO, shared ini files, credential_process, web identity, instance
 * metadata) never apply in Lambda; leaving them out drops about 110 KB of the bundle (their
 * nested STS, SSO and sign-in clients). Tests and local runs import the real SDK packages and
 * are unaffected.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

type ProviderInit = NonNullable<Parameters<typeof fromEnv>[0]>;

const ENVIRONMENT_CREDENTIALS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
const CONTAINER_ENDPOINTS = [
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
] as const;
const CONTAINER_AUTHORIZATION = [
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
] as const;

/** Credentials are resolved again when they expire in less than this (the default chain's margin). */
const REFRESH_MARGIN_MS = 300_000;

/** The function found no credentials, or the container credentials endpoint did not give any. */
export class LambdaCredentialsError extends Error {
  public constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // Spelled out: the minified bundle renames classes, so `new.target.name` would not survive.
    this.name = 'LambdaCredentialsError';
  }
}

/** Whether a variable is set to a non-empty value (the SDK's own test). Never reads it out. */
const isSet = (name: string): boolean => Boolean(process.env[name]);

const notConfigured = (): LambdaCredentialsError => {
  const found = [...ENVIRONMENT_CREDENTIALS, ...CONTAINER_ENDPOINTS, ...CONTAINER_AUTHORIZATION]
    .filter(isSet)
    .join(', ');
  return new LambdaCredentialsError(
    `No credentials: looked for ${ENVIRONMENT_CREDENTIALS.join(' and ')} (environment), then ` +
      `${CONTAINER_ENDPOINTS.join(' or ')} (container credentials endpoint, with ` +
      `${CONTAINER_AUTHORIZATION.join(' or ')}); ` +
      (found === '' ? 'none of them is set' : `found only ${found}`),
  );
};

/**
 * fromHttp's message, and the `Code` and `Message` the endpoint answered a 4xx with, which
 * fromHttp keeps beside it (an endpoint's error, never a credential).
 */
const describeFailure = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error);
  const { Code: code, Message: message } = error as { Code?: unknown; Message?: unknown };
  if (typeof code !== 'string') return error.message;
  return `${error.message} (${code}${typeof message === 'string' ? `: ${message}` : ''})`;
};

/** The environment first, then the container credentials endpoint if one is configured. */
const resolveCredentials = async (init: ProviderInit): Promise<AwsCredentialIdentity> => {
  try {
    return await fromEnv(init)();
  } catch {
    // fromEnv fails only when AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is missing.
  }
  const endpoint = CONTAINER_ENDPOINTS.find(isSet);
  if (endpoint === undefined) throw notConfigured();
  try {
    // Loaded only here: a runtime that puts the credentials in the environment (the standard
    // one) never loads it (in the asset, a chunk of its own).
    const { fromHttp } = await import('@aws-sdk/credential-provider-http');
    // A new provider per resolution, as the default chain does: fromHttp reads the variables
    // (and the token file) when called, and closes its connections after each request.
    return await fromHttp(init)();
  } catch (error) {
    throw new LambdaCredentialsError(
      `The container credentials endpoint (${endpoint}) gave no credentials: ${describeFailure(error)}`,
      { cause: error },
    );
  }
};

/**
 * The SDK's `defaultProvider(init)` reduced to `fromEnv` then `fromHttp`, memoized as the
 * default chain is: resolved once, resolved again only when the credentials carry an expiration
 * less than five minutes away, and a failure is not cached.
 */
export const defaultProvider = (init: ProviderInit = {}): AwsCredentialIdentityProvider => {
  let cached: Promise<AwsCredentialIdentity> | undefined;
  const expiresSoon = (credentials: AwsCredentialIdentity): boolean =>
    credentials.expiration !== undefined &&
    credentials.expiration.getTime() - Date.now() < REFRESH_MARGIN_MS;
  return async () => {
    if (cached !== undefined) {
      const credentials = await cached;
      if (!expiresSoon(credentials)) return credentials;
    }
    const pending = resolveCredentials(init);
    cached = pending;
    pending.catch(() => {
      if (cached === pending) cached = undefined;
    });
    return pending;
  };
};
