import { createInterface } from 'node:readline/promises';
import {
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import type { Clock } from '../lambda/rotation/step-context.js';
import type { OperatorAccessKeyStore } from './aws/operator-access-key-store.js';
import {
  SecretsManagerOperatorStore,
  type OperatorSecretStore,
} from './aws/operator-secret-store.js';
import type { RotationLogReader } from './aws/rotation-logs.js';

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

/**
 * Memoizes an asynchronous load: the first call starts it, later calls share it, and a failed
 * load is started again by the next call.
 */
const loadOnce = <T>(load: () => Promise<T>): (() => Promise<T>) => {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
};

/**
 * The IAM store, its client loaded and created at its first call: `credential-process` (and
 * `status` of secrets alone) never loads the IAM client.
 */
const lazyIamStore = (config: object): OperatorAccessKeyStore => {
  const store = loadOnce(async () => {
    const [{ IAMClient }, { IamOperatorAccessKeyStore }] = await Promise.all([
      import('@aws-sdk/client-iam'),
      import('./aws/operator-access-key-store.js'),
    ]);
    return new IamOperatorAccessKeyStore(new IAMClient({ ...config }));
  });
  return {
    getUser: async (...args) => (await store()).getUser(...args),
    getAccessKeyLastUsed: async (...args) => (await store()).getAccessKeyLastUsed(...args),
    listAccessKeys: async (...args) => (await store()).listAccessKeys(...args),
    createAccessKey: async (...args) => (await store()).createAccessKey(...args),
    deactivateAccessKey: async (...args) => (await store()).deactivateAccessKey(...args),
    deleteAccessKey: async (...args) => (await store()).deleteAccessKey(...args),
    activateAccessKey: async (...args) => (await store()).activateAccessKey(...args),
  };
};

/** The rotation log reader, its Lambda and CloudWatch Logs clients loaded at its first call. */
const lazyRotationLogs = (config: object): RotationLogReader => {
  const reader = loadOnce(async () => {
    const [{ LambdaClient }, { CloudWatchLogsClient }, { CloudWatchRotationLogs }] =
      await Promise.all([
        import('@aws-sdk/client-lambda'),
        import('@aws-sdk/client-cloudwatch-logs'),
        import('./aws/rotation-logs.js'),
      ]);
    return new CloudWatchRotationLogs(
      new LambdaClient({ ...config }),
      new CloudWatchLogsClient({ ...config }),
    );
  });
  return {
    logGroupOf: async (...args) => (await reader()).logGroupOf(...args),
    eventsContaining: async (...args) => (await reader()).eventsContaining(...args),
  };
};

/**
 * The only place the command constructs AWS SDK clients. The Secrets Manager client, which every
 * command uses, is created at once; the others when a command first calls them.
 */
export const createCliDependencies = (options: CliDependencyOptions = {}): CliDependencies => {
  const config = {
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    },
    ...options.clientConfig,
  };
  return {
    secrets: new SecretsManagerOperatorStore(
      new SecretsManagerClient({ ...config }),
      // For the changes a rollback fences (sent once, then checked): no retry stalled in backoff.
      new SecretsManagerClient({ ...config, retryStrategy: undefined, maxAttempts: 1 }),
    ),
    iam: lazyIamStore(config),
    logs: lazyRotationLogs(config),
    clock: options.clock ?? systemClock,
    io: options.io ?? processIo(),
    confirm: options.confirm ?? terminalConfirm,
  };
};

/** The session name of `status --role-name` in the target accounts' CloudTrail. */
export const ASSUMED_ROLE_SESSION_NAME = 'iam-key-rotation-status';

/** How long the assumed role's credentials last: a status run takes seconds. */
const ASSUMED_ROLE_SECONDS = 900;

/** Temporary credentials of an assumed role. */
export interface AssumedRoleCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration?: Date;
}

/**
 * Assumes `roleArn` (STS AssumeRole, signed with the credentials `clientConfig` gives:
 * `--profile`, or the default chain) and returns its temporary credentials.
 */
export const assumeRole = async (
  clientConfig: CliClientConfig,
  roleArn: string,
): Promise<AssumedRoleCredentials> => {
  const { AssumeRoleCommand, STSClient } = await import('@aws-sdk/client-sts');
  const sts = new STSClient({
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    },
    ...(clientConfig as object),
  });
  try {
    const output = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: ASSUMED_ROLE_SESSION_NAME,
        DurationSeconds: ASSUMED_ROLE_SECONDS,
      }),
    );
    const credentials = output.Credentials;
    if (
      credentials?.AccessKeyId === undefined ||
      credentials.SecretAccessKey === undefined ||
      credentials.SessionToken === undefined
    ) {
      throw new Error(`STS AssumeRole of ${roleArn} returned no credentials`);
    }
    return {
      accessKeyId: credentials.AccessKeyId,
      secretAccessKey: credentials.SecretAccessKey,
      sessionToken: credentials.SessionToken,
      ...(credentials.Expiration === undefined ? {} : { expiration: credentials.Expiration }),
    };
  } finally {
    sts.destroy();
  }
};

/**
 * The clients of one account and region for `status --role-name`: for an account, signed with
 * the credentials of `arn:<partition>:iam::<account>:role/<roleName>`, assumed first (so that a
 * role that cannot be assumed fails here, before any other call); without one, as
 * {@link createCliDependencies} builds them. `region` overrides the configured region.
 */
export const createCliDependenciesFor = async (
  options: CliDependencyOptions & {
    readonly account?: string;
    readonly region?: string;
    readonly roleName: string;
    readonly partition?: string;
  },
): Promise<CliDependencies> => {
  const base: CliClientConfig = {
    ...options.clientConfig,
    ...(options.region === undefined ? {} : { region: options.region }),
  };
  const clientConfig: CliClientConfig =
    options.account === undefined
      ? base
      : {
          ...base,
          // The profile signs the AssumeRole call only; the clients use the role's credentials.
          profile: undefined,
          credentials: await assumeRole(
            base,
            `arn:${options.partition ?? 'aws'}:iam::${options.account}:role/${options.roleName}`,
          ),
        };
  return createCliDependencies({ ...options, clientConfig });
};
