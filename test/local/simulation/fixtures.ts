import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  Simulation,
  type RotationFunction,
  type SimulationOptions,
} from '../../../local/simulation/index.js';

export const USER = 'alice';
export const SECRET = 'iam-key-rotation/alice';
/** The stack that creates the fixture's secret (CloudFormation's tags name it). */
export const STACK_NAME = 'IamKeyRotation';

/** The system tags CloudFormation gives the fixture's secret, in the order DescribeSecret lists them. */
export const cloudFormationTagsOf = (sim: Simulation): { Key: string; Value: string }[] => {
  const stack = sim.stack(STACK_NAME);
  return [
    { Key: 'aws:cloudformation:stack-name', Value: stack.stackName },
    { Key: 'aws:cloudformation:logical-id', Value: 'AliceSecret' },
    { Key: 'aws:cloudformation:stack-id', Value: stack.stackId },
  ];
};

export interface Fixture {
  readonly sim: Simulation;
  readonly iam: IAMClient;
  readonly sts: (accessKeyId: string, secretAccessKey: string) => STSClient;
  readonly sm: SecretsManagerClient;
  readonly secretArn: string;
  readonly firstKeyId: string;
}

/**
 * A user with one key, and a secret bound to it whose AWSCURRENT holds that key, created by the
 * stack {@link STACK_NAME} (so it carries CloudFormation's tags).
 */
export const createFixture = async (options: SimulationOptions = {}): Promise<Fixture> => {
  const sim = new Simulation(options);
  const iam = new IAMClient({ ...sim.adminClientConfig() });
  const sm = new SecretsManagerClient({ ...sim.adminClientConfig() });
  const sts = (accessKeyId: string, secretAccessKey: string): STSClient =>
    new STSClient({ ...sim.adminClientConfig(), credentials: { accessKeyId, secretAccessKey } });
  await iam.send(new CreateUserCommand({ UserName: USER }));
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: USER }));
  const created = sim.createStackSecret(sim.stack(STACK_NAME), 'AliceSecret', {
    Name: SECRET,
    SecretString: JSON.stringify({
      AccessKeyId: AccessKey?.AccessKeyId,
      SecretAccessKey: AccessKey?.SecretAccessKey,
    }),
    Tags: [{ Key: 'iam-key-rotation:user', Value: USER }],
  });
  return {
    sim,
    iam,
    sts,
    sm,
    secretArn: created.arn,
    firstKeyId: AccessKey?.AccessKeyId ?? '',
  };
};

/**
 * A deliberately small rotation function (not the real handler): enough for the simulation's
 * own tests to drive full rotations through the real SDK clients.
 */
export const miniRotationFunction =
  (sim: Simulation): RotationFunction =>
  async (event) => {
    const config = sim.lambdaClientConfig();
    const sm = new SecretsManagerClient({ ...config });
    const iam = new IAMClient({ ...config });
    const token = event.ClientRequestToken;
    const described = await sm.send(new DescribeSecretCommand({ SecretId: event.SecretId }));
    const stages = described.VersionIdsToStages?.[token] ?? [];
    if (stages.includes('AWSCURRENT')) return;
    if (!stages.includes('AWSPENDING')) throw new Error(`version ${token} is not AWSPENDING`);
    switch (event.Step) {
      case 'createSecret': {
        const pending = await sm
          .send(
            new GetSecretValueCommand({
              SecretId: event.SecretId,
              VersionId: token,
              VersionStage: 'AWSPENDING',
            }),
          )
          .catch((error: unknown) => {
            if (error instanceof Error && error.name === 'ResourceNotFoundException')
              return undefined;
            throw error;
          });
        if (pending !== undefined) return;
        const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: USER }));
        await sm.send(
          new PutSecretValueCommand({
            SecretId: event.SecretId,
            ClientRequestToken: token,
            SecretString: JSON.stringify({
              AccessKeyId: AccessKey?.AccessKeyId,
              SecretAccessKey: AccessKey?.SecretAccessKey,
            }),
            VersionStages: ['AWSPENDING'],
          }),
        );
        return;
      }
      case 'setSecret':
        return;
      case 'testSecret': {
        const value = await sm.send(
          new GetSecretValueCommand({
            SecretId: event.SecretId,
            VersionId: token,
            VersionStage: 'AWSPENDING',
          }),
        );
        const key = JSON.parse(value.SecretString ?? '{}') as {
          AccessKeyId: string;
          SecretAccessKey: string;
        };
        const sts = new STSClient({
          ...config,
          credentials: { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey },
        });
        for (;;) {
          try {
            await sts.send(new GetCallerIdentityCommand({}));
            return;
          } catch (error) {
            if (!(error instanceof Error) || error.name !== 'InvalidClientTokenId') throw error;
            await sim.clock.sleep(1_000);
          }
        }
      }
      case 'finishSecret': {
        const current = Object.entries(described.VersionIdsToStages ?? {}).find(([, labels]) =>
          labels.includes('AWSCURRENT'),
        )?.[0];
        await sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: event.SecretId,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: token,
            ...(current === undefined ? {} : { RemoveFromVersionId: current }),
          }),
        );
        return;
      }
    }
  };
