import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseIamKeyRotationConfig } from '../../lib/config.js';
import { InvalidConfigurationError } from '../../lib/config-error.js';
import {
  FIRST_ROTATION_RESOURCE_TYPE,
  FIRST_ROTATIONS_AT_ONCE,
} from '../../lib/first-rotation-wait.js';
import { addIamKeyRotationStacks } from '../../lib/iam-key-rotation-app.js';

type Resources = Record<
  string,
  {
    Type: string;
    Properties?: Record<string, unknown>;
    DependsOn?: string[];
    DeletionPolicy?: string;
  }
>;

/** 12 users, the first created by the stack, the others existing: more than one round of waits. */
const USERS = Array.from({ length: FIRST_ROTATIONS_AT_ONCE + 2 }, (_, index) => ({
  userName: `user-${String(index)}`,
  schedule: 'rate(30 days)',
  ...(index === 0 ? { createUser: true } : {}),
}));

/** Both configurations synthesized once, in one app each, shared by every test below. */
const synth = (extra: Record<string, unknown>): Resources => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const [stack] = addIamKeyRotationStacks(
    app,
    parseIamKeyRotationConfig({ users: USERS, ...extra }),
  );
  if (stack === undefined) throw new Error('no stack synthesized');
  return Template.fromStack(stack).toJSON().Resources as Resources;
};
const withWait = synth({});
const withoutWait = synth({ awaitFirstRotation: false });

const ofType = (resources: Resources, type: string): [string, Resources[string]][] =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

/** The logical id of the resource of `type` whose id starts with the user's construct path. */
const idOf = (resources: Resources, type: string, userName: string): string => {
  const prefix = `RotatedAccessKey${userName.replace(/[^A-Za-z0-9]/g, '')}`;
  const found = ofType(resources, type).find(([id]) => id.startsWith(prefix));
  if (found === undefined) throw new Error(`no ${type} of ${userName}`);
  return found[0];
};

describe('Construct: FirstRotationWait (in the stack)', () => {
  it('creates one wait per new secret, naming its user and secret', () => {
    const waits = ofType(withWait, FIRST_ROTATION_RESOURCE_TYPE);

    expect(waits).toHaveLength(USERS.length);
    for (const user of USERS) {
      const wait = withWait[idOf(withWait, FIRST_ROTATION_RESOURCE_TYPE, user.userName)];
      expect(wait?.Properties).toMatchObject({
        UserName: user.userName,
        SecretArn: { Ref: idOf(withWait, 'AWS::SecretsManager::Secret', user.userName) },
      });
    }
  });

  it("makes each wait depend on its secret's rotation schedule and ownership tag", () => {
    for (const user of USERS) {
      const wait = withWait[idOf(withWait, FIRST_ROTATION_RESOURCE_TYPE, user.userName)];
      const tag =
        user.createUser === true
          ? ofType(withWait, 'AWS::IAM::User')[0]?.[0]
          : idOf(withWait, 'Custom::UserOwnershipTag', user.userName);
      expect(wait?.DependsOn).toEqual(
        expect.arrayContaining([
          idOf(withWait, 'AWS::SecretsManager::RotationSchedule', user.userName),
          tag,
        ]),
      );
    }
  });

  it(`runs at most ${String(FIRST_ROTATIONS_AT_ONCE)} first rotations at once: each further schedule waits for the wait that many before`, () => {
    USERS.forEach((user, index) => {
      const schedule =
        withWait[idOf(withWait, 'AWS::SecretsManager::RotationSchedule', user.userName)];
      const waitsDependedOn = (schedule?.DependsOn ?? []).filter(
        (id) => withWait[id]?.Type === FIRST_ROTATION_RESOURCE_TYPE,
      );
      const before = USERS[index - FIRST_ROTATIONS_AT_ONCE];
      expect(waitsDependedOn).toEqual(
        before === undefined ? [] : [idOf(withWait, FIRST_ROTATION_RESOURCE_TYPE, before.userName)],
      );
    });
  });

  it('polls isComplete every 15 s for at most 30 minutes through the Provider framework', () => {
    const machines = ofType(withWait, 'AWS::StepFunctions::StateMachine');
    expect(machines).toHaveLength(1);
    const definition = JSON.stringify(machines[0]?.[1].Properties?.DefinitionString);
    expect(definition).toContain('\\"IntervalSeconds\\":15');
    expect(definition).toContain('\\"MaxAttempts\\":120');
  });

  it('retains a secret and a created user except on the rollback of their creation', () => {
    for (const [, resource] of [
      ...ofType(withWait, 'AWS::SecretsManager::Secret'),
      ...ofType(withWait, 'AWS::IAM::User'),
    ]) {
      expect(resource.DeletionPolicy).toBe('RetainExceptOnCreate');
    }
  });

  it('gives the functions no GetSecretValue and scopes the secret actions to the stack id tag', () => {
    const template = Template.fromJSON({ Resources: withWait });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: [
              'secretsmanager:DescribeSecret',
              'secretsmanager:RotateSecret',
              'secretsmanager:UpdateSecretVersionStage',
            ],
            Effect: 'Allow',
            Condition: {
              StringEquals: {
                'aws:ResourceTag/aws:cloudformation:stack-id': { Ref: 'AWS::StackId' },
              },
            },
          }),
        ]),
      },
      Roles: [{ Ref: Match.stringLikeRegexp('^FirstRotationWaitServiceRole') }],
    });
    const waitPolicies = ofType(withWait, 'AWS::IAM::Policy').filter(([id]) =>
      id.startsWith('FirstRotationWait'),
    );
    expect(JSON.stringify(waitPolicies)).not.toContain('GetSecretValue');
  });

  it('adds no wait, and plain Retain, with "awaitFirstRotation": false', () => {
    expect(ofType(withoutWait, FIRST_ROTATION_RESOURCE_TYPE)).toEqual([]);
    expect(ofType(withoutWait, 'AWS::StepFunctions::StateMachine')).toEqual([]);
    for (const [, resource] of ofType(withoutWait, 'AWS::SecretsManager::Secret')) {
      expect(resource.DeletionPolicy).toBe('Retain');
    }
  });
});

describe('Configuration: awaitFirstRotation', () => {
  it('is on unless set to false', () => {
    expect(parseIamKeyRotationConfig({ users: USERS }).awaitFirstRotation).toBe(true);
    expect(
      parseIamKeyRotationConfig({ users: USERS, awaitFirstRotation: false }).awaitFirstRotation,
    ).toBe(false);
  });

  it('fails when it is not a boolean, naming the field', () => {
    expect(() => parseIamKeyRotationConfig({ users: USERS, awaitFirstRotation: 'no' })).toThrow(
      InvalidConfigurationError,
    );
    expect(() => parseIamKeyRotationConfig({ users: USERS, awaitFirstRotation: 'no' })).toThrow(
      /awaitFirstRotation/,
    );
  });
});
