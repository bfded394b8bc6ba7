/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundle only (an esbuild alias
 * in lib/key-rotation-function.ts). The Lambda runtime always hands the function its role's
 * credentials in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, which is
 * the first link of the SDK's default chain, so the chain's other links (SSO, shared ini files,
 * credential_process, web identity, container and instance metadata) never run there; leaving
 * them out drops about 110 KB of the bundle (their nested STS, SSO and sign-in clients). Tests and
 * local runs import the real SDK packages and are unaffected.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

type FromEnvInit = Parameters<typeof fromEnv>[0];

/**
 * The SDK's `defaultProvider(init)` reduced to its first link, `fromEnv`, memoized as the
 * default chain is: resolved once, resolved again only when the credentials carry an
 * expiration less than five minutes away, and a failure is not cached.
 */
export const defaultProvider = (init: FromEnvInit = {}): AwsCredentialIdentityProvider => {
  const provider = fromEnv(init);
  let cached: Promise<AwsCredentialIdentity> | undefined;
  const expiresSoon = (credentials: AwsCredentialIdentity): boolean =>
    credentials.expiration !== undefined && credentials.expiration.getTime() - Date.now() < 300_000;
  return async () => {
    if (cached !== undefined) {
      const credentials = await cached;
      if (!expiresSoon(credentials)) return credentials;
    }
    const pending = provider();
    cached = pending;
    pending.catch(() => {
      if (cached === pending) cached = undefined;
    });
    return pending;
  };
};
