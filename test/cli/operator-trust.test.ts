import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCancel } from '../../cli/commands/cancel.js';
import { runRollback } from '../../cli/commands/rollback.js';
import { runRotate } from '../../cli/commands/rotate.js';
import type { CliDependencies } from '../../cli/dependencies.js';
import type { ExitCode } from '../../cli/errors.js';
import { CLOUDFORMATION_STACK_ID_TAG_KEY, OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { CapturedIo, FakeOperatorAws } from '../support/fake-operator-aws.js';

/**
 * The operator commands that change something act only on a secret this project manages (its
 * name, its binding tag, CloudFormation's stack-id tag) whose user's ownership tag names it: the
 * checks are shared (cli/secret-ref.ts, cli/confirmation.ts requireOwnership).
 */
const SECRET = 'iam-key-rotation/alice';
let fake: FakeOperatorAws;

beforeEach(() => {
  fake = new FakeOperatorAws();
  fake.addManagedSecret('alice');
  // Two rotations' worth of keys: AWSPREVIOUS holds one, AWSCURRENT the other, one pending.
  const first = fake.addKey('alice');
  const second = fake.addKey('alice');
  fake.version(SECRET, 'initial-version').value = JSON.stringify({
    UserName: 'alice',
    AccessKeyId: first.accessKeyId,
    SecretAccessKey: first.secretAccessKey,
  });
  fake.startRotation(SECRET, 'version-2');
  const current = fake.version(SECRET, 'version-2');
  current.value = JSON.stringify({
    UserName: 'alice',
    AccessKeyId: second.accessKeyId,
    SecretAccessKey: second.secretAccessKey,
  });
  current.stages = new Set(['AWSCURRENT']);
  fake.version(SECRET, 'initial-version').stages = new Set(['AWSPREVIOUS']);
  // A rotation left incomplete: something for cancel to give up.
  fake.startRotation(SECRET, 'version-3');
});

afterEach(() => {
  fake.restore();
});

const COMMANDS: readonly (readonly [string, (deps: CliDependencies) => Promise<ExitCode>])[] = [
  ['rotate', (deps) => runRotate(deps, { secret: 'alice' })],
  ['rollback', (deps) => runRollback(deps, { secret: 'alice', yes: true, stepTimeoutMs: 1 })],
  ['cancel', (deps) => runCancel(deps, { secret: 'alice', yes: true })],
];

describe('Operator commands: only the stack’s own secrets, only their own users', () => {
  it.each(COMMANDS)(
    '%s refuses a secret no stack created (no aws:cloudformation:stack-id), before any IAM call, changing nothing',
    async (_command, run) => {
      // Arrange: a look-alike with every tag of the stack but CloudFormation's own
      Reflect.deleteProperty(fake.secret(SECRET).tags, CLOUDFORMATION_STACK_ID_TAG_KEY);
      const before = fake.snapshot();

      // Act
      const result = run(fake.dependencies(new CapturedIo()));

      // Assert
      await expect(result).rejects.toMatchObject({ exitCode: 1 });
      await expect(result).rejects.toThrow(
        'has no tag aws:cloudformation:stack-id: no CloudFormation stack created it',
      );
      expect(fake.iam.calls()).toHaveLength(0);
      expect(fake.secretsManager.commandCalls(RotateSecretCommand)).toHaveLength(0);
      expect(fake.snapshot()).toEqual(before);
    },
  );

  it.each(COMMANDS)(
    '%s refuses when the user’s ownership tag names another secret, changing nothing',
    async (_command, run) => {
      // Arrange
      const tags = fake.userTags.get('alice') ?? {};
      tags[OWNER_TAG_KEY] = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:elsewhere-XyZ';
      const before = fake.snapshot();

      // Act
      const result = run(fake.dependencies(new CapturedIo()));

      // Assert
      await expect(result).rejects.toThrow(
        'IAM user alice is owned by secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:elsewhere-XyZ',
      );
      expect(fake.secretsManager.commandCalls(RotateSecretCommand)).toHaveLength(0);
      expect(fake.snapshot()).toEqual(before);
    },
  );
});
