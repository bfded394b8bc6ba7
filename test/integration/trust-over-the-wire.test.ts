import { TagUserCommand } from '@aws-sdk/client-iam';
import { CreateSecretCommand, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BINDING_TAG_KEY, OWNER_TAG_KEY, TESTED_STAGE } from '../../lambda/rotation/binding.js';
import {
  cloudFormationTags,
  importBundledHandler,
  invokeStep,
  MotoAws,
  OTHER_STACK_ID,
  rotate,
  ROTATION_STEPS,
  STACK_ID,
  UNCHECKED_CREDENTIALS,
  type BundledHandler,
} from '../support/moto/moto-aws.js';
import { MotoServer } from '../support/moto/moto-server.js';
import { RecordingProxy } from '../support/moto/recording-proxy.js';
import {
  SHARED_STACK_CONFIG,
  SHARED_STACK_OTHER_USER,
  SHARED_STACK_USER,
  startMotoAndSynthesize,
  type SynthesizedStack,
} from '../support/moto/synthesized-stack.js';

/**
 * Issue 14 over the wire: the bundled function, its requests recorded by a proxy in front of
 * moto (its call log), refuses a look-alike secret and a retagged secret before any IAM call, a
 * retagged user before any IAM write, and a forged finishSecret changes nothing.
 */
const USER = SHARED_STACK_USER;
const OTHER_USER = SHARED_STACK_OTHER_USER;
const CONFIG = SHARED_STACK_CONFIG;
const IAM_WRITES = new Set(['CreateAccessKey', 'UpdateAccessKey', 'DeleteAccessKey', 'TagUser']);

let moto: MotoServer | undefined;
let proxy: RecordingProxy | undefined;
let synthesized: SynthesizedStack | undefined;
let motoAws: MotoAws | undefined;
let handler: BundledHandler;
let restoreEnvironment: (() => void) | undefined;
let secretOf: Map<string, string>;

const aws = (): MotoAws => {
  if (motoAws === undefined) throw new Error('beforeAll did not start moto');
  return motoAws;
};
const calls = (): RecordingProxy => {
  if (proxy === undefined) throw new Error('beforeAll did not start the proxy');
  return proxy;
};

beforeAll(async () => {
  ({ moto, synthesized } = await startMotoAndSynthesize(CONFIG));
  proxy = await RecordingProxy.start(moto.endpoint);
  motoAws = new MotoAws(moto.endpoint);
  // The function's requests go through the proxy; the harness talks to moto directly.
  ({ handler, restoreEnvironment } = await importBundledHandler(
    synthesized.handlerFile,
    synthesized.handlerExport,
    proxy.endpoint,
    UNCHECKED_CREDENTIALS,
  ));
});

afterAll(async () => {
  try {
    restoreEnvironment?.();
    motoAws?.destroy();
    await proxy?.stop();
  } finally {
    await moto?.stop();
    synthesized?.dispose();
  }
});

beforeEach(async () => {
  if (moto === undefined || synthesized === undefined) throw new Error('beforeAll failed');
  await moto.reset();
  await moto.setAuthentication(false);
  const userArns = await aws().createUsers(CONFIG.users);
  ({ secretArnByUser: secretOf } = await aws().deployStackResources(
    synthesized.template,
    userArns,
  ));
});

const arnOf = (userName: string): string => {
  const arn = secretOf.get(userName);
  if (arn === undefined) throw new Error(`no secret for ${userName}`);
  return arn;
};

/** Runs `step` and returns its error (it must fail) and the IAM calls it made. */
const refusal = async (
  step: (typeof ROTATION_STEPS)[number],
  secretArn: string,
  token: string,
): Promise<{ error: Error; iam: string[] }> => {
  const from = calls().calls.length;
  const outcome: unknown = await invokeStep(handler, step, secretArn, token).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome, `${step} must fail`).toBeInstanceOf(Error);
  return {
    error: outcome as Error,
    iam: calls()
      .callsTo('iam', from)
      .map((call) => call.operation),
  };
};

describe('Bundled rotation function: trust by construction, over the wire', () => {
  it.each([
    ['created by hand with the stack’s tags', undefined, 'absent'],
    ['created by another stack', OTHER_STACK_ID, `"${OTHER_STACK_ID}" (another stack's)`],
  ])(
    'refuses a look-alike secret %s at every step, before any IAM call',
    async (_, stackId, found) => {
      // Arrange: bound to a user of the stack, named like the stack's secrets
      const created = await aws().secrets.send(
        new CreateSecretCommand({
          Name: `iam-key-rotation/${USER}-copy`,
          SecretString: JSON.stringify({ UserName: USER }),
          Tags: [
            { Key: BINDING_TAG_KEY, Value: USER },
            { Key: 'iam-key-rotation:stack', Value: 'IamKeyRotation' },
            ...(stackId === undefined ? [] : cloudFormationTags('Copy', stackId)),
          ],
        }),
      );
      const lookAlike = created.ARN ?? '';
      await aws().iam.send(
        new TagUserCommand({ UserName: USER, Tags: [{ Key: OWNER_TAG_KEY, Value: lookAlike }] }),
      );
      const token = await aws().startRotation(lookAlike);
      const keysBefore = await aws().listKeys(USER);

      for (const step of ROTATION_STEPS) {
        // Act
        const { error, iam } = await refusal(step, lookAlike, token);

        // Assert
        expect(error.name, step).toBe('ForeignSecretError');
        expect(error.message, step).toContain(
          `Secret ${lookAlike} was not created by this function's stack ${STACK_ID}: its tag aws:cloudformation:stack-id is ${found}`,
        );
        expect(iam, step).toEqual([]);
      }
      expect(await aws().listKeys(USER)).toEqual(keysBefore);
      expect(await aws().hasNoValue(lookAlike, token, 'AWSPENDING')).toBe(true);
    },
  );

  it('refuses a stack secret retagged to another user at every step, before any IAM call', async () => {
    const secretArn = arnOf(USER);
    await aws().secrets.send(
      new TagResourceCommand({
        SecretId: secretArn,
        Tags: [{ Key: BINDING_TAG_KEY, Value: OTHER_USER }],
      }),
    );
    const token = await aws().startRotation(secretArn);

    for (const step of ROTATION_STEPS) {
      const { error, iam } = await refusal(step, secretArn, token);

      expect(error.name, step).toBe('SecretBindingError');
      expect(error.message, step).toContain(
        `is named after IAM user ${USER}, but its tag ${BINDING_TAG_KEY} names ${OTHER_USER}`,
      );
      expect(iam, step).toEqual([]);
    }
    expect(await aws().listKeys(OTHER_USER)).toEqual([]);
  });

  it('refuses a user whose ownership tag was pointed at another secret: GetUser only, no IAM write', async () => {
    const secretArn = arnOf(USER);
    await aws().iam.send(
      new TagUserCommand({
        UserName: USER,
        Tags: [{ Key: OWNER_TAG_KEY, Value: arnOf(OTHER_USER) }],
      }),
    );
    const token = await aws().startRotation(secretArn);

    for (const step of ROTATION_STEPS) {
      const { error, iam } = await refusal(step, secretArn, token);

      expect(error.name, step).toBe('UserOwnershipError');
      expect(iam, step).toEqual(['GetUser']);
      expect(
        iam.filter((operation) => IAM_WRITES.has(operation)),
        step,
      ).toEqual([]);
    }
    expect(await aws().listKeys(USER)).toEqual([]);
  });

  it('changes nothing on a forged finishSecret sent before testSecret; the real order then completes', async () => {
    // Arrange: one rotation, then a second one whose key is stored but not tested
    const secretArn = arnOf(USER);
    await rotate(aws(), handler, secretArn);
    const token = await aws().startRotation(secretArn);
    await invokeStep(handler, 'createSecret', secretArn, token);
    await invokeStep(handler, 'setSecret', secretArn, token);
    const versionsBefore = await aws().versions(secretArn);
    const keysBefore = await aws().listKeys(USER);

    // Act
    const { error, iam } = await refusal('finishSecret', secretArn, token);

    // Assert
    expect(error.name).toBe('RotationStateError');
    expect(error.message).toContain(
      `does not carry the staging label ${TESTED_STAGE}: testSecret has not proved its key`,
    );
    expect(iam.filter((operation) => IAM_WRITES.has(operation))).toEqual([]);
    expect(await aws().versions(secretArn)).toEqual(versionsBefore);
    expect(await aws().listKeys(USER)).toEqual(keysBefore);

    // Act: testSecret, then finishSecret
    await invokeStep(handler, 'testSecret', secretArn, token);
    await invokeStep(handler, 'finishSecret', secretArn, token);

    // Assert
    expect((await aws().versionStages(secretArn))[token]?.slice().sort()).toEqual(
      ['AWSCURRENT', TESTED_STAGE].sort(),
    );
  });
});
