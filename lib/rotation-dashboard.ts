import { Aws, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { ROTATION_STEPS, type RotationStep } from '../lambda/event.js';
import {
  METRICS,
  METRICS_NAMESPACE,
  METRIC_DIMENSION_OPERATION,
  METRIC_DIMENSION_SERVICE,
  METRIC_SERVICE_NAME,
  RETIRE_OPERATION,
} from '../lambda/observability.js';
import type { KeyRotationFunction } from './key-rotation-function.js';

/** The step whose STS calls wait for a new key: the only one that emits `StsWait`. */
const TEST_STEP: RotationStep = 'testSecret';

/** Counts are summed per hour: rotations are rare. */
const COUNT_PERIOD = Duration.hours(1);

/** Properties of a {@link RotationDashboard}. */
export interface RotationDashboardProps {
  /** The function whose metrics the dashboard shows. */
  readonly rotationFunction: KeyRotationFunction;

  /** The alarms whose state the dashboard shows. */
  readonly alarms: readonly cloudwatch.IAlarm[];

  /**
   * The dashboard's name. Dashboard names are unique per account (not per region).
   *
   * @default - `<stack name>-<region>`
   */
  readonly dashboardName?: string;
}

/**
 * A CloudWatch dashboard of one rotation function, from the metrics it emits (namespace
 * `IamKeyRotation`, dimensions `service` and `operation`): successful and failed invocations per
 * step (and per grace-period retirement) over time, how long testSecret waited for a new key
 * (median and p99), keys deleted, and the state of the alarms. It shows a week by default.
 */
export class RotationDashboard extends Construct {
  /** The dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;

  /** The dashboard's name. */
  public readonly dashboardName: string;

  /** The console URL of the dashboard (standard AWS partition). */
  public readonly dashboardUrl: string;

  public constructor(scope: Construct, id: string, props: RotationDashboardProps) {
    super(scope, id);
    const operations: string[] = [
      ...ROTATION_STEPS,
      ...(props.rotationFunction.hasGracePeriod ? [RETIRE_OPERATION] : []),
    ];
    this.dashboardName = props.dashboardName ?? `${Stack.of(this).stackName}-${Aws.REGION}`;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Succeeded invocations by step (per hour)',
        left: operations.map((operation) =>
          rotationMetric(METRICS.succeeded, operation, cloudwatch.Stats.SUM, COUNT_PERIOD),
        ),
        stacked: true,
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Failed invocations by step (per hour)',
        left: operations.map((operation) =>
          rotationMetric(METRICS.failed, operation, cloudwatch.Stats.SUM, COUNT_PERIOD),
        ),
        stacked: true,
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${TEST_STEP}: wait for the new key to be accepted by STS (ms)`,
        left: [
          rotationMetric(
            METRICS.stsWait,
            TEST_STEP,
            cloudwatch.Stats.p(50),
            COUNT_PERIOD,
            'median',
          ),
          rotationMetric(METRICS.stsWait, TEST_STEP, cloudwatch.Stats.p(99), COUNT_PERIOD, 'p99'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Access keys deleted by step (per hour)',
        left: operations.map((operation) =>
          rotationMetric(METRICS.keysDeleted, operation, cloudwatch.Stats.SUM, COUNT_PERIOD),
        ),
        stacked: true,
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: [...props.alarms],
        width: 24,
      }),
    );
    this.dashboardUrl = `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${this.dashboardName}`;
  }
}

/** One metric of the function for one `operation`, labelled with the operation (or `label`). */
function rotationMetric(
  metricName: string,
  operation: string,
  statistic: string,
  period: Duration,
  label: string = operation,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: {
      [METRIC_DIMENSION_SERVICE]: METRIC_SERVICE_NAME,
      [METRIC_DIMENSION_OPERATION]: operation,
    },
    statistic,
    period,
    label,
  });
}
