import { CreateAccessKeyCommand, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, VirtualClock } from '../../../local/simulation/index.js';
import { SECRET, USER, createFixture, miniRotationFunction } from './fixtures.js';

describe('Class: Simulation', () => {
  describe('Faults', () => {
    it('throttles a call without effect; the SDK retries it and succeeds', async () => {
      const { sim, iam } = await createFixture();
      sim.injectFault({
        kind: 'throttling',
        match: { service: 'iam', operation: 'CreateAccessKey' },
      });

      const created = await iam.send(new CreateAccessKeyCommand({ UserName: USER }));

      expect(created.$metadata.attempts).toBe(2);
      expect(sim.accessKeys(USER)).toHaveLength(2);
      expect(sim.callsWhere({ operation: 'CreateAccessKey' }).map((c) => c.outcome)).toEqual([
        'success',
        'fault',
        'success',
      ]);
    });

    it('fails with Throttling when every attempt is throttled', async () => {
      const { sim, iam } = await createFixture();
      sim.injectFault({ kind: 'throttling', match: { operation: 'ListAccessKeys' }, times: 3 });

      await expect(iam.send(new ListAccessKeysCommand({ UserName: USER }))).rejects.toMatchObject({
        name: 'Throttling',
        $metadata: { attempts: 3 },
      });
    });

    it('fails with InternalServiceError (500) from Secrets Manager on a server error', async () => {
      const { sim, sm } = await createFixture();
      sim.injectFault({ kind: 'server-error', match: { service: 'secretsmanager' }, times: 3 });

      await expect(sm.send(new GetSecretValueCommand({ SecretId: SECRET }))).rejects.toMatchObject({
        name: 'InternalServiceError',
        $metadata: { httpStatusCode: 500 },
      });
    });

    it('fails with ServiceFailure (500) from IAM on a server error', async () => {
      const { sim, iam } = await createFixture({ sdkMaxAttempts: 1 });
      sim.injectFault({ kind: 'server-error', match: { index: sim.callCount } });

      await expect(iam.send(new ListAccessKeysCommand({ UserName: USER }))).rejects.toMatchObject({
        name: 'ServiceFailureException',
        $metadata: { httpStatusCode: 500 },
      });
    });

    it('fails with TimeoutError and no state change on a timeout before the effect', async () => {
      const { sim, iam } = await createFixture({ sdkMaxAttempts: 1, requestTimeoutMs: 2_000 });
      const before = sim.clock.now();
      sim.injectFault({ kind: 'timeout-before-effect', match: { operation: 'CreateAccessKey' } });

      await expect(iam.send(new CreateAccessKeyCommand({ UserName: USER }))).rejects.toMatchObject({
        name: 'TimeoutError',
      });

      expect(sim.accessKeys(USER)).toHaveLength(1);
      expect(sim.clock.now() - before).toBe(2_000);
    });

    it('fails with TimeoutError after the state change on a timeout after the effect', async () => {
      const { sim, iam } = await createFixture({ sdkMaxAttempts: 1 });
      sim.injectFault({ kind: 'timeout-after-effect', match: { operation: 'CreateAccessKey' } });

      await expect(iam.send(new CreateAccessKeyCommand({ UserName: USER }))).rejects.toMatchObject({
        name: 'TimeoutError',
      });

      expect(sim.accessKeys(USER)).toHaveLength(2);
      expect(sim.callsWhere({ operation: 'CreateAccessKey', outcome: 'fault' })[0]).toMatchObject({
        effectApplied: true,
      });
    });

    it('fails with LimitExceeded when the SDK retries a timed-out CreateAccessKey whose effect happened', async () => {
      const { sim, iam } = await createFixture();
      sim.injectFault({ kind: 'timeout-after-effect', match: { operation: 'CreateAccessKey' } });

      await expect(iam.send(new CreateAccessKeyCommand({ UserName: USER }))).rejects.toMatchObject({
        name: 'LimitExceededException',
      });

      expect(sim.accessKeys(USER)).toHaveLength(2);
      expect(
        sim.callsWhere({ operation: 'CreateAccessKey' }).map((c) => c.errorCode ?? c.outcome),
      ).toEqual(['success', 'TimeoutError', 'LimitExceeded', 'LimitExceeded']);
    });

    it('fails every later call of an invocation without effect after a crash, and retries the rotation', async () => {
      const { sim, sm } = await createFixture({ rotation: { retry: { delayMs: 1_000 } } });
      const arn = sim.registerRotationFunction(miniRotationFunction(sim));
      sim.injectFault({
        kind: 'crash-after-success',
        match: { operation: 'CreateAccessKey', insideInvocation: true },
      });

      await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: arn }));
      await sim.settle();

      const rotation = sim.rotations[0];
      expect(rotation?.invocations[0]).toMatchObject({
        step: 'createSecret',
        outcome: 'crashed',
        attempt: 1,
      });
      const crashed = rotation?.invocations[0]?.id;
      expect(
        sim.callsWhere({ invocationId: crashed, operation: 'CreateAccessKey' })[0],
      ).toMatchObject({
        outcome: 'fault',
        fault: 'crash-after-success',
        effectApplied: true,
      });
      expect(rotation).toMatchObject({ status: 'failed' });
      // The orphan key of the crashed attempt fills the second slot: the mini function is not
      // idempotent, so every retry hits LimitExceeded, exactly the failure the facts warn about.
      expect(sim.accessKeys(USER)).toHaveLength(2);
      expect(
        sim.callsWhere({ operation: 'CreateAccessKey', outcome: 'error' }).length,
      ).toBeGreaterThan(0);
    });

    it('fails every later call of a crashed invocation without effect, even when the handler catches', async () => {
      const { sim, sm } = await createFixture({ rotation: { retry: { maxAttempts: 1 } } });
      const arn = sim.registerRotationFunction(async (event) => {
        const client = new SecretsManagerClient({ ...sim.lambdaClientConfig() });
        await client
          .send(
            new PutSecretValueCommand({
              SecretId: event.SecretId,
              ClientRequestToken: event.ClientRequestToken,
              SecretString: 'new',
              VersionStages: ['AWSPENDING'],
            }),
          )
          .catch(() => undefined);
        await client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: event.SecretId,
            VersionStage: 'AWSPENDING',
            RemoveFromVersionId: event.ClientRequestToken,
          }),
        );
      });
      sim.injectFault({
        kind: 'crash-after-success',
        match: { operation: 'PutSecretValue', insideInvocation: true },
      });

      await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: arn }));
      await sim.settle();

      const invocation = sim.rotations[0]?.invocations[0];
      expect(invocation).toMatchObject({ step: 'createSecret', outcome: 'crashed' });
      expect(
        sim
          .callsWhere({ invocationId: invocation?.id })
          .map((c) => [c.operation, c.outcome, c.effectApplied]),
      ).toEqual([
        ['PutSecretValue', 'fault', true],
        ['UpdateSecretVersionStage', 'dead', false],
      ]);
      expect(sim.versionWithStage(SECRET, 'AWSPENDING')).toMatchObject({ secretString: 'new' });
      expect(sim.rotations[0]?.status).toBe('failed');
    });

    it('completes a rotation through the real SDK clients, with the call log attributing calls to invocations', async () => {
      const { sim, sm, firstKeyId } = await createFixture({ propagationDelayMs: 5_000 });
      const arn = sim.registerRotationFunction(miniRotationFunction(sim));

      await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: arn }));
      await sim.settle();

      expect(sim.rotations[0]).toMatchObject({ status: 'succeeded' });
      const current = JSON.parse(
        sim.versionWithStage(SECRET, 'AWSCURRENT')?.secretString ?? '{}',
      ) as { AccessKeyId: string };
      expect(current.AccessKeyId).not.toBe(firstKeyId);
      expect(sim.accessKey(current.AccessKeyId)?.authenticates).toBe(true);
      const testCalls = sim.callsWhere({ step: 'testSecret', operation: 'GetCallerIdentity' });
      expect(testCalls[0]?.errorCode).toBe('InvalidClientTokenId');
      expect(testCalls.at(-1)?.outcome).toBe('success');
      const newSecret = sim.accessKey(current.AccessKeyId)?.secretAccessKey;
      expect(newSecret).toBeDefined();
      expect(JSON.stringify(sim.calls)).not.toContain(newSecret);
    });

    it('fires on the nth matching call only', async () => {
      const { sim, iam } = await createFixture({ sdkMaxAttempts: 1 });
      sim.injectFault({ kind: 'throttling', match: { operation: 'ListAccessKeys', nth: 2 } });

      await iam.send(new ListAccessKeysCommand({ UserName: USER }));
      const second: unknown = await iam
        .send(new ListAccessKeysCommand({ UserName: USER }))
        .catch((e: unknown) => e);
      await iam.send(new ListAccessKeysCommand({ UserName: USER }));

      expect(second).toMatchObject({ name: 'Throttling' });
      expect(sim.faults.pending()).toEqual([]);
    });
  });

  describe('Fault: access-denied', () => {
    it('is one of FAULT_KINDS, so the fault matrix and the properties inject it', () => {
      expect(FAULT_KINDS).toContain('access-denied');
    });

    it('refuses a Secrets Manager call with AccessDeniedException (400) without effect or SDK retry', async () => {
      const { sim, sm } = await createFixture();
      const before = sim.versionWithStage(SECRET, 'AWSCURRENT');
      sim.injectFault({ kind: 'access-denied', match: { operation: 'PutSecretValue' } });

      const error: unknown = await sm
        .send(new PutSecretValueCommand({ SecretId: SECRET, SecretString: 'by hand' }))
        .catch((e: unknown) => e);

      expect(error).toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringContaining(
          `User: ${sim.adminRole.arn} is not authorized to perform: secretsmanager:PutSecretValue on resource: ${SECRET}`,
        ) as unknown,
        $metadata: { httpStatusCode: 400, attempts: 1 },
      });
      expect(sim.versionWithStage(SECRET, 'AWSCURRENT')).toEqual(before);
      expect(sim.callsWhere({ operation: 'PutSecretValue' })).toMatchObject([
        {
          outcome: 'fault',
          fault: 'access-denied',
          errorCode: 'AccessDeniedException',
          statusCode: 400,
          effectApplied: false,
          principalArn: sim.adminRole.arn,
        },
      ]);
    });

    it('refuses an IAM call with AccessDenied (403) without effect or SDK retry', async () => {
      const { sim, iam } = await createFixture();
      sim.injectFault({ kind: 'access-denied', match: { operation: 'CreateAccessKey' } });

      const error: unknown = await iam
        .send(new CreateAccessKeyCommand({ UserName: USER }))
        .catch((e: unknown) => e);

      expect(error).toMatchObject({
        name: 'AccessDenied',
        message: expect.stringContaining(
          `iam:CreateAccessKey on resource: arn:aws:iam::123456789012:user/${USER}`,
        ) as unknown,
        $metadata: { httpStatusCode: 403, attempts: 1 },
      });
      expect(sim.accessKeys(USER)).toHaveLength(1);
    });

    it('refuses an STS call with AccessDenied (403) after authenticating it, a use of the key', async () => {
      const { sim, sts, firstKeyId } = await createFixture();
      const secret = sim.accessKey(firstKeyId)?.secretAccessKey ?? '';
      await sim.clock.sleep(1_000);
      sim.injectFault({ kind: 'access-denied', match: { service: 'sts' } });

      await expect(
        sts(firstKeyId, secret).send(new GetCallerIdentityCommand({})),
      ).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });

      expect(sim.accessKey(firstKeyId)?.lastUsedDate).toBe(sim.clock.now());
    });

    it("answers with the errorCode given instead of the service's code", async () => {
      const { sim, sm } = await createFixture();
      sim.injectFault({
        kind: 'access-denied',
        match: { operation: 'GetSecretValue' },
        errorCode: 'KMSAccessDeniedException',
      });

      await expect(sm.send(new GetSecretValueCommand({ SecretId: SECRET }))).rejects.toMatchObject({
        name: 'KMSAccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      });
    });

    it('fails with the authentication error first when the request does not authenticate', async () => {
      const { sim, sts, firstKeyId } = await createFixture();
      const fault = sim.injectFault({ kind: 'access-denied', match: { service: 'sts' } });

      await expect(
        sts(firstKeyId, 'x'.repeat(40)).send(new GetCallerIdentityCommand({})),
      ).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });

      expect(fault.fired).toBe(1);
      expect(sim.callsWhere({ service: 'sts' })).toMatchObject([
        { outcome: 'error', errorCode: 'SignatureDoesNotMatch' },
      ]);
    });

    it('fails the invocation it hits; Secrets Manager retries the rotation, which then succeeds', async () => {
      const { sim, sm } = await createFixture({ rotation: { retry: { delayMs: 1_000 } } });
      const arn = sim.registerRotationFunction(miniRotationFunction(sim));
      sim.injectFault({
        kind: 'access-denied',
        match: { operation: 'DescribeSecret', insideInvocation: true },
      });

      await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: arn }));
      await sim.settle();

      expect(sim.rotations[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(sim.rotations[0]?.invocations[0]).toMatchObject({
        step: 'createSecret',
        outcome: 'failed',
        error: expect.objectContaining({ name: 'AccessDeniedException' }) as unknown,
      });
    });
  });

  describe('Clock', () => {
    it('advances a virtual clock by sleeps only', async () => {
      const clock = new VirtualClock(1_000);

      await clock.sleep(30_000);

      expect(clock.now()).toBe(31_000);
    });

    it('fails an invocation that runs past the Lambda timeout, and its later calls', async () => {
      const { sim, sm } = await createFixture({
        rotation: { lambdaTimeoutMs: 10_000, retry: { maxAttempts: 1 } },
      });
      const arn = sim.registerRotationFunction(async (event, context) => {
        await sim.clock.sleep(context.getRemainingTimeInMillis() + 1);
        await sm.send(new GetSecretValueCommand({ SecretId: event.SecretId }));
      });

      await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: arn }));
      await sim.settle();

      expect(sim.rotations[0]?.invocations[0]).toMatchObject({ outcome: 'timed-out' });
      expect(sim.callsWhere({ operation: 'GetSecretValue' })).toMatchObject([{ outcome: 'dead' }]);
    });
  });
});
