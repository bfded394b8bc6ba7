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

/**
 * The name prefix of every secret the stack creates: `iam-key-rotation/<userName>`. Secret names
 * are immutable, so the user a secret rotates is fixed by its name, and the binding tag
 * ({@link BINDING_TAG_KEY}) and the user's ownership tag ({@link OWNER_TAG_KEY}) are cross-checks.
 */
export const SECRET_NAME_PREFIX = 'iam-key-rotation/';

/**
 * CloudFormation's reserved tag on every secret a stack creates: the stack's id (ARN). No
 * principal can create, change or remove an `aws:` tag, so a secret that carries this stack's id
 * was created by this stack; the function compares it with {@link STACK_ID_ENV} at every step.
 */
export const CLOUDFORMATION_STACK_ID_TAG_KEY = 'aws:cloudformation:stack-id';

/** Environment variable of the rotation function: its own stack's id (`AWS::StackId`). */
export const STACK_ID_ENV = 'IAM_KEY_ROTATION_STACK_ID';

/**
 * Staging label that testSecret moves onto the version whose key it proved; finishSecret promotes
 * only a version that carries it. One version at a time carries a label.
 */
export const TESTED_STAGE = 'IAM_KEY_ROTATION_TESTED';

/**
 * The secret's tag that records which access key its AWSCURRENT version holds, as
 * `<versionId>:<accessKeyId>`, set whenever AWSCURRENT moves (finishSecret, rollback), so that
 * `status` needs no GetSecretValue. A value whose version is not the AWSCURRENT one is stale.
 */
export const CURRENT_KEY_TAG_KEY = 'iam-key-rotation:current-key';

/**
 * Staging label of the version a rollback writes (`iam-key-rotation rollback`), from the moment
 * it writes it until AWSCURRENT is on it. While any version carries it, the function deactivates
 * no key (retirements and finishSecret read the labels right before): the rollback waits out the
 * function's timeout after setting it, so nothing that read the secret before can still act when
 * AWSCURRENT moves to the rolled-back key.
 */
export const ROLLBACK_STAGE = 'IAM_KEY_ROTATION_ROLLBACK';

/**
 * The secret's tag that makes testSecret prove the SMTP login too: `"true"` (or `"false"`). Here
 * rather than in ses-smtp-settings.ts so that the handler's start (which names it in an error)
 * does not load the SMTP settings' code.
 */
export const SES_SMTP_TEST_TAG_KEY = 'iam-key-rotation:ses-smtp-test';
