import {
  CreateSecretCommand,
  PutSecretValueCommand,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINDING_TAG_KEY } from '../../lambda/rotation/binding.js';
import { AuthenticatedDeployment } from '../support/moto/authenticated-deployment.js';
import {
  callerArnSignedWith,
  invokeStep,
  rotate,
  ROTATION_STEPS,
  type AccessKeyPair,
  byAccessKeyId,
} from '../support/moto/moto-aws.js';
import { MOTO_ACCOUNT_ID } from '../support/moto/moto-server.js';

/**
 * The bundled rotation function signs every call as an IAM principal whose only policies are
 * the rotation function's role policies from the synthesized template, resolved to the ARNs moto
 * gave the users and secrets. moto's request authentication verifies each SigV4 signature and
 * evaluates those policies (against the real resource ARN: see moto-server-with-resource-arns.py).
 * The fixture is {@link AuthenticatedDeployment}.
 */
const CREATED_USER = 'app-reader'; // the stack creates it: Fn::GetAtt User.Arn in the policy
const EXISTING_USER = 'ci-deployer'; // the stack references it: Fn::Join of its ARN, with a path
const EXISTING_USER_PATH = '/automation/';
const REBOUND_USER = 'report-builder'; // its secret is re-bound to UNCONFIGURED_USER
const UNCONFIGURED_USER = 'unconfigured-user';

const CONFIG = {
  users: [
    { userName: CREATED_USER, createUser: true, schedule: 'rate(30 days)' },
    {
      userName: EXISTING_USER,
      path: EXISTING_USER_PATH,
      createUser: false,
      schedule: 'cron(0 2 ? * MON *)',
      window: '3h',
    },
    { userName: REBOUND_USER, createUser: true, schedule: 'rate(7 days)' },
  ],
};

const userArn = (userName: string, path = '/'): string =>
  `arn:aws:iam::${MOTO_ACCOUNT_ID}:user${path}${userName}`;

let deployment: AuthenticatedDeployment | undefined;
let foreignSecretArn: string | undefined;

const given = (): AuthenticatedDeployment => {
  if (deployment === undefined || foreignSecretArn === undefined) {
    throw new Error('beforeAll did not complete');
  }
  return deployment;
};

beforeAll(async () => {
  deployment = await AuthenticatedDeployment.start({
    config: CONFIG,
    otherUsers: [{ userName: UNCONFIGURED_USER }],
  });
  const { admin } = deployment;

  // A secret the stack did not create, bound by tag to a configured user.
  const foreign = await admin.secrets.send(
    new CreateSecretCommand({
      Name: 'created-by-someone-else',
      SecretString: JSON.stringify({ UserName: CREATED_USER }),
      Tags: [{ Key: BINDING_TAG_KEY, Value: CREATED_USER }],
    }),
  );
  foreignSecretArn = foreign.ARN ?? '';
  // A stack secret re-bound (tag and value) to a user the stack does not rotate.
  const reboundSecretArn = deployment.secretOf(REBOUND_USER);
  await admin.secrets.send(
    new TagResourceCommand({
      SecretId: reboundSecretArn,
      Tags: [{ Key: BINDING_TAG_KEY, Value: UNCONFIGURED_USER }],
    }),
  );
  await admin.secrets.send(
    new PutSecretValueCommand({
      SecretId: reboundSecretArn,
      SecretString: JSON.stringify({ UserName: UNCONFIGURED_USER }),
    }),
  );
});

afterAll(async () => {
  await deployment?.dispose();
});

const secretOf = (userName: string): string => given().secretOf(userName);

const foreignSecretArnOf = (): string => {
  if (foreignSecretArn === undefined) throw new Error('beforeAll did not complete');
  return foreignSecretArn;
};

/** The error's messages down its cause chain: the handler wraps the SDK's error. */
const describeError = (error: unknown): string => {
  const parts: string[] = [];
  let current: unknown = error;
  while (current instanceof Error && parts.length < 5) {
    parts.push(`${current.name}: ${current.message}`);
    current = current.cause;
  }
  return parts.join(' <- ');
};

const expectAccessDenied = async (action: Promise<unknown>, iamAction: string): Promise<void> => {
  const error: unknown = await action.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error, `expected ${iamAction} to be denied`).toBeInstanceOf(Error);
  expect(describeError(error)).toMatch(
    new RegExp(`AccessDenied.*not authorized to perform: ${iamAction}`),
  );
};

/** The AWSCURRENT key signs as `arn` (signature checked by moto) and is Active. */
const expectCurrentKeyAuthenticatesAs = async (secretArn: string, arn: string): Promise<void> => {
  const { admin: harness, moto: server } = given();
  const current = await harness.secretValue(secretArn, 'AWSCURRENT');
  const key: AccessKeyPair = {
    accessKeyId: String(current.AccessKeyId),
    secretAccessKey: String(current.SecretAccessKey),
  };
  await expect(callerArnSignedWith(server.endpoint, key)).resolves.toBe(arn);
  await expect(
    callerArnSignedWith(server.endpoint, { ...key, secretAccessKey: `${key.secretAccessKey}x` }),
  ).rejects.toThrow(/signature/i);
  // moto's STS accepts Inactive keys: the status is checked separately.
  const userName = arn.slice(arn.lastIndexOf('/') + 1);
  expect(await harness.listKeys(userName)).toContainEqual({
    accessKeyId: key.accessKeyId,
    status: 'Active',
  });
};

describe('Rotation function policy from the synthesized template, enforced by moto', () => {
  it('names the users and the secrets iam-key-rotation/* of the account as resources, scoped by tag', () => {
    // Arrange
    const { functionPrincipal } = given();
    const resourcesByService = new Map<string, Set<string>>();
    const conditions: unknown[] = [];

    // Act
    for (const { document } of functionPrincipal.policies) {
      const statements = (document as { Statement: Record<string, unknown>[] }).Statement;
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow');
        const actions = [statement.Action].flat() as string[];
        const resources = [statement.Resource].flat() as string[];
        if (statement.Condition !== undefined) conditions.push(statement.Condition);
        for (const action of actions) {
          const service = action.split(':')[0] ?? '';
          const set = resourcesByService.get(service) ?? new Set<string>();
          resources.forEach((resource) => set.add(resource));
          resourcesByService.set(service, set);
        }
      }
    }

    // Assert
    const secrets = `arn:aws:secretsmanager:us-east-1:${MOTO_ACCOUNT_ID}:secret:iam-key-rotation/*`;
    expect([...(resourcesByService.get('iam') ?? [])]).toEqual([
      `arn:aws:iam::${MOTO_ACCOUNT_ID}:user/*`,
    ]);
    expect([...(resourcesByService.get('secretsmanager') ?? [])]).toEqual([secrets]);
    expect([...resourcesByService.keys()].sort()).toEqual(['iam', 'logs', 'secretsmanager']);
    expect(conditions).toEqual([
      { StringLike: { 'iam:ResourceTag/iam-key-rotation:secret': secrets } },
      { StringEquals: { 'secretsmanager:ResourceTag/iam-key-rotation:stack': 'IamKeyRotation' } },
    ]);
  });

  it('rotates a user the stack creates, twice, with nothing but that policy', async () => {
    // Arrange
    const { admin: harness, handler } = given();
    const secretArn = secretOf(CREATED_USER);

    // Act
    await rotate(harness, handler, secretArn);
    const first = String((await harness.secretValue(secretArn, 'AWSCURRENT')).AccessKeyId);
    await rotate(harness, handler, secretArn);

    // Assert
    await expectCurrentKeyAuthenticatesAs(secretArn, userArn(CREATED_USER));
    const current = String((await harness.secretValue(secretArn, 'AWSCURRENT')).AccessKeyId);
    expect(await harness.listKeys(CREATED_USER)).toEqual(
      byAccessKeyId([
        { accessKeyId: first, status: 'Inactive' },
        { accessKeyId: current, status: 'Active' },
      ]),
    );
  });

  it('rotates an existing user with a path, named in the policy by a joined ARN', async () => {
    // Arrange
    const { admin: harness, handler } = given();
    const secretArn = secretOf(EXISTING_USER);

    // Act
    await rotate(harness, handler, secretArn);

    // Assert
    await expectCurrentKeyAuthenticatesAs(secretArn, userArn(EXISTING_USER, EXISTING_USER_PATH));
    expect(await harness.listKeys(EXISTING_USER)).toHaveLength(1);
  });

  it('fails when the secret is bound to a user that is not configured: the trust check refuses every step', async () => {
    // Arrange: moto does not evaluate iam:ResourceTag (AWS would deny iam:GetUser here, the user
    // having no ownership tag); the function's own check refuses the user either way: the
    // secret's name gives another user than its binding tag.
    const { admin: harness, handler } = given();
    const secretArn = secretOf(REBOUND_USER);
    const token = await harness.startRotation(secretArn);

    // Act / Assert
    for (const step of ROTATION_STEPS) {
      const error: unknown = await invokeStep(handler, step, secretArn, token).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(describeError(error), step).toMatch(new RegExp(UNCONFIGURED_USER));
      expect(describeError(error), step).toMatch(/the name decides, the tag must agree/);
    }
    expect(await harness.listKeys(UNCONFIGURED_USER)).toEqual([]);
    expect(await harness.hasNoValue(secretArn, token, 'AWSPENDING')).toBe(true);
  });

  it('fails when it touches a secret the stack did not create, even one bound to a configured user', async () => {
    // Arrange
    const { admin: harness, handler } = given();
    const foreignSecretArn = foreignSecretArnOf();
    const keysBefore = await harness.listKeys(CREATED_USER);
    const token = await harness.startRotation(foreignSecretArn);

    // Act / Assert
    for (const step of ROTATION_STEPS) {
      await expectAccessDenied(
        invokeStep(handler, step, foreignSecretArn, token),
        'secretsmanager:DescribeSecret',
      );
    }
    expect(await harness.listKeys(CREATED_USER)).toEqual(keysBefore);
    expect(await harness.hasNoValue(foreignSecretArn, token, 'AWSPENDING')).toBe(true);
    expect(await harness.secretValue(foreignSecretArn, 'AWSCURRENT')).toEqual({
      UserName: CREATED_USER,
    });
  });
});
