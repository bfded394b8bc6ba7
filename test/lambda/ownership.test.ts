import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForeignSecretError, SecretBindingError, UserOwnershipError } from '../../lambda/errors.js';
import { ROTATION_STEPS } from '../../lambda/event.js';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { FakeAws, OTHER_STACK_ID } from '../support/fake-aws.js';
import { LogCapture } from '../support/log-capture.js';
import { createTestRotation, type TestRotation } from '../support/rotation-harness.js';

/**
 * A user's keys are reachable only through the one secret of the stack named after the user,
 * whose binding tag agrees and which the user's own tag names, by full ARN. Retagging a secret,
 * or creating another secret that claims the user, reaches nothing.
 */
const ALICE = 'alice';
const BOB = 'bob';
const ALICE_SECRET = 'iam-key-rotation/alice';
const BOB_SECRET = 'iam-key-rotation/bob';

let fake: FakeAws;
let alice: TestRotation;
let bob: TestRotation;
let logs: LogCapture;

beforeEach(async () => {
  logs = new LogCapture().start();
  fake = new FakeAws();
  fake.addUser(ALICE);
  fake.addUser(BOB);
  fake.addSecret(ALICE_SECRET, ALICE);
  fake.addSecret(BOB_SECRET, BOB);
  alice = createTestRotation(fake, ALICE_SECRET);
  bob = createTestRotation(fake, BOB_SECRET);
  await alice.rotate('alice-1');
  await bob.rotate('bob-1');
});

afterEach(() => {
  fake.restore();
  logs.stop();
});

const bobKeys = (): string[] => fake.userKeys(BOB).map((key) => `${key.accessKeyId}:${key.status}`);

describe('Function: createHandler, ownership of the user', () => {
  it('rotates when the user tag names the secret by its full ARN', async () => {
    await alice.rotate('alice-2');
    expect(fake.valueOf(ALICE_SECRET, 'AWSCURRENT')?.AccessKeyId).toBe(
      fake.key(ALICE, -1).accessKeyId,
    );
  });

  it('fails when alice’s secret is retagged (tag and value) to bob: its name decides, bob’s keys are untouched, nothing is stored', async () => {
    // Arrange: whoever may tag and put values on alice's secret rebinds it to bob
    const secret = fake.secret(ALICE_SECRET);
    secret.tags[BINDING_TAG_KEY] = BOB;
    fake.startRotation(ALICE_SECRET, 'alice-2');
    for (const version of secret.versions.values()) {
      if (version.stages.has('AWSCURRENT')) version.value = JSON.stringify({ UserName: BOB });
    }
    const before = fake.snapshot();
    const bobBefore = bobKeys();
    fake.iam.resetHistory();

    // Act
    for (const step of ROTATION_STEPS) {
      const outcome = alice.step(step, 'alice-2');

      // Assert: the retag stops the rotation, it never redirects it
      await expect(outcome).rejects.toThrow(SecretBindingError);
      await expect(outcome).rejects.toThrow(
        `Secret ${secret.arn} is named after IAM user alice, but its tag ${BINDING_TAG_KEY} names bob; the name decides, the tag must agree: refusing to touch any key, nothing was changed`,
      );
    }
    expect(fake.iam.calls()).toHaveLength(0);
    expect(fake.snapshot()).toEqual(before);
    expect(bobKeys()).toEqual(bobBefore);
  });

  it.each([
    ['another stack', OTHER_STACK_ID, `"${OTHER_STACK_ID}" (another stack's)`],
    ['no stack (a hand-made look-alike)', null, 'absent (a secret created outside CloudFormation)'],
  ])(
    'fails when a secret of %s claims bob, before any IAM call, and changes nothing',
    async (_, stackId, found) => {
      // Arrange: the look-alike has the stack's own tags (binding tag, name pattern)
      const claimant = fake.addSecret('iam-key-rotation-copy/bob', BOB, {
        ownUser: false,
        stackId,
      });
      claimant.tags[BINDING_TAG_KEY] = BOB;
      const intruder = createTestRotation(fake, claimant.name);
      fake.startRotation(claimant.name, 'claim-1');
      const before = fake.snapshot();
      fake.iam.resetHistory();

      // Act
      const outcome = intruder.step('createSecret', 'claim-1');

      // Assert
      await expect(outcome).rejects.toThrow(ForeignSecretError);
      await expect(outcome).rejects.toThrow(
        `Secret ${claimant.arn} was not created by this function's stack`,
      );
      await expect(outcome).rejects.toThrow(`aws:cloudformation:stack-id is ${found}`);
      expect(fake.snapshot()).toEqual(before);
      expect(fake.iam.calls()).toHaveLength(0);
    },
  );

  it('fails when the user has no ownership tag, naming the tag and the command that sets it', async () => {
    // Arrange
    delete fake.userTags.get(ALICE)?.[OWNER_TAG_KEY];
    fake.startRotation(ALICE_SECRET, 'alice-2');
    const before = fake.snapshot();

    // Act / Assert
    await expect(alice.step('createSecret', 'alice-2')).rejects.toThrow(
      `IAM user alice has no tag ${OWNER_TAG_KEY}; expected it to name the secret that owns the user's keys, ${fake.secret(ALICE_SECRET).arn}.`,
    );
    expect(fake.snapshot()).toEqual(before);
  });

  it('checks ownership before every step that acts, right before it acts', async () => {
    // Arrange: the tag changes between createSecret and finishSecret
    fake.startRotation(ALICE_SECRET, 'alice-2');
    await alice.step('createSecret', 'alice-2');
    await alice.step('setSecret', 'alice-2');
    const tags = fake.userTags.get(ALICE);
    if (tags === undefined) throw new Error('no tags');
    tags[OWNER_TAG_KEY] = fake.secret(BOB_SECRET).arn;
    const before = fake.snapshot();

    // Act / Assert
    await expect(alice.step('testSecret', 'alice-2')).rejects.toThrow(UserOwnershipError);
    await expect(alice.step('finishSecret', 'alice-2')).rejects.toThrow(UserOwnershipError);
    expect(fake.snapshot()).toEqual(before);
  });

  it('needs no ownership check for a step that has nothing to do (a finished rotation)', async () => {
    fake.iam.resetHistory();
    await alice.step('finishSecret', 'alice-1');
    expect(fake.iam.calls()).toHaveLength(0);
  });
});
