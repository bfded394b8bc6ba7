import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TagUserCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanReport } from '../../cli/commands/plan.js';
import {
  BINDING_TAG_KEY,
  CURRENT_KEY_TAG_KEY,
  OWNER_TAG_KEY,
} from '../../lambda/rotation/binding.js';
import {
  motoCliEnvironment,
  PROJECT_ROOT,
  runCliProcess,
  type CliRun,
} from '../support/cli-process.js';
import {
  callerArnSignedWith,
  cloudFormationTags,
  MotoAws,
  REGION,
  type AccessKeyPair,
} from '../support/moto/moto-aws.js';
import { MOTO_ACCOUNT_ID, MotoServer } from '../support/moto/moto-server.js';

/**
 * `iam-key-rotation plan` as a user runs it (the built command, dist/cli), against moto over HTTP
 * with request authentication on, signing as a principal whose only policy is the read-only role
 * policy of docs/organization.md (which denies GetSecretValue): one user of each kind a first
 * deployment meets. moto records a key's last use whenever it signs a request, so "used just now"
 * and "never used" are staged here; "last used 30 days ago" cannot be, and is covered by
 * test/cli/plan/user-plan.test.ts.
 */
const ZERO_KEYS = 'zero-keys';
const ONE_KEY_USED = 'one-key-used';
const ONE_KEY_UNUSED = 'one-key-unused';
const TWO_KEYS_UNUSED = 'two-keys-unused';
const TWO_KEYS_ONE_USED = 'two-keys-one-used';
const TWO_KEYS_USED = 'two-keys-used';
const OWNED_ELSEWHERE = 'owned-elsewhere';
const LOOK_ALIKE = 'look-alike';
const MISSING = 'missing-user';
const TO_BE_CREATED = 'to-be-created';
const DEPLOYED = 'deployed-user';
const PLANNER = 'planner';

interface World {
  readonly moto: MotoServer;
  readonly admin: MotoAws;
  readonly plannerKey: AccessKeyPair;
  readonly scratchDir: string;
  readonly keys: Readonly<Record<string, readonly string[]>>;
}

let world: World | undefined;
const given = (): World => {
  if (world === undefined) throw new Error('beforeAll did not complete');
  return world;
};

const writeConfig = (file: string, users: readonly object[]): string => {
  const target = path.join(given().scratchDir, file);
  writeFileSync(target, JSON.stringify({ users }));
  return target;
};

const plan = (...args: string[]): Promise<CliRun> =>
  runCliProcess(
    ['plan', ...args],
    motoCliEnvironment(given().moto.endpoint, given().plannerKey, given().scratchDir),
    { cwd: given().scratchDir },
  );

const rotated = (userName: string, extra: object = {}): object => ({
  userName,
  schedule: 'rate(30 days)',
  ...extra,
});

beforeAll(async () => {
  const moto = await MotoServer.start();
  const scratchDir = mkdtempSync(path.join(tmpdir(), 'iam-key-rotation-plan-'));
  const admin = new MotoAws(moto.endpoint);
  try {
    await moto.setAuthentication(false);
    const keys: Record<string, string[]> = {};
    const addKeys = async (userName: string, count: number, used: number): Promise<void> => {
      await admin.createUser(userName);
      keys[userName] = [];
      for (let index = 0; index < count; index++) {
        const key = await admin.createAccessKey(userName);
        keys[userName].push(key.accessKeyId);
        // moto records the last use of a key that signs a request.
        if (index < used) await callerArnSignedWith(moto.endpoint, key);
      }
    };
    await addKeys(ZERO_KEYS, 0, 0);
    await addKeys(ONE_KEY_USED, 1, 1);
    await addKeys(ONE_KEY_UNUSED, 1, 0);
    await addKeys(TWO_KEYS_UNUSED, 2, 0);
    await addKeys(TWO_KEYS_ONE_USED, 2, 1);
    await addKeys(TWO_KEYS_USED, 2, 2);
    await addKeys(OWNED_ELSEWHERE, 1, 0);
    await admin.iam.send(
      new TagUserCommand({
        UserName: OWNED_ELSEWHERE,
        Tags: [
          {
            Key: OWNER_TAG_KEY,
            Value: `arn:aws:secretsmanager:eu-west-1:${MOTO_ACCOUNT_ID}:secret:iam-key-rotation/${OWNED_ELSEWHERE}-AbCdEf`,
          },
        ],
      }),
    );
    await addKeys(LOOK_ALIKE, 0, 0);
    // A secret of the name the stack would create, by someone copying its binding tag.
    await admin.secrets.send(
      new CreateSecretCommand({
        Name: `iam-key-rotation/${LOOK_ALIKE}`,
        SecretString: JSON.stringify({ UserName: LOOK_ALIKE }),
        Tags: [{ Key: BINDING_TAG_KEY, Value: LOOK_ALIKE }],
      }),
    );
    // A user the stack deployed and rotated once: its secret created by the stack (moto accepts
    // CloudFormation's tags), AWSCURRENT holding its second key, the first Inactive.
    await addKeys(DEPLOYED, 2, 2);
    const [oldKey, currentKey] = keys[DEPLOYED] ?? [];
    await admin.iam.send(
      new UpdateAccessKeyCommand({ UserName: DEPLOYED, AccessKeyId: oldKey, Status: 'Inactive' }),
    );
    const created = await admin.secrets.send(
      new CreateSecretCommand({
        Name: `iam-key-rotation/${DEPLOYED}`,
        SecretString: JSON.stringify({ UserName: DEPLOYED }),
        Tags: [
          ...cloudFormationTags(`Secret${DEPLOYED.replace(/\W/g, '')}`),
          { Key: BINDING_TAG_KEY, Value: DEPLOYED },
        ],
      }),
    );
    // Rotation configured (moto enables it when RotateSecret starts a rotation, which is then
    // given up: its AWSPENDING removed), and the key put in AWSCURRENT as finishSecret leaves it.
    const token = await admin.startRotation(created.ARN ?? '');
    await admin.secrets.send(
      new UpdateSecretVersionStageCommand({
        SecretId: created.ARN,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: token,
      }),
    );
    const put = await admin.secrets.send(
      new PutSecretValueCommand({
        SecretId: created.ARN,
        SecretString: JSON.stringify({ UserName: DEPLOYED, AccessKeyId: currentKey }),
      }),
    );
    await admin.secrets.send(
      new TagResourceCommand({
        SecretId: created.ARN,
        Tags: [{ Key: CURRENT_KEY_TAG_KEY, Value: `${put.VersionId ?? ''}:${currentKey ?? ''}` }],
      }),
    );
    await admin.iam.send(
      new TagUserCommand({
        UserName: DEPLOYED,
        Tags: [{ Key: OWNER_TAG_KEY, Value: created.ARN ?? '' }],
      }),
    );
    // The one who plans: the read-only role policy of docs/organization.md, nothing else.
    await admin.createUser(PLANNER);
    await admin.putUserPolicy(
      PLANNER,
      'read-only',
      JSON.parse(
        readFileSync(
          path.join(PROJECT_ROOT, 'docs', 'organization-status-role-policy.json'),
          'utf8',
        ),
      ) as unknown,
    );
    const plannerKey = await admin.createAccessKey(PLANNER);
    await moto.setAuthentication(true);
    world = { moto, admin, plannerKey, scratchDir, keys };
  } catch (error) {
    admin.destroy();
    await moto.stop();
    rmSync(scratchDir, { recursive: true, force: true });
    throw error;
  }
});

afterAll(async () => {
  if (world === undefined) return;
  world.admin.destroy();
  await world.moto.stop();
  rmSync(world.scratchDir, { recursive: true, force: true });
});

describe('Command: plan, over moto with the read-only role policy', () => {
  it('gives each kind of user its verdict, and exits 1 when one cannot rotate', async () => {
    // Arrange
    const config = writeConfig('users.json', [
      rotated(ZERO_KEYS),
      rotated(ONE_KEY_USED),
      rotated(ONE_KEY_UNUSED),
      rotated(TWO_KEYS_UNUSED),
      rotated(TWO_KEYS_ONE_USED),
      rotated(TWO_KEYS_USED),
      rotated(OWNED_ELSEWHERE),
      rotated(LOOK_ALIKE),
      rotated(MISSING),
      rotated(TO_BE_CREATED, { createUser: true }),
      rotated(DEPLOYED),
    ]);
    const keys = given().keys;
    const [twoUnusedFirst, twoUnusedSecond] = keys[TWO_KEYS_UNUSED] ?? [];
    const [oneUsedUsed, oneUsedUnused] = keys[TWO_KEYS_ONE_USED] ?? [];
    const [deployedOld, deployedCurrent] = keys[DEPLOYED] ?? [];

    // Act
    const run = await plan('--config', config, '--json');

    // Assert
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as PlanReport;
    expect(report.canRotate).toBe(false);
    const byUser = new Map(report.users.map((row) => [row.userName, row]));
    const verdicts = Object.fromEntries(report.users.map((row) => [row.userName, row.verdict]));
    expect(verdicts).toEqual({
      [ZERO_KEYS]: 'ok',
      [ONE_KEY_USED]: 'ok',
      [ONE_KEY_UNUSED]: 'ok',
      [TWO_KEYS_UNUSED]: 'ok',
      [TWO_KEYS_ONE_USED]: 'ok',
      [TWO_KEYS_USED]: 'refused',
      [OWNED_ELSEWHERE]: 'refused',
      [LOOK_ALIKE]: 'refused',
      [MISSING]: 'refused',
      [TO_BE_CREATED]: 'ok',
      [DEPLOYED]: 'ok',
    });
    // Located: the account (STS) and region of the credentials.
    expect(
      report.users.every((row) => row.account === MOTO_ACCOUNT_ID && row.region === REGION),
    ).toBe(true);
    const actions = (userName: string): string[] =>
      (byUser.get(userName)?.keys ?? []).map((key) =>
        `${key.accessKeyId} ${key.action} ${key.reason ?? ''}`.trim(),
      );
    expect(byUser.get(ZERO_KEYS)).toMatchObject({
      user: 'exists',
      secret: 'none',
      rotation: 'first',
      keys: [],
    });
    expect(actions(ONE_KEY_USED)).toEqual([`${keys[ONE_KEY_USED]?.[0] ?? ''} keep in use`]);
    expect(byUser.get(ONE_KEY_USED)?.keys[0]?.lastUsed).toMatchObject({
      serviceName: 'sts',
      region: REGION,
    });
    expect(byUser.get(ONE_KEY_USED)?.findings.map((finding) => finding.code)).toEqual([
      'kept key in use',
    ]);
    expect(actions(ONE_KEY_UNUSED)).toEqual([`${keys[ONE_KEY_UNUSED]?.[0] ?? ''} keep room left`]);
    expect(byUser.get(ONE_KEY_UNUSED)?.keys[0]?.lastUsed).toEqual({});
    // Both never used: the older goes to make room (the function's own choice).
    expect(actions(TWO_KEYS_UNUSED)).toEqual([
      `${twoUnusedFirst ?? ''} delete unused, never used`,
      `${twoUnusedSecond ?? ''} keep room left`,
    ]);
    expect(actions(TWO_KEYS_ONE_USED)).toEqual([
      `${oneUsedUsed ?? ''} keep in use`,
      `${oneUsedUnused ?? ''} delete unused, never used`,
    ]);
    expect(byUser.get(TWO_KEYS_USED)?.findings.map((finding) => finding.code)).toEqual([
      'keys in use',
    ]);
    expect(byUser.get(TWO_KEYS_USED)?.findings[0]?.message).toContain(
      `deactivate it (aws iam update-access-key --user-name ${TWO_KEYS_USED} --access-key-id ${keys[TWO_KEYS_USED]?.[0] ?? ''} --status Inactive)`,
    );
    expect(byUser.get(OWNED_ELSEWHERE)?.findings.map((finding) => finding.code)).toEqual([
      'owned by another secret',
    ]);
    expect(byUser.get(LOOK_ALIKE)).toMatchObject({ secret: 'look-alike' });
    expect(byUser.get(LOOK_ALIKE)?.findings.map((finding) => finding.code)).toEqual([
      'look-alike secret',
    ]);
    expect(byUser.get(MISSING)).toMatchObject({
      user: 'missing',
      findings: [expect.objectContaining({ code: 'user missing' })],
    });
    expect(byUser.get(TO_BE_CREATED)).toMatchObject({
      user: 'will be created',
      secret: 'none',
      findings: [],
    });
    expect(byUser.get(DEPLOYED)).toMatchObject({ secret: 'managed', rotation: 'next' });
    // moto checks CloudFormation calls against the resource "*", which the policy's
    // DescribeStackResource statement (stack ARNs) does not match: denied, so not checked.
    expect(byUser.get(DEPLOYED)?.findings).toEqual([
      expect.objectContaining({ code: 'stack not checked', blocking: false }),
    ]);
    expect(actions(DEPLOYED)).toEqual([
      `${deployedOld ?? ''} delete not Active`,
      `${deployedCurrent ?? ''} keep AWSCURRENT`,
    ]);
    // Every finding on stderr, with where it is and what to do.
    expect(run.stderr).toContain(
      `${MOTO_ACCOUNT_ID} ${REGION} ${MISSING}: refused: user missing: IAM user ${MISSING} does not exist`,
    );
    expect(run.stderr).toContain('4 of 11 users cannot rotate yet');
  });

  it('prints the tables and exits 0 when every user can rotate', async () => {
    // Arrange
    const config = writeConfig('ready.json', [rotated(ZERO_KEYS), rotated(TWO_KEYS_ONE_USED)]);

    // Act
    const run = await plan('--config', config);

    // Assert
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^ACCOUNT\s+REGION\s+USER\s+IAM USER\s+SECRET\s+ROTATION\s+VERDICT\s+PLAN$/,
    );
    expect(lines[1]).toMatch(
      new RegExp(
        `^${MOTO_ACCOUNT_ID}\\s+${REGION}\\s+${ZERO_KEYS}\\s+exists\\s+none\\s+first\\s+ok\\s+creates the first key of the secret$`,
      ),
    );
    expect(run.stdout).toMatch(/USER\s+ACCESS KEY\s+STATUS\s+AGE\s+LAST USED\s+AT ROTATION/);
    expect(run.stdout).toMatch(
      new RegExp(
        `${TWO_KEYS_ONE_USED}\\s+\\w+\\s+Active\\s+\\S+\\s+\\S+ ago, sts ${REGION}\\s+keep \\(in use\\)`,
      ),
    );
    expect(run.stderr).toContain('Every user can rotate (2)');
  });

  it.each([
    [['--config', 'no-such-file.json'], '--config "no-such-file.json"'],
    [
      ['--config', 'users.json', '--role-name', 'not a role'],
      '--role-name: expected an IAM role name',
    ],
    [[], "required option '--config <file>'"],
  ])('exits 2 on the usage error %j, changing nothing', async (args, expected) => {
    // Act
    const run = await plan(...args);

    // Assert
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(expected);
  });
});
