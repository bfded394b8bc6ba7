import { createInterface } from 'node:readline/promises';
import {
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import type { StackResources } from '../lambda/aws/cloudformation-stack-resources.js';
import type { Clock } from '../lambda/rotation/step-context.js';
import type { OperatorAccessKeyStore } from './aws/operator-access-key-store.js';
import {
  SecretsManagerOperatorStore,
  type OperatorSecretStore,
} from './aws/operator-secret-store.js';
import type { RotationLogReader } from './aws/rotation-logs.js';
import { roleArnOf } from './partition.js';
import type { Whereabouts } from './whereabouts.js';

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
  /** CloudFormation DescribeStackResource (`plan`: does the stack hold a secret?). */
  readonly stackResources: StackResources;
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
  /**
   * The process environment, read for the profile in use (AWS_PROFILE) in messages.
   * @default process.env
   */
  readonly environment?: Readonly<Record<string, string | undefined>>;
}

/** A call that hangs (no route, a dead connection) fails instead of blocking the command. */
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The SDK clients' logger: says nothing. The SDK's credential chain otherwise prints a 9-line
 * warning on stderr when `--profile` (or AWS_PROFILE) and AWS_ACCESS_KEY_ID are both set (it
 * writes to the client's logger, or to console.warn when the client has none); stderr is for the
 * command's own messages, and must stay empty for `credential-process`. The profile wins, as the
 * command's help says.
 */
export const SILENT_LOGGER = {
  trace: (): void => undefined,
  debug: (): void => undefined,
  info: (): void => undefined,
  warn: (): void => undefined,
  error: (): void => undefined,
};

/** The settings every client of the command starts from. */
const baseClientConfig = (clientConfig: CliClientConfig | undefined) => ({
  requestHandler: {
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
  },
  logger: SILENT_LOGGER,
  // `status` over many secrets reads several at once: after a throttle, adaptive retry also
  // slows the client down instead of only retrying (a client config may set its own strategy).
  retryMode: 'adaptive',
  ...clientConfig,
});

/**
 * Where the clients of `config` look: the region they resolve, the profile, and the account of
 * the credentials (STS GetCallerIdentity, which needs no permission). Asked once, and only when
 * a message needs it; what cannot be found is left out.
 */
const locator = (
  config: ReturnType<typeof baseClientConfig>,
  environment: Readonly<Record<string, string | undefined>>,
): (() => Promise<Whereabouts>) => {
  let answer: Promise<Whereabouts> | undefined;
  const locate = async (): Promise<Whereabouts> => {
    const { GetCallerIdentityCommand, STSClient } = await import('@aws-sdk/client-sts');
    const sts = new STSClient({ ...(config as object), maxAttempts: 1 });
    try {
      const region = await sts.config.region().catch(() => undefined);
      const account = await sts
        .send(new GetCallerIdentityCommand({}))
        .then((output) => output.Account)
        .catch(() => undefined);
      const profile = typeof config.profile === 'string' ? config.profile : environment.AWS_PROFILE;
      return {
        ...(region === undefined || region === '' ? {} : { region }),
        ...(account === undefined ? {} : { account }),
        ...(profile === undefined || profile === '' ? {} : { profile }),
      };
    } finally {
      sts.destroy();
    }
  };
  return () => (answer ??= locate());
};

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
 * CloudFormation DescribeStackResource as the ownership tagger calls it (one signed Query API
 * request, no CloudFormation SDK client), with the credentials, region and request handler of
 * `client`; its code loaded at the first call.
 */
const lazyStackResources = (
  client: SecretsManagerClient,
  environment: Readonly<Record<string, string | undefined>>,
): StackResources => {
  const resources = loadOnce(async () => {
    const { CloudFormationStackResources } =
      await import('../lambda/aws/cloudformation-stack-resources.js');
    const endpoint = environment.AWS_ENDPOINT_URL_CLOUDFORMATION ?? environment.AWS_ENDPOINT_URL;
    return new CloudFormationStackResources({
      region: () => client.config.region(),
      credentials: (identityProperties) => client.config.credentials(identityProperties),
      requestHandler: client.config.requestHandler,
      ...(endpoint === undefined || endpoint === '' ? {} : { endpoint }),
    });
  });
  return {
    describeStackResource: async (...args) => (await resources()).describeStackResource(...args),
  };
};

/**
 * The only place the command constructs AWS SDK clients. The Secrets Manager client, which every
 * command uses, is created at once; the others when a command first calls them.
 */
export const createCliDependencies = (options: CliDependencyOptions = {}): CliDependencies => {
  const config = baseClientConfig(options.clientConfig);
  const secretsManager = new SecretsManagerClient({ ...config });
  const secrets = new SecretsManagerOperatorStore(
    secretsManager,
    // For the changes a rollback fences (sent once, then checked): no retry stalled in backoff.
    new SecretsManagerClient({ ...config, retryStrategy: undefined, maxAttempts: 1 }),
  );
  const environment = options.environment ?? process.env;
  secrets.locate = locator(config, environment);
  return {
    secrets,
    iam: lazyIamStore(config),
    logs: lazyRotationLogs(config),
    stackResources: lazyStackResources(secretsManager, environment),
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

/** A role of another account that `status --role-name` assumes. */
export interface RoleToAssume {
  readonly account: string;
  readonly roleName: string;
  /** Passed to AssumeRole as `ExternalId` (`--external-id`), when the role's trust asks for one. */
  readonly externalId?: string;
}

/**
 * Assumes `role` (STS AssumeRole, signed with the credentials `clientConfig` gives: `--profile`,
 * or the default chain) and returns its temporary credentials. The role's ARN takes its
 * partition from the region the clients use (`arn:aws-cn:` in `cn-north-1`, ...).
 */
export const assumeRole = async (
  clientConfig: CliClientConfig,
  role: RoleToAssume,
): Promise<AssumedRoleCredentials> => {
  const { AssumeRoleCommand, STSClient } = await import('@aws-sdk/client-sts');
  const sts = new STSClient({ ...(baseClientConfig(clientConfig) as object) });
  try {
    const roleArn = roleArnOf(role.account, role.roleName, await sts.config.region());
    const output = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: ASSUMED_ROLE_SESSION_NAME,
        DurationSeconds: ASSUMED_ROLE_SECONDS,
        ...(role.externalId === undefined ? {} : { ExternalId: role.externalId }),
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

/** One account (through a role) and region that `status` looks into. */
export interface DependencyTarget {
  readonly account?: string;
  readonly region?: string;
  /** The role to assume in `account`; required with one. */
  readonly roleName?: string;
  readonly externalId?: string;
}

/**
 * The clients of one account and region for `status --role-name`: for an account, signed with
 * the credentials of `arn:<partition>:iam::<account>:role/<roleName>`, assumed first (so that a
 * role that cannot be assumed fails here, before any other call); without one, as
 * {@link createCliDependencies} builds them. `region` overrides the configured region.
 */
export const createCliDependenciesFor = async (
  options: CliDependencyOptions & DependencyTarget,
): Promise<CliDependencies> => {
  const base: CliClientConfig = {
    ...options.clientConfig,
    ...(options.region === undefined ? {} : { region: options.region }),
  };
  if (options.account !== undefined && options.roleName === undefined) {
    throw new Error(`Account ${options.account} is read through a role: no role name was given`);
  }
  const clientConfig: CliClientConfig =
    options.account === undefined || options.roleName === undefined
      ? base
      : {
          ...base,
          // The profile signs the AssumeRole call only; the clients use the role's credentials.
          profile: undefined,
          credentials: await assumeRole(base, {
            account: options.account,
            roleName: options.roleName,
            ...(options.externalId === undefined ? {} : { externalId: options.externalId }),
          }),
        };
  return createCliDependencies({ ...options, clientConfig });
};
