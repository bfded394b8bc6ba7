import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import {
  ROTATION_INCOMPLETE_MESSAGE,
  Simulation,
  type RotationInvocationEvent,
} from '../../../local/simulation/index.js';
import { SECRET, cloudFormationTagsOf, createFixture } from './fixtures.js';

const PENDING_TOKEN = '11111111-2222-4333-8444-555555555555';

/** A fixture whose rotation function only records the events it receives. */
const withRecordingFunction = async (fail?: (event: RotationInvocationEvent) => boolean) => {
  const fixture = await createFixture({ rotation: { retry: { delayMs: 1_000 } } });
  const events: RotationInvocationEvent[] = [];
  const arn = fixture.sim.registerRotationFunction((event) => {
    events.push(event);
    return fail?.(event) === true
      ? Promise.reject(new Error(`${event.Step} failed`))
      : Promise.resolve();
  });
  return { ...fixture, events, arn };
};

describe('Class: Simulation', () => {
  describe('Secrets Manager secrets and versions', () => {
    it('describes a new secret without RotationEnabled, with tags and an ARN with a random suffix', async () => {
      const { sim, sm } = await createFixture();

      const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));

      expect(described).not.toHaveProperty('RotationEnabled');
      expect(described.ARN).toMatch(
        new RegExp(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:${SECRET}-[A-Za-z]{6}$`),
      );
      expect(described.Tags).toEqual([
        { Key: 'iam-key-rotation:user', Value: 'alice' },
        ...cloudFormationTagsOf(sim),
      ]);
      expect(Object.values(described.VersionIdsToStages ?? {})).toEqual([['AWSCURRENT']]);
    });

    it('fails with ResourceExistsException when a secret with the name exists', async () => {
      const { sm } = await createFixture();

      await expect(
        sm.send(new CreateSecretCommand({ Name: SECRET, SecretString: 'x' })),
      ).rejects.toBeInstanceOf(ResourceExistsException);
    });

    it('fails with ResourceNotFoundException for an unknown secret', async () => {
      const sim = new Simulation();
      const sm = new SecretsManagerClient({ ...sim.adminClientConfig() });

      await expect(sm.send(new DescribeSecretCommand({ SecretId: 'nope' }))).rejects.toBeInstanceOf(
        ResourceNotFoundException,
      );
    });

    it('fails with InvalidRequestException when VersionId and VersionStage name different versions', async () => {
      const { sm } = await createFixture();
      const put = await sm.send(
        new PutSecretValueCommand({
          SecretId: SECRET,
          SecretString: 'v2',
          VersionStages: ['AWSPENDING'],
        }),
      );

      await expect(
        sm.send(
          new GetSecretValueCommand({
            SecretId: SECRET,
            VersionId: put.VersionId,
            VersionStage: 'AWSCURRENT',
          }),
        ),
      ).rejects.toBeInstanceOf(InvalidRequestException);
    });

    it('ignores a PutSecretValue with an existing token and the same value', async () => {
      const { sim, sm } = await createFixture();
      const first = await sm.send(
        new PutSecretValueCommand({
          SecretId: SECRET,
          ClientRequestToken: PENDING_TOKEN,
          SecretString: 'v2',
        }),
      );

      const again = await sm.send(
        new PutSecretValueCommand({
          SecretId: SECRET,
          ClientRequestToken: PENDING_TOKEN,
          SecretString: 'v2',
          VersionStages: ['AWSPENDING'],
        }),
      );

      expect(again.VersionId).toBe(first.VersionId);
      expect(sim.versionWithStage(SECRET, 'AWSCURRENT')?.versionId).toBe(PENDING_TOKEN);
      expect(sim.versionWithStage(SECRET, 'AWSPENDING')).toBeUndefined();
    });

    it('fails with ResourceExistsException when an existing token comes with a different value', async () => {
      const { sm } = await createFixture();
      await sm.send(
        new PutSecretValueCommand({
          SecretId: SECRET,
          ClientRequestToken: PENDING_TOKEN,
          SecretString: 'v2',
        }),
      );

      await expect(
        sm.send(
          new PutSecretValueCommand({
            SecretId: SECRET,
            ClientRequestToken: PENDING_TOKEN,
            SecretString: 'v3',
          }),
        ),
      ).rejects.toBeInstanceOf(ResourceExistsException);
    });

    it('fails with InvalidParameterException when AWSCURRENT moves without RemoveFromVersionId', async () => {
      const { sm } = await createFixture();
      const put = await sm.send(
        new PutSecretValueCommand({
          SecretId: SECRET,
          SecretString: 'v2',
          VersionStages: ['AWSPENDING'],
        }),
      );

      await expect(
        sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: SECRET,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: put.VersionId,
          }),
        ),
      ).rejects.toBeInstanceOf(InvalidParameterException);
    });

    it('fails with InvalidParameterException when RemoveFromVersionId is not the current holder', async () => {
      const { sm } = await createFixture();
      const put = await sm.send(
        new PutSecretValueCommand({
          SecretId: SECRET,
          SecretString: 'v2',
          VersionStages: ['AWSPENDING'],
        }),
      );

      await expect(
        sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: SECRET,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: put.VersionId,
            RemoveFromVersionId: put.VersionId,
          }),
        ),
      ).rejects.toBeInstanceOf(InvalidParameterException);
    });

    it('gives the old current version AWSPREVIOUS when AWSCURRENT moves, and AWSPENDING may stay', async () => {
      const { sim, sm } = await createFixture();
      const v1 = sim.versionWithStage(SECRET, 'AWSCURRENT')?.versionId;
      const v2 = (
        await sm.send(
          new PutSecretValueCommand({
            SecretId: SECRET,
            SecretString: 'v2',
            VersionStages: ['AWSPENDING'],
          }),
        )
      ).VersionId;
      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: SECRET,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: v2,
          RemoveFromVersionId: v1,
        }),
      );
      const v3 = (
        await sm.send(
          new PutSecretValueCommand({
            SecretId: SECRET,
            SecretString: 'v3',
            VersionStages: ['AWSPENDING'],
          }),
        )
      ).VersionId;

      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: SECRET,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: v3,
          RemoveFromVersionId: v2,
        }),
      );

      const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      expect(described.VersionIdsToStages).toEqual({
        [v2 ?? '']: ['AWSPREVIOUS'],
        [v3 ?? '']: ['AWSPENDING', 'AWSCURRENT'],
      });
      const listed = await sm.send(
        new ListSecretVersionIdsCommand({ SecretId: SECRET, IncludeDeprecated: true }),
      );
      expect(listed.Versions?.map((v) => v.VersionId)).toEqual([v1, v2, v3]);
      expect(listed.Versions?.every((v) => v.CreatedDate instanceof Date)).toBe(true);
    });
  });

  describe('Secrets Manager rotation', () => {
    it('attaches AWSPENDING to a new version without a value, id = ClientRequestToken', async () => {
      const { sm, arn } = await withRecordingFunction();

      const rotated = await sm.send(
        new RotateSecretCommand({
          SecretId: SECRET,
          RotationLambdaARN: arn,
          ClientRequestToken: PENDING_TOKEN,
        }),
      );

      expect(rotated.VersionId).toBe(PENDING_TOKEN);
      const pending: unknown = await sm
        .send(
          new GetSecretValueCommand({
            SecretId: SECRET,
            VersionId: PENDING_TOKEN,
            VersionStage: 'AWSPENDING',
          }),
        )
        .catch((e: unknown) => e);
      expect(pending).toBeInstanceOf(ResourceNotFoundException);
      const described = await sm.send(new DescribeSecretCommand({ SecretId: SECRET }));
      expect(described.RotationEnabled).toBe(true);
      expect(described.VersionIdsToStages?.[PENDING_TOKEN]).toEqual(['AWSPENDING']);
    });

    it('invokes the four steps in order with the secret ARN, the token and a RotationToken', async () => {
      const { sim, sm, arn, events, secretArn } = await withRecordingFunction();

      await sm.send(
        new RotateSecretCommand({
          SecretId: SECRET,
          RotationLambdaARN: arn,
          ClientRequestToken: PENDING_TOKEN,
        }),
      );
      await sim.settle();

      expect(events.map((e) => e.Step)).toEqual([
        'createSecret',
        'setSecret',
        'testSecret',
        'finishSecret',
      ]);
      expect(
        events.every((e) => e.SecretId === secretArn && e.ClientRequestToken === PENDING_TOKEN),
      ).toBe(true);
      expect(events.every((e) => typeof e.RotationToken === 'string')).toBe(true);
      expect(sim.rotations[0]).toMatchObject({ status: 'succeeded', attempts: 1 });
    });

    it('fails a second RotateSecret while the rotation is incomplete', async () => {
      const { sm, arn } = await withRecordingFunction(() => true);
      await sm.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: arn }));

      const error: unknown = await sm
        .send(new RotateSecretCommand({ SecretId: SECRET }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(InvalidRequestException);
      expect(error).toMatchObject({ message: ROTATION_INCOMPLETE_MESSAGE });
    });

    it('retries the whole rotation with the same token, then leaves AWSPENDING when every attempt fails', async () => {
      const { sim, sm, arn, events } = await withRecordingFunction((e) => e.Step === 'setSecret');

      await sm.send(
        new RotateSecretCommand({
          SecretId: SECRET,
          RotationLambdaARN: arn,
          ClientRequestToken: PENDING_TOKEN,
        }),
      );
      await sim.settle();

      expect(events.map((e) => e.Step)).toEqual([
        'createSecret',
        'setSecret',
        'createSecret',
        'setSecret',
        'createSecret',
        'setSecret',
      ]);
      expect(new Set(events.map((e) => e.ClientRequestToken))).toEqual(new Set([PENDING_TOKEN]));
      expect(sim.rotations[0]).toMatchObject({ status: 'failed', attempts: 3 });
      expect(sim.versionWithStage(SECRET, 'AWSPENDING')?.versionId).toBe(PENDING_TOKEN);
    });

    it('retries with a new token and moves AWSPENDING when tokens are not reused', async () => {
      const sim = new Simulation({ rotation: { retry: { reuseToken: false, maxAttempts: 2 } } });
      const sm = new SecretsManagerClient({ ...sim.adminClientConfig() });
      await sm.send(new CreateSecretCommand({ Name: SECRET, SecretString: 'v1' }));
      const tokens: string[] = [];
      const arn = sim.registerRotationFunction((event) => {
        tokens.push(event.ClientRequestToken);
        return Promise.reject(new Error('no'));
      });

      await sm.send(
        new RotateSecretCommand({
          SecretId: SECRET,
          RotationLambdaARN: arn,
          ClientRequestToken: PENDING_TOKEN,
        }),
      );
      await sim.settle();

      expect(tokens).toHaveLength(2);
      expect(tokens[0]).toBe(PENDING_TOKEN);
      expect(tokens[1]).not.toBe(PENDING_TOKEN);
      expect(sim.versionWithStage(SECRET, 'AWSPENDING')?.versionId).toBe(tokens[1]);
    });

    it('reattempts an incomplete rotation with its token at the next scheduled rotation', async () => {
      let failing = true;
      const { sim, sm, arn, events } = await withRecordingFunction(() => failing);
      await sm.send(
        new RotateSecretCommand({
          SecretId: SECRET,
          RotationLambdaARN: arn,
          ClientRequestToken: PENDING_TOKEN,
        }),
      );
      await sim.settle();
      failing = false;
      events.length = 0;

      const record = await sim.runScheduledRotation(SECRET);

      expect(record).toMatchObject({
        status: 'succeeded',
        trigger: 'schedule',
        clientRequestToken: PENDING_TOKEN,
      });
      expect(events).toHaveLength(4);
    });

    it('runs only testSecret and then removes AWSPENDING when RotateImmediately is false', async () => {
      const { sim, sm, arn, events } = await withRecordingFunction();

      await sm.send(
        new RotateSecretCommand({
          SecretId: SECRET,
          RotationLambdaARN: arn,
          RotateImmediately: false,
          RotationRules: { ScheduleExpression: 'rate(4 hours)' },
        }),
      );
      await sim.settle();

      expect(events.map((e) => e.Step)).toEqual(['testSecret']);
      expect(sim.versionWithStage(SECRET, 'AWSPENDING')).toBeUndefined();
      expect(sim.rotations[0]).toMatchObject({ kind: 'test', status: 'succeeded' });
    });

    it('fails with InvalidParameterException when the schedule is shorter than 4 hours', async () => {
      const { sm, arn } = await withRecordingFunction();

      await expect(
        sm.send(
          new RotateSecretCommand({
            SecretId: SECRET,
            RotationLambdaARN: arn,
            RotationRules: { ScheduleExpression: 'rate(2 hours)' },
          }),
        ),
      ).rejects.toMatchObject({
        name: 'InvalidParameterException',
        message: expect.stringContaining('got rate(2 hours)') as unknown,
      });
    });

    it('abandons the rotation and removes AWSPENDING when someone else calls PutSecretValue', async () => {
      const { sim, sm } = await createFixture();
      const steps: string[] = [];
      let started!: () => void;
      const createSecretStarted = new Promise<void>((resolve) => (started = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const arn = sim.registerRotationFunction(async (event) => {
        steps.push(event.Step);
        started();
        await gate;
      });
      await sm.send(
        new RotateSecretCommand({
          SecretId: SECRET,
          RotationLambdaARN: arn,
          ClientRequestToken: PENDING_TOKEN,
        }),
      );
      await createSecretStarted;

      await sm.send(new PutSecretValueCommand({ SecretId: SECRET, SecretString: 'by hand' }));
      release();
      await sim.settle();

      expect(steps).toEqual(['createSecret']);
      expect(sim.rotations[0]?.status).toBe('abandoned');
      expect(sim.versionWithStage(SECRET, 'AWSPENDING')).toBeUndefined();
      expect(sim.versionWithStage(SECRET, 'AWSCURRENT')?.secretString).toBe('by hand');
    });
  });

  describe('Option: rotation.testVersionValue', () => {
    /** A fixture whose rotation function reads the AWSPENDING value at testSecret. */
    const withReadingFunction = async (testVersionValue?: 'none' | 'copy-current') => {
      const fixture = await createFixture({
        rotation: testVersionValue === undefined ? {} : { testVersionValue },
      });
      const reads: unknown[] = [];
      const arn = fixture.sim.registerRotationFunction(async (event) => {
        const sm = new SecretsManagerClient({ ...fixture.sim.lambdaClientConfig() });
        reads.push(
          await sm
            .send(
              new GetSecretValueCommand({
                SecretId: event.SecretId,
                VersionId: event.ClientRequestToken,
                VersionStage: 'AWSPENDING',
              }),
            )
            .then((output) => output.SecretString)
            .catch((e: unknown) => e),
        );
      });
      return { ...fixture, reads, arn };
    };

    it('gives the test version no value by default, and removes it after testSecret', async () => {
      const { sim, sm, arn, reads } = await withReadingFunction();

      await sm.send(
        new RotateSecretCommand({
          SecretId: SECRET,
          RotationLambdaARN: arn,
          RotateImmediately: false,
          ClientRequestToken: PENDING_TOKEN,
        }),
      );
      const pending = sim.versionWithStage(SECRET, 'AWSPENDING');
      await sim.settle();

      expect(pending).toMatchObject({ versionId: PENDING_TOKEN, hasValue: false });
      expect(reads).toHaveLength(1);
      expect(reads[0]).toBeInstanceOf(ResourceNotFoundException);
      expect(sim.secretVersions(SECRET).map((v) => v.versionId)).not.toContain(PENDING_TOKEN);
    });

    it('copies the AWSCURRENT value into the test version with copy-current, then removes it', async () => {
      const { sim, sm, arn, reads } = await withReadingFunction('copy-current');
      const current = sim.versionWithStage(SECRET, 'AWSCURRENT');

      await sm.send(
        new RotateSecretCommand({
          SecretId: SECRET,
          RotationLambdaARN: arn,
          RotateImmediately: false,
          ClientRequestToken: PENDING_TOKEN,
        }),
      );
      const pending = sim.versionWithStage(SECRET, 'AWSPENDING');
      await sim.settle();

      expect(pending).toMatchObject({
        versionId: PENDING_TOKEN,
        hasValue: true,
        secretString: current?.secretString,
      });
      expect(reads).toEqual([current?.secretString]);
      expect(sim.rotations[0]).toMatchObject({ kind: 'test', status: 'succeeded' });
      expect(sim.secretVersions(SECRET)).toEqual([current]);
    });

    it('leaves the placeholder of an immediate rotation without a value with copy-current', async () => {
      const { sim, sm, arn, reads } = await withReadingFunction('copy-current');

      await sm.send(
        new RotateSecretCommand({
          SecretId: SECRET,
          RotationLambdaARN: arn,
          ClientRequestToken: PENDING_TOKEN,
        }),
      );
      const pending = sim.versionWithStage(SECRET, 'AWSPENDING');
      await sim.settle();

      expect(pending).toMatchObject({ versionId: PENDING_TOKEN, hasValue: false });
      expect(reads[0]).toBeInstanceOf(ResourceNotFoundException);
    });
  });
});
