import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/program.js';
import { CLOUDFORMATION_STACK_ID_TAG_KEY, OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { PROJECT_ROOT } from '../support/cli-process.js';
import { CapturedIo, FakeOperatorAws } from '../support/fake-operator-aws.js';

/**
 * Everything the command prints for people to run must work without a registry lookup: the
 * installed `iam-key-rotation`, or `npx --no-install iam-key-rotation` (a bare `npx
 * iam-key-rotation` outside the checkout fetches whatever package has that name), and every
 * command it suggests must exist.
 */
const COMMANDS = new Set([
  'status',
  'rotate',
  'rollback',
  'cancel',
  'credential-process',
  'smtp-password',
  'placement',
]);

/** `npx` followed by the command without --no-install. */
const REGISTRY_LOOKUP = /\bnpx\s+(?!--no-install\b)(?:-\S+\s+)*iam-key-rotation\b/;

/** `iam-key-rotation <word>` as a command line (not a secret name or a tag key). */
const SUGGESTED_COMMAND = /(?<![\w/:.-])iam-key-rotation\s+(?:--\S+\s+\S+\s+)*([a-z][a-z-]*)/g;

let fake: FakeOperatorAws;

beforeEach(() => {
  fake = new FakeOperatorAws();
});

afterEach(() => {
  fake.restore();
});

const run = async (argv: string[], input = ''): Promise<string> => {
  const io = new CapturedIo();
  await runCli(argv, {
    io,
    environment: {},
    createDependencies: () => fake.dependencies(io),
    readStdin: () => Promise.resolve(input),
  });
  return io.out + io.err;
};

const DAY = 86_400_000;

/** Secrets in every state that makes the command suggest something. */
const arrangeEveryFinding = (): void => {
  fake.addManagedSecret('no-key-yet', { nextRotationDate: new Date(fake.now() - DAY) });
  fake.addManagedSecret('stuck');
  fake.startRotation('iam-key-rotation/stuck', 'stuck-version');
  fake.tick(10 * 60_000);
  fake.addManagedSecret('unowned');
  Reflect.deleteProperty(fake.userTags.get('unowned') ?? {}, OWNER_TAG_KEY);
  const lookAlike = fake.addManagedSecret('look-alike');
  Reflect.deleteProperty(lookAlike.tags, CLOUDFORMATION_STACK_ID_TAG_KEY);
  fake.addManagedSecret('disabled').rotationEnabled = false;
};

describe('Texts the command prints for people to run', () => {
  it('never send a reader to the registry, and name only commands that exist', async () => {
    // Arrange
    arrangeEveryFinding();
    const invocations: [string[], string?][] = [
      [['--help']],
      ...[...COMMANDS].map((command): [string[]] => [[command, '--help']]),
      [['status']],
      [['status', '--json']],
      [['status', 'nobody', 'stuck']],
      [['rotate', 'stuck']],
      [['rotate', 'nobody']],
      [['rotate', 'look-alike']],
      [['rollback', 'no-key-yet']],
      [['rollback', 'unowned', '--yes']],
      [['cancel', 'stuck']],
      [['credential-process', 'no-key-yet']],
      [['credential-process', 'look-alike']],
      [['smtp-password', '--region', 'eu-west-1'], ''],
      [['smtp-password', '--region', 'eu-west-1'], 'not a key'],
      [['smtp-password']],
      [['status', '--account', '111111111111']],
      [['frobnicate']],
    ];

    // Act
    const outputs = await Promise.all(invocations.map(([argv, input]) => run(argv, input)));
    const text = outputs.join('\n');

    // Assert
    expect(text).not.toMatch(REGISTRY_LOOKUP);
    const suggested = new Set([...text.matchAll(SUGGESTED_COMMAND)].map((match) => match[1]));
    expect([...suggested].filter((command) => !COMMANDS.has(command ?? ''))).toEqual([]);
    // The scan saw the commands' hints, not just the help.
    for (const command of ['status', 'rotate', 'rollback', 'cancel']) {
      expect(suggested).toContain(command);
    }
  });

  it('has no bare npx iam-key-rotation in any string of the command’s source', () => {
    // Arrange
    const files = (readdirSync(path.join(PROJECT_ROOT, 'cli'), { recursive: true }) as string[])
      .filter((file) => file.endsWith('.ts'))
      .map((file) => path.join(PROJECT_ROOT, 'cli', file));

    // Act
    const offenders = files.filter((file) => {
      const code = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
      return REGISTRY_LOOKUP.test(code);
    });

    // Assert
    expect(files.length).toBeGreaterThan(10);
    expect(offenders).toEqual([]);
  });

  it('the patterns catch what they must', () => {
    expect('run: npx iam-key-rotation status').toMatch(REGISTRY_LOOKUP);
    expect('run: npx -y iam-key-rotation status').toMatch(REGISTRY_LOOKUP);
    expect('run: npx --no-install iam-key-rotation status').not.toMatch(REGISTRY_LOOKUP);
    expect(
      [
        ...'iam-key-rotation --region eu-west-1 rotat x, iam-key-rotation/alice'.matchAll(
          SUGGESTED_COMMAND,
        ),
      ].map((match) => match[1]),
    ).toEqual(['rotat']);
  });
});
