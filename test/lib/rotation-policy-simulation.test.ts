import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  runSimulation,
  type EvaluationResult,
  type Simulation,
  type SimulationIdentityPolicy,
} from '@cloud-copilot/iam-simulate';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BINDING_TAG_KEY,
  CLOUDFORMATION_STACK_ID_TAG_KEY,
  CURRENT_KEY_TAG_KEY,
  OWNER_TAG_KEY,
} from '../../lambda/rotation/binding.js';
import { DEFAULT_STACK_NAME, parseIamKeyRotationConfig, usersByStack } from '../../lib/config.js';
import { IamKeyRotationStack } from '../../lib/iam-key-rotation-stack.js';
import { STACK_TAG_KEY } from '../../lib/rotation-permissions.js';

/*
 * Evaluates the synthesized policies of the stack (every role, the rotation function's resource
 * policy) and the shipped guardrail SCP with an IAM policy simulator (@cloud-copilot/iam-simulate),
 * which, unlike moto, evaluates conditions. Each attack of issue 14 must be denied, next to a
 * control that must be allowed.
 */

const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const REGION = 'eu-west-1';
const OTHER_REGION = 'us-east-1';
const PARTITION = 'aws';
const STACK_ID = `arn:${PARTITION}:cloudformation:${REGION}:${ACCOUNT}:stack/${DEFAULT_STACK_NAME}/11111111-2222-3333-4444-555555555555`;
const OTHER_STACK_ID = `arn:${PARTITION}:cloudformation:${REGION}:${ACCOUNT}:stack/Attacker/99999999-2222-3333-4444-555555555555`;
/** The suffix Secrets Manager appends to every secret name in our simulated account. */
const SUFFIX = 'AbCdEf';

const EXAMPLE_CONFIG_FILE = fileURLToPath(new URL('../../examples/users.json', import.meta.url));
const SCP_FILE = fileURLToPath(
  new URL('../../examples/guardrails/iam-key-rotation-tags.scp.json', import.meta.url),
);

const secretArn = (name: string, region = REGION, account = ACCOUNT): string =>
  `arn:${PARTITION}:secretsmanager:${region}:${account}:secret:${name}`;
const userArn = (pathAndName: string, account = ACCOUNT): string =>
  `arn:${PARTITION}:iam::${account}:user/${pathAndName}`;

/** ci-deployer (path /ci/), an existing user of the example, and the secret the stack made for it. */
const CI_DEPLOYER = userArn('ci/ci-deployer');
const CI_SECRET = secretArn(`iam-key-rotation/ci-deployer-${SUFFIX}`);
/** The user the example stack creates, and its secret. */
const DEMO = userArn('iam-key-rotation-demo');
const DEMO_SECRET = secretArn(`iam-key-rotation/iam-key-rotation-demo-${SUFFIX}`);
/** A secret an attacker created with the stack's own tags: it has no CloudFormation tags. */
const LOOK_ALIKE = secretArn('iam-key-rotation/mallory-ZyXwVu');
/** A user the stack does not rotate. */
const ADMIN = userArn('admin');

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
  'AWS::StackId': STACK_ID,
};

/** The name CloudFormation gives a role: the stack name, the logical id and a random suffix. */
const roleName = (logicalId: string): string => `${DEFAULT_STACK_NAME}-${logicalId}-QwErTy12`;

/** The ARN a resource of the template would get (`Fn::GetAtt [id, Arn]`). */
function arnOfResource(template: TemplateJson, logicalId: string): string {
  const type = template.Resources[logicalId]?.Type;
  switch (type) {
    case 'AWS::Logs::LogGroup':
      return `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${logicalId}:*`;
    case 'AWS::IAM::Role':
      return `arn:${PARTITION}:iam::${ACCOUNT}:role/${roleName(logicalId)}`;
    case 'AWS::Lambda::Function':
      return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${logicalId}`;
    case 'AWS::Scheduler::ScheduleGroup':
      return `arn:${PARTITION}:scheduler:${REGION}:${ACCOUNT}:schedule-group/${logicalId}`;
    default:
      throw new Error(`no ARN known for ${logicalId} (${String(type)})`);
  }
}

/**
 * `value` with the intrinsic functions a policy document holds resolved: `Fn::Join`, `Ref` of a
 * pseudo parameter (literal values above), of a secret (its ARN: the template's Name and a
 * suffix) or of another resource (its logical id, the name CloudFormation would generate),
 * `Fn::GetAtt [id, Arn]`. Any other intrinsic fails the test.
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
      const resource = template.Resources[argument];
      if (resource?.Type === 'AWS::SecretsManager::Secret') {
        return secretArn(`${String(resource.Properties?.Name)}-${SUFFIX}`);
      }
      if (resource !== undefined) return argument;
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

interface Role {
  readonly logicalId: string;
  /** The ARN of the session a function (or service) runs as. */
  readonly principal: string;
  /** `aws:userid` of that session. */
  readonly userId: string;
  /** Every policy of the role, intrinsics resolved. */
  readonly policies: SimulationIdentityPolicy[];
}

interface Deployment {
  readonly template: TemplateJson;
  /** Every role of the template, by logical id. */
  readonly roles: ReadonlyMap<string, Role>;
  readonly rotationRole: Role;
  readonly taggerRole: Role;
  /** The role of the first-rotation wait's functions. */
  readonly waitRole: Role;
  /** The rotation function's log group. */
  readonly rotationLogGroupArn: string;
  /** The rotation function's resource policy, as Lambda renders the template's permission. */
  readonly invokePolicy: unknown;
  readonly rotationFunctionArn: string;
}

/** The logical id of the one resource of `type` whose id matches `pattern`. */
function onlyLogicalId(template: TemplateJson, type: string, pattern: RegExp): string {
  const ids = Object.entries(template.Resources)
    .filter(([id, r]) => r.Type === type && pattern.test(id))
    .map(([id]) => id);
  const [id, ...others] = ids;
  if (id === undefined || others.length > 0) {
    throw new Error(`expected one ${type} ${String(pattern)}, got [${ids.join(', ')}]`);
  }
  return id;
}

/**
 * The stack synthesized from examples/users.json as bin/app.ts does (without bundling and without
 * an environment: pseudo parameters stay `Ref`s and are resolved here): every role with every
 * policy attached to it (inline and managed; a role with AWS managed policies or inline `Policies`
 * fails the test, as their statements would be missing), and the invoke permission.
 */
function synthesize(): Deployment {
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

  // Which function runs as which role: its session name is the function's name.
  const functionOfRole = new Map<string, string>();
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const role = (r.Properties?.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    functionOfRole.set(role, id);
  }
  const roles = new Map<string, Role>();
  for (const [roleId, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::IAM::Role') continue;
    expect(r.Properties?.ManagedPolicyArns, roleId).toBeUndefined();
    expect(r.Properties?.Policies, roleId).toBeUndefined();
    const policies = Object.entries(template.Resources)
      .filter(([, p]) => p.Type === 'AWS::IAM::Policy' || p.Type === 'AWS::IAM::ManagedPolicy')
      .filter(([, p]) => JSON.stringify(p.Properties?.Roles ?? []).includes(`"${roleId}"`))
      .map(([id, p]) => ({ name: id, policy: resolve(template, p.Properties?.PolicyDocument) }));
    const session = functionOfRole.get(roleId) ?? 'scheduler-session';
    roles.set(roleId, {
      logicalId: roleId,
      principal: `arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/${roleName(roleId)}/${session}`,
      userId: `AROAEXAMPLEROLEID0000:${session}`,
      policies,
    });
  }
  const role = (pattern: RegExp): Role => {
    const found = roles.get(onlyLogicalId(template, 'AWS::IAM::Role', pattern));
    if (found === undefined) throw new Error(`no role ${String(pattern)}`);
    return found;
  };

  const permissionId = onlyLogicalId(template, 'AWS::Lambda::Permission', /^RotationFunction/);
  const permission = resolve(template, template.Resources[permissionId]?.Properties) as {
    Action: string;
    FunctionName: string;
    Principal: string;
    SourceAccount?: string;
    SourceArn?: string;
  };
  // Lambda turns AddPermission into this statement (SourceArn as ArnLike).
  const invokePolicy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: permission.Principal },
        Action: permission.Action,
        Resource: permission.FunctionName,
        Condition: {
          ...(permission.SourceAccount === undefined
            ? {}
            : { StringEquals: { 'AWS:SourceAccount': permission.SourceAccount } }),
          ...(permission.SourceArn === undefined
            ? {}
            : { ArnLike: { 'AWS:SourceArn': permission.SourceArn } }),
        },
      },
    ],
  };
  return {
    template,
    roles,
    rotationRole: role(/^RotationFunctionServiceRole[0-9A-F]{8}$/),
    taggerRole: role(/^UserOwnershipTaggerServiceRole[0-9A-F]{8}$/),
    waitRole: role(/^FirstRotationWaitServiceRole[0-9A-F]{8}$/),
    rotationLogGroupArn: arnOfResource(
      template,
      onlyLogicalId(template, 'AWS::Logs::LogGroup', /^RotationFunctionLogGroup/),
    ),
    invokePolicy,
    rotationFunctionArn: permission.FunctionName,
  };
}

/**
 * The same policies with what conditions decide removed: Allow statements without their
 * conditions, Deny statements with a condition dropped. What remains grants by action and
 * resource only.
 */
function withoutConditions(policies: SimulationIdentityPolicy[]): SimulationIdentityPolicy[] {
  return policies.map(({ name, policy }) => {
    const document = policy as { Statement: Record<string, unknown>[] };
    return {
      name,
      policy: {
        ...document,
        Statement: document.Statement.filter(
          (statement) => statement.Effect !== 'Deny' || statement.Condition === undefined,
        ).map((statement) =>
          Object.fromEntries(Object.entries(statement).filter(([key]) => key !== 'Condition')),
        ),
      },
    };
  });
}

interface Request {
  readonly action: string;
  readonly resource: string;
  /** The tags of the resource, passed as `aws:ResourceTag/…` and `<service>:ResourceTag/…`. */
  readonly tags?: Readonly<Record<string, string>>;
  /** The tags the request sets (`aws:RequestTag/…`; their keys are `aws:TagKeys`). */
  readonly requestTags?: Readonly<Record<string, string>>;
  /** The tag keys the request removes (`aws:TagKeys`). */
  readonly removedTagKeys?: readonly string[];
  /** More context keys (`aws:SourceArn`, ...). */
  readonly context?: Readonly<Record<string, string>>;
}

interface Caller {
  readonly principal: string;
  readonly userId?: string;
  readonly policies: SimulationIdentityPolicy[];
  readonly resourcePolicy?: unknown;
  readonly scp?: unknown;
}

/** AWS's default SCP, which the guardrail SCP is attached beside. */
const FULL_AWS_ACCESS = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
};

/**
 * The simulator's decision on `request` by `caller` (same account; an SCP and a resource policy
 * when given), by the validating `runSimulation` (action, resource type, policy syntax, context
 * keys: a key the simulator drops as not applicable fails the test).
 */
async function decide(caller: Caller, request: Request): Promise<EvaluationResult> {
  const service = request.action.split(':')[0] ?? '';
  const context: Record<string, string | string[]> = { ...request.context };
  if (caller.userId !== undefined) context['aws:userid'] = caller.userId;
  // The role of an assumed-role session, as IAM sets aws:PrincipalArn.
  const session = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(caller.principal);
  if (session !== null) {
    context['aws:PrincipalArn'] =
      `arn:${session[1] ?? ''}:iam::${session[2] ?? ''}:role/${session[3] ?? ''}`;
  }
  for (const [key, value] of Object.entries(request.tags ?? {})) {
    context[`aws:ResourceTag/${key}`] = value;
    // The simulator's action data names `secretsmanager:ResourceTag/tag-key` literally and rejects
    // that key; the stack's policies use aws:ResourceTag on secrets.
    if (service !== 'secretsmanager') context[`${service}:ResourceTag/${key}`] = value;
  }
  for (const [key, value] of Object.entries(request.requestTags ?? {})) {
    context[`aws:RequestTag/${key}`] = value;
  }
  const tagKeys = [...Object.keys(request.requestTags ?? {}), ...(request.removedTagKeys ?? [])];
  if (tagKeys.length > 0) context['aws:TagKeys'] = tagKeys;
  const simulation = (contextVariables: Record<string, string | string[]>): Simulation => ({
    request: {
      principal: caller.principal,
      action: request.action,
      resource: {
        resource: request.resource,
        accountId: request.resource.split(':')[4] || ACCOUNT,
      },
      contextVariables,
    },
    identityPolicies: caller.policies,
    serviceControlPolicies:
      caller.scp === undefined
        ? []
        : [
            {
              orgIdentifier: 'r-root',
              policies: [
                { name: 'FullAWSAccess', policy: FULL_AWS_ACCESS },
                { name: 'iam-key-rotation-tags', policy: caller.scp },
              ],
            },
          ],
    resourceControlPolicies: [],
    ...(caller.resourcePolicy === undefined ? {} : { resourcePolicy: caller.resourcePolicy }),
  });

  const result = await runSimulation(simulation(context), {});
  if (result.resultType === 'error') {
    throw new Error(`simulation rejected: ${JSON.stringify(result.errors)}`);
  }
  const ignored =
    result.resultType === 'single'
      ? (result.result.ignoredContextKeys ?? [])
      : result.results.flatMap((each) => each.ignoredContextKeys ?? []);
  expect(ignored, 'context keys the simulator ignored').toEqual([]);
  return result.overallResult;
}

const ROTATION_USER_ACTIONS = [
  'iam:CreateAccessKey',
  'iam:ListAccessKeys',
  'iam:UpdateAccessKey',
  'iam:DeleteAccessKey',
  'iam:GetUser',
  'iam:GetAccessKeyLastUsed',
] as const;
const KEY_WRITES = ['iam:CreateAccessKey', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey'] as const;

const SECRET_ACTIONS = [
  'secretsmanager:PutSecretValue',
  'secretsmanager:GetSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:DescribeSecret',
  'secretsmanager:ListSecretVersionIds',
] as const;

/** The tags CloudFormation and the stack put on the stack's secret of `user`. */
const stackSecretTags = (user: string, stackId = STACK_ID): Record<string, string> => ({
  [CLOUDFORMATION_STACK_ID_TAG_KEY]: stackId,
  'aws:cloudformation:stack-name': DEFAULT_STACK_NAME,
  [STACK_TAG_KEY]: DEFAULT_STACK_NAME,
  [BINDING_TAG_KEY]: user,
});
/** A look-alike: the stack's own tags, set by whoever created it, and no CloudFormation tags. */
const LOOK_ALIKE_TAGS = {
  [STACK_TAG_KEY]: DEFAULT_STACK_NAME,
  [BINDING_TAG_KEY]: 'ci-deployer',
};
const OWNED_BY_CI_SECRET = { [OWNER_TAG_KEY]: CI_SECRET };

interface Case extends Request {
  readonly name: string;
}

const cases = (
  actions: readonly string[],
  name: string,
  request: Omit<Request, 'action'>,
): Case[] => actions.map((action) => ({ name: `${action} on ${name}`, action, ...request }));

const ROTATION_ALLOWED: Case[] = [
  ...cases(ROTATION_USER_ACTIONS, 'user/ci/ci-deployer owned by its secret', {
    resource: CI_DEPLOYER,
    tags: OWNED_BY_CI_SECRET,
  }),
  ...cases(ROTATION_USER_ACTIONS, 'the created user owned by its secret', {
    resource: DEMO,
    tags: { [OWNER_TAG_KEY]: DEMO_SECRET },
  }),
  ...cases(SECRET_ACTIONS, "the stack's secret of ci-deployer", {
    resource: CI_SECRET,
    tags: stackSecretTags('ci-deployer'),
  }),
  {
    name: `secretsmanager:TagResource of ${CURRENT_KEY_TAG_KEY} on the stack's secret`,
    action: 'secretsmanager:TagResource',
    resource: CI_SECRET,
    tags: stackSecretTags('ci-deployer'),
    requestTags: { [CURRENT_KEY_TAG_KEY]: 'v1:AKIAEXAMPLE' },
  },
];

/** Denied only by a condition: allowed once the conditions (and conditioned Denies) are gone. */
const ROTATION_DENIED_BY_CONDITION: Case[] = [
  ...cases(SECRET_ACTIONS, 'a look-alike secret (stack tags, no CloudFormation tags)', {
    resource: LOOK_ALIKE,
    tags: LOOK_ALIKE_TAGS,
  }),
  ...cases(SECRET_ACTIONS, 'a secret of another stack with the stack tags', {
    resource: LOOK_ALIKE,
    tags: { ...LOOK_ALIKE_TAGS, [CLOUDFORMATION_STACK_ID_TAG_KEY]: OTHER_STACK_ID },
  }),
  {
    name: "secretsmanager:TagResource of another tag key on the stack's secret",
    action: 'secretsmanager:TagResource',
    resource: CI_SECRET,
    tags: stackSecretTags('ci-deployer'),
    requestTags: { [BINDING_TAG_KEY]: 'admin' },
  },
  ...cases(KEY_WRITES, 'user/ci/ci-deployer without the ownership tag', {
    resource: CI_DEPLOYER,
  }),
  ...cases(KEY_WRITES, 'user/ci/ci-deployer whose tag names a secret in us-east-1', {
    resource: CI_DEPLOYER,
    tags: { [OWNER_TAG_KEY]: secretArn(`iam-key-rotation/ci-deployer-${SUFFIX}`, OTHER_REGION) },
  }),
  ...cases(KEY_WRITES, 'user/ci/ci-deployer whose tag names a secret of another account', {
    resource: CI_DEPLOYER,
    tags: {
      [OWNER_TAG_KEY]: secretArn(`iam-key-rotation/ci-deployer-${SUFFIX}`, REGION, OTHER_ACCOUNT),
    },
  }),
  ...cases(KEY_WRITES, 'user/ci/ci-deployer whose tag names a secret prod/db', {
    resource: CI_DEPLOYER,
    tags: { [OWNER_TAG_KEY]: secretArn(`prod/db-${SUFFIX}`) },
  }),
];

/** Not granted at all: denied with and without conditions. */
const ROTATION_NOT_GRANTED: Case[] = [
  ...cases(ROTATION_USER_ACTIONS, "user/admin retagged with the stack's secret", {
    resource: ADMIN,
    tags: OWNED_BY_CI_SECRET,
  }),
  ...cases(ROTATION_USER_ACTIONS, 'user/ci-deployer of another account', {
    resource: userArn('ci/ci-deployer', OTHER_ACCOUNT),
    tags: OWNED_BY_CI_SECRET,
  }),
  ...cases(SECRET_ACTIONS, 'prod/db tagged with this stack', {
    resource: secretArn(`prod/db-${SUFFIX}`),
    tags: stackSecretTags('ci-deployer'),
  }),
  ...cases(SECRET_ACTIONS, 'iam-key-rotation/ci-deployer of us-east-1', {
    resource: secretArn(`iam-key-rotation/ci-deployer-${SUFFIX}`, OTHER_REGION),
    tags: stackSecretTags('ci-deployer'),
  }),
  ...cases(['iam:TagUser'], 'user/ci/ci-deployer', {
    resource: CI_DEPLOYER,
    requestTags: OWNED_BY_CI_SECRET,
  }),
  ...cases(['iam:UntagUser'], 'user/ci/ci-deployer', {
    resource: CI_DEPLOYER,
    removedTagKeys: [OWNER_TAG_KEY],
  }),
  ...cases(['iam:CreateUser'], 'user/mallory', { resource: userArn('mallory') }),
  ...cases(['secretsmanager:CreateSecret'], 'iam-key-rotation/mallory', { resource: LOOK_ALIKE }),
];

/** `[name, case]` rows: vitest shortens an object's `$name` in titles, not a `%s` string. */
const named = <T extends { name: string }>(rows: T[]): [string, T][] =>
  rows.map((row) => [row.name, row]);

let deployment: Deployment;
beforeAll(() => {
  deployment = synthesize();
});

const asRole = (role: Role, extra: Partial<Caller> = {}): Caller => ({
  principal: role.principal,
  userId: role.userId,
  policies: role.policies,
  ...extra,
});

describe('Policy simulation: the rotation function role', () => {
  it('holds the statements the simulation is about', () => {
    // Assert
    const text = JSON.stringify(deployment.rotationRole.policies);
    expect(text).toContain(`aws:ResourceTag/${CLOUDFORMATION_STACK_ID_TAG_KEY}`);
    expect(text).toContain(`iam:ResourceTag/${OWNER_TAG_KEY}`);
    expect(text).not.toContain(`secretsmanager:ResourceTag/${STACK_TAG_KEY}`);
    expect(text).not.toContain('Fn::');
  });

  it.each(named(ROTATION_ALLOWED))('allows %s', async (_name, request) => {
    // Act
    const decision = await decide(asRole(deployment.rotationRole), request);

    // Assert
    expect(decision).toBe('Allowed');
  });

  it.each(named(ROTATION_DENIED_BY_CONDITION))(
    'denies %s (by a condition)',
    async (_name, request) => {
      // Act
      const decision = await decide(asRole(deployment.rotationRole), request);
      const withoutCondition = await decide(
        asRole(deployment.rotationRole, {
          policies: withoutConditions(deployment.rotationRole.policies),
        }),
        request,
      );

      // Assert
      expect(decision).not.toBe('Allowed');
      // The request itself is well-formed and matches a statement: only a condition denies it.
      expect(withoutCondition).toBe('Allowed');
    },
  );

  it.each(named(ROTATION_NOT_GRANTED))('denies %s (not granted)', async (_name, request) => {
    // Act
    const decision = await decide(asRole(deployment.rotationRole), request);
    const withoutCondition = await decide(
      asRole(deployment.rotationRole, {
        policies: withoutConditions(deployment.rotationRole.policies),
      }),
      request,
    );

    // Assert
    expect(decision).not.toBe('Allowed');
    expect(withoutCondition).not.toBe('Allowed');
  });

  describe('the retirement schedules of the grace period', () => {
    const scheduleOf = (group: string): string =>
      `arn:${PARTITION}:scheduler:${REGION}:${ACCOUNT}:schedule/${group}/retire-0123456789abcdef`;
    const retirementGroup = (): string =>
      onlyLogicalId(deployment.template, 'AWS::Scheduler::ScheduleGroup', /./);

    it.each(['scheduler:CreateSchedule', 'scheduler:GetSchedule'])(
      'allows %s on a schedule of its retirement group (control)',
      async (action) => {
        // Act
        const decision = await decide(asRole(deployment.rotationRole), {
          action,
          resource: scheduleOf(retirementGroup()),
        });

        // Assert
        expect(decision).toBe('Allowed');
      },
    );

    it.each(['scheduler:CreateSchedule', 'scheduler:GetSchedule'])(
      'denies %s on a schedule of another group (not granted)',
      async (action) => {
        // Act
        const decision = await decide(asRole(deployment.rotationRole), {
          action,
          resource: scheduleOf('default'),
        });

        // Assert
        expect(decision).not.toBe('Allowed');
      },
    );

    it.each(['scheduler:UpdateSchedule', 'scheduler:DeleteSchedule'])(
      'denies %s on a schedule of its retirement group (not granted)',
      async (action) => {
        // Act
        const decision = await decide(asRole(deployment.rotationRole), {
          action,
          resource: scheduleOf(retirementGroup()),
        });

        // Assert
        expect(decision).not.toBe('Allowed');
      },
    );
  });

  describe('a resource policy that names the rotation role', () => {
    const resourcePolicy = (resource: string): unknown => ({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: {
            AWS: `arn:${PARTITION}:iam::${ACCOUNT}:role/${roleName(deployment.rotationRole.logicalId)}`,
          },
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
          Resource: resource,
        },
      ],
    });

    it.each(['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'])(
      'does not open a look-alike secret to %s (explicit Deny)',
      async (action) => {
        // Act
        const decision = await decide(
          asRole(deployment.rotationRole, { resourcePolicy: resourcePolicy(LOOK_ALIKE) }),
          { action, resource: LOOK_ALIKE, tags: LOOK_ALIKE_TAGS },
        );

        // Assert
        expect(decision).toBe('ExplicitlyDenied');
      },
    );

    it("leaves the stack's own secret open to secretsmanager:GetSecretValue (control)", async () => {
      // Act
      const decision = await decide(
        asRole(deployment.rotationRole, { resourcePolicy: resourcePolicy(CI_SECRET) }),
        {
          action: 'secretsmanager:GetSecretValue',
          resource: CI_SECRET,
          tags: stackSecretTags('ci-deployer'),
        },
      );

      // Assert
      expect(decision).toBe('Allowed');
    });
  });

  it('allows nothing with an empty policy (the harness does not allow by default)', async () => {
    // Act
    const decision = await decide(asRole(deployment.rotationRole, { policies: [] }), {
      action: 'iam:CreateAccessKey',
      resource: CI_DEPLOYER,
      tags: OWNED_BY_CI_SECRET,
    });

    // Assert
    expect(decision).toBe('ImplicitlyDenied');
  });
});

const WAIT_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:RotateSecret',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:CancelRotateSecret',
] as const;
const WAIT_KEY_ACTIONS = ['iam:ListAccessKeys', 'iam:UpdateAccessKey', 'iam:DeleteAccessKey'];
const WAIT_KEY_WRITES = ['iam:UpdateAccessKey', 'iam:DeleteAccessKey'];

describe('Policy simulation: the first-rotation wait role', () => {
  const waitAllowed = (): Case[] => [
    ...cases(WAIT_SECRET_ACTIONS, "the stack's secret of ci-deployer", {
      resource: CI_SECRET,
      tags: stackSecretTags('ci-deployer'),
    }),
    ...cases(WAIT_KEY_ACTIONS, 'user/ci/ci-deployer owned by its secret', {
      resource: CI_DEPLOYER,
      tags: OWNED_BY_CI_SECRET,
    }),
    ...cases(WAIT_KEY_ACTIONS, 'the created user owned by its secret', {
      resource: DEMO,
      tags: { [OWNER_TAG_KEY]: DEMO_SECRET },
    }),
    ...cases(['logs:FilterLogEvents'], "the rotation function's log group", {
      resource: deployment.rotationLogGroupArn,
    }),
    ...cases(
      ['cloudformation:DescribeStackResource', 'cloudformation:DescribeStacks'],
      'its own stack',
      { resource: STACK_ID },
    ),
    ...cases(['lambda:InvokeFunction'], 'the rotation function (RotateSecret requires it)', {
      resource: deployment.rotationFunctionArn,
    }),
  ];
  /** Denied only by a condition. */
  const waitDeniedByCondition = (): Case[] => [
    ...cases(WAIT_SECRET_ACTIONS, 'a look-alike secret (stack tags, no CloudFormation tags)', {
      resource: LOOK_ALIKE,
      tags: LOOK_ALIKE_TAGS,
    }),
    ...cases(WAIT_SECRET_ACTIONS, 'a secret of another stack with the stack tags', {
      resource: LOOK_ALIKE,
      tags: { ...LOOK_ALIKE_TAGS, [CLOUDFORMATION_STACK_ID_TAG_KEY]: OTHER_STACK_ID },
    }),
    ...cases(WAIT_KEY_WRITES, 'user/ci/ci-deployer without the ownership tag', {
      resource: CI_DEPLOYER,
    }),
    ...cases(WAIT_KEY_WRITES, 'user/ci/ci-deployer whose tag names a secret prod/db', {
      resource: CI_DEPLOYER,
      tags: { [OWNER_TAG_KEY]: secretArn(`prod/db-${SUFFIX}`) },
    }),
  ];
  /** Not granted at all: the wait never reads a key, creates one, or reaches another user. */
  const waitNotGranted = (): Case[] => [
    ...cases(
      [
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:DeleteSecret',
      ],
      "the stack's secret of ci-deployer",
      { resource: CI_SECRET, tags: stackSecretTags('ci-deployer') },
    ),
    ...cases(['iam:CreateAccessKey', 'iam:TagUser', 'iam:UntagUser'], 'user/ci/ci-deployer', {
      resource: CI_DEPLOYER,
      tags: OWNED_BY_CI_SECRET,
    }),
    ...cases(WAIT_KEY_ACTIONS, "user/admin retagged with the stack's secret", {
      resource: ADMIN,
      tags: OWNED_BY_CI_SECRET,
    }),
    ...cases(['logs:FilterLogEvents'], 'another log group', {
      resource: `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/payments`,
    }),
    ...cases(['cloudformation:DescribeStacks'], 'another stack', { resource: OTHER_STACK_ID }),
  ];

  it('allows what the wait does', async () => {
    for (const request of waitAllowed()) {
      expect(await decide(asRole(deployment.waitRole), request), request.name).toBe('Allowed');
    }
  });

  it('denies the same on look-alike secrets and on users not owned by a secret of the stack (by a condition)', async () => {
    const unconditioned = asRole(deployment.waitRole, {
      policies: withoutConditions(deployment.waitRole.policies),
    });
    for (const request of waitDeniedByCondition()) {
      expect(await decide(asRole(deployment.waitRole), request), request.name).not.toBe('Allowed');
      expect(await decide(unconditioned, request), request.name).toBe('Allowed');
    }
  });

  it('denies reading or writing a secret value, creating a key, tagging, and anything elsewhere (not granted)', async () => {
    const unconditioned = asRole(deployment.waitRole, {
      policies: withoutConditions(deployment.waitRole.policies),
    });
    for (const request of waitNotGranted()) {
      expect(await decide(asRole(deployment.waitRole), request), request.name).not.toBe('Allowed');
      expect(await decide(unconditioned, request), request.name).not.toBe('Allowed');
    }
  });

  it('is not opened to RotateSecret on a look-alike by a resource policy naming it (explicit Deny)', async () => {
    const decision = await decide(
      asRole(deployment.waitRole, {
        resourcePolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: {
                AWS: `arn:${PARTITION}:iam::${ACCOUNT}:role/${roleName(deployment.waitRole.logicalId)}`,
              },
              Action: 'secretsmanager:RotateSecret',
              Resource: LOOK_ALIKE,
            },
          ],
        },
      }),
      { action: 'secretsmanager:RotateSecret', resource: LOOK_ALIKE, tags: LOOK_ALIKE_TAGS },
    );
    expect(decision).toBe('ExplicitlyDenied');
  });
});

describe('Policy simulation: the ownership tag of a stack user', () => {
  /** TagUser of ci-deployer with the ownership tag naming `secret`. */
  const tagCiDeployer = (secret: string): Request => ({
    action: 'iam:TagUser',
    resource: CI_DEPLOYER,
    tags: OWNED_BY_CI_SECRET,
    requestTags: { [OWNER_TAG_KEY]: secret },
  });

  it('has every role of the template in the simulation', () => {
    // Assert: the rotation function's, the scheduler's, the tagger's and the Provider framework's
    expect([...deployment.roles.keys()].map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(
      [
        'FirstRotationWaitProviderCompleteRole',
        'FirstRotationWaitProviderOnEventRole',
        'FirstRotationWaitProviderwaiterstatemachineRole',
        'FirstRotationWaitServiceRole',
        'RotationFunctionRetirementSchedulerRole',
        'RotationFunctionServiceRole',
        'UserOwnershipTaggerProviderRole',
        'UserOwnershipTaggerServiceRole',
      ],
    );
  });

  it.each([
    ['a look-alike secret', LOOK_ALIKE],
    ["another user's secret of the stack", DEMO_SECRET],
    [
      'a secret of another region',
      secretArn(`iam-key-rotation/ci-deployer-${SUFFIX}`, OTHER_REGION),
    ],
  ])('denies every role of the template TagUser of ci-deployer with %s', async (_case, secret) => {
    // Act
    const decisions = await Promise.all(
      [...deployment.roles.values()].map(
        async (role) =>
          [role.logicalId, await decide(asRole(role), tagCiDeployer(secret))] as const,
      ),
    );

    // Assert
    for (const [roleId, decision] of decisions) {
      expect(decision, roleId).not.toBe('Allowed');
    }
  });

  it("allows the tagger's function TagUser of ci-deployer with its own secret (control)", async () => {
    // Act
    const decision = await decide(asRole(deployment.taggerRole), tagCiDeployer(CI_SECRET));

    // Assert
    expect(decision).toBe('Allowed');
  });

  it("allows the tagger's function UntagUser of ci-deployer's ownership tag (control)", async () => {
    // Act
    const decision = await decide(asRole(deployment.taggerRole), {
      action: 'iam:UntagUser',
      resource: CI_DEPLOYER,
      tags: OWNED_BY_CI_SECRET,
      removedTagKeys: [OWNER_TAG_KEY],
    });

    // Assert
    expect(decision).toBe('Allowed');
  });

  it.each([
    ['TagUser with its own secret', tagCiDeployer(CI_SECRET)],
    [
      'UntagUser',
      {
        action: 'iam:UntagUser',
        resource: CI_DEPLOYER,
        tags: OWNED_BY_CI_SECRET,
        removedTagKeys: [OWNER_TAG_KEY],
      },
    ],
  ])(
    "denies any other session of the tagger's role (a function created with it, the earlier tagger) %s",
    async (_case, request) => {
      // Act
      const decision = await decide(
        asRole(deployment.taggerRole, { userId: 'AROAEXAMPLEROLEID0000:SingletonLambda' }),
        request,
      );

      // Assert
      expect(decision).toBe('ExplicitlyDenied');
    },
  );

  it("denies the tagger's function another tag key on a stack user", async () => {
    // Act
    const decision = await decide(asRole(deployment.taggerRole), {
      action: 'iam:TagUser',
      resource: CI_DEPLOYER,
      requestTags: { [OWNER_TAG_KEY]: CI_SECRET, 'iam-key-rotation:user': 'admin' },
    });

    // Assert
    expect(decision).not.toBe('Allowed');
  });

  it("denies the tagger's function TagUser of a user the stack does not rotate", async () => {
    // Act
    const decision = await decide(asRole(deployment.taggerRole), {
      action: 'iam:TagUser',
      resource: ADMIN,
      requestTags: { [OWNER_TAG_KEY]: CI_SECRET },
    });

    // Assert
    expect(decision).not.toBe('Allowed');
  });
});

describe("Policy simulation: the rotation function's invoke permission", () => {
  const invoke = (context: Record<string, string>): Promise<EvaluationResult> =>
    decide(
      {
        principal: 'secretsmanager.amazonaws.com',
        policies: [],
        resourcePolicy: deployment.invokePolicy,
      },
      {
        action: 'lambda:InvokeFunction',
        resource: deployment.rotationFunctionArn,
        context,
      },
    );

  it("allows Secrets Manager for a secret of the stack's name prefix in this account (control)", async () => {
    // Act & Assert
    expect(await invoke({ 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': CI_SECRET })).toBe(
      'Allowed',
    );
  });

  it.each([
    ['without SourceArn', { 'aws:SourceAccount': ACCOUNT }],
    [
      'for a secret prod/db',
      { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': secretArn(`prod/db-${SUFFIX}`) },
    ],
    [
      'for a secret of another region',
      {
        'aws:SourceAccount': ACCOUNT,
        'aws:SourceArn': secretArn(`iam-key-rotation/ci-deployer-${SUFFIX}`, OTHER_REGION),
      },
    ],
    [
      'for a secret of another account',
      {
        'aws:SourceAccount': OTHER_ACCOUNT,
        'aws:SourceArn': secretArn(`iam-key-rotation/ci-deployer-${SUFFIX}`, REGION, OTHER_ACCOUNT),
      },
    ],
  ])('denies Secrets Manager %s', async (_case, context) => {
    // Act & Assert
    expect(await invoke(context)).not.toBe('Allowed');
  });
});

describe('Policy simulation: the guardrail SCP (examples/guardrails)', () => {
  const scp = JSON.parse(readFileSync(SCP_FILE, 'utf8')) as unknown;
  /** A PowerUser-like principal: everything its identity policy allows. */
  const developer: Caller = {
    principal: `arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/PowerUserAccess/developer`,
    policies: [
      {
        name: 'everything',
        policy: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        },
      },
    ],
    scp,
  };
  /** The CloudFormation execution role of the CDK bootstrap. */
  const deployer: Caller = {
    ...developer,
    principal: `arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}/AWSCloudFormation`,
  };

  const attacks: [string, Request][] = [
    [
      'TagUser of the ownership tag',
      {
        action: 'iam:TagUser',
        resource: CI_DEPLOYER,
        requestTags: { [OWNER_TAG_KEY]: LOOK_ALIKE },
      },
    ],
    [
      'UntagUser of the ownership tag',
      { action: 'iam:UntagUser', resource: ADMIN, removedTagKeys: [OWNER_TAG_KEY] },
    ],
    [
      'CreateUser with the ownership tag',
      {
        action: 'iam:CreateUser',
        resource: userArn('mallory'),
        requestTags: { [OWNER_TAG_KEY]: LOOK_ALIKE },
      },
    ],
    [
      'CreateSecret with the stack tags',
      { action: 'secretsmanager:CreateSecret', resource: LOOK_ALIKE, requestTags: LOOK_ALIKE_TAGS },
    ],
    [
      'TagResource of the binding tag',
      {
        action: 'secretsmanager:TagResource',
        resource: CI_SECRET,
        requestTags: { [BINDING_TAG_KEY]: 'admin' },
      },
    ],
    [
      'UntagResource of the stack tag',
      {
        action: 'secretsmanager:UntagResource',
        resource: CI_SECRET,
        removedTagKeys: [STACK_TAG_KEY],
      },
    ],
    [
      'TagResource of the current key',
      {
        action: 'secretsmanager:TagResource',
        resource: CI_SECRET,
        requestTags: { [CURRENT_KEY_TAG_KEY]: 'v1:AKIAFORGED' },
      },
    ],
  ];

  it.each(attacks)('denies an ordinary principal %s', async (_case, request) => {
    // Act & Assert
    expect(await decide(developer, request)).toBe('ExplicitlyDenied');
  });

  it.each([
    [
      'TagUser of another tag key',
      { action: 'iam:TagUser', resource: CI_DEPLOYER, requestTags: { team: 'ci' } },
    ],
    [
      'TagResource of another tag key',
      { action: 'secretsmanager:TagResource', resource: CI_SECRET, requestTags: { team: 'ci' } },
    ],
  ] as [string, Request][])('allows an ordinary principal %s (control)', async (_case, request) => {
    // Act & Assert
    expect(await decide(developer, request)).toBe('Allowed');
  });

  it.each(attacks)('allows the CloudFormation execution role %s', async (_case, request) => {
    // Act & Assert
    expect(await decide(deployer, request)).toBe('Allowed');
  });

  describe("the stack's functions", () => {
    /** The ARN CloudFormation gives a function of the stack: stack name, logical id, suffix. */
    const functionArn = (logicalId: string): string =>
      `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${DEFAULT_STACK_NAME}-${logicalId}-QwErTy12`;
    const rotationFunction = (): string =>
      functionArn(
        onlyLogicalId(
          deployment.template,
          'AWS::Lambda::Function',
          /^RotationFunction[0-9A-F]{8}$/,
        ),
      );
    const FUNCTION_WRITES = [
      'lambda:UpdateFunctionCode',
      'lambda:UpdateFunctionConfiguration',
      'lambda:AddPermission',
      'lambda:RemovePermission',
      'lambda:PutFunctionConcurrency',
      'lambda:DeleteFunction',
    ];

    it.each(FUNCTION_WRITES)(
      'denies an ordinary principal %s on the rotation function',
      async (action) => {
        // Act & Assert
        expect(await decide(developer, { action, resource: rotationFunction() })).toBe(
          'ExplicitlyDenied',
        );
      },
    );

    it.each(FUNCTION_WRITES)(
      'allows the CloudFormation execution role %s on the rotation function',
      async (action) => {
        // Act & Assert
        expect(await decide(deployer, { action, resource: rotationFunction() })).toBe('Allowed');
      },
    );

    it('denies an ordinary principal lambda:UpdateFunctionCode on every function of the stack', async () => {
      // Arrange
      const functions = Object.entries(deployment.template.Resources)
        .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
        .map(([id]) => functionArn(id));
      expect(functions.length).toBeGreaterThan(1);

      // Act
      const decisions = await Promise.all(
        functions.map((resource) =>
          decide(developer, { action: 'lambda:UpdateFunctionCode', resource }),
        ),
      );

      // Assert
      expect(decisions).toEqual(functions.map(() => 'ExplicitlyDenied'));
    });

    it('allows an ordinary principal lambda:UpdateFunctionCode on an unrelated function (control)', async () => {
      // Act & Assert
      expect(
        await decide(developer, {
          action: 'lambda:UpdateFunctionCode',
          resource: `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:billing-report`,
        }),
      ).toBe('Allowed');
    });
  });

  it("allows the tagger's function its TagUser under the SCP", async () => {
    // Act
    const decision = await decide(asRole(deployment.taggerRole, { scp }), {
      action: 'iam:TagUser',
      resource: CI_DEPLOYER,
      tags: OWNED_BY_CI_SECRET,
      requestTags: { [OWNER_TAG_KEY]: CI_SECRET },
    });

    // Assert
    expect(decision).toBe('Allowed');
  });

  it('allows the rotation function to record the current key under the SCP, and nothing else', async () => {
    // Act
    const currentKey = await decide(asRole(deployment.rotationRole, { scp }), {
      action: 'secretsmanager:TagResource',
      resource: CI_SECRET,
      tags: stackSecretTags('ci-deployer'),
      requestTags: { [CURRENT_KEY_TAG_KEY]: 'v1:AKIAEXAMPLE' },
    });
    const bindingTag = await decide(asRole(deployment.rotationRole, { scp }), {
      action: 'secretsmanager:TagResource',
      resource: CI_SECRET,
      tags: stackSecretTags('ci-deployer'),
      requestTags: { [BINDING_TAG_KEY]: 'admin' },
    });

    // Assert
    expect(currentKey).toBe('Allowed');
    expect(bindingTag).toBe('ExplicitlyDenied');
  });
});
