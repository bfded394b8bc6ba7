/** The `name` of an AWS SDK error (its error code), or `undefined` for anything else. */
export const errorName = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string'
    ? error.name
    : undefined;

/**
 * Runs an IAM call on a key that may already be gone (a retried step, a change by hand):
 * true when it ran, false when IAM answered NoSuchEntity. Other errors propagate.
 */
export const ignoreNoSuchEntity = async (action: () => Promise<void>): Promise<boolean> => {
  try {
    await action();
    return true;
  } catch (error) {
    if (errorName(error) === 'NoSuchEntityException') return false;
    throw error;
  }
};
