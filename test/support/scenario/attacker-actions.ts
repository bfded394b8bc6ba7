import { TagUserCommand } from '@aws-sdk/client-iam';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { BINDING_TAG_KEY, OWNER_TAG_KEY } from '../../../lambda/rotation/binding.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../../../local/simulation/index.js';
import {
  OTHER_SECRET_NAME,
  OTHER_USER_NAME,
  SECRET_NAME,
  USER_NAME,
  errorNameOf,
  type Scenario,
} from './scenario.js';

/**
 * What an attacker with ordinary rights in the account can do to steer the rotation function
 * (issue 14), as the AWS CLI would:
 * - `look-alike-secret`: create a secret that looks like the stack's secret of bob (the stack's
 *   binding tag and tag `iam-key-rotation:stack`, but no CloudFormation tag, which no caller can
 *   set) and rotate it with the stack's function;
 * - `look-alike-from-other-stack`: the same with a secret another stack of the account created
 *   (CloudFormation's tags name that stack);
 * - `hijack-user`: point bob's ownership tag at a look-alike secret (what the confused deputy
 *   allowed), then rotate the look-alike with the stack's function;
 * - `retag-user-to-other-secret`: point alice's ownership tag at bob's secret;
 * - `forge-step`: invoke the function directly (lambda:InvokeFunction) with any step and a token
 *   of alice's secret: its pending, current or previous version, or one that does not exist.
 *
 * The trust check refuses each before any IAM call; the scenario's invariant 7 judges every
 * call the function made against the secrets the deployment bound to each user.
 */
export type AttackerAction =
  | { readonly kind: 'look-alike-secret' }
  | { readonly kind: 'look-alike-from-other-stack' }
  | { readonly kind: 'hijack-user' }
  | { readonly kind: 'retag-user-to-other-secret' }
  | {
      readonly kind: 'forge-step';
      readonly step: 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
      readonly token: 'pending' | 'current' | 'previous' | 'unknown';
    };

/** The look-alike an attacker creates by hand for bob. */
export const LOOK_ALIKE_SECRET_NAME = 'iam-key-rotation-copy/bob';
/** A secret of another stack of the account, bound to bob. */
export const OTHER_STACK_SECRET_NAME = 'other-stack/bob';
/** The stack that created {@link OTHER_STACK_SECRET_NAME}. */
export const OTHER_STACK_NAME = 'SomeoneElsesStack';

export const describeAttack = (attack: AttackerAction): string =>
  attack.kind === 'forge-step'
    ? `attacker: invokes ${attack.step} with the ${attack.token} token`
    : `attacker: ${attack.kind}`;

/** Errors an attacker's own call can get (the secret exists already, and so on). */
const EXPECTED = new Set(['ResourceExistsException', 'NoSuchEntityException']);

const createLookAlike = async (scenario: Scenario): Promise<string> => {
  const existing = scenario.sim.secret(LOOK_ALIKE_SECRET_NAME);
  if (existing !== undefined) return existing.arn;
  const output = await scenario.sm.send(
    new CreateSecretCommand({
      Name: LOOK_ALIKE_SECRET_NAME,
      SecretString: JSON.stringify({ UserName: OTHER_USER_NAME }),
      Tags: [
        { Key: BINDING_TAG_KEY, Value: OTHER_USER_NAME },
        { Key: 'iam-key-rotation:stack', Value: scenario.stack.stackName },
      ],
    }),
  );
  const arn = output.ARN ?? '';
  scenario.secretArns.set(LOOK_ALIKE_SECRET_NAME, arn);
  return arn;
};

const createOtherStackSecret = (scenario: Scenario): void => {
  if (scenario.sim.secret(OTHER_STACK_SECRET_NAME) !== undefined) return;
  const secret = scenario.sim.createStackSecret(scenario.sim.stack(OTHER_STACK_NAME), 'BobSecret', {
    Name: OTHER_STACK_SECRET_NAME,
    SecretString: JSON.stringify({ UserName: OTHER_USER_NAME }),
    Tags: [{ Key: BINDING_TAG_KEY, Value: OTHER_USER_NAME }],
  });
  scenario.secretArns.set(OTHER_STACK_SECRET_NAME, secret.arn);
};

const tokenOf = (
  scenario: Scenario,
  token: 'pending' | 'current' | 'previous',
): string | undefined => {
  const secret = scenario.sim.secret(SECRET_NAME);
  if (secret === undefined) return undefined;
  const stage = token === 'pending' ? AWSPENDING : token === 'current' ? AWSCURRENT : AWSPREVIOUS;
  return scenario.sim.secretsManager.holderOf(secret, stage)?.versionId;
};

/** Plays an attack and nothing more (no waiting): also usable inside a rotation's interleaving. */
export const runAttack = async (scenario: Scenario, attack: AttackerAction): Promise<void> => {
  switch (attack.kind) {
    case 'look-alike-secret':
      await createLookAlike(scenario);
      await scenario.rotateSecret(LOOK_ALIKE_SECRET_NAME);
      return;
    case 'look-alike-from-other-stack':
      createOtherStackSecret(scenario);
      await scenario.rotateSecret(OTHER_STACK_SECRET_NAME);
      return;
    case 'hijack-user': {
      const lookAlike = await createLookAlike(scenario);
      await scenario.iam.send(
        new TagUserCommand({
          UserName: OTHER_USER_NAME,
          Tags: [{ Key: OWNER_TAG_KEY, Value: lookAlike }],
        }),
      );
      await scenario.rotateSecret(LOOK_ALIKE_SECRET_NAME);
      return;
    }
    case 'retag-user-to-other-secret':
      if (scenario.sim.user(USER_NAME) === undefined) return;
      await scenario.tagOwner(USER_NAME, scenario.secretArns.get(OTHER_SECRET_NAME) ?? '');
      return;
    case 'forge-step': {
      const token =
        attack.token === 'unknown'
          ? '00000000-0000-4000-8000-00000000f0f9'
          : tokenOf(scenario, attack.token);
      if (token === undefined) return;
      await scenario.sim.invokeFunction(scenario.functionArn, {
        Step: attack.step,
        SecretId: scenario.secretArn,
        ClientRequestToken: token,
      });
      return;
    }
  }
};

/**
 * Plays an attack and waits for everything it started. Attacks that change a user's ownership
 * tag count as changes by hand (the rotation cannot repair them; the recovery restores them).
 */
export const applyAttackerAction = async (
  scenario: Scenario,
  attack: AttackerAction,
): Promise<void> => {
  if (attack.kind === 'retag-user-to-other-secret') {
    scenario.outOfBandChanges.push({
      action: 'remove-owner-tag',
      rotationsBefore: scenario.rotations.length,
    });
  }
  try {
    await runAttack(scenario, attack);
  } catch (error) {
    if (!EXPECTED.has(errorNameOf(error))) throw error;
  }
  await scenario.settle();
};

/** The recovery of the attacks: bob's ownership tag names his own secret again. */
export const repairAttacks = async (scenario: Scenario): Promise<void> => {
  const bobSecret = scenario.secretArns.get(OTHER_SECRET_NAME) ?? '';
  const owner = scenario.sim
    .user(OTHER_USER_NAME)
    ?.tags.find((tag) => tag.Key === OWNER_TAG_KEY)?.Value;
  if (owner === bobSecret) return;
  await scenario.tagOwner(OTHER_USER_NAME, bobSecret);
};
