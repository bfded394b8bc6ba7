import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RotationError } from '../../lambda/errors.js';
import {
  METRIC_DIMENSION_OPERATION,
  METRIC_DIMENSION_SERVICE,
  METRIC_SERVICE_NAME,
  METRICS,
  METRICS_NAMESPACE,
} from '../../lambda/observability.js';
import { FakeAws } from '../support/fake-aws.js';
import { LogCapture, type EmfEntry } from '../support/log-capture.js';
import { createTestRotation, type TestRotation } from '../support/rotation-harness.js';

const USER = 'ses-smtp-sender';
const SECRET = 'iam-key-rotation/ses-smtp-sender';
const FIRST = '11111111-1111-4111-8111-111111111111';
const SECOND = '22222222-2222-4222-8222-222222222222';
const THIRD = '33333333-3333-4333-8333-333333333333';

let fake: FakeAws;
let rotation: TestRotation;
let logs: LogCapture;

beforeEach(() => {
  logs = new LogCapture().start();
  fake = new FakeAws();
  fake.addUser(USER);
  fake.addSecret(SECRET, USER);
  rotation = createTestRotation(fake, SECRET);
});

afterEach(() => {
  fake.restore();
  logs.stop();
});

const metricsOf = (operation: string): EmfEntry[] =>
  logs.metricEntries.filter((entry) => entry[METRIC_DIMENSION_OPERATION] === operation);

describe('Metrics', () => {
  it('publishes one EMF line per invocation, in the namespace, with the one dimension set (service, operation)', async () => {
    // Act
    await rotation.rotate(FIRST);

    // Assert
    const lines = logs.metricEntries;
    expect(lines.map((line) => line[METRIC_DIMENSION_OPERATION])).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    for (const line of lines) {
      const [directive] = line._aws.CloudWatchMetrics;
      expect(line._aws.CloudWatchMetrics).toHaveLength(1);
      expect(directive?.Namespace).toBe(METRICS_NAMESPACE);
      expect(directive?.Dimensions).toEqual([
        [METRIC_DIMENSION_SERVICE, METRIC_DIMENSION_OPERATION],
      ]);
      expect(line[METRIC_DIMENSION_SERVICE]).toBe(METRIC_SERVICE_NAME);
      expect(line[METRICS.succeeded]).toBe(1);
      expect(line[METRICS.failed]).toBe(0);
      expect(typeof line[METRICS.duration]).toBe('number');
      // No per-user or per-secret dimension or property.
      expect(JSON.stringify(line)).not.toContain(USER);
    }
  });

  it('reports the STS attempts and wait of testSecret, and only there', async () => {
    // Arrange: the new key is rejected twice (0.1 s and 0.3 s after the first attempt)
    fake.rejectionsForNewKeys = 2;

    // Act
    await rotation.rotate(FIRST);

    // Assert
    const [test] = metricsOf('testSecret');
    expect(test?.[METRICS.stsAttempts]).toBe(3);
    expect(test?.[METRICS.stsWait]).toBe(300);
    expect(test?._aws.CloudWatchMetrics[0]?.Metrics).toContainEqual({
      Name: METRICS.stsWait,
      Unit: 'Milliseconds',
    });
    for (const step of ['createSecret', 'setSecret', 'finishSecret']) {
      expect(metricsOf(step)[0]).not.toHaveProperty(METRICS.stsAttempts);
    }
  });

  it('counts the keys each invocation deleted', async () => {
    // Arrange: the steady state, then a rotation that deletes the Inactive AWSPREVIOUS key
    await rotation.rotate(FIRST);
    await rotation.rotate(SECOND);
    logs.stop();
    logs = new LogCapture().start();

    // Act
    await rotation.rotate(THIRD);

    // Assert
    expect(metricsOf('createSecret')[0]?.[METRICS.keysDeleted]).toBe(1);
    expect(metricsOf('finishSecret')[0]?.[METRICS.keysDeleted]).toBe(0);
  });

  it('publishes Failed on a failed invocation too, once', async () => {
    // Arrange: rotation not enabled
    fake.secret(SECRET).rotationEnabled = false;
    fake.startRotation(SECRET, FIRST);

    // Act
    await expect(rotation.step('createSecret', FIRST)).rejects.toThrow(RotationError);

    // Assert
    expect(logs.metricEntries).toHaveLength(1);
    expect(logs.metricEntries[0]).toMatchObject({
      [METRIC_DIMENSION_OPERATION]: 'createSecret',
      [METRICS.succeeded]: 0,
      [METRICS.failed]: 1,
      [METRICS.keysDeleted]: 0,
    });
  });
});
