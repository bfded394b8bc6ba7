/** The secret's tag that names the IAM user whose access key it holds. */
export const BINDING_TAG_KEY = 'iam-key-rotation:user';

/**
 * The IAM user's tag that names, by full ARN, the one secret allowed to rotate its keys. The
 * stack sets it at deploy time; the rotation function only reads it (it has no iam:TagUser).
 */
export const OWNER_TAG_KEY = 'iam-key-rotation:secret';

/** Environment variable of the rotation function: days without use after which a key the secret does not hold may be deleted to make room. */
export const STALE_KEY_DAYS_ENV = 'STALE_KEY_DAYS';

/** Default of {@link STALE_KEY_DAYS_ENV} and of the `staleKeyDays` configuration field. */
export const DEFAULT_STALE_KEY_DAYS = 7;
