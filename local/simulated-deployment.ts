/**
 * What `cdk deploy` of the stack creates, inside a {@link Simulation}: the IAM user, its secret
 * `iam-key-rotation/<user>` holding `{"UserName"}` with its binding tag, the user's ownership
 * tag naming that secret, and the real rotation handler registered as the secret's rotation
 * function, with rotation enabled (its configuration tested, no key created yet). Shared by `npm start` and the benchmarks, so both run the same setup.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { CreateUserCommand, IAMClient, TagUserCommand } from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { createHandler, type RotationHandler } from '../lambda/create-handler.js';
import { defaultDependencies } from '../lambda/dependencies.js';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../lambda/rotation/binding.js';
import type { RotationFunction, RotationRecord, Simulation } from './simulation/index.js';

/** Every secret of the stack is named `iam-key-rotation/<user name>` (lib/ does the same). */
export const secretNameOf = (userName: string): string => `iam-key-rotation/${userName}`;

export interface SimulatedDeploymentOptions {
  readonly sim: Simulation;
  readonly userName: string;
  readonly logger: Logger;
  /**
   * Wraps the real handler, e.g. to time each step.
   * @default - the handler itself
   */
  readonly wrap?: (handler: RotationHandler) => RotationFunction;
  /**
   * The function's environment (its settings, e.g. STALE_KEY_DAYS).
   * @default {} (the defaults)
   */
  readonly environment?: Readonly<Record<string, string>>;
}

export interface SimulatedDeployment {
  readonly userName: string;
  readonly secretName: string;
  readonly secretArn: string;
  readonly functionArn: string;
  /** Clients signed as an administrator (setup and changes by hand). */
  readonly iam: IAMClient;
  readonly secretsManager: SecretsManagerClient;
  /** RotateSecret, then waits until the rotation and everything it started has ended. */
  rotate(): Promise<RotationRecord | undefined>;
}

export const deployToSimulation = async (
  options: SimulatedDeploymentOptions,
): Promise<SimulatedDeployment> => {
  const { sim, userName } = options;
  const handler = createHandler(
    defaultDependencies({
      clientConfig: sim.lambdaClientConfig(),
      clock: sim.clock,
      logger: options.logger,
      environment: options.environment ?? {},
    }),
  );
  const functionArn = sim.registerRotationFunction(options.wrap?.(handler) ?? handler);
  const iam = new IAMClient({ ...sim.adminClientConfig() });
  const secretsManager = new SecretsManagerClient({ ...sim.adminClientConfig() });
  const secretName = secretNameOf(userName);
  const created = await secretsManager.send(
    new CreateSecretCommand({
      Name: secretName,
      SecretString: JSON.stringify({ UserName: userName }),
      Tags: [{ Key: BINDING_TAG_KEY, Value: userName }],
    }),
  );
  const secretArn = created.ARN ?? '';
  await iam.send(new CreateUserCommand({ UserName: userName }));
  await iam.send(
    new TagUserCommand({ UserName: userName, Tags: [{ Key: OWNER_TAG_KEY, Value: secretArn }] }),
  );
  // The rotation schedule: enables rotation with a configuration test (RotateImmediately=false,
  // testSecret only, which passes on a secret that never rotated); rotate() then starts rotations.
  await secretsManager.send(
    new RotateSecretCommand({
      SecretId: secretName,
      RotationLambdaARN: functionArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
      RotateImmediately: false,
    }),
  );
  await sim.settle();
  return {
    userName,
    secretName,
    secretArn,
    functionArn,
    iam,
    secretsManager,
    rotate: async () => {
      await secretsManager.send(new RotateSecretCommand({ SecretId: secretName }));
      await sim.settle();
      return sim.rotations.filter((rotation) => rotation.secretArn === secretArn).at(-1);
    },
  };
};
