/**
 * The pace of a key test's attempts, shared by the STS test (test-secret.ts) and the SES SMTP
 * login test (ses-smtp-test.ts).
 */

/**
 * Gap between attempt `attempt` and the next: 100, 200, 400, 800 ms, then every second. New
 * keys usually work after 3-8 s; polling at most a second apart answers within a second of that.
 */
export const testRetryDelay = (attempt: number): number =>
  Math.min(1_000, 100 * 2 ** Math.max(0, attempt - 1));

/**
 * When attempt `attempt + 1` starts, counted from the first attempt, so the time each call
 * takes does not add up over the attempts.
 */
export const testAttemptOffset = (attempt: number): number => {
  let offset = 0;
  for (let previous = 1; previous <= attempt; previous += 1) offset += testRetryDelay(previous);
  return offset;
};
