import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import {
  METRICS,
  METRICS_NAMESPACE,
  METRIC_DIMENSION_OPERATION,
  METRIC_DIMENSION_SERVICE,
  METRIC_SERVICE_NAME,
  RETIRE_OPERATION,
} from '../../lambda/observability.js';
import { KeyRotationFunction } from '../../lib/key-rotation-function.js';
import { RotationAlarms } from '../../lib/rotation-alarms.js';

const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:ops-alerts';

function arrange(gracePeriod?: Duration): { stack: Stack; rotationFunction: KeyRotationFunction } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Keys', { env: { account: '123456789012', region: 'eu-west-1' } });
  const rotationFunction = new KeyRotationFunction(stack, 'RotationFunction', { gracePeriod });
  return { stack, rotationFunction };
}

const FUNCTION_DIMENSION = [
  { Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^RotationFunction[0-9A-F]{8}$') } },
];

describe('Construct: RotationAlarms', () => {
  it('alarms on the Errors of the function at 1 or more in 5 minutes, missing data not breaching', () => {
    // Arrange
    const { stack, rotationFunction } = arrange();

    // Act
    new RotationAlarms(stack, 'Alarms', { rotationFunction });

    // Assert
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Keys-rotation-errors',
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: FUNCTION_DIMENSION,
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmDescription: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('killed by its timeout')])],
      }),
    });
  });

  it('alarms on the Throttles of the function the same way', () => {
    // Arrange
    const { stack, rotationFunction } = arrange();

    // Act
    new RotationAlarms(stack, 'Alarms', { rotationFunction });

    // Assert
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Keys-rotation-throttles',
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: FUNCTION_DIMENSION,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('has no OldKeyStillUsed alarm and no actions without a grace period or topic', () => {
    // Arrange
    const { stack, rotationFunction } = arrange();

    // Act
    const alarms = new RotationAlarms(stack, 'Alarms', { rotationFunction });

    // Assert
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
    expect(alarms.oldKeyStillUsed).toBeUndefined();
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties).not.toHaveProperty('AlarmActions');
      expect(alarm.Properties).not.toHaveProperty('OKActions');
    }
  });

  it('alarms on OldKeyStillUsed of the retirePreviousKey operation with a grace period', () => {
    // Arrange
    const { stack, rotationFunction } = arrange(Duration.hours(24));

    // Act
    new RotationAlarms(stack, 'Alarms', { rotationFunction });

    // Assert
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Keys-old-key-still-used',
      Namespace: METRICS_NAMESPACE,
      MetricName: METRICS.oldKeyStillUsed,
      // (CDK sorts dimensions by name; CloudWatch ignores their order.)
      Dimensions: [
        { Name: METRIC_DIMENSION_OPERATION, Value: RETIRE_OPERATION },
        { Name: METRIC_DIMENSION_SERVICE, Value: METRIC_SERVICE_NAME },
      ],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('sends the ALARM and OK state changes of every alarm to the topic it notifies', () => {
    // Arrange
    const { stack, rotationFunction } = arrange(Duration.hours(24));
    const alarms = new RotationAlarms(stack, 'Alarms', { rotationFunction });

    // Act
    alarms.notify(sns.Topic.fromTopicArn(stack, 'Topic', TOPIC_ARN));

    // Assert
    const template = Template.fromStack(stack);
    template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { AlarmActions: [TOPIC_ARN], OKActions: [TOPIC_ARN] },
      3,
    );
  });

  it('names the alarms with the prefix it is given', () => {
    // Arrange
    const { stack, rotationFunction } = arrange();

    // Act
    new RotationAlarms(stack, 'Alarms', { rotationFunction, alarmNamePrefix: 'ci-keys' });

    // Assert
    const names = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'))
      .map((alarm) => (alarm.Properties as { AlarmName: string }).AlarmName)
      .sort();
    expect(names).toEqual(['ci-keys-rotation-errors', 'ci-keys-rotation-throttles']);
  });
});
