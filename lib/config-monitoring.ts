import { Duration } from 'aws-cdk-lib';
import { describe, expectObject, InvalidConfigurationError } from './config-error.js';

/** Where each stack sends its rotation events and alarm notifications. */
export interface NotificationsConfig {
  /**
   * Addresses subscribed by email to the topic the stack creates (each must confirm); empty with
   * `topicArn`.
   */
  readonly email: readonly string[];
  /** An existing SNS topic to publish to instead of a topic of the stack. */
  readonly topicArn?: string;
  /** Whether successful rotations (`RotationSucceeded`) are announced too. */
  readonly onSuccess: boolean;
}

/** The AWS Config rules each stack adds. */
export interface ComplianceRulesConfig {
  /** `maxAccessKeyAge` of the `access-keys-rotated` rule, in days. */
  readonly maxAccessKeyAgeDays: number;
}

/** `maxAccessKeyAgeDays` when `complianceRules` is `true` or leaves it out (AWS's default). */
export const DEFAULT_MAX_ACCESS_KEY_AGE_DAYS = 90;
const MIN_MAX_ACCESS_KEY_AGE_DAYS = 1;
const MAX_MAX_ACCESS_KEY_AGE_DAYS = 1000;
const NOTIFICATIONS_FIELDS = ['email', 'topicArn', 'onSuccess'];
const COMPLIANCE_RULES_FIELDS = ['maxAccessKeyAgeDays'];
/**
 * An email address as SNS accepts it for a subscription: a local part, @, and a domain of at
 * least two labels (at most 254 characters in all).
 */
const EMAIL_PATTERN =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const MAX_EMAIL_LENGTH = 254;
/** A standard SNS topic's ARN (FIFO topics end in .fifo and are refused separately). */
const TOPIC_ARN_PATTERN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const FIFO_TOPIC_ARN_PATTERN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,251}\.fifo$/;
/** `gracePeriod`: whole minutes, hours or days. */
const GRACE_PERIOD_PATTERN = /^(\d{1,7})(m|h|d)$/;

/** Validates `notifications`. */
export function parseNotifications(raw: unknown, field: string): NotificationsConfig {
  const notifications = expectObject(raw, field, NOTIFICATIONS_FIELDS);

  const topicArn = notifications.topicArn;
  if (topicArn !== undefined) {
    if (typeof topicArn === 'string' && FIFO_TOPIC_ARN_PATTERN.test(topicArn)) {
      throw new InvalidConfigurationError(
        `${field}.topicArn`,
        `expected a standard SNS topic (CloudWatch alarms do not publish to FIFO topics), got ${describe(topicArn)}`,
      );
    }
    if (typeof topicArn !== 'string' || !TOPIC_ARN_PATTERN.test(topicArn)) {
      throw new InvalidConfigurationError(
        `${field}.topicArn`,
        `expected an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic name>), got ${describe(topicArn)}`,
      );
    }
  }

  const email = notifications.email ?? [];
  if (!Array.isArray(email) || (notifications.email !== undefined && email.length === 0)) {
    throw new InvalidConfigurationError(
      `${field}.email`,
      `expected a non-empty array of email addresses, got ${describe(notifications.email)}`,
    );
  }
  if (topicArn !== undefined && email.length > 0) {
    throw new InvalidConfigurationError(
      `${field}.email`,
      `subscriptions are made only to the topic the stack creates: leave out "topicArn", or subscribe the addresses to ${describe(topicArn)} where that topic is managed, got ${describe(email)}`,
    );
  }
  const firstIndexByAddress = new Map<string, number>();
  email.forEach((address: unknown, index) => {
    if (
      typeof address !== 'string' ||
      address.length > MAX_EMAIL_LENGTH ||
      !EMAIL_PATTERN.test(address)
    ) {
      throw new InvalidConfigurationError(
        `${field}.email[${index}]`,
        `expected an email address like "security-team@example.com", got ${describe(address)}`,
      );
    }
    const key = address.toLowerCase();
    const first = firstIndexByAddress.get(key);
    if (first !== undefined) {
      throw new InvalidConfigurationError(
        `${field}.email[${index}]`,
        `duplicate email address ${describe(address)} (already at ${field}.email[${first}])`,
      );
    }
    firstIndexByAddress.set(key, index);
  });

  const onSuccess = notifications.onSuccess ?? false;
  if (typeof onSuccess !== 'boolean') {
    throw new InvalidConfigurationError(
      `${field}.onSuccess`,
      `expected true or false, got ${describe(onSuccess)}`,
    );
  }
  return {
    email: email as string[],
    ...(topicArn === undefined ? {} : { topicArn }),
    onSuccess,
  };
}

/** `0` (or absent) for none, else whole minutes, hours or days such as `"90m"`, `"24h"`, `"7d"`. */
export function parseGracePeriod(raw: unknown, field: string): Duration {
  if (raw === undefined || raw === 0 || raw === '0') {
    return Duration.minutes(0);
  }
  const match = typeof raw === 'string' ? GRACE_PERIOD_PATTERN.exec(raw) : null;
  if (!match) {
    throw new InvalidConfigurationError(
      field,
      `expected whole minutes, hours or days like "90m", "24h" or "7d", or 0 for none, got ${describe(raw)}`,
    );
  }
  const amount = Number(match[1]);
  switch (match[2]) {
    case 'm':
      return Duration.minutes(amount);
    case 'h':
      return Duration.hours(amount);
    default:
      return Duration.days(amount);
  }
}

/** `true` for the defaults, `false` for none, or `{"maxAccessKeyAgeDays": N}`. */
export function parseComplianceRules(
  raw: unknown,
  field: string,
): ComplianceRulesConfig | undefined {
  if (raw === false) {
    return undefined;
  }
  if (raw === true) {
    return { maxAccessKeyAgeDays: DEFAULT_MAX_ACCESS_KEY_AGE_DAYS };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidConfigurationError(
      field,
      `expected true, false or an object like {"maxAccessKeyAgeDays": 90}, got ${describe(raw)}`,
    );
  }
  const rules = expectObject(raw, field, COMPLIANCE_RULES_FIELDS);
  const maxAccessKeyAgeDays = rules.maxAccessKeyAgeDays ?? DEFAULT_MAX_ACCESS_KEY_AGE_DAYS;
  if (
    typeof maxAccessKeyAgeDays !== 'number' ||
    !Number.isInteger(maxAccessKeyAgeDays) ||
    maxAccessKeyAgeDays < MIN_MAX_ACCESS_KEY_AGE_DAYS ||
    maxAccessKeyAgeDays > MAX_MAX_ACCESS_KEY_AGE_DAYS
  ) {
    throw new InvalidConfigurationError(
      `${field}.maxAccessKeyAgeDays`,
      `expected a whole number of days from ${MIN_MAX_ACCESS_KEY_AGE_DAYS} to ${MAX_MAX_ACCESS_KEY_AGE_DAYS}, got ${describe(maxAccessKeyAgeDays)}`,
    );
  }
  return { maxAccessKeyAgeDays };
}
