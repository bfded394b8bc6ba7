import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  runSimulation,
  runUnsafeSimulation,
  type EvaluationResult,
  type Simulation,
  type SimulationIdentityPolicy,
} from '@cloud-copilot/iam-simulate';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { OWNER_TAG_KEY } from '../../lambda/rotation/binding.js';
import { DEFAULT_STACK_NAME, parseIamKeyRotationConfig, usersByStack } from '../../lib/config.js';
import { IamKeyRotationStack } from '../../lib/iam-key-rotation-stack.js';
import { STACK_TAG_KEY } from '../../lib/rotation-permissions.js';

/*
 * Evaluates the rotation function role's synthesized policy with an IAM policy simulator
 * (@cloud-copilot/iam-simulate), which, unlike moto, evaluates the conditions on
 * `iam:ResourceTag` and `secretsmanager:ResourceTag`.
 */

const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const REGION = 'eu-west-1';
const OTHER_REGION = 'us-east-1';
const PARTITION = 'aws';

const EXAMPLE_CONFIG_FILE = fileURLToPath(new URL('../../examples/users.json', import.meta.url));

const secretArn = (name: string, region = REGION, account = ACCOUNT): string =>
  `arn:${PARTITION}:secretsmanager:${region}:${account}:secret:${name}`;
const userArn = (pathAndName: string, account = ACCOUNT): string =>
  `arn:${PARTITION}:iam::${account}:user/${pathAndName}`;

/** The secret that owns user `alice` (Secrets Manager appends 6 random characters to a name). */
const ALICE_SECRET = secretArn('iam-key-rotation/alice-AbCdEf');
const ALICE = userArn('alice');

type TemplateJson = {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
};

/** What `Ref` of a pseudo parameter resolves to in the simulated account and region. */
const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::AccountId': ACCOUNT,
  'AWS::Region': REGION,
  'AWS::Partition': PARTITION,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': DEFAULT_STACK_NAME,
};

/** The ARN a resource of the template would get (`Fn::GetAtt [id, Arn]`), named after its logical id. */
function arnOfResource(template: TemplateJson, logicalId: string): string {
  const type = template.Resources[logicalId]?.Type;
  switch (type) {
    case 'AWS::Logs::LogGroup':
      return `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${logicalId}:*`;
    case 'AWS::IAM::Role':
      return `arn:${PARTITION}:iam::${ACCOUNT}:role/${logicalId}`;
    case 'AWS::Lambda::Function':
      return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${logicalId}`;
    default:
      throw new Error(`no ARN known for ${logicalId} (${String(type)})`);
  }
}

/**
 * `value` with the intrinsic functions a policy document holds resolved: `Fn::Join`, `Ref` of a
 * pseudo parameter (literal values above) or of a resource (its logical id, the name CloudFormation
 * would generate), `Fn::GetAtt [id, Arn]`. Any other intrinsic fails the test.
 */
function resolve(template: TemplateJson, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => resolve(template, item));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first !== undefined && /^(Ref|Fn::)/.test(first[0])) {
    const [intrinsic, argument] = first;
    if (intrinsic === 'Ref' && typeof argument === 'string') {
      const pseudo = PSEUDO_PARAMETERS[argument];
      if (pseudo !== undefined) return pseudo;
      if (argument in template.Resources) return argument;
    }
    if (intrinsic === 'Fn::GetAtt' && Array.isArray(argument) && argument[1] === 'Arn') {
      return arnOfResource(template, String(argument[0]));
    }
    if (intrinsic === 'Fn::Join' && Array.isArray(argument)) {
      const [separator, parts] = argument as [string, unknown[]];
      return parts.map((part) => resolve(template, part) as string).join(separator);
    }
    throw new Error(`cannot resolve ${JSON.stringify(value)}`);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolve(template, item)]));
}

interface RotationRole {
  /** The session the function runs as. */
  principal: string;
  /** Every policy of the role, intrinsics resolved. */
  policies: SimulationIdentityPolicy[];
}

/**
 * The rotation function's role in the stack synthesized from examples/users.json as bin/app.ts
 * does (without bundling and without an environment: pseudo parameters stay `Ref`s and are
 * resolved here), with every policy attached to it: the inline default policy and any overflow
 * managed policy. A role with managed policy ARNs or inline `Policies` fails the test, as their
 * statements would be missing from the simulation.
 */
function synthesizeRotationRole(): RotationRole {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const config = parseIamKeyRotationConfig(
    JSON.parse(readFileSync(EXAMPLE_CONFIG_FILE, 'utf8')) as unknown,
  );
  const stacks = [...usersByStack(config)].map(
    ([stackName, users]) =>
      new IamKeyRotationStack(app, stackName, {
        users,
        rotationFunction: { staleKeyDays: config.staleKeyDays, gracePeriod: config.gracePeriod },
        notifications: config.notifications,
        complianceRules: config.complianceRules,
      }),
  );
  const [stack, ...others] = stacks;
  if (stack === undefined || others.length > 0) throw new Error('expected one stack');
  expect(stack.stackName).toBe(DEFAULT_STACK_NAME);

  const template = Template.fromStack(stack).toJSON() as TemplateJson;
  const roleIds = Object.entries(template.Resources)
    .filter(
      ([id, r]) =>
        r.Type === 'AWS::IAM::Role' && /^RotationFunctionServiceRole[0-9A-F]{8}$/.test(id),
    )
    .map(([id]) => id);
  const [roleId, ...otherRoles] = roleIds;
  if (roleId === undefined || otherRoles.length > 0) throw new Error('expected one rotation role');
  const role = template.Resources[roleId];
  expect(role?.Properties?.ManagedPolicyArns).toBeUndefined();
  expect(role?.Properties?.Policies).toBeUndefined();

  const policies = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
    .filter(([, r]) => JSON.stringify(r.Properties?.Roles ?? []).includes(`"${roleId}"`))
    .map(([id, r]) => ({ name: id, policy: resolve(template, r.Properties?.PolicyDocument) }));
  if (policies.length === 0) throw new Error('no policy attached to the rotation role');
  return {
    principal: `arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/${roleId}/${DEFAULT_STACK_NAME}-RotationFunction`,
    policies,
  };
}

/** The same policies with every `Condition` removed: what the statements grant by action and resource. */
function withoutConditions(policies: SimulationIdentityPolicy[]): SimulationIdentityPolicy[] {
  return policies.map(({ name, policy }) => {
    const document = policy as { Statement: Record<string, unknown>[] };
    return {
      name,
      policy: {
        ...document,
        Statement: document.Statement.map((statement) =>
          Object.fromEntries(Object.entries(statement).filter(([key]) => key !== 'Condition')),
        ),
      },
    };
  });
}

interface Request {
  action: string;
  resource: string;
  /** The tags of the resource, passed as `aws:ResourceTag/…` and `<service>:ResourceTag/…`. */
  tags?: Readonly<Record<string, string>>;
}

/**
 * Context keys the simulator cannot take in a validated request: its action data names
 * `secretsmanager:ResourceTag/tag-key` literally instead of `secretsmanager:ResourceTag/${TagKey}`,
 * so `runSimulation` throws "Condition key secretsmanager:resourcetag/… not found".
 */
const UNVALIDATED_CONTEXT_KEY = /^secretsmanager:ResourceTag\//i;

/**
 * The simulator's decision on `request` by the role's identity policies (same account, no SCP,
 * RCP, boundary or resource policy).
 *
 * The request is first run through the validating `runSimulation` (action, resource type, policy
 * syntax, context keys for the action: a key the simulator drops as not applicable fails the
 * test). When it carries a `secretsmanager:ResourceTag` key, which `runSimulation` rejects (see
 * {@link UNVALIDATED_CONTEXT_KEY}), the decision is that of `runUnsafeSimulation` with the full
 * context, after the validated run without that key.
 */
async function decide(
  role: RotationRole,
  request: Request,
  policies = role.policies,
): Promise<EvaluationResult> {
  const service = request.action.split(':')[0] ?? '';
  const context: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.tags ?? {})) {
    context[`aws:ResourceTag/${key}`] = value;
    context[`${service}:ResourceTag/${key}`] = value;
  }
  const simulation = (contextVariables: Record<string, string>): Simulation => ({
    request: {
      principal: role.principal,
      action: request.action,
      // The account of the resource: its ARN's, or ours for `*`.
      resource: {
        resource: request.resource,
        accountId: request.resource.split(':')[4] || ACCOUNT,
      },
      contextVariables,
    },
    identityPolicies: policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  });

  const validatedContext = Object.fromEntries(
    Object.entries(context).filter(([key]) => !UNVALIDATED_CONTEXT_KEY.test(key)),
  );
  const validated = await runSimulation(simulation(validatedContext), {});
  if (validated.resultType === 'error') {
    throw new Error(`simulation rejected: ${JSON.stringify(validated.errors)}`);
  }
  const ignored =
    validated.resultType === 'single'
      ? (validated.result.ignoredContextKeys ?? [])
      : validated.results.flatMap((result) => result.ignoredContextKeys ?? []);
  expect(ignored, 'context keys the simulator ignored').toEqual([]);
  if (Object.keys(validatedContext).length === Object.keys(context).length) {
    return validated.overallResult;
  }
  return runUnsafeSimulation(simulation(context), {});
}

const OWNED_USER_ACTIONS = [
  'iam:CreateAccessKey',
  'iam:ListAccessKeys',
  'iam:UpdateAccessKey',
  'iam:DeleteAccessKey',
  'iam:GetUser',
] as const;

const SECRET_ACTIONS = [
  'secretsmanager:PutSecretValue',
  'secretsmanager:GetSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:DescribeSecret',
  'secretsmanager:ListSecretVersionIds',
] as const;

const OWNED_BY_ALICE_SECRET = { [OWNER_TAG_KEY]: ALICE_SECRET };
const OF_THIS_STACK = { [STACK_TAG_KEY]: DEFAULT_STACK_NAME };

interface Case extends Request {
  name: string;
}

const userCases = (name: string, resource: string, tags?: Record<string, string>): Case[] =>
  OWNED_USER_ACTIONS.map((action) => ({
    name: `${action} on ${name}`,
    action,
    resource,
    ...(tags ? { tags } : {}),
  }));

const secretCases = (name: string, resource: string, tags?: Record<string, string>): Case[] =>
  SECRET_ACTIONS.map((action) => ({
    name: `${action} on ${name}`,
    action,
    resource,
    ...(tags ? { tags } : {}),
  }));

const ALLOWED: Case[] = [
  ...userCases('user/alice owned by iam-key-rotation/alice', ALICE, OWNED_BY_ALICE_SECRET),
  ...userCases('user/ci/ci-deployer (with a path) owned by its secret', userArn('ci/ci-deployer'), {
    [OWNER_TAG_KEY]: secretArn('iam-key-rotation/ci-deployer-GhIjKl'),
  }),
  ...secretCases('iam-key-rotation/alice tagged with this stack', ALICE_SECRET, OF_THIS_STACK),
];

/** Denied only by a condition: the same request is allowed once the conditions are removed. */
const DENIED_BY_CONDITION: Case[] = [
  ...userCases('a user without the ownership tag', ALICE),
  ...userCases('a user whose tag names a secret in us-east-1', ALICE, {
    [OWNER_TAG_KEY]: secretArn('iam-key-rotation/alice-AbCdEf', OTHER_REGION),
  }),
  ...userCases('a user whose tag names a secret of another account', ALICE, {
    [OWNER_TAG_KEY]: secretArn('iam-key-rotation/alice-AbCdEf', REGION, OTHER_ACCOUNT),
  }),
  ...userCases('a user whose tag names a secret prod/db', ALICE, {
    [OWNER_TAG_KEY]: secretArn('prod/db-AbCdEf'),
  }),
  ...userCases('a user whose tag names a secret team/iam-key-rotation/alice', ALICE, {
    [OWNER_TAG_KEY]: secretArn('team/iam-key-rotation/alice-AbCdEf'),
  }),
  ...userCases('a user whose tag names a secret not by ARN', ALICE, {
    [OWNER_TAG_KEY]: 'iam-key-rotation/alice',
  }),
  ...userCases('a user whose other tag names the secret', ALICE, { owner: ALICE_SECRET }),
  ...secretCases('iam-key-rotation/alice tagged with another stack', ALICE_SECRET, {
    [STACK_TAG_KEY]: 'IamKeyRotation-2',
  }),
  ...secretCases('an untagged iam-key-rotation/alice', ALICE_SECRET),
];

/**
 * Denied by action or resource: no statement grants the request, conditions or not.
 *
 * Not simulated: `iam:CreateAccessKey` without a user name (on the caller itself). The simulator
 * needs a resource of the action's type: the role session's ARN is refused ("no.resource.types"),
 * and `*` asks whether the action is allowed on some user (it is, with the ownership tag in the
 * context), which the cases on `user/alice` already cover.
 */
const NOT_GRANTED: Case[] = [
  ...secretCases('prod/db tagged with this stack', secretArn('prod/db-AbCdEf'), OF_THIS_STACK),
  ...secretCases(
    'iam-key-rotation/alice of us-east-1 tagged with this stack',
    secretArn('iam-key-rotation/alice-AbCdEf', OTHER_REGION),
    OF_THIS_STACK,
  ),
  ...userCases(
    'user/alice of another account owned by iam-key-rotation/alice',
    userArn('alice', OTHER_ACCOUNT),
    OWNED_BY_ALICE_SECRET,
  ),
  { name: 'iam:TagUser on user/alice', action: 'iam:TagUser', resource: ALICE },
  { name: 'iam:UntagUser on user/alice', action: 'iam:UntagUser', resource: ALICE },
  {
    name: 'iam:TagUser on user/alice owned by iam-key-rotation/alice',
    action: 'iam:TagUser',
    resource: ALICE,
    tags: OWNED_BY_ALICE_SECRET,
  },
  {
    name: 'iam:UntagUser on user/alice owned by iam-key-rotation/alice',
    action: 'iam:UntagUser',
    resource: ALICE,
    tags: OWNED_BY_ALICE_SECRET,
  },
  {
    name: 'iam:CreateUser of user/mallory',
    action: 'iam:CreateUser',
    resource: userArn('mallory'),
  },
  {
    name: 'secretsmanager:CreateSecret of iam-key-rotation/mallory',
    action: 'secretsmanager:CreateSecret',
    resource: secretArn('iam-key-rotation/mallory-AbCdEf'),
  },
  {
    name: 'secretsmanager:TagResource on iam-key-rotation/alice tagged with this stack',
    action: 'secretsmanager:TagResource',
    resource: ALICE_SECRET,
    tags: OF_THIS_STACK,
  },
  {
    name: 'secretsmanager:TagResource on iam-key-rotation/alice tagged with another stack',
    action: 'secretsmanager:TagResource',
    resource: ALICE_SECRET,
    tags: { [STACK_TAG_KEY]: 'IamKeyRotation-2' },
  },
];

/** `[name, case]` rows: vitest shortens an object's `$name` in titles, not a `%s` string. */
const named = (cases: Case[]): [string, Case][] => cases.map((c) => [c.name, c]);

describe('Policy simulation: the rotation function role', () => {
  let role: RotationRole;
  beforeAll(() => {
    role = synthesizeRotationRole();
  });

  it('holds the tag-scoped statements the simulation is about', () => {
    // Assert
    const statements = role.policies.flatMap(
      ({ policy }) => (policy as { Statement: { Condition?: unknown }[] }).Statement,
    );
    expect(JSON.stringify(statements)).toContain(`iam:ResourceTag/${OWNER_TAG_KEY}`);
    expect(JSON.stringify(statements)).toContain(`secretsmanager:ResourceTag/${STACK_TAG_KEY}`);
    expect(JSON.stringify(statements)).not.toContain('Fn::');
  });

  it.each(named(ALLOWED))('allows %s', async (_name, request) => {
    // Act
    const decision = await decide(role, request);

    // Assert
    expect(decision).toBe('Allowed');
  });

  it.each(named(DENIED_BY_CONDITION))('denies %s (by its condition)', async (_name, request) => {
    // Act
    const decision = await decide(role, request);
    const withoutCondition = await decide(role, request, withoutConditions(role.policies));

    // Assert
    expect(decision).toBe('ImplicitlyDenied');
    // The request itself is well-formed and matches a statement: only the condition denies it.
    expect(withoutCondition).toBe('Allowed');
  });

  it.each(named(NOT_GRANTED))('denies %s (not granted)', async (_name, request) => {
    // Act
    const decision = await decide(role, request);
    const withoutCondition = await decide(role, request, withoutConditions(role.policies));

    // Assert
    expect(decision).toBe('ImplicitlyDenied');
    expect(withoutCondition).toBe('ImplicitlyDenied');
  });

  it('allows nothing with an empty policy (the harness does not allow by default)', async () => {
    // Act
    const decision = await decide(
      role,
      {
        action: 'iam:CreateAccessKey',
        resource: ALICE,
        tags: OWNED_BY_ALICE_SECRET,
      },
      [],
    );

    // Assert
    expect(decision).toBe('ImplicitlyDenied');
  });
});
