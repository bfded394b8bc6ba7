import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  AccessKeyLastUse,
  AccessKeyMetadata,
} from '../../../lambda/aws/iam-access-key-store.js';
import { AccessKeyInUseError } from '../../../lambda/errors.js';
import {
  BINDING_TAG_KEY,
  CLOUDFORMATION_STACK_ID_TAG_KEY,
  CURRENT_KEY_TAG_KEY,
  OWNER_TAG_KEY,
} from '../../../lambda/rotation/binding.js';
import type { SecretDescription } from '../../../cli/aws/operator-secret-store.js';
import { readUserFacts } from '../../../cli/plan/read-user-facts.js';
import {
  pathOfUserArn,
  planUser,
  stackNameOfStackId,
  type FindingCode,
  type PlannedUserConfig,
  type UserFacts,
  type UserPlan,
} from '../../../cli/plan/user-plan.js';
import { ACCOUNT, OTHER_STACK_ID, REGION, STACK_ID, STACK_NAME } from '../../support/fake-aws.js';
import { CapturedIo, FakeOperatorAws } from '../../support/fake-operator-aws.js';
import { LogCapture } from '../../support/log-capture.js';
import { createTestRotation } from '../../support/rotation-harness.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-20T10:00:00Z');
const OPTIONS = { now: NOW, staleKeyDays: 7 };
const USER = 'ci-deployer';
const SECRET_NAME = `iam-key-rotation/${USER}`;
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${SECRET_NAME}-AbCdEf`;
const USER_ARN = `arn:aws:iam::${ACCOUNT}:user/${USER}`;

const existing: PlannedUserConfig = {
  userName: USER,
  path: '/',
  createUser: false,
  stackName: STACK_NAME,
};

const key = (id: string, status = 'Active', createdDaysAgo = 100): AccessKeyMetadata => ({
  accessKeyId: id,
  status,
  createDate: new Date(NOW - createdDaysAgo * DAY),
});

/** The last use of `id`, `daysAgo` days ago (never, when undefined). */
const used = (id: string, daysAgo?: number): [string, AccessKeyLastUse] => [
  id,
  daysAgo === undefined
    ? { accessKeyId: id }
    : {
        accessKeyId: id,
        lastUsedDate: new Date(NOW - daysAgo * DAY),
        serviceName: 's3',
        region: REGION,
      },
];

const facts = (
  keys: readonly AccessKeyMetadata[],
  uses: readonly [string, AccessKeyLastUse][] = [],
  extra: Partial<UserFacts> = {},
): UserFacts => ({
  user: { arn: USER_ARN, tags: {} },
  keys,
  lastUse: new Map([...keys.map((k) => used(k.accessKeyId)), ...uses]),
  ...extra,
});

/** A secret as the stack creates it (tags of `stackId`), with `versions` and extra tags. */
const secret = (
  options: {
    stackId?: string | null;
    versions?: Record<string, string[]>;
    tags?: Record<string, string>;
    rotationEnabled?: boolean;
    deletedDate?: Date;
  } = {},
): SecretDescription => ({
  arn: SECRET_ARN,
  name: SECRET_NAME,
  rotationEnabled: options.rotationEnabled ?? true,
  versionIdsToStages: options.versions ?? { v1: ['AWSCURRENT'] },
  tags: {
    ...(options.stackId === null
      ? {}
      : { [CLOUDFORMATION_STACK_ID_TAG_KEY]: options.stackId ?? STACK_ID }),
    [BINDING_TAG_KEY]: USER,
    ...options.tags,
  },
  ...(options.deletedDate === undefined ? {} : { deletedDate: options.deletedDate }),
});

/** A managed secret after a rotation: v2 is AWSCURRENT (its tag names AKIACURRENT00000), v1 AWSPREVIOUS. */
const rotatedSecret = (): ReturnType<typeof secret> =>
  secret({
    versions: { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] },
    tags: { [CURRENT_KEY_TAG_KEY]: 'v2:AKIACURRENT00000' },
  });

const owned = { user: { arn: USER_ARN, tags: { [OWNER_TAG_KEY]: SECRET_ARN } } };

const codes = (plan: UserPlan): FindingCode[] => plan.findings.map((finding) => finding.code);
const actions = (plan: UserPlan): string[] =>
  plan.keys.map(
    (k) => `${k.accessKeyId} ${k.action}${k.reason === undefined ? '' : ` (${k.reason})`}`,
  );

describe('Function: planUser', () => {
  describe('before the first deployment (no secret yet)', () => {
    it('plans the first key of a user without keys: ok', () => {
      // Act
      const plan = planUser(existing, facts([]), OPTIONS);

      // Assert
      expect(plan).toMatchObject({
        user: 'exists',
        secret: 'none',
        rotation: 'first',
        verdict: 'ok',
        summary: 'creates the first key of the secret',
        keys: [],
        findings: [],
      });
    });

    it('keeps a key used within staleKeyDays, and notes that a later rotation is refused while it is used', () => {
      // Act
      const plan = planUser(existing, facts([key('AKIAONE')], [used('AKIAONE', 1)]), OPTIONS);

      // Assert
      expect(plan.verdict).toBe('ok');
      expect(actions(plan)).toEqual(['AKIAONE keep (in use)']);
      expect(plan.summary).toBe('creates the first key of the secret; keeps AKIAONE (in use)');
      expect(plan.findings).toEqual([
        expect.objectContaining({ code: 'kept key in use', blocking: false }),
      ]);
      expect(plan.keys[0]?.lastUsed).toEqual({
        date: new Date(NOW - DAY).toISOString(),
        serviceName: 's3',
        region: REGION,
      });
      expect(plan.keys[0]?.ageSeconds).toBe(100 * 86_400);
    });

    it('keeps a never used key while there is room', () => {
      // Act
      const plan = planUser(existing, facts([key('AKIAONE')]), OPTIONS);

      // Assert
      expect(plan.verdict).toBe('ok');
      expect(actions(plan)).toEqual(['AKIAONE keep (room left)']);
      expect(plan.findings).toEqual([]);
    });

    it('refuses when both keys were used within staleKeyDays, with the message the function throws (its fix: plan again and deploy, as the secret does not exist yet)', () => {
      // Act
      const plan = planUser(
        existing,
        facts(
          [key('AKIAONE'), key('AKIATWO', 'Active', 50)],
          [used('AKIAONE', 1), used('AKIATWO', 6)],
        ),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('refused');
      expect(plan.summary).toBe('refused: keys in use');
      expect(actions(plan)).toEqual(['AKIAONE blocks (in use)', 'AKIATWO blocks (in use)']);
      expect(plan.findings).toHaveLength(1);
      expect(plan.findings[0]?.message).toMatch(
        /^createSecret: IAM user ci-deployer holds 2 access keys and none may be deleted to make room for a new one: AKIAONE \(not held by the secret, last used \S+ by s3 in eu-west-1\) and AKIATWO .* not used for 7 days \(staleKeyDays\)\. Move the applications that use AKIAONE to the secret, deactivate it \(aws iam update-access-key --user-name ci-deployer --access-key-id AKIAONE --status Inactive\), then plan again and deploy$/,
      );
    });

    it('deletes the key not used for staleKeyDays to make room (a use moto cannot stage)', () => {
      // Act
      const plan = planUser(
        existing,
        facts(
          [key('AKIAONE'), key('AKIATWO', 'Active', 50)],
          [used('AKIAONE', 30), used('AKIATWO', 1)],
        ),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('ok');
      expect(actions(plan)).toEqual([
        `AKIAONE delete (unused, last used ${new Date(NOW - 30 * DAY).toISOString()} by s3 in eu-west-1)`,
        'AKIATWO keep (in use)',
      ]);
      expect(plan.summary).toContain('deletes AKIAONE (unused');
    });

    it('deletes an Inactive key whatever its last use', () => {
      // Act
      const plan = planUser(
        existing,
        facts(
          [key('AKIAONE', 'Inactive'), key('AKIATWO')],
          [used('AKIAONE', 0), used('AKIATWO', 0)],
        ),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('ok');
      expect(actions(plan)).toEqual(['AKIAONE delete (not Active)', 'AKIATWO keep (in use)']);
    });

    it('refuses a user that does not exist without createUser, saying how to create it', () => {
      // Act
      const plan = planUser(
        { ...existing, path: '/ci/' },
        { keys: [], lastUse: new Map() },
        OPTIONS,
      );

      // Assert
      expect(plan).toMatchObject({ user: 'missing', verdict: 'refused' });
      expect(codes(plan)).toEqual(['user missing']);
      expect(plan.findings[0]?.message).toContain(
        'aws iam create-user --user-name ci-deployer --path /ci/',
      );
    });

    it('plans a createUser user that does not exist yet: ok, will be created', () => {
      // Act
      const plan = planUser(
        { ...existing, createUser: true },
        { keys: [], lastUse: new Map() },
        OPTIONS,
      );

      // Assert
      expect(plan).toMatchObject({
        user: 'will be created',
        secret: 'none',
        verdict: 'ok',
        summary: 'creates IAM user ci-deployer, then the first key of the secret',
      });
    });

    it('refuses a createUser user deleted after the stack created it (an update does not create it again)', () => {
      // Act
      const plan = planUser(
        { ...existing, createUser: true },
        { keys: [], lastUse: new Map(), secret: secret() },
        OPTIONS,
      );

      // Assert
      expect(plan).toMatchObject({ user: 'missing', secret: 'managed', verdict: 'refused' });
      expect(codes(plan)).toEqual(['user missing']);
      expect(plan.findings[0]?.message).toContain('it was deleted since');
    });

    it('refuses a createUser user that already exists (CloudFormation cannot create it)', () => {
      // Act
      const plan = planUser({ ...existing, createUser: true }, facts([]), OPTIONS);

      // Assert
      expect(plan.verdict).toBe('refused');
      expect(codes(plan)).toEqual(['user already exists']);
      expect(plan.findings[0]?.message).toContain('Set "createUser": false');
    });

    it('refuses a user whose ownership tag names another secret, with the untag fix', () => {
      // Arrange
      const other = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:${SECRET_NAME}-XyZ123`;

      // Act
      const plan = planUser(
        existing,
        facts([], [], { user: { arn: USER_ARN, tags: { [OWNER_TAG_KEY]: other } } }),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('refused');
      expect(codes(plan)).toEqual(['owned by another secret']);
      expect(plan.findings[0]?.message).toContain(`is already owned by secret ${other}`);
      expect(plan.findings[0]?.message).toContain(
        'aws iam untag-user --user-name ci-deployer --tag-keys iam-key-rotation:secret',
      );
    });

    it.each([
      ['/', `arn:aws:iam::${ACCOUNT}:user/ci/${USER}`, true],
      ['/ci/', USER_ARN, true],
      ['/ci/', `arn:aws:iam::${ACCOUNT}:user/other/${USER}`, false],
    ])('with "path": "%s" and the user %s: path mismatch %s', (configuredPath, arn, refused) => {
      // Act
      const plan = planUser(
        { ...existing, path: configuredPath },
        facts([], [], { user: { arn, tags: {} } }),
        OPTIONS,
      );

      // Assert
      expect(codes(plan).includes('path mismatch')).toBe(refused);
      expect(plan.verdict).toBe(refused ? 'refused' : 'ok');
    });
  });

  describe('when the name iam-key-rotation/<user> is taken', () => {
    it('refuses a look-alike secret (no aws:cloudformation:stack-id tag)', () => {
      // Act
      const plan = planUser(
        existing,
        facts([], [], { secret: secret({ stackId: null }) }),
        OPTIONS,
      );

      // Assert
      expect(plan).toMatchObject({ secret: 'look-alike', verdict: 'refused' });
      expect(codes(plan)).toEqual(['look-alike secret']);
      expect(plan.findings[0]?.message).toContain(
        `aws secretsmanager delete-secret --secret-id ${SECRET_ARN} --force-delete-without-recovery`,
      );
    });

    it("refuses another stack's secret, naming that stack", () => {
      // Act
      const plan = planUser(
        existing,
        facts([], [], { secret: secret({ stackId: OTHER_STACK_ID }) }),
        OPTIONS,
      );

      // Assert
      expect(plan).toMatchObject({ secret: 'another stack', verdict: 'refused' });
      expect(plan.findings[0]?.message).toContain('created by stack SomeoneElsesStack');
    });

    it('refuses a secret scheduled for deletion', () => {
      // Act
      const plan = planUser(
        existing,
        facts([], [], { secret: secret({ stackId: null, deletedDate: new Date(NOW - DAY) }) }),
        OPTIONS,
      );

      // Assert
      expect(plan).toMatchObject({ secret: 'scheduled for deletion', verdict: 'refused' });
      expect(codes(plan)).toEqual(['secret scheduled for deletion']);
    });
  });

  describe('the fixes the findings give', () => {
    it('restores, not deletes, a secret scheduled for deletion that its stack still holds', () => {
      // Act
      const held = planUser(
        existing,
        facts([], [], {
          ...owned,
          secret: secret({ deletedDate: new Date(NOW - DAY) }),
          heldByStack: { held: true },
        }),
        OPTIONS,
      );
      const notHeld = planUser(
        existing,
        facts([], [], {
          secret: secret({ deletedDate: new Date(NOW - DAY) }),
          heldByStack: { held: false, why: 'gone' },
        }),
        OPTIONS,
      );

      // Assert
      expect(held.findings[0]?.message).toContain(
        `aws secretsmanager restore-secret --secret-id ${SECRET_ARN}`,
      );
      expect(held.findings[0]?.message).not.toContain('--force-delete-without-recovery');
      expect(notHeld.findings[0]?.message).toContain('--force-delete-without-recovery');
      expect(notHeld.findings[0]?.message).not.toContain('restore-secret');
    });

    it('tags a user created again by hand with the exact tag-user command (a deployment does not tag it again)', () => {
      // Act
      const plan = planUser(
        { ...existing, createUser: true },
        { keys: [], lastUse: new Map(), secret: secret() },
        OPTIONS,
      );

      // Assert
      expect(plan.findings[0]?.message).toContain(
        `aws iam tag-user --user-name ${USER} --tags Key=${OWNER_TAG_KEY},Value=${SECRET_ARN}`,
      );
      expect(plan.findings[0]?.message).not.toContain('deploy to tag it');
    });

    it('turns rotation on again with rotate-secret, not by deploying', () => {
      // Act
      const plan = planUser(
        existing,
        facts([], [], {
          ...owned,
          secret: {
            ...secret({ rotationEnabled: false }),
            rotationLambdaArn: 'arn:aws:lambda:eu-west-1:1:function:f',
          },
        }),
        OPTIONS,
      );

      // Assert
      expect(plan.findings[0]?.message).toContain(
        `aws secretsmanager rotate-secret --secret-id ${SECRET_ARN} --rotation-lambda-arn arn:aws:lambda:eu-west-1:1:function:f --rotation-rules`,
      );
      expect(plan.findings[0]?.message).not.toContain('Deploy the stack again');
    });

    it('before the secret exists, says to free a key and plan again, not to rotate a secret that does not exist', () => {
      // Act
      const plan = planUser(
        existing,
        facts([key('AKIAONE'), key('AKIATWO')], [used('AKIAONE', 1), used('AKIATWO', 1)]),
        OPTIONS,
      );

      // Assert
      expect(codes(plan)).toEqual(['keys in use']);
      expect(plan.findings[0]?.message).not.toContain('rotate-secret');
      expect(plan.findings[0]?.message).toMatch(/--status Inactive\), then plan again and deploy$/);
    });

    it("says to untag after deleting the user's own kept or deleted secret, not to remove it from another deployment", () => {
      // Arrange: the tag names iam-key-rotation/<user> of an earlier deployment in this region.
      const earlier = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${SECRET_NAME}-OlDOlD`;

      // Act
      const plan = planUser(
        existing,
        facts([], [], { user: { arn: USER_ARN, tags: { [OWNER_TAG_KEY]: earlier } } }),
        { ...OPTIONS, region: REGION },
      );

      // Assert
      expect(codes(plan)).toEqual(['owned by another secret']);
      expect(plan.findings[0]?.message).toContain('its own secret of an earlier deployment');
      expect(plan.findings[0]?.message).toContain(
        `aws iam untag-user --user-name ${USER} --tag-keys ${OWNER_TAG_KEY}`,
      );
      expect(plan.findings[0]?.message).not.toContain('other deployment');
    });
  });

  describe("with the stack's own secret (a deployed user)", () => {
    it('plans the next rotation from the current-key tag: the Inactive previous key goes', () => {
      // Arrange
      const described = rotatedSecret();

      // Act
      const plan = planUser(
        existing,
        facts([key('AKIAPREVIOUS0000', 'Inactive'), key('AKIACURRENT00000', 'Active', 10)], [], {
          ...owned,
          secret: described,
          currentVersionCreated: new Date(NOW - 10 * DAY),
        }),
        OPTIONS,
      );

      // Assert
      expect(plan).toMatchObject({ secret: 'managed', rotation: 'next', verdict: 'ok' });
      expect(actions(plan)).toEqual([
        'AKIAPREVIOUS0000 delete (not Active)',
        'AKIACURRENT00000 keep (AWSCURRENT)',
      ]);
      expect(plan.summary).toBe(
        'creates a new key; deletes AKIAPREVIOUS0000 (not Active); AKIACURRENT00000 becomes AWSPREVIOUS',
      );
    });

    it('takes the one other Active key as the AWSPREVIOUS key (a grace period): it goes even if used', () => {
      // Arrange
      const described = rotatedSecret();

      // Act
      const plan = planUser(
        existing,
        facts(
          [key('AKIAPREVIOUS0000'), key('AKIACURRENT00000', 'Active', 10)],
          [used('AKIAPREVIOUS0000', 0)],
          { ...owned, secret: described, currentVersionCreated: new Date(NOW - 10 * DAY) },
        ),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('ok');
      expect(actions(plan)[0]).toBe('AKIAPREVIOUS0000 delete (AWSPREVIOUS)');
    });

    it('does not take an Active key made after the AWSCURRENT version as the AWSPREVIOUS key (the function finds it in no version)', () => {
      // Arrange: AWSCURRENT's version is 10 days old; AKIAHAND was made by hand 2 days ago.
      const described = rotatedSecret();

      // Act
      const plan = planUser(
        existing,
        facts(
          [key('AKIAHAND00000000', 'Active', 2), key('AKIACURRENT00000', 'Active', 10)],
          [used('AKIAHAND00000000', 0)],
          { ...owned, secret: described, currentVersionCreated: new Date(NOW - 10 * DAY) },
        ),
        OPTIONS,
      );

      // Assert: in use and in no version, it blocks the rotation, as it does the function's.
      expect(actions(plan)).not.toContain('AKIAHAND00000000 delete (AWSPREVIOUS)');
      expect(plan.verdict).toBe('refused');
      expect(actions(plan)[0]).toBe('AKIAHAND00000000 blocks (in use)');
    });

    it('is unknown, not ok, when the AWSCURRENT version date was not read and the other Active key may be AWSPREVIOUS', () => {
      // Arrange
      const described = rotatedSecret();

      // Act
      const plan = planUser(
        existing,
        facts(
          [key('AKIAPREVIOUS0000'), key('AKIACURRENT00000', 'Active', 10)],
          [used('AKIAPREVIOUS0000', 0)],
          { ...owned, secret: described },
        ),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('unknown');
      expect(codes(plan)).toEqual(['current key unknown']);
      expect(actions(plan)).toEqual(['AKIAPREVIOUS0000 unknown', 'AKIACURRENT00000 unknown']);
    });

    it('refuses a secret its stack no longer holds (retained when the user was removed), with the fix', () => {
      // Act
      const plan = planUser(
        existing,
        facts([], [], {
          ...owned,
          secret: secret(),
          heldByStack: {
            held: false,
            why: 'CloudFormation: Resource S does not exist for stack X',
          },
        }),
        OPTIONS,
      );

      // Assert
      expect(plan).toMatchObject({ secret: 'retained', verdict: 'refused' });
      // Its user's tag names the retained secret: that goes too.
      expect(codes(plan)).toEqual(['retained secret', 'owned by another secret']);
      expect(plan.findings[0]?.message).toContain(
        `aws secretsmanager delete-secret --secret-id ${SECRET_ARN} --force-delete-without-recovery`,
      );
    });

    it('notes, without refusing, a secret whose stack could not be asked', () => {
      // Act
      const plan = planUser(
        existing,
        facts([], [], {
          ...owned,
          secret: secret(),
          heldByStack: { held: 'unknown', why: 'AccessDenied: not authorized' },
        }),
        OPTIONS,
      );

      // Assert
      expect(plan).toMatchObject({ secret: 'managed', verdict: 'ok' });
      expect(plan.findings).toEqual([
        expect.objectContaining({ code: 'stack not checked', blocking: false }),
      ]);
    });

    it("refuses when the user's tag names another secret, with the function's own message", () => {
      // Arrange
      const other = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:${SECRET_NAME}-XyZ123`;

      // Act
      const plan = planUser(
        existing,
        facts([], [], {
          user: { arn: USER_ARN, tags: { [OWNER_TAG_KEY]: other } },
          secret: secret(),
        }),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('refused');
      expect(plan.findings).toEqual([
        {
          code: 'owned by another secret',
          blocking: true,
          message: `IAM user ${USER} is owned by secret ${other} (its tag ${OWNER_TAG_KEY}), not by secret ${SECRET_ARN}; refusing to touch its keys, nothing was changed. If the user should move to this secret, see "Move a user to another secret" in the README`,
        },
      ]);
    });

    it('refuses when the ownership tag is missing', () => {
      // Act
      const plan = planUser(existing, facts([], [], { secret: secret() }), OPTIONS);

      // Assert
      expect(codes(plan)).toEqual(['ownership tag missing']);
    });

    it("refuses when the secret's binding tag names another user (the function's check)", () => {
      // Act
      const plan = planUser(
        existing,
        facts([], [], {
          ...owned,
          secret: secret({ tags: { [BINDING_TAG_KEY]: 'someone-else' } }),
        }),
        OPTIONS,
      );

      // Assert
      expect(codes(plan)).toEqual(['secret binding']);
    });

    it('refuses when rotation is disabled', () => {
      // Act
      const plan = planUser(
        existing,
        facts([], [], { ...owned, secret: secret({ rotationEnabled: false }) }),
        OPTIONS,
      );

      // Assert
      expect(codes(plan)).toEqual(['rotation disabled']);
    });

    it.each([
      [
        'names a key the user does not have',
        [key('AKIAOTHER0000000', 'Inactive')],
        'has no access key',
      ],
      ['names an Inactive key', [key('AKIACURRENT00000', 'Inactive', 10)], 'is Inactive'],
      [
        'names a key made after the AWSCURRENT version',
        [key('AKIACURRENT00000', 'Active', 1)],
        'after the AWSCURRENT version',
      ],
    ])(
      'is unknown, deleting nothing, when the current-key tag (writable by TagResource) %s',
      (_, keys, why) => {
        // Arrange: the AWSCURRENT version was created 10 days ago.
        const described = rotatedSecret();

        // Act
        const plan = planUser(
          existing,
          facts(keys, [], {
            ...owned,
            secret: described,
            currentVersionCreated: new Date(NOW - 10 * DAY),
          }),
          OPTIONS,
        );

        // Assert
        expect(plan.verdict).toBe('unknown');
        expect(codes(plan)).toEqual(['current key unknown']);
        expect(plan.findings[0]?.message).toContain('disagrees with IAM');
        expect(plan.findings[0]?.message).toContain(why);
        expect(plan.keys.every((k) => k.action === 'unknown')).toBe(true);
      },
    );

    it('is unknown when the current-key tag is stale (plan never reads the value)', () => {
      // Arrange
      const described = secret({
        versions: { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] },
        tags: { [CURRENT_KEY_TAG_KEY]: 'v1:AKIAPREVIOUS0000' },
      });

      // Act
      const plan = planUser(
        existing,
        facts([key('AKIAPREVIOUS0000')], [], { ...owned, secret: described }),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('unknown');
      expect(codes(plan)).toEqual(['current key unknown']);
      expect(actions(plan)).toEqual(['AKIAPREVIOUS0000 unknown']);
    });

    const pendingSecret = secret({ versions: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] } });
    const MINUTE = 60_000;

    it('is rotating while a rotation started a minute ago, and plans its resumed createSecret: the pending key keeps its slot', () => {
      // Arrange: Secrets Manager created v2 a minute ago, then createSecret created AKIANEW.
      const keys = [
        key('AKIAOLD', 'Active', 100),
        { ...key('AKIANEW'), createDate: new Date(NOW - 30_000) },
      ];

      // Act
      const plan = planUser(
        existing,
        facts(keys, [used('AKIAOLD', 1)], {
          ...owned,
          secret: pendingSecret,
          pendingVersionCreated: new Date(NOW - MINUTE),
        }),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('rotating');
      expect(codes(plan)).toEqual(['rotation pending', 'kept key in use']);
      expect(actions(plan)).toEqual(['AKIAOLD keep (in use)', 'AKIANEW keep (AWSPENDING)']);
      expect(plan.summary).toContain('key AKIANEW');
    });

    it('refuses a pending rotation whose createSecret has no room (it was exit 0 as rotating)', () => {
      // Arrange: createSecret has not created its key yet, and both keys are in use.
      const keys = [key('AKIAONE'), key('AKIATWO')];

      // Act
      const plan = planUser(
        existing,
        facts(keys, [used('AKIAONE', 1), used('AKIATWO', 1)], {
          ...owned,
          secret: pendingSecret,
          pendingVersionCreated: new Date(NOW - MINUTE),
        }),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('refused');
      expect(codes(plan)).toEqual(['rotation pending', 'keys in use']);
    });

    it('refuses a rotation pending for longer than a rotation takes (stuck), with the cancel fix', () => {
      // Act
      const plan = planUser(
        existing,
        facts([], [], {
          ...owned,
          secret: pendingSecret,
          pendingVersionCreated: new Date(NOW - 3 * 60 * MINUTE),
        }),
        OPTIONS,
      );

      // Assert
      expect(plan.verdict).toBe('refused');
      expect(codes(plan)).toEqual(['rotation stuck']);
      expect(plan.findings[0]?.message).toContain(`iam-key-rotation cancel ${USER}`);
      expect(plan.findings[0]?.message).toContain('pending for 3h');
    });

    it('is unknown while a rotation is pending whose start was not read', () => {
      // Act
      const plan = planUser(existing, facts([], [], { ...owned, secret: pendingSecret }), OPTIONS);

      // Assert
      expect(plan.verdict).toBe('unknown');
      expect(codes(plan)).toEqual(['rotation pending']);
    });
  });

  describe('Helpers', () => {
    it('reads the stack name of a stack id and the path of a user ARN', () => {
      // Assert
      expect(stackNameOfStackId(STACK_ID)).toBe(STACK_NAME);
      expect(stackNameOfStackId('not-a-stack-id')).toBeUndefined();
      expect(pathOfUserArn(USER_ARN, USER)).toBe('/');
      expect(pathOfUserArn(`arn:aws:iam::${ACCOUNT}:user/a/b/${USER}`, USER)).toBe('/a/b/');
      expect(pathOfUserArn(`arn:aws:iam::${ACCOUNT}:user/other`, USER)).toBeUndefined();
    });
  });
});

describe('Function: readUserFacts', () => {
  let fake: FakeOperatorAws;
  beforeEach(() => {
    fake = new FakeOperatorAws();
  });
  afterEach(() => {
    fake.restore();
  });

  it("asks CloudFormation whether the configured stack holds the secret, by the secret's logical id", async () => {
    // Arrange
    fake.addUser(USER);
    const held = fake.addSecret(SECRET_NAME, USER);
    const deps = fake.dependencies(new CapturedIo());

    // Act
    const facts = await readUserFacts(deps, USER, STACK_NAME);
    fake.removedFromStack.add(SECRET_NAME);
    const retained = await readUserFacts(deps, USER, STACK_NAME);

    // Assert
    expect(facts.heldByStack).toEqual({ held: true });
    expect(retained.heldByStack).toEqual({
      held: false,
      why: `CloudFormation: Resource ${held.tags['aws:cloudformation:logical-id'] ?? ''} does not exist for stack ${STACK_NAME}`,
    });
    expect(fake.stackResourceCalls).toHaveLength(2);
  });

  it.each(['DELETE_SKIPPED', 'DELETE_COMPLETE'])(
    'takes a secret whose resource is %s (a first creation rolled back) as not held',
    async (status) => {
      // Arrange
      fake.addUser(USER);
      const kept = fake.addSecret(SECRET_NAME, USER);
      const deps = {
        ...fake.dependencies(new CapturedIo()),
        stackResources: {
          describeStackResource: () => Promise.resolve({ status, physicalResourceId: kept.arn }),
        },
      };

      // Act
      const read = await readUserFacts(deps, USER, STACK_NAME);
      const plan = planUser(existing, read, OPTIONS);

      // Assert
      expect(read.heldByStack).toMatchObject({ held: false });
      expect(read.heldByStack).toHaveProperty('why', expect.stringContaining(status));
      expect(plan).toMatchObject({ secret: 'retained', verdict: 'refused' });
      expect(plan.findings[0]?.message).toContain(
        `aws secretsmanager delete-secret --secret-id ${kept.arn} --force-delete-without-recovery`,
      );
    },
  );

  it("does not ask CloudFormation about another stack's secret, a look-alike or no secret", async () => {
    // Arrange
    fake.addUser(USER);
    fake.addUser('other-user');
    fake.addSecret(SECRET_NAME, USER, { stackId: OTHER_STACK_ID });
    fake.addSecret('iam-key-rotation/other-user', 'other-user', { stackId: null });
    const deps = fake.dependencies(new CapturedIo());

    // Act
    const facts = await Promise.all([
      readUserFacts(deps, USER, STACK_NAME),
      readUserFacts(deps, 'other-user', STACK_NAME),
      readUserFacts(deps, 'nobody', STACK_NAME),
    ]);

    // Assert
    expect(facts.map((read) => read.heldByStack)).toEqual([undefined, undefined, undefined]);
    expect(fake.stackResourceCalls).toEqual([]);
  });
});

/**
 * Plan and function cannot disagree: for every mix of up to two keys (Active or Inactive; never
 * used, used a day ago, used 30 days ago; made before the secret or, an orphan, after it), the
 * plan read from the (mocked) AWS APIs says what the real function's createSecret then does:
 * refused exactly when the function throws AccessKeyInUseError (whose message starts with the
 * plan's), and otherwise the keys it deletes and keeps.
 */
describe('Function: planUser agrees with the rotation function', () => {
  type KeySpec = { status: 'Active' | 'Inactive'; daysAgo?: number; afterSecret: boolean };
  const specs: KeySpec[] = (['Active', 'Inactive'] as const).flatMap((status) =>
    [undefined, 1, 30].flatMap((daysAgo) =>
      [false, true].map((afterSecret) => ({
        status,
        ...(daysAgo === undefined ? {} : { daysAgo }),
        afterSecret,
      })),
    ),
  );
  const cases: KeySpec[][] = [
    [],
    ...specs.map((spec) => [spec]),
    ...specs.flatMap((first) =>
      specs
        .filter((second) => !(first.afterSecret && !second.afterSecret))
        .map((second) => [first, second]),
    ),
  ];

  let fake: FakeOperatorAws;
  let logs: LogCapture;
  beforeEach(() => {
    logs = new LogCapture().start();
    fake = new FakeOperatorAws();
  });
  afterEach(() => {
    fake.restore();
    logs.stop();
  });

  it(`says what createSecret does, in all ${String(cases.length)} cases`, async () => {
    const seen = { refused: 0, deleted: 0, orphans: 0, kept: 0 };
    for (const keySpecs of cases) {
      fake.restore();
      fake = new FakeOperatorAws();
      fake.addUser(USER);
      const rotation = createTestRotation(fake, SECRET_NAME);
      const now = rotation.clock.now();
      const addKey = (spec: KeySpec): string =>
        fake.addKey(USER, {
          status: spec.status,
          ...(spec.daysAgo === undefined
            ? {}
            : { lastUsedDate: new Date(now - spec.daysAgo * DAY) }),
        }).accessKeyId;
      const before = keySpecs.filter((spec) => !spec.afterSecret).map(addKey);
      fake.addSecret(SECRET_NAME, USER);
      const after = keySpecs.filter((spec) => spec.afterSecret).map(addKey);
      const ids = [...before, ...after];
      const label = JSON.stringify(keySpecs);

      // Act: the plan, read through the command's own clients
      const deps = fake.dependencies(new CapturedIo());
      const plan = planUser(existing, await readUserFacts(deps, USER, STACK_NAME), {
        now,
        staleKeyDays: 7,
      });
      // Act: the function's first rotation
      fake.startRotation(SECRET_NAME, 'token-1');
      let refusal: unknown;
      try {
        await rotation.step('createSecret', 'token-1');
      } catch (error) {
        refusal = error;
      }

      // Assert
      if (plan.verdict === 'refused') {
        expect(refusal, label).toBeInstanceOf(AccessKeyInUseError);
        expect((refusal as Error).message.startsWith(plan.findings[0]?.message ?? '?'), label).toBe(
          true,
        );
        seen.refused += 1;
        continue;
      }
      expect(refusal, label).toBeUndefined();
      expect(plan.verdict, label).toBe('ok');
      const remaining = fake.userKeys(USER).map((k) => k.accessKeyId);
      const kept = plan.keys.filter((k) => k.action === 'keep').map((k) => k.accessKeyId);
      const deleted = plan.keys.filter((k) => k.action === 'delete').map((k) => k.accessKeyId);
      expect([...kept, ...deleted].sort(), label).toEqual([...ids].sort());
      expect(remaining.filter((id) => ids.includes(id)).sort(), label).toEqual([...kept].sort());
      seen.deleted += deleted.length;
      seen.kept += kept.length;
      seen.orphans += plan.keys.filter((k) => k.reason?.startsWith('orphan') === true).length;
    }
    // The grid covers every outcome.
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.deleted).toBeGreaterThan(0);
    expect(seen.kept).toBeGreaterThan(0);
    expect(seen.orphans).toBeGreaterThan(0);
  });
});
