import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import type {
  AccessKeyMetadata,
  AccessKeyStore,
} from '../../../lambda/aws/iam-access-key-store.js';
import { RotationError } from '../../../lambda/errors.js';
import { InvocationMeasurements } from '../../../lambda/invocation-metrics.js';
import {
  ABSENCE_CONFIRMATION_DELAYS_MS,
  findAccessKey,
} from '../../../lambda/rotation/access-key-lookup.js';
import type { RotationServices, StepContext } from '../../../lambda/rotation/step-context.js';
import { ManualClock } from '../../support/rotation-harness.js';

/**
 * The listing-lag re-check (a key missing from ListAccessKeys is listed again after 1 and 3 s
 * before it counts as deleted) near the step's deadline: it waits only when the wait itself ends
 * by the deadline, and otherwise fails (retried) rather than overrun the deadline or conclude
 * that the key was deleted.
 */
const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/ci-AbCdEf';
const MISSING = 'AKIAMISSING000000001';

const lookupWith = (
  deadlineInMs: number,
  listings: AccessKeyMetadata[][],
): { context: StepContext; clock: ManualClock; listed: () => number } => {
  const clock = new ManualClock();
  let calls = 0;
  const iam: Partial<AccessKeyStore> = {
    listAccessKeys: () => {
      calls += 1;
      return Promise.resolve(listings[Math.min(calls, listings.length) - 1] ?? []);
    },
  };
  const context: StepContext = {
    event: { Step: 'finishSecret', SecretId: SECRET_ARN, ClientRequestToken: 'token-0000000001' },
    secret: {
      arn: SECRET_ARN,
      name: 'iam-key-rotation/ci',
      rotationEnabled: true,
      versionIdsToStages: {},
      tags: {},
    },
    userName: 'ci',
    user: { userName: 'ci', arn: 'arn:aws:iam::123456789012:user/ci', tags: {} },
    settings: {
      staleKeyDays: 7,
      stackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/IamKeyRotation/1',
    },
    services: { iam, clock } as unknown as RotationServices,
    log: new Logger({ serviceName: 'access-key-lookup-test', logLevel: 'SILENT' }),
    deadline: clock.now() + deadlineInMs,
    functionArn: undefined,
    measurements: new InvocationMeasurements(),
  };
  return { context, clock, listed: () => calls };
};

const KEY: AccessKeyMetadata = {
  accessKeyId: MISSING,
  status: 'Active',
  createDate: new Date('2026-11-01T09:59:59Z'),
};

describe('Function: findAccessKey near the deadline', () => {
  it('lists again after 1 and 3 s and finds a key that IAM listed late (control)', async () => {
    const { context, clock, listed } = lookupWith(60_000, [[], [], [KEY]]);

    const found = await findAccessKey(context, MISSING);

    expect(found.key).toEqual(KEY);
    expect(clock.sleeps).toEqual([...ABSENCE_CONFIRMATION_DELAYS_MS]);
    expect(listed()).toBe(3);
  });

  it('fails at once, without waiting, when even the first wait would end after the deadline', async () => {
    const { context, clock, listed } = lookupWith(500, [[]]);

    await expect(findAccessKey(context, MISSING)).rejects.toThrow(RotationError);
    await expect(findAccessKey(lookupWith(500, [[]]).context, MISSING)).rejects.toThrow(
      /the deadline leaves no time to confirm that it was deleted/,
    );

    expect(clock.sleeps).toEqual([]);
    expect(listed()).toBe(1);
  });

  it('never waits past the deadline, nor counts the key deleted, when the second wait would end after it', async () => {
    // 2.5 s left: the 1 s wait fits, the 3 s wait after it does not.
    const { context, clock, listed } = lookupWith(2_500, [[], [], [KEY]]);
    const deadline = context.deadline;

    await expect(findAccessKey(context, MISSING)).rejects.toThrow(
      /the deadline leaves no time to confirm that it was deleted/,
    );

    expect(clock.sleeps).toEqual([1_000]);
    expect(clock.now()).toBeLessThanOrEqual(deadline);
    expect(listed()).toBe(2);
  });
});
