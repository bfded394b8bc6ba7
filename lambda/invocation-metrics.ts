import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { FunctionOperation } from './event.js';
import { METRIC_DIMENSION_OPERATION, METRICS } from './observability.js';

/**
 * The part of Powertools Metrics the handler uses: one dimension, metrics, and one flush per
 * invocation. Local runs that print their own output pass one that discards.
 */
export interface MetricsSink {
  addDimension(name: string, value: string): unknown;
  addMetric(
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
  ): unknown;
  publishStoredMetrics(): unknown;
}

/**
 * What one invocation measured, filled in by the step (or the retirement) as it goes and
 * published once when it ends, whether it succeeded or failed.
 */
export class InvocationMeasurements {
  /** Access keys this invocation deleted (IAM answered DeleteAccessKey). */
  public keysDeleted = 0;
  /** testSecret's GetCallerIdentity attempts and how long it waited, when it tested a key. */
  public stsTest?: { readonly attempts: number; readonly waitedMs: number };
  /** The retirement judged whether the previous key was still used (true: it was). */
  public oldKeyStillUsed?: boolean;
}

/**
 * Publishes the invocation's metrics as one EMF log line (Powertools Metrics: no API call), with
 * the one dimension set `service` (the Metrics' default dimension) and `operation`:
 * `Duration`; `Succeeded` and `Failed`, one of them 1 and the other 0; `KeysDeleted`;
 * `StsAttempts` and `StsWait` when testSecret tested a key; `OldKeyStillUsed` (0 or 1) when a
 * retirement judged the previous key's last use.
 */
export const publishInvocationMetrics = (
  metrics: MetricsSink,
  operation: FunctionOperation,
  outcome: 'succeeded' | 'failed',
  durationMs: number,
  measured: InvocationMeasurements,
): void => {
  metrics.addDimension(METRIC_DIMENSION_OPERATION, operation);
  metrics.addMetric(METRICS.duration, MetricUnit.Milliseconds, Math.max(0, durationMs));
  metrics.addMetric(METRICS.succeeded, MetricUnit.Count, outcome === 'succeeded' ? 1 : 0);
  metrics.addMetric(METRICS.failed, MetricUnit.Count, outcome === 'failed' ? 1 : 0);
  metrics.addMetric(METRICS.keysDeleted, MetricUnit.Count, measured.keysDeleted);
  if (measured.stsTest !== undefined) {
    metrics.addMetric(METRICS.stsAttempts, MetricUnit.Count, measured.stsTest.attempts);
    metrics.addMetric(METRICS.stsWait, MetricUnit.Milliseconds, measured.stsTest.waitedMs);
  }
  if (measured.oldKeyStillUsed !== undefined) {
    metrics.addMetric(METRICS.oldKeyStillUsed, MetricUnit.Count, measured.oldKeyStillUsed ? 1 : 0);
  }
  metrics.publishStoredMetrics();
};
