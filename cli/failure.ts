import { errorName } from '../lambda/aws/aws-error.js';

/** Hints for failures every command can meet before it reaches the secret. */
const HINTS: readonly (readonly [RegExp, string])[] = [
  [
    /Could not load credentials|CredentialsProviderError/i,
    'configure AWS credentials for the AWS SDK (environment variables, AWS_PROFILE or --profile, SSO, an instance role)',
  ],
  [/Region is missing/i, 'set the region: AWS_REGION=<region> or --region <region>'],
  [
    /AccessDenied|not authorized/i,
    'the credentials in use lack this permission (see "Operate it" in the README for what each command calls)',
  ],
];

/**
 * `<name>: <message>` of an AWS SDK error, with a hint for the usual causes. AWS's messages carry
 * identifiers, never secret values; the rotation's own errors are written to the same rule.
 */
export const describeFailure = (error: unknown): string => {
  const name = errorName(error) ?? 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const text = message === '' || message === name ? name : `${name}: ${message}`;
  const hint = HINTS.find(([pattern]) => pattern.test(text))?.[1];
  return hint === undefined ? text : `${text} (${hint})`;
};
