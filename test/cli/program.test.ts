import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CliClientConfig } from '../../cli/dependencies.js';
import { CREDENTIAL_PROCESS_GUARD, runCli } from '../../cli/program.js';
import { CapturedIo, FakeOperatorAws } from '../support/fake-operator-aws.js';

const COMMANDS = ['plan', 'status', 'rotate', 'rollback', 'cancel', 'credential-process'] as const;
let fake: FakeOperatorAws;

beforeEach(() => {
  fake = new FakeOperatorAws();
});

afterEach(() => {
  fake.restore();
});

const run = async (
  argv: string[],
  environment: Record<string, string | undefined> = {},
): Promise<{ code: number; io: CapturedIo; configs: CliClientConfig[] }> => {
  const io = new CapturedIo();
  const configs: CliClientConfig[] = [];
  const code = await runCli(argv, {
    io,
    environment,
    createDependencies: (clientConfig) => {
      configs.push(clientConfig);
      return fake.dependencies(io, undefined, clientConfig);
    },
  });
  return { code, io, configs };
};

describe('Function: runCli', () => {
  it.each(COMMANDS)('prints the help of %s on stdout and exits 0', async (command) => {
    // Act
    const { code, io } = await run([command, '--help']);

    // Assert
    expect(code).toBe(0);
    expect(io.out).toContain(`Usage: iam-key-rotation ${command}`);
    expect(io.err).toBe('');
  });

  it.each([
    [[], 'Usage: iam-key-rotation'],
    [['rotate'], "error: missing required argument 'secret'"],
    [['rotate', 'a', 'b'], "error: too many arguments for 'rotate'"],
    [['status', '--verbose'], "error: unknown option '--verbose'"],
    [['status', '--stuck-after', '0'], 'expected more than 0'],
    [
      ['rotate', 'alice', '--timeout', 'soon'],
      'expected whole seconds (300) or a number with a unit',
    ],
    [['status', 'alice', '--stack', 'S'], 'error: name secrets or pass --stack, not both'],
    [['frobnicate'], "error: unknown command 'frobnicate'"],
    [['plan'], "error: required option '--config <file>' not specified"],
    [
      ['plan', '--config', 'no-such-users.json'],
      '--config "no-such-users.json": iamKeyRotationConfigFile: cannot read',
    ],
  ])('exits 2 on the usage error %j, saying what is wrong on stderr', async (argv, expected) => {
    // Act
    const { code, io } = await run(argv);

    // Assert
    expect(code).toBe(2);
    expect(io.err).toContain(expected);
    expect(io.out).toBe('');
  });

  it('passes --region and --profile, before or after the command, to the SDK clients', async () => {
    // Act
    const { configs } = await run(['--region', 'eu-west-1', 'status', '--profile', 'ops']);

    // Assert
    expect(configs).toEqual([{ region: 'eu-west-1', profile: 'ops' }]);
  });

  it('prints a command failure on stderr with exit 1, naming the region, account and profile', async () => {
    // Arrange
    fake.sts.on(GetCallerIdentityCommand).resolves({ Account: '123456789012' });

    // Act
    const { code, io } = await run(['--profile', 'ops', 'rollback', 'nobody', '--yes']);

    // Assert
    expect(code).toBe(1);
    expect(io.err).toBe(
      'No secret iam-key-rotation/nobody was found in region eu-west-1, account 123456789012, profile ops (a secret is named by its user name, its name or its ARN). Check --region and --profile, or list the managed secrets with: iam-key-rotation status\n',
    );
  });

  it('names the region, account and profile when status finds no secret', async () => {
    // Arrange
    fake.sts.on(GetCallerIdentityCommand).resolves({ Account: '123456789012' });

    // Act
    const { code, io } = await run(['status', '--profile', 'ops']);

    // Assert
    expect(code).toBe(0);
    expect(io.err).toContain(
      'were found in region eu-west-1, account 123456789012, profile ops. Check --region and --profile.',
    );
  });

  it.each([
    ['status', '--stuck-after <duration>', '2m'],
    ['rotate', '--timeout <duration>', '5m'],
    ['rollback', '--step-timeout <duration>', '2m'],
  ])(
    'shows the default of a duration of %s as a person writes it',
    async (command, flag, shown) => {
      // Act
      const { io } = await run([command, '--help']);

      // Assert
      const line = io.out.split('\n').find((candidate) => candidate.includes(flag)) ?? '';
      const described = io.out.slice(io.out.indexOf(flag), io.out.indexOf(flag) + 400);
      expect(line).not.toBe('');
      expect(described).toContain(`(default: ${shown})`);
      expect(io.out).not.toMatch(/default: \d{4,}/);
    },
  );

  it.each([...COMMANDS, 'smtp-password'])(
    'lists the global options --region and --profile in the help of %s',
    async (command) => {
      // Act
      const { io } = await run([command, '--help']);

      // Assert
      expect(io.out).toContain('Global Options:');
      expect(io.out).toMatch(/--region <region>/);
      expect(io.out).toMatch(/--profile <name>/);
    },
  );

  it.each([
    [['--region', 'Ireland', 'status']],
    [['status', '--region', 'eu_west_1']],
    [['rotate', 'alice', '--region', 'EU']],
  ])('exits 2 on a region that is not a region name: %j', async (argv) => {
    // Act
    const { code, io } = await run(argv);

    // Assert
    expect(code).toBe(2);
    expect(io.err).toContain('error: --region: expected an AWS region name like "eu-west-1"');
    expect(io.out).toBe('');
  });

  it('refuses a credential-process started by itself, and marks its own environment', async () => {
    // Arrange
    const environment: Record<string, string | undefined> = {};
    fake.addManagedSecret('alice');

    // Act
    const first = await run(['credential-process', 'alice'], environment);
    const nested = await run(['credential-process', 'alice'], environment);

    // Assert
    expect(environment[CREDENTIAL_PROCESS_GUARD]).toBe('alice');
    expect(first.io.err).toContain('holds no access key yet');
    expect(nested.code).toBe(1);
    expect(nested.io.err).toContain('credential-process for alice was started by itself');
  });
});

describe('Function: main', () => {
  it('runs the command line on the process streams and sets the exit code', async () => {
    // Arrange
    const { main } = await import('../../cli/main.js');
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    });
    const exitCodeBefore = process.exitCode;

    // Act
    try {
      await main(['--version']);
    } finally {
      spy.mockRestore();
    }
    const exitCode = process.exitCode;
    process.exitCode = exitCodeBefore;

    // Assert
    expect(written.join('')).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(exitCode).toBe(0);
  });
});
