import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ROTATION_STEPS } from '../../lambda/event.js';
import { METRICS, METRICS_NAMESPACE, RETIRE_OPERATION } from '../../lambda/observability.js';
import { KeyRotationFunction } from '../../lib/key-rotation-function.js';
import { RotationAlarms } from '../../lib/rotation-alarms.js';
import { RotationDashboard } from '../../lib/rotation-dashboard.js';

interface MetricWidget {
  type: string;
  properties: {
    title?: string;
    metrics?: unknown[][];
    alarms?: unknown[];
  };
}

/** Synthesizes a dashboard and returns its widgets as CloudWatch reads them. */
function dashboardWidgets(gracePeriod?: Duration): { widgets: MetricWidget[]; stack: Stack } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Keys', { env: { account: '123456789012', region: 'eu-west-1' } });
  const rotationFunction = new KeyRotationFunction(stack, 'RotationFunction', { gracePeriod });
  const alarms = new RotationAlarms(stack, 'Alarms', { rotationFunction });
  new RotationDashboard(stack, 'Dashboard', { rotationFunction, alarms: alarms.alarms });
  const [dashboard] = Object.values(
    Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'),
  );
  const body = (dashboard?.Properties as { DashboardBody: unknown }).DashboardBody;
  // The body is a Fn::Join of literal JSON and tokens (alarm ARNs, region): stand each token in.
  const resolved = JSON.stringify(body)
    .replace(/^\{"Fn::Join":\["",\[/, '')
    .replace(/\]\]\}$/, '');
  const parts = JSON.parse(`[${resolved}]`) as unknown[];
  const text = parts.map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
  return { widgets: (JSON.parse(text) as { widgets: MetricWidget[] }).widgets, stack };
}

/** The `[namespace, metric name, dimension, value, dimension, value, options]` rows of a widget. */
function metricRows(widget: MetricWidget | undefined): unknown[][] {
  return widget?.properties.metrics ?? [];
}

describe('Construct: RotationDashboard', () => {
  it('graphs succeeded and failed invocations of every step', () => {
    // Act
    const { widgets } = dashboardWidgets();

    // Assert
    for (const [metricName, titlePattern] of [
      [METRICS.succeeded, /^Succeeded invocations by step/],
      [METRICS.failed, /^Failed invocations by step/],
    ] as const) {
      const widget = widgets.find((w) => titlePattern.test(w.properties.title ?? ''));
      const rows = metricRows(widget);
      expect(rows.map((row) => row.slice(0, 2))).toEqual(
        ROTATION_STEPS.map(() => [METRICS_NAMESPACE, metricName]),
      );
      expect(rows.map((row) => row.find((cell) => ROTATION_STEPS.includes(cell as never)))).toEqual(
        [...ROTATION_STEPS],
      );
      expect(JSON.stringify(rows)).toContain('"stat":"Sum"');
    }
  });

  it('adds the retirePreviousKey operation with a grace period', () => {
    // Act
    const { widgets } = dashboardWidgets(Duration.hours(24));

    // Assert
    const succeeded = widgets.find((w) => /^Succeeded/.test(w.properties.title ?? ''));
    expect(JSON.stringify(metricRows(succeeded))).toContain(`"${RETIRE_OPERATION}"`);
    const { widgets: withoutGrace } = dashboardWidgets();
    expect(JSON.stringify(withoutGrace)).not.toContain(RETIRE_OPERATION);
  });

  it('graphs the median and p99 of StsWait of testSecret', () => {
    // Act
    const { widgets } = dashboardWidgets();

    // Assert
    const widget = widgets.find((w) => /StsWait|STS/.test(w.properties.title ?? ''));
    const rows = metricRows(widget);
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).toContain(`"${METRICS.stsWait}"`);
    expect(JSON.stringify(rows)).toContain('"testSecret"');
    expect(JSON.stringify(rows)).toContain('"stat":"p50"');
    expect(JSON.stringify(rows)).toContain('"stat":"p99"');
  });

  it('graphs the keys deleted by every step', () => {
    // Act
    const { widgets } = dashboardWidgets();

    // Assert
    const widget = widgets.find((w) => /^Access keys deleted/.test(w.properties.title ?? ''));
    expect(metricRows(widget).map((row) => row[1])).toEqual(
      ROTATION_STEPS.map(() => METRICS.keysDeleted),
    );
  });

  it('shows the state of the alarms', () => {
    // Act
    const { widgets } = dashboardWidgets();

    // Assert
    const widget = widgets.find((w) => w.type === 'alarm');
    expect(widget?.properties.alarms).toHaveLength(2);
  });

  it('is named after the stack and the region, so that regions do not clash', () => {
    // Act
    const { stack } = dashboardWidgets();

    // Assert
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: { 'Fn::Join': ['', ['Keys-', { Ref: 'AWS::Region' }]] },
    });
  });
});
