import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  METRICS,
  METRICS_NAMESPACE,
  METRIC_DIMENSION_OPERATION,
  METRIC_DIMENSION_SERVICE,
  METRIC_SERVICE_NAME,
  RETIRE_OPERATION,
} from '../lambda/observability.js';
import type { KeyRotationFunction } from './key-rotation-function.js';

/** How long each alarm looks at its metric: one evaluation period of this length. */
export const ALARM_PERIOD = Duration.minutes(5);

/** Properties of {@link RotationAlarms}. */
export interface RotationAlarmsProps {
  /** The function whose errors, throttles and metrics the alarms watch. */
  readonly rotationFunction: KeyRotationFunction;

  /**
   * Alarm names start with this (`<prefix>-rotation-errors`, `<prefix>-rotation-throttles`,
   * `<prefix>-old-key-still-used`). Alarm names are unique per account and region.
   *
   * @default - the stack name
   */
  readonly alarmNamePrefix?: string;

  /**
   * Whether to alarm on the function's `OldKeyStillUsed` metric, which only the grace period's
   * `retirePreviousKey` invocations emit.
   *
   * @default - when the function has a grace period
   */
  readonly oldKeyStillUsed?: boolean;
}

/**
 * The alarms of a rotation function: its `Errors` (an invocation that threw or was killed by the
 * Lambda timeout, which emits no rotation event of Secrets Manager's), its `Throttles` (an
 * invocation Lambda refused), and, with a grace period, the `OldKeyStillUsed` metric of the
 * `retirePreviousKey` operation (a previous key signed a request after the new key became
 * current). Each alarms at 1 or more in 5 minutes and treats missing data as not breaching (no
 * invocation is no failure). Without {@link notify} they have no actions; the dashboard shows
 * their state.
 */
export class RotationAlarms extends Construct {
  /** `Errors` of the function: an invocation that threw or timed out. */
  public readonly errors: cloudwatch.Alarm;

  /** `Throttles` of the function: an invocation Lambda refused. */
  public readonly throttles: cloudwatch.Alarm;

  /** `OldKeyStillUsed` of `retirePreviousKey`, when watched. */
  public readonly oldKeyStillUsed?: cloudwatch.Alarm;

  /** Every alarm of this construct. */
  public readonly alarms: readonly cloudwatch.Alarm[];

  public constructor(scope: Construct, id: string, props: RotationAlarmsProps) {
    super(scope, id);
    const fn = props.rotationFunction;
    const prefix = props.alarmNamePrefix ?? Stack.of(this).stackName;
    const logGroup = fn.logGroup.logGroupName;

    this.errors = fn.function
      .metricErrors({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM })
      .createAlarm(this, 'Errors', {
        alarmName: `${prefix}-rotation-errors`,
        alarmDescription: `The IAM access key rotation function failed or was killed by its timeout (such a step emits no rotation event). Its log group ${logGroup} has the error: every line carries secretId, step and clientRequestToken. Then run the operator command (installed from the checkout with npm link): iam-key-rotation status`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    this.throttles = fn.function
      .metricThrottles({ period: ALARM_PERIOD, statistic: cloudwatch.Stats.SUM })
      .createAlarm(this, 'Throttles', {
        alarmName: `${prefix}-rotation-throttles`,
        alarmDescription:
          "Lambda refused to run the IAM access key rotation function (the account's or function's concurrency is exhausted). Secrets Manager retries a rotation step; a grace-period retirement may be late. Check the account's Lambda concurrency, then run the operator command (installed from the checkout with npm link): iam-key-rotation status",
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    const watchOldKey = props.oldKeyStillUsed ?? fn.hasGracePeriod;
    if (watchOldKey) {
      this.oldKeyStillUsed = new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: METRICS.oldKeyStillUsed,
        dimensionsMap: {
          [METRIC_DIMENSION_SERVICE]: METRIC_SERVICE_NAME,
          [METRIC_DIMENSION_OPERATION]: RETIRE_OPERATION,
        },
        period: ALARM_PERIOD,
        statistic: cloudwatch.Stats.SUM,
      }).createAlarm(this, 'OldKeyStillUsed', {
        alarmName: `${prefix}-old-key-still-used`,
        alarmDescription: `A previous IAM access key signed a request after the new key became current, and was deactivated when its grace period ended: a consumer has not moved to the secret's AWSCURRENT key. The warning in log group ${logGroup} names the secret, the key, and the service and region of its last use.`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    this.alarms = [
      this.errors,
      this.throttles,
      ...(this.oldKeyStillUsed ? [this.oldKeyStillUsed] : []),
    ];
  }

  /** Sends every alarm's ALARM and OK state changes to `topic`. */
  public notify(topic: sns.ITopic): void {
    const action = new cloudwatchActions.SnsAction(topic);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }
}
