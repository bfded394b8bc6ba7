import { GetUserCommand, IAMClient, TagUserCommand, UntagUserCommand } from '@aws-sdk/client-iam';
import {
  DescribeSecretCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  StackResources,
  StackResourceState,
} from '../../../lambda/aws/cloudformation-stack-resources.js';
import {
  createOwnershipTagHandler,
  type OwnershipTagDependencies,
} from '../../../lambda/ownership-tagger/ownership-tag.js';

const STACK_ID =
  'arn:aws:cloudformation:eu-west-1:123456789012:stack/IamKeyRotation/11111111-2222-3333-4444-555555555555';
const OTHER_STACK_ID =
  'arn:aws:cloudformation:eu-west-1:123456789012:stack/Attacker/99999999-2222-3333-4444-555555555555';
const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/ci-deployer-AbCdEf';
const LOOK_ALIKE_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:iam-key-rotation/mallory-ZyXwVu';
const OTHER_REGION_SECRET_ARN =
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-key-rotation/ci-deployer-QwErTy';
const PHYSICAL_ID = 'iam-key-rotation:secret/ci-deployer';
const LOGICAL_ID = 'RotatedAccessKeycideployerOwnershipTagE62EA9C8';

const secretsManager = mockClient(SecretsManagerClient);
const iam = mockClient(IAMClient);

interface Harness {
  readonly deps: OwnershipTagDependencies;
  readonly logs: Record<string, unknown>[];
  readonly describeStackResource: ReturnType<typeof vi.fn>;
}

function harness(
  state: StackResourceState | Error = {
    status: 'DELETE_IN_PROGRESS',
    physicalResourceId: PHYSICAL_ID,
  },
): Harness {
  const logs: Record<string, unknown>[] = [];
  const describeStackResource = vi.fn((): Promise<StackResourceState> =>
    state instanceof Error ? Promise.reject(state) : Promise.resolve(state),
  );
  const stackResources: StackResources = { describeStackResource };
  return {
    deps: {
      stackId: STACK_ID,
      secretsManager: new SecretsManagerClient({ region: 'eu-west-1' }),
      iam: new IAMClient({ region: 'eu-west-1' }),
      stackResources,
      log: (line) => logs.push({ ...line }),
    },
    logs,
    describeStackResource,
  };
}

const event = (
  requestType: 'Create' | 'Update' | 'Delete',
  overrides: Record<string, unknown> = {},
  properties: Record<string, unknown> = {},
): Record<string, unknown> => ({
  RequestType: requestType,
  StackId: STACK_ID,
  LogicalResourceId: LOGICAL_ID,
  ...(requestType === 'Create' ? {} : { PhysicalResourceId: PHYSICAL_ID }),
  ResourceProperties: {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
    UserName: 'ci-deployer',
    SecretArn: SECRET_ARN,
    ...properties,
  },
  ...overrides,
});

const stackSecret = (arn = SECRET_ARN, stackId = STACK_ID, user = 'ci-deployer') => ({
  ARN: arn,
  Name: 'iam-key-rotation/ci-deployer',
  Tags: [
    { Key: 'aws:cloudformation:stack-id', Value: stackId },
    { Key: 'iam-key-rotation:user', Value: user },
    { Key: 'iam-key-rotation:stack', Value: 'IamKeyRotation' },
  ],
});

/** GetUser of ci-deployer, whose ownership tag names `secretArn`. */
const userOwnedBy = (secretArn: string) => ({
  User: {
    UserName: 'ci-deployer',
    Path: '/ci/',
    UserId: 'AIDAEXAMPLE',
    Arn: 'arn:aws:iam::123456789012:user/ci/ci-deployer',
    CreateDate: new Date(),
    Tags: [{ Key: 'iam-key-rotation:secret', Value: secretArn }],
  },
});

beforeEach(() => {
  secretsManager.reset();
  iam.reset();
  iam.on(TagUserCommand).resolves({});
  iam.on(UntagUserCommand).resolves({});
});

afterEach(() => {
  secretsManager.reset();
  iam.reset();
});

// Test files share their worker's modules (vitest.config.ts): the next file gets the real send.
afterAll(() => {
  secretsManager.restore();
  iam.restore();
});

describe('Function: createOwnershipTagHandler', () => {
  describe('Create and Update', () => {
    it.each(['Create', 'Update'] as const)(
      'tags the user with the ARN of its own secret of this stack on %s',
      async (requestType) => {
        // Arrange: an untagged user
        const { deps, logs } = harness();
        secretsManager.on(DescribeSecretCommand).resolves(stackSecret());
        iam.on(GetUserCommand).resolves({ User: { ...userOwnedBy(SECRET_ARN).User, Tags: [] } });

        // Act
        const result = await createOwnershipTagHandler(deps)(event(requestType));

        // Assert
        expect(result).toEqual({
          PhysicalResourceId: PHYSICAL_ID,
          Data: { SecretArn: SECRET_ARN },
        });
        expect(secretsManager).toHaveReceivedCommandWith(DescribeSecretCommand, {
          SecretId: 'iam-key-rotation/ci-deployer',
        });
        expect(iam).toHaveReceivedCommandWith(GetUserCommand, { UserName: 'ci-deployer' });
        expect(iam).toHaveReceivedCommandTimes(TagUserCommand, 1);
        expect(iam).toHaveReceivedCommandWith(TagUserCommand, {
          UserName: 'ci-deployer',
          Tags: [{ Key: 'iam-key-rotation:secret', Value: SECRET_ARN }],
        });
        expect(logs).toEqual([
          expect.objectContaining({
            action: 'tagged',
            userName: 'ci-deployer',
            secretArn: SECRET_ARN,
          }),
        ]);
      },
    );

    it("fails when another deployment's secret owns the user, and takes nothing over", async () => {
      // Arrange: the same configuration deployed first in another region tagged the user
      const { deps, logs } = harness();
      secretsManager.on(DescribeSecretCommand).resolves(stackSecret());
      iam.on(GetUserCommand).resolves(userOwnedBy(OTHER_REGION_SECRET_ARN));

      // Act & Assert
      await expect(createOwnershipTagHandler(deps)(event('Create'))).rejects.toThrow(
        `user ci-deployer is already owned by secret "${OTHER_REGION_SECRET_ARN}" (its iam-key-rotation:secret tag), not by ${SECRET_ARN}: user ci-deployer is not tagged; remove ci-deployer from the other deployment, or if that deployment is gone run \`aws iam untag-user --user-name ci-deployer --tag-keys iam-key-rotation:secret\`, then deploy again`,
      );
      expect(iam).toHaveReceivedCommandWith(GetUserCommand, { UserName: 'ci-deployer' });
      expect(iam).toHaveReceivedCommandTimes(TagUserCommand, 0);
      expect(iam).toHaveReceivedCommandTimes(UntagUserCommand, 0);
      expect(logs).toEqual([]);
    });

    it.each(['Create', 'Update'] as const)(
      'changes nothing when the user is already owned by its own secret on %s',
      async (requestType) => {
        // Arrange
        const { deps, logs } = harness();
        secretsManager.on(DescribeSecretCommand).resolves(stackSecret());
        iam.on(GetUserCommand).resolves(userOwnedBy(SECRET_ARN));

        // Act
        const result = await createOwnershipTagHandler(deps)(event(requestType));

        // Assert
        expect(result).toEqual({
          PhysicalResourceId: PHYSICAL_ID,
          Data: { SecretArn: SECRET_ARN },
        });
        expect(iam).toHaveReceivedCommandTimes(TagUserCommand, 0);
        expect(logs).toEqual([
          expect.objectContaining({ action: 'already-tagged', secretArn: SECRET_ARN }),
        ]);
      },
    );

    it('fails when the event names another secret ARN, and tags nothing', async () => {
      // Arrange: a forged event that asks for the user to be tagged with a look-alike secret
      const { deps } = harness();
      secretsManager.on(DescribeSecretCommand).resolves(stackSecret());

      // Act & Assert
      await expect(
        createOwnershipTagHandler(deps)(event('Create', {}, { SecretArn: LOOK_ALIKE_ARN })),
      ).rejects.toThrow(
        `ResourceProperties.SecretArn is ${LOOK_ALIKE_ARN}, but iam-key-rotation/ci-deployer is ${SECRET_ARN}: user ci-deployer is not tagged`,
      );
      expect(iam).toHaveReceivedCommandTimes(TagUserCommand, 0);
    });

    it("fails when the user's secret was not created by this stack (a look-alike), and tags nothing", async () => {
      // Arrange
      const { deps } = harness();
      secretsManager.on(DescribeSecretCommand).resolves(stackSecret(SECRET_ARN, OTHER_STACK_ID));

      // Act & Assert
      await expect(createOwnershipTagHandler(deps)(event('Create'))).rejects.toThrow(
        `secret ${SECRET_ARN} was not created by stack ${STACK_ID} (its aws:cloudformation:stack-id tag is "${OTHER_STACK_ID}"): user ci-deployer is not tagged`,
      );
      expect(iam).toHaveReceivedCommandTimes(TagUserCommand, 0);
    });

    it('fails when the secret has no CloudFormation tag at all, and tags nothing', async () => {
      // Arrange
      const { deps } = harness();
      secretsManager.on(DescribeSecretCommand).resolves({
        ARN: SECRET_ARN,
        Tags: [
          { Key: 'iam-key-rotation:user', Value: 'ci-deployer' },
          { Key: 'iam-key-rotation:stack', Value: 'IamKeyRotation' },
        ],
      });

      // Act & Assert
      await expect(createOwnershipTagHandler(deps)(event('Create'))).rejects.toThrow(
        'its aws:cloudformation:stack-id tag is null',
      );
      expect(iam).toHaveReceivedCommandTimes(TagUserCommand, 0);
    });

    it('fails when the secret is bound to another user, and tags nothing', async () => {
      // Arrange
      const { deps } = harness();
      secretsManager.on(DescribeSecretCommand).resolves(stackSecret(SECRET_ARN, STACK_ID, 'admin'));

      // Act & Assert
      await expect(createOwnershipTagHandler(deps)(event('Create'))).rejects.toThrow(
        `secret ${SECRET_ARN} is bound to "admin" by its iam-key-rotation:user tag, expected ci-deployer`,
      );
      expect(iam).toHaveReceivedCommandTimes(TagUserCommand, 0);
    });

    it.each([
      [
        'does not exist',
        () => Promise.reject(new ResourceNotFoundException({ message: 'gone', $metadata: {} })),
      ],
      [
        'is scheduled for deletion',
        () => Promise.resolve({ ...stackSecret(), DeletedDate: new Date() }),
      ],
    ])('fails when the secret %s, and tags nothing', async (what, answer) => {
      // Arrange
      const { deps } = harness();
      secretsManager.on(DescribeSecretCommand).callsFake(answer);

      // Act & Assert
      await expect(createOwnershipTagHandler(deps)(event('Create'))).rejects.toThrow(
        `secret iam-key-rotation/ci-deployer ${what}`,
      );
      expect(iam).toHaveReceivedCommandTimes(TagUserCommand, 0);
    });
  });

  describe('Event validation', () => {
    it.each([
      [
        'another stack',
        { StackId: OTHER_STACK_ID },
        {},
        `StackId must be this function's stack ${STACK_ID}`,
      ],
      [
        'an unknown request type',
        { RequestType: 'Tag' },
        {},
        'RequestType must be Create, Update or Delete, got "Tag"',
      ],
      [
        'no logical id',
        { LogicalResourceId: '' },
        {},
        'LogicalResourceId must be a logical id, got ""',
      ],
      [
        'a user name that is not one',
        {},
        { UserName: 'ci/deployer' },
        'ResourceProperties.UserName must be an IAM user name',
      ],
      [
        'no secret ARN',
        {},
        { SecretArn: 7 },
        'ResourceProperties.SecretArn must be the ARN of iam-key-rotation/ci-deployer, got 7',
      ],
    ])(
      'fails when the event names %s, and calls nothing',
      async (_case, overrides, properties, message) => {
        // Arrange
        const { deps } = harness();

        // Act & Assert
        await expect(
          createOwnershipTagHandler(deps)(event('Create', overrides, properties)),
        ).rejects.toThrow(message);
        expect(secretsManager.calls()).toHaveLength(0);
        expect(iam.calls()).toHaveLength(0);
      },
    );

    it('fails when the function does not know its stack, and calls nothing', async () => {
      // Arrange
      const { deps } = harness();

      // Act & Assert
      await expect(
        createOwnershipTagHandler({ ...deps, stackId: '' })(event('Create')),
      ).rejects.toThrow('IAM_KEY_ROTATION_STACK_ID is not set');
      expect(iam.calls()).toHaveLength(0);
    });
  });

  describe('Delete', () => {
    it('removes the tag when CloudFormation deletes the resource and the tag names the secret', async () => {
      // Arrange
      const { deps, describeStackResource, logs } = harness();
      secretsManager.on(DescribeSecretCommand).resolves(stackSecret());
      iam.on(GetUserCommand).resolves(userOwnedBy(SECRET_ARN));

      // Act
      const result = await createOwnershipTagHandler(deps)(event('Delete'));

      // Assert
      expect(result).toEqual({ PhysicalResourceId: PHYSICAL_ID });
      expect(describeStackResource).toHaveBeenCalledWith(STACK_ID, LOGICAL_ID);
      expect(iam).toHaveReceivedCommandWith(UntagUserCommand, {
        UserName: 'ci-deployer',
        TagKeys: ['iam-key-rotation:secret'],
      });
      expect(logs).toEqual([expect.objectContaining({ action: 'untagged' })]);
    });

    it.each([
      [
        'the resource is not being deleted (a forged Delete)',
        { status: 'CREATE_COMPLETE', physicalResourceId: PHYSICAL_ID },
      ],
      [
        'the resource being deleted is another one',
        { status: 'DELETE_IN_PROGRESS', physicalResourceId: 'other' },
      ],
      ['CloudFormation cannot be asked', new Error('AccessDenied')],
    ])('leaves the tag when %s', async (_case, state) => {
      // Arrange
      const { deps, logs } = harness(state);
      secretsManager.on(DescribeSecretCommand).resolves(stackSecret());
      iam.on(GetUserCommand).resolves(userOwnedBy(SECRET_ARN));

      // Act
      const result = await createOwnershipTagHandler(deps)(event('Delete'));

      // Assert
      expect(result).toEqual({ PhysicalResourceId: PHYSICAL_ID });
      expect(iam).toHaveReceivedCommandTimes(UntagUserCommand, 0);
      expect(logs).toEqual([expect.objectContaining({ action: 'left-unchanged' })]);
    });

    it('leaves the tag when the Delete names another physical id, without asking CloudFormation', async () => {
      // Arrange
      const { deps, describeStackResource } = harness();

      // Act
      const result = await createOwnershipTagHandler(deps)(
        event('Delete', { PhysicalResourceId: 'iam-key-rotation:secret/admin' }),
      );

      // Assert
      expect(result).toEqual({ PhysicalResourceId: 'iam-key-rotation:secret/admin' });
      expect(describeStackResource).not.toHaveBeenCalled();
      expect(iam.calls()).toHaveLength(0);
    });

    it('leaves the tag when it names another secret', async () => {
      // Arrange
      const { deps } = harness();
      secretsManager.on(DescribeSecretCommand).resolves(stackSecret());
      iam.on(GetUserCommand).resolves(userOwnedBy(LOOK_ALIKE_ARN));

      // Act
      await createOwnershipTagHandler(deps)(event('Delete'));

      // Assert
      expect(iam).toHaveReceivedCommandTimes(UntagUserCommand, 0);
    });

    it('leaves the tag when the secret of that name is not of this stack', async () => {
      // Arrange
      const { deps } = harness();
      secretsManager.on(DescribeSecretCommand).resolves(stackSecret(SECRET_ARN, OTHER_STACK_ID));

      // Act
      await createOwnershipTagHandler(deps)(event('Delete'));

      // Assert
      expect(iam.calls()).toHaveLength(0);
    });
  });
});
