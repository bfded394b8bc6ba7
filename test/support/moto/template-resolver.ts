import type { CloudFormationTemplate } from './synthesized-stack.js';

/** What CloudFormation would substitute for the intrinsics of a deployed template. */
export interface DeploymentValues {
  readonly partition: string;
  readonly accountId: string;
  readonly region: string;
  readonly urlSuffix: string;
  /** `AWS::StackId`: the deployed stack's id (ARN). */
  readonly stackId: string;
  /** `AWS::StackName`. */
  readonly stackName: string;
  /** `Ref` of a resource, by logical id (a user's name, a secret's ARN, ...). */
  readonly refs: Readonly<Record<string, string>>;
  /** `Fn::GetAtt`, keyed `<logical id>.<attribute>`. */
  readonly attributes: Readonly<Record<string, string>>;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const lookup = (table: Readonly<Record<string, string>>, key: string, what: string): string => {
  const value = table[key];
  if (value === undefined) {
    throw new Error(`Cannot resolve ${what}: no deployed value for ${key}`);
  }
  return value;
};

const asString = (value: unknown, where: string): string => {
  if (typeof value !== 'string') {
    throw new Error(`${where} resolved to ${JSON.stringify(value)}, expected a string`);
  }
  return value;
};

/**
 * Replaces `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub` (no variable map) and the pseudo
 * parameters with deployed values. Any other intrinsic, or a reference without a deployed
 * value, is an error: a policy is never resolved to something looser than the template says.
 */
export const resolveIntrinsics = (value: unknown, values: DeploymentValues): unknown => {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, values));
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  const [onlyKey] = keys;
  if (
    keys.length === 1 &&
    onlyKey !== undefined &&
    (onlyKey === 'Ref' || onlyKey.startsWith('Fn::'))
  ) {
    return resolveIntrinsic(onlyKey, value[onlyKey], values);
  }
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, resolveIntrinsics(item, values)]),
  );
};

const resolvePseudoOrRef = (name: string, values: DeploymentValues): string => {
  switch (name) {
    case 'AWS::Partition':
      return values.partition;
    case 'AWS::AccountId':
      return values.accountId;
    case 'AWS::Region':
      return values.region;
    case 'AWS::URLSuffix':
      return values.urlSuffix;
    case 'AWS::StackId':
      return values.stackId;
    case 'AWS::StackName':
      return values.stackName;
    default:
      if (name.startsWith('AWS::')) throw new Error(`Unsupported pseudo parameter ${name}`);
      return lookup(values.refs, name, `Ref ${name}`);
  }
};

const resolveIntrinsic = (name: string, argument: unknown, values: DeploymentValues): unknown => {
  switch (name) {
    case 'Ref':
      return resolvePseudoOrRef(asString(argument, 'Ref'), values);
    case 'Fn::GetAtt': {
      const [logicalId, attribute]: unknown[] = Array.isArray(argument)
        ? (argument as unknown[])
        : asString(argument, 'Fn::GetAtt').split('.');
      const key = `${asString(logicalId, 'Fn::GetAtt logical id')}.${asString(attribute, 'Fn::GetAtt attribute')}`;
      return lookup(values.attributes, key, `Fn::GetAtt ${key}`);
    }
    case 'Fn::Join': {
      if (!Array.isArray(argument) || argument.length !== 2 || !Array.isArray(argument[1])) {
        throw new Error(`Malformed Fn::Join ${JSON.stringify(argument)}`);
      }
      const separator = asString(argument[0], 'Fn::Join separator');
      const parts = (argument[1] as unknown[]).map((part) =>
        asString(resolveIntrinsics(part, values), 'Fn::Join part'),
      );
      return parts.join(separator);
    }
    case 'Fn::Sub': {
      const text = asString(argument, 'Fn::Sub (only the string form is supported)');
      return text.replace(/\$\{([^}]+)\}/g, (_match, reference: string) =>
        reference.includes('.')
          ? lookup(values.attributes, reference, `Fn::Sub \${${reference}}`)
          : resolvePseudoOrRef(reference, values),
      );
    }
    default:
      throw new Error(`Unsupported intrinsic ${name} in ${JSON.stringify(argument)}`);
  }
};

/** A policy document attached to the rotation function's execution role, as synthesized. */
export interface TemplatePolicy {
  /** Logical id of the policy resource (or `<role>.Policies[<i>]` for an inline role policy). */
  readonly source: string;
  readonly document: unknown;
}

const refersTo = (reference: unknown, logicalId: string): boolean =>
  isRecord(reference) && reference.Ref === logicalId;

/**
 * Every policy the template gives the rotation function's role: the role's inline `Policies`,
 * and each `AWS::IAM::Policy` or `AWS::IAM::ManagedPolicy` that lists the role (CDK's default
 * policy and its overflow policies). Managed policies attached by ARN are refused: their
 * content is not in the template.
 */
export const rotationFunctionPolicies = (
  template: CloudFormationTemplate,
  functionLogicalId: string,
): TemplatePolicy[] => {
  const fn = template.Resources[functionLogicalId];
  const role = fn?.Properties?.Role;
  const roleLogicalId =
    isRecord(role) && Array.isArray(role['Fn::GetAtt'])
      ? (role['Fn::GetAtt'] as unknown[])[0]
      : undefined;
  if (typeof roleLogicalId !== 'string') {
    throw new Error(
      `Function ${functionLogicalId} Role is ${JSON.stringify(role)}, expected Fn::GetAtt of a role in this template`,
    );
  }
  const roleResource = template.Resources[roleLogicalId];
  if (roleResource?.Type !== 'AWS::IAM::Role') {
    throw new Error(`Function ${functionLogicalId} Role ${roleLogicalId} is not an AWS::IAM::Role`);
  }
  const managedArns = roleResource.Properties?.ManagedPolicyArns;
  if (Array.isArray(managedArns) && managedArns.length > 0) {
    throw new Error(
      `Role ${roleLogicalId} has ManagedPolicyArns ${JSON.stringify(managedArns)}; their documents are not in the template`,
    );
  }
  const policies: TemplatePolicy[] = [];
  const inline = roleResource.Properties?.Policies;
  if (Array.isArray(inline)) {
    inline.forEach((policy: unknown, index) => {
      policies.push({
        source: `${roleLogicalId}.Policies[${index}]`,
        document: isRecord(policy) ? policy.PolicyDocument : undefined,
      });
    });
  }
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') {
      continue;
    }
    const roles = resource.Properties?.Roles;
    if (Array.isArray(roles) && roles.some((reference) => refersTo(reference, roleLogicalId))) {
      policies.push({ source: logicalId, document: resource.Properties?.PolicyDocument });
    }
  }
  if (policies.length === 0) {
    throw new Error(`Role ${roleLogicalId} of function ${functionLogicalId} has no policy`);
  }
  return policies;
};
