import { createInterface } from 'node:readline/promises';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import type { Clock } from '../lambda/rotation/step-context.js';
import {
  IamOperatorAccessKeyStore,
  type OperatorAccessKeyStore,
} from './aws/operator-access-key-store.js';
import {
  SecretsManagerOperatorStore,
  type OperatorSecretStore,
} from './aws/operator-secret-store.js';
import { CloudWatchRotationLogs, type RotationLogReader } from './aws/rotation-logs.js';

export type { Clock } from '../lambda/rotation/step-context.js';

/** Where a command writes: data on stdout, progress, prompts and errors on stderr. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The width of stdout when it is a terminal (tables are fitted to it). */
  readonly columns?: number;
  /** Standard input and stderr are a terminal: a person can answer a confirmation prompt. */
  readonly interactive: boolean;
}

/** Asks a yes/no question on the terminal; true only for an explicit yes. */
export type Confirm = (question: string) => Promise<boolean>;

/** Everything a command needs from the outside world, passed in (tests pass fakes). */
export interface CliDependencies {
  readonly secrets: OperatorSecretStore;
  readonly iam: OperatorAccessKeyStore;
  readonly logs: RotationLogReader;
  readonly clock: Clock;
  readonly io: CliIo;
  readonly confirm: Confirm;
}

/**
 * SDK client settings. Left empty, the SDK's defaults apply: the default credential chain,
 * `AWS_REGION`/`AWS_PROFILE`, `AWS_ENDPOINT_URL*` and the shared config files. The local
 * simulation passes its own (`sim.adminClientConfig()`).
 */
export type CliClientConfig = Pick<
  SecretsManagerClientConfig,
  | 'region'
  | 'profile'
  | 'credentials'
  | 'requestHandler'
  | 'retryStrategy'
  | 'endpoint'
  | 'maxAttempts'
>;

export interface CliDependencyOptions {
  readonly clientConfig?: CliClientConfig;
  readonly io?: CliIo;
  readonly confirm?: Confirm;
  readonly clock?: Clock;
}

/** A call that hangs (no route, a dead connection) fails instead of blocking the command. */
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 30_000;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (milliseconds) =>
    new Promise((resolve) => {
      setTimeout(resolve, milliseconds);
    }),
};

/** The process's own streams. */
export const processIo = (): CliIo => ({
  stdout: (text) => {
    process.stdout.write(text);
  },
  stderr: (text) => {
    process.stderr.write(text);
  },
  ...(process.stdout.isTTY ? { columns: process.stdout.columns } : {}),
  interactive: process.stdin.isTTY && process.stderr.isTTY,
});

/** Asks on stderr, reads the answer from stdin: `y` or `yes` confirms. */
export const terminalConfirm: Confirm = async (question) => {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    prompt.close();
  }
};

/** The only place the command constructs AWS SDK clients. */
export const createCliDependencies = (options: CliDependencyOptions = {}): CliDependencies => {
  const config = {
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    },
    ...options.clientConfig,
  };
  return {
    secrets: new SecretsManagerOperatorStore(new SecretsManagerClient({ ...config })),
    iam: new IamOperatorAccessKeyStore(new IAMClient({ ...(config as object) })),
    logs: new CloudWatchRotationLogs(
      new LambdaClient({ ...(config as object) }),
      new CloudWatchLogsClient({ ...(config as object) }),
    ),
    clock: options.clock ?? systemClock,
    io: options.io ?? processIo(),
    confirm: options.confirm ?? terminalConfirm,
  };
};
