/**
 * A simulated account with one IAM user and its secret, and the real rotation handler
 * registered as the secret's rotation function (as `npm start` does).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { createHandler } from '../../lambda/create-handler.js';
import { defaultDependencies, SERVICE_NAME } from '../../lambda/dependencies.js';
import { BINDING_TAG_KEY } from '../../lambda/rotation/binding.js';
import { Simulation, type CallRecord, type Clock } from '../../local/simulation/index.js';

export const USER_NAME = 'bench-user';
export const SECRET_NAME = `iam-key-rotation/${USER_NAME}`;

export interface RotationOutcome {
  readonly wallMs: number;
  readonly status: string;
  /** The calls the rotation function made during this rotation. */
  readonly calls: readonly CallRecord[];
}

export interface RotationRig {
  readonly sim: Simulation;
  /** Runs one rotation (the first one enables rotation) and waits until it ends. */
  rotate(): Promise<RotationOutcome>;
}

export interface RotationRigOptions {
  readonly clock: Clock;
  readonly propagationDelayMs: number;
  /** @default 'SILENT' */
  readonly logLevel?: 'SILENT' | 'INFO';
  readonly seed?: number;
}

export const createRotationRig = async (options: RotationRigOptions): Promise<RotationRig> => {
  const { clock } = options;
  const sim = new Simulation({
    clock,
    seed: options.seed ?? 1,
    propagationDelayMs: options.propagationDelayMs,
    // The construct's default timeout; one attempt, so a failure shows as a failure.
    rotation: { retry: { maxAttempts: 1, delayMs: 1_000 }, lambdaTimeoutMs: 120_000 },
  });
  const logger = new Logger({ serviceName: SERVICE_NAME, logLevel: options.logLevel ?? 'SILENT' });
  const handler = createHandler(
    defaultDependencies({ clientConfig: sim.lambdaClientConfig(), clock, logger }),
  );
  const functionArn = sim.registerRotationFunction(handler);
  const iam = new IAMClient({ ...sim.adminClientConfig() });
  const secretsManager = new SecretsManagerClient({ ...sim.adminClientConfig() });
  await iam.send(new CreateUserCommand({ UserName: USER_NAME }));
  await secretsManager.send(
    new CreateSecretCommand({
      Name: SECRET_NAME,
      SecretString: JSON.stringify({ UserName: USER_NAME }),
      Tags: [{ Key: BINDING_TAG_KEY, Value: USER_NAME }],
    }),
  );
  let rotations = 0;
  return {
    sim,
    rotate: async () => {
      const first = rotations === 0;
      rotations += 1;
      const callsBefore = sim.calls.length;
      const startedAt = performance.now();
      await secretsManager.send(
        new RotateSecretCommand({
          SecretId: SECRET_NAME,
          ...(first
            ? { RotationLambdaARN: functionArn, RotationRules: { AutomaticallyAfterDays: 30 } }
            : {}),
        }),
      );
      await sim.settle();
      const wallMs = performance.now() - startedAt;
      const rotation = sim.rotations.at(-1);
      return {
        wallMs,
        status: rotation?.status ?? 'not started',
        calls: sim.calls.slice(callsBefore).filter((call) => call.invocationId !== undefined),
      };
    },
  };
};
