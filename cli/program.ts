import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import packageInfo from '../package.json' with { type: 'json' };
import { registerPlacementCommand } from './commands/placement.js';
import {
  DEFAULT_ROTATE_TIMEOUT_MS,
  DEFAULT_STEP_TIMEOUT_MS,
  DEFAULT_STUCK_AFTER_MS,
} from './command-defaults.js';
import type { AccountStatusOptions, TargetAccess } from './commands/status-targets.js';
import type { CliClientConfig, CliDependencies, CliIo } from './dependencies.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type ExitCode } from './errors.js';
import { describeFailure } from './failure.js';
import {
  readProcessStdin,
  runCancel,
  runCredentialProcess,
  runPlan,
  runRollback,
  runRotate,
  runSmtpPassword,
  runStatus,
  runStatusAcrossAccountsCommand,
} from './lazy-commands.js';
import { AWS_REGION_PATTERN } from '../lambda/rotation/ses-smtp-password.js';
import { formatSpan, parseDuration } from './format.js';

/**
 * Set in the environment of `credential-process` while it runs: a profile whose credentials come
 * from this very command would otherwise start it again and again.
 */
export const CREDENTIAL_PROCESS_GUARD = 'IAM_KEY_ROTATION_CREDENTIAL_PROCESS';

export interface CliRuntime {
  readonly io: CliIo;
  /** Builds the clients once the global options (`--region`, `--profile`) are known. */
  readonly createDependencies: (clientConfig: CliClientConfig) => CliDependencies;
  /**
   * Builds the clients of one account (through `roleName`) and region for `status --role-name`.
   * @default - none: `status --role-name` fails
   */
  readonly createTargetDependencies?: (
    clientConfig: CliClientConfig,
    target: TargetAccess,
  ) => Promise<CliDependencies>;
  /** The process environment (read for, and marked by, `credential-process`). */
  readonly environment: Record<string, string | undefined>;
  /**
   * Reads the whole of standard input (`smtp-password`).
   * @default - process.stdin
   */
  readonly readStdin?: () => Promise<string>;
}

const PACKAGE_VERSION = packageInfo.version;

const durationOption =
  (name: string) =>
  (value: string): number => {
    try {
      const milliseconds = parseDuration(value);
      if (milliseconds <= 0) throw new Error(`expected more than 0, got ${JSON.stringify(value)}`);
      return milliseconds;
    } catch (error) {
      throw new InvalidArgumentError(`${name}: ${(error as Error).message}`);
    }
  };

/**
 * A duration option whose help shows its default as a person writes it (`2m`), not in
 * milliseconds.
 */
const durationOptionWithDefault = (
  flags: string,
  description: string,
  defaultMs: number,
): Option => {
  const name = flags.split(' ')[0] ?? flags;
  return new Option(flags, description)
    .argParser(durationOption(name))
    .default(defaultMs, formatSpan(defaultMs));
};

interface GlobalOptions {
  readonly region?: string;
  readonly profile?: string;
}

const clientConfigOf = (options: GlobalOptions): CliClientConfig => ({
  ...(options.region === undefined ? {} : { region: options.region }),
  ...(options.profile === undefined ? {} : { profile: options.profile }),
});

/** Builds the `iam-key-rotation` program; `run` receives each command's exit code. */
export const createProgram = (runtime: CliRuntime, run: (code: ExitCode) => void): Command => {
  const { io } = runtime;
  const program = new Command('iam-key-rotation');
  program
    .description(
      'Operate the IAM access key rotation: plan a deployment, see how every key stands, rotate, roll back, cancel a rotation, and hand the current key to the AWS CLI and SDKs.',
    )
    .version(PACKAGE_VERSION)
    .option('--region <region>', 'AWS region (default: the AWS SDK default, e.g. AWS_REGION)')
    .option(
      '--profile <name>',
      'profile of ~/.aws/config to take credentials from (default: AWS_PROFILE or the default chain)',
    )
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    // Every command's help lists --region and --profile too (as `aws <command> help` does).
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .allowExcessArguments(false)
    .hook('preAction', (_program, command) => {
      const { region } = command.optsWithGlobals<GlobalOptions>();
      if (region !== undefined && !AWS_REGION_PATTERN.test(region)) {
        command.error(
          `error: --region: expected an AWS region name like "eu-west-1", got ${JSON.stringify(region.slice(0, 40))}`,
          { code: 'iam-key-rotation.invalidRegion', exitCode: EXIT_USAGE },
        );
      }
    })
    .addHelpText(
      'after',
      `
AWS access: the AWS SDK default credentials and region (AWS_PROFILE, AWS_REGION, ~/.aws/config,
SSO, instance roles), and AWS_ENDPOINT_URL* for local endpoints. A secret is named by its user
name (alice means iam-key-rotation/alice), its name or its ARN.

Data goes to stdout; progress, prompts and errors to stderr. Exit status: 0 success, 1 failure
or a secret that needs attention, 2 usage error.`,
    );

  const dependencies = (command: Command): CliDependencies =>
    runtime.createDependencies(clientConfigOf(command.optsWithGlobals<GlobalOptions>()));
  const secretHelp =
    'the secret: its user name (alice means iam-key-rotation/alice), its name or its ARN';

  program
    .command('plan')
    .description(
      'Before deploying: for every configured user, whether it can be rotated and what its first (or next) rotation will do (read-only)',
    )
    .requiredOption('--config <file>', 'the iamKeyRotation configuration file, e.g. users.json')
    .option(
      '--placement <file>',
      'the placement file (default: beside the configuration, users.json -> users.placement.json)',
    )
    .option('--json', 'print JSON for scripts')
    .option(
      '--role-name <role>',
      "read the users that name an account through the role arn:<partition>:iam::<account>:role/<role> (the partition is the region's)",
    )
    .option(
      '--external-id <id>',
      "with --role-name: the external id the role's trust policy asks for (AssumeRole ExternalId)",
    )
    .addHelpText(
      'after',
      `
For each user, in its account and region (as cdk synth places it): whether the IAM user exists
or will be created (createUser), the secret iam-key-rotation/<user> (none yet, managed by the
user's stack, or a name already taken), the user's keys with status, age and last use, and what
the first rotation (or the next, for a secret that holds a key) will do with each key, decided
by the rotation function's own key plan. Findings and their fixes go to stderr.

Verdicts: ok, rotating (a rotation is in progress), refused (the deployment or the rotation
will fail: a missing user, a createUser user that exists, a path that differs, the user's tag
iam-key-rotation:secret naming another secret, the name taken by a look-alike secret, another
stack's or one retained after its user was removed, a rotation stuck, both keys used within
staleKeyDays), unknown (the key a managed secret holds is not known without reading it, or its
tag disagrees with IAM), error.

Exit codes: 0 every user can rotate (every verdict ok or rotating); 1 otherwise (a verdict
refused, unknown or error); 2 a usage error (a bad option or configuration).

Read-only: iam:GetUser, iam:ListAccessKeys, iam:GetAccessKeyLastUsed,
secretsmanager:DescribeSecret, secretsmanager:ListSecretVersionIds and
cloudformation:DescribeStackResource; never GetSecretValue (the read-only role of
docs/organization.md may run it).

Examples:
  iam-key-rotation plan --config users.json
  iam-key-rotation --region eu-west-1 plan --config users.json --json
  iam-key-rotation plan --config users.json --role-name IamKeyRotationStatus --external-id ops-status`,
    )
    .action(
      async (
        options: {
          config: string;
          placement?: string;
          json?: boolean;
          roleName?: string;
          externalId?: string;
        },
        command: Command,
      ) => {
        const clientConfig = clientConfigOf(command.optsWithGlobals<GlobalOptions>());
        const createTargetDependencies = runtime.createTargetDependencies;
        run(
          await runPlan(
            {
              io,
              clientConfig,
              dependenciesFor: async (target) => {
                if (createTargetDependencies !== undefined) {
                  return createTargetDependencies(clientConfig, target);
                }
                if (target.account !== undefined) {
                  throw new Error(
                    `account ${target.account}: roles are not available in this runtime`,
                  );
                }
                return runtime.createDependencies({
                  ...clientConfig,
                  ...(target.region === undefined ? {} : { region: target.region }),
                });
              },
            },
            {
              config: options.config,
              ...(options.placement === undefined ? {} : { placement: options.placement }),
              json: options.json === true,
              ...(options.roleName === undefined ? {} : { roleName: options.roleName }),
              ...(options.externalId === undefined ? {} : { externalId: options.externalId }),
            },
          ),
        );
      },
    );

  program
    .command('status')
    .description('Show every managed secret: its keys, their age and last use, and a verdict')
    .argument(
      '[secret...]',
      `only these secrets (${secretHelp}); default: every secret tagged iam-key-rotation:user`,
    )
    .option('--stack <name>', 'only the secrets of this CloudFormation stack')
    .addOption(
      durationOptionWithDefault(
        '--stuck-after <duration>',
        'a rotation pending longer than this is stuck (seconds, or 90s, 5m, 1h)',
        DEFAULT_STUCK_AFTER_MS,
      ),
    )
    .option('--json', 'print JSON for scripts')
    .option(
      '--role-name <role>',
      "look into other accounts through the role arn:<partition>:iam::<account>:role/<role> (with --account or --config; the partition is the region's)",
    )
    .option(
      '--external-id <id>',
      "with --role-name: the external id the role's trust policy asks for (AssumeRole ExternalId)",
    )
    .option(
      '--account <id>',
      'an account to look into with --role-name (repeat for several)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      '--config <file>',
      'one row per user of this iamKeyRotation configuration file, each in its account (through --role-name) and region; a user without a secret is a finding',
    )
    .addHelpText(
      'after',
      `
Verdicts: ok, rotating (a rotation is pending), stuck (pending longer than --stuck-after),
overdue (the next rotation date has passed), ownership mismatch (the user's tag
iam-key-rotation:secret is missing or names another secret), old key still used (the user's
previous key signed a request after AWSCURRENT moved), no key yet, current key not active,
current key unknown (the secret's tag iam-key-rotation:current-key is absent or stale and the
value may not be read), rotation disabled, missing secret, not managed (not a secret a stack of
this project created), error. Exit 1 when any secret is neither ok nor rotating.

status reads the current key id from the tag the rotation function sets, with no
GetSecretValue; only when the tag is absent or stale does it read the AWSCURRENT value.

Examples:
  iam-key-rotation status
  iam-key-rotation status ci-deployer --json
  iam-key-rotation status --stack IamKeyRotation --stuck-after 5m
  iam-key-rotation status --config users.json
  iam-key-rotation status --role-name IamKeyRotationStatus --account 111111111111 --account 222222222222
  iam-key-rotation status --role-name IamKeyRotationStatus --external-id ops-status --config users.json`,
    )
    .action(
      async (
        secrets: string[],
        options: { stack?: string; stuckAfter: number; json?: boolean } & AccountStatusOptions,
        command: Command,
      ) => {
        if (secrets.length > 0 && options.stack !== undefined) {
          command.error('error: name secrets or pass --stack, not both', {
            code: 'iam-key-rotation.conflictingArguments',
            exitCode: EXIT_USAGE,
          });
        }
        if (
          options.roleName !== undefined ||
          options.externalId !== undefined ||
          options.account !== undefined ||
          options.config !== undefined
        ) {
          const clientConfig = clientConfigOf(command.optsWithGlobals<GlobalOptions>());
          run(
            await runStatusAcrossAccountsCommand(
              {
                io,
                createTargetDependencies: runtime.createTargetDependencies,
                clientConfig,
              },
              {
                ...options,
                secrets,
                ...(options.stack === undefined ? {} : { stack: options.stack }),
                stuckAfterMs: options.stuckAfter,
                json: options.json === true,
              },
            ),
          );
          return;
        }
        run(
          await runStatus(dependencies(command), {
            secrets,
            ...(options.stack === undefined ? {} : { stack: options.stack }),
            stuckAfterMs: options.stuckAfter,
            json: options.json === true,
          }),
        );
      },
    );

  program
    .command('rotate')
    .description('Start a rotation now (RotateSecret); with --wait, follow it to its end')
    .argument('<secret>', secretHelp)
    .option(
      '--wait',
      "follow the rotation: each step as it completes, with the function's log lines when readable",
    )
    .addOption(
      durationOptionWithDefault(
        '--timeout <duration>',
        'with --wait, give up waiting after this long (seconds, or 90s, 5m)',
        DEFAULT_ROTATE_TIMEOUT_MS,
      ),
    )
    .option('--json', 'print the outcome as JSON')
    .addHelpText(
      'after',
      `
Exit 1 when the rotation fails or does not finish within --timeout (it then prints the
function's error for this rotation), or when an earlier rotation is incomplete (see cancel).

Examples:
  iam-key-rotation rotate ci-deployer --wait
  iam-key-rotation rotate arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/ci-deployer-AbCdEf`,
    )
    .action(
      async (
        secret: string,
        options: { wait?: boolean; timeout: number; json?: boolean },
        command: Command,
      ) => {
        run(
          await runRotate(dependencies(command), {
            secret,
            wait: options.wait === true,
            timeoutMs: options.timeout,
            json: options.json === true,
          }),
        );
      },
    );

  program
    .command('rollback')
    .description('Go back to the AWSPREVIOUS key (by hand: docs/rotation.md "Roll back by hand")')
    .argument('<secret>', secretHelp)
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print the state before and after as JSON')
    .addOption(
      durationOptionWithDefault(
        '--step-timeout <duration>',
        "the rotation function's timeout: after writing the new version, wait this long (plus 1 s) before reading everything again and moving AWSCURRENT (seconds, or 90s, 2m)",
        DEFAULT_STEP_TIMEOUT_MS,
      ),
    )
    .addHelpText(
      'after',
      `
Removes AWSPENDING from every version (stops a rotation in flight), writes a NEW version holding
the AWSPREVIOUS key under the label IAM_KEY_ROTATION_ROLLBACK (while it is there the function
creates, deactivates and deletes no key: do not interrupt the wait), waits out the function's timeout, and reads everything again: if anything
moved it stops, exit 1, removing its label. Then it reactivates the key, moves AWSCURRENT onto
the new version (only if AWSCURRENT is still where it was shown), removes its label and verifies
that AWSCURRENT holds the key and that it is Active (reactivating it if something in flight
deactivated it). No stale step of the rotation rolled back from can move AWSCURRENT back, and its
grace-period retirement does nothing. The key rolled back from stays Active
as AWSPREVIOUS (some consumers may already use it); the next rotation deletes it. Refuses,
changing nothing, when the user's tag iam-key-rotation:secret does not name this secret, or
AWSPREVIOUS holds no key or a key that no longer exists. Without a terminal and without --yes it
exits 2. What is guaranteed while a rotation or a retirement is in flight:
docs/operations-guarantees.md.

Example:
  iam-key-rotation rollback ci-deployer`,
    )
    .action(
      async (
        secret: string,
        options: { yes?: boolean; json?: boolean; stepTimeout: number },
        command: Command,
      ) => {
        run(
          await runRollback(dependencies(command), {
            secret,
            yes: options.yes === true,
            json: options.json === true,
            stepTimeoutMs: options.stepTimeout,
          }),
        );
      },
    );

  program
    .command('cancel')
    .description('Give up an incomplete rotation and delete the key it made')
    .argument('<secret>', secretHelp)
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print the state before and after as JSON')
    .addOption(
      durationOptionWithDefault(
        '--step-timeout <duration>',
        "the rotation function's timeout: after removing AWSPENDING, wait this long (plus 1 s) before reading again and deleting a key (seconds, or 90s, 2m)",
        DEFAULT_STEP_TIMEOUT_MS,
      ),
    )
    .addHelpText(
      'after',
      `
Removes AWSPENDING from every version that is not AWSCURRENT, waits out the function's timeout
(a step that passed its checks before ends), and reads again: a rotation that completed
meanwhile is reported (exit 1; undo it with rollback), a label put back by a step is removed
again. Then it deactivates and deletes each key the cancelled versions hold, unless a labelled
version holds it too (read right before) or IAM dates it before its version (a value put by hand
names it: not the rotation's). Succeeds only when no step of the cancelled rotation
can complete and no key it created remains. Nothing to cancel: says so and exits 0. Without a
terminal and without --yes it exits 2.

Example:
  iam-key-rotation cancel ci-deployer --yes`,
    )
    .action(
      async (
        secret: string,
        options: { yes?: boolean; json?: boolean; stepTimeout: number },
        command: Command,
      ) => {
        run(
          await runCancel(dependencies(command), {
            secret,
            yes: options.yes === true,
            json: options.json === true,
            stepTimeoutMs: options.stepTimeout,
          }),
        );
      },
    );

  program
    .command('credential-process')
    .description("Print the AWSCURRENT key for an AWS profile's credential_process")
    .argument('<secret>', secretHelp)
    .addHelpText(
      'after',
      `
Prints {"Version":1,"AccessKeyId":...,"SecretAccessKey":...} on stdout and nothing on stderr,
only from a secret this project manages: named iam-key-rotation/<user>, tagged
iam-key-rotation:user=<user> and aws:cloudformation:stack-id (a stack created it), whose value
names the same UserName. Otherwise it exits 1 with nothing on stdout and one line on stderr.

The credentials it reads with need no IAM permission, only (and kms:Decrypt with a
customer-managed key):
  {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
    "Resource": "arn:<partition>:secretsmanager:<region>:<account>:secret:iam-key-rotation/ci-deployer-*"}]}

In ~/.aws/config, with the command installed on the PATH and a profile that may read the secret:
  [profile ci-deployer]
  credential_process = iam-key-rotation credential-process ci-deployer --profile secrets-reader
(or the built command's absolute path: /path/to/iam-key-rotation/dist/cli/iam-key-rotation.mjs).`,
    )
    .action(async (secret: string, _options: unknown, command: Command) => {
      if (runtime.environment[CREDENTIAL_PROCESS_GUARD] !== undefined) {
        throw new CliError(
          `credential-process for ${secret} was started by itself: the credentials it reads the secret with come from a profile whose credential_process is this command. Give it a profile that may read the secret: credential-process ${secret} --profile <profile>`,
        );
      }
      runtime.environment[CREDENTIAL_PROCESS_GUARD] = secret;
      run(await runCredentialProcess(dependencies(command), { secret }));
    });

  program
    .command('smtp-password')
    .description(
      'Print the Amazon SES SMTP password of a secret access key read on stdin, for a region (--region)',
    )
    .addHelpText(
      'after',
      `
Reads on standard input either one secret access key (40 characters) or a SecretString of
this project ({"UserName":...,"AccessKeyId":...,"SecretAccessKey":...}, also as the SecretString
field of "aws secretsmanager get-secret-value" output), and prints the key's SES SMTP password
for the region of --region (required; AWS's algorithm, the one rotation uses for SmtpPasswords).
The SMTP user name is the key's access key id. Nothing is printed on stderr on success; no AWS
call is made. Exit 2 when --region is missing or not a region name, or the input is anything
else (the input is never quoted).

Examples:
  iam-key-rotation smtp-password --region eu-west-1 < secret-access-key.txt
  aws secretsmanager get-secret-value --secret-id iam-key-rotation/ci-deployer | iam-key-rotation smtp-password --region eu-west-1`,
    )
    .action(async (_options: unknown, command: Command) => {
      const { region } = command.optsWithGlobals<GlobalOptions>();
      if (region === undefined || !AWS_REGION_PATTERN.test(region)) {
        command.error(
          region === undefined
            ? 'error: smtp-password needs --region <region>, e.g. --region eu-west-1'
            : `error: --region: expected an AWS region name like "eu-west-1", got ${JSON.stringify(region)}`,
          { code: 'iam-key-rotation.invalidRegion', exitCode: EXIT_USAGE },
        );
      }
      run(
        await runSmtpPassword({ io, readStdin: runtime.readStdin ?? readProcessStdin }, { region }),
      );
    });

  registerPlacementCommand(program, io, run);

  return program;
};

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();

const USAGE_DONE = new Set(['commander.helpDisplayed', 'commander.version']);

/** Runs the command line `argv` (without `node` and the script); returns the exit code. */
export const runCli = async (argv: readonly string[], runtime: CliRuntime): Promise<ExitCode> => {
  let exitCode: ExitCode = EXIT_OK;
  const program = createProgram(runtime, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version requested: success. Anything else commander reports is a usage error,
      // including help shown because no command was given.
      return USAGE_DONE.has(error.code) ? EXIT_OK : EXIT_USAGE;
    }
    // One line each: a credential_process reader shows stderr as is, and logs keep lines whole.
    if (error instanceof CliError) {
      runtime.io.stderr(`${oneLine(error.message)}\n`);
      return error.exitCode;
    }
    runtime.io.stderr(`Failed: ${oneLine(describeFailure(error))}\n`);
    return EXIT_FAILURE;
  }
};
