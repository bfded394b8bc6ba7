/**
 * The contract between the rotation function and the stack's alarms and dashboard: the
 * CloudWatch metrics the function emits (Powertools Metrics, embedded metric format in its log
 * lines, no API call), the event a grace-period schedule sends it, and the environment
 * variables that configure the grace period. lib/ reads these names; nothing else may spell
 * them out.
 */

/** CloudWatch namespace of every metric the function emits. */
export const METRICS_NAMESPACE = 'IamKeyRotation';

/**
 * The one dimension set of every metric: `service` (always `iam-key-rotation`) and `operation`
 * (a rotation step, or `retirePreviousKey` for a grace-period schedule). No per-user or
 * per-secret dimension: the cost and cardinality stay flat with the number of users.
 */
export const METRIC_DIMENSION_SERVICE = 'service';
export const METRIC_DIMENSION_OPERATION = 'operation';
export const METRIC_SERVICE_NAME = 'iam-key-rotation';

/** The `operation` of the grace-period event (the steps use their Secrets Manager names). */
export const RETIRE_OPERATION = 'retirePreviousKey';

/** Metric names (units in brackets). */
export const METRICS = {
  /** [Milliseconds] how long the invocation took. */
  duration: 'Duration',
  /** [Count] 1 when the invocation succeeded (also when there was nothing to do). */
  succeeded: 'Succeeded',
  /** [Count] 1 when it failed (any error the invocation threw). */
  failed: 'Failed',
  /** [Count] GetCallerIdentity attempts testSecret made. */
  stsAttempts: 'StsAttempts',
  /** [Milliseconds] how long testSecret waited for the new key to be accepted. */
  stsWait: 'StsWait',
  /** [Count] access keys the invocation deleted. */
  keysDeleted: 'KeysDeleted',
  /** [Count] 1 when a previous key signed a request after the new key became current. */
  oldKeyStillUsed: 'OldKeyStillUsed',
} as const;

/** Environment of the function: the grace period, 0 (or absent) for none. */
export const GRACE_PERIOD_SECONDS_ENV = 'GRACE_PERIOD_SECONDS';
/** Environment of the function: the EventBridge Scheduler group its schedules go into. */
export const RETIREMENT_SCHEDULE_GROUP_ENV = 'RETIREMENT_SCHEDULE_GROUP';
/** Environment of the function: the role EventBridge Scheduler assumes to invoke it. */
export const RETIREMENT_SCHEDULER_ROLE_ARN_ENV = 'RETIREMENT_SCHEDULER_ROLE_ARN';

/**
 * `source` of the event a grace-period schedule sends the function (its `Target.Input`), told
 * apart from Secrets Manager's step events by this field:
 * `{"source": "iam-key-rotation.grace-period", "SecretId": "<ARN>", "VersionId": "<the
 * AWSPREVIOUS version>", "AccessKeyId": "<its key>"}`.
 */
export const RETIRE_EVENT_SOURCE = 'iam-key-rotation.grace-period';
