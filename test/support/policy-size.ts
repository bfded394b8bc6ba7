/**
 * The sizes IAM counts for the policies of a synthesized template (JSON without white space,
 * the way IAM measures a policy against its quotas), with every intrinsic resolved to the longest
 * value it can take: the partition `aws-us-gov` (10 characters), the region `us-isof-south-1` (15), a 12-digit account, a
 * secret ARN after the secret's `Name` with Secrets Manager's 7-character suffix, and 128
 * characters for any name CloudFormation generates.
 */

/** IAM quotas: a managed policy, all inline policies of a role together, managed policies per role. */
export const MANAGED_POLICY_MAX_CHARS = 6_144;
export const ROLE_INLINE_POLICIES_MAX_CHARS = 10_240;
export const MANAGED_POLICIES_PER_ROLE = 10;

const LONGEST = {
  'AWS::Partition': 'aws-us-gov',
  'AWS::Region': 'us-isof-south-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'sc2s.sgov.gov',
  'AWS::StackName': 'x'.repeat(128),
  'AWS::StackId': `arn:aws-us-gov:cloudformation:us-isof-south-1:123456789012:stack/${'x'.repeat(128)}/11111111-2222-3333-4444-555555555555`,
} as const;
const GENERATED_NAME = 'x'.repeat(128);

type Resource = { Type: string; Properties?: Record<string, unknown> };
export type TemplateJson = { Resources: Record<string, Resource> };

function resolveLongest(template: TemplateJson, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveLongest(template, item));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first !== undefined && /^(Ref|Fn::)/.test(first[0])) {
    const [intrinsic, argument] = first;
    if (intrinsic === 'Ref' && typeof argument === 'string') {
      const pseudo = (LONGEST as Record<string, string>)[argument];
      if (pseudo !== undefined) return pseudo;
      const resource = template.Resources[argument];
      if (resource?.Type === 'AWS::SecretsManager::Secret') {
        const name = resource.Properties?.Name;
        return `arn:${LONGEST['AWS::Partition']}:secretsmanager:${LONGEST['AWS::Region']}:${LONGEST['AWS::AccountId']}:secret:${typeof name === 'string' ? name : GENERATED_NAME}-AbCdEf`;
      }
      return GENERATED_NAME;
    }
    if (intrinsic === 'Fn::GetAtt' && Array.isArray(argument)) {
      const type = template.Resources[String(argument[0])]?.Type ?? '';
      const service = type.split('::')[1]?.toLowerCase() ?? 'x';
      return `arn:${LONGEST['AWS::Partition']}:${service}:${LONGEST['AWS::Region']}:${LONGEST['AWS::AccountId']}:${GENERATED_NAME}`;
    }
    if (intrinsic === 'Fn::Join' && Array.isArray(argument)) {
      const [separator, parts] = argument as [string, unknown[]];
      return parts.map((part) => String(resolveLongest(template, part))).join(separator);
    }
    if (intrinsic === 'Fn::Sub' && typeof argument === 'string') {
      return argument.replace(/\$\{([^}]+)\}/g, (_, name: string) =>
        String(resolveLongest(template, { Ref: name })),
      );
    }
    throw new Error(`cannot resolve ${JSON.stringify(value)}`);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveLongest(template, item)]));
}

/** What IAM counts against the quotas for one role of the template. */
export interface RolePolicySizes {
  /** The characters of each managed policy attached to the role. */
  readonly managed: readonly number[];
  /** The characters of all inline policies of the role together. */
  readonly inline: number;
}

/** The worst-case sizes of the policies of each role of the template, by the role's logical id. */
export function rolePolicySizes(template: TemplateJson): Map<string, RolePolicySizes> {
  const sizes = new Map<string, { managed: number[]; inline: number }>();
  const attachedByRole: [string, Resource][] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::IAM::Role') {
      const inline =
        (resource.Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ?? [];
      sizes.set(logicalId, {
        managed: [],
        inline: inline.reduce(
          (sum, policy) =>
            sum + JSON.stringify(resolveLongest(template, policy.PolicyDocument)).length,
          0,
        ),
      });
      const arns = (resource.Properties?.ManagedPolicyArns as unknown[] | undefined) ?? [];
      for (const arn of arns) {
        const id = (arn as { Ref?: unknown } | null)?.Ref;
        const policy = typeof id === 'string' ? template.Resources[id] : undefined;
        if (policy?.Type !== 'AWS::IAM::ManagedPolicy') {
          throw new Error(
            `role ${logicalId} has a managed policy ${JSON.stringify(arn)} that is not in the template; its size is unknown here`,
          );
        }
        const roles = JSON.stringify(policy.Properties?.Roles ?? []);
        // Counted below, through the policy's own Roles, when it names this role there too.
        if (!roles.includes(`"${logicalId}"`)) attachedByRole.push([logicalId, policy]);
      }
    }
  }
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy')
      continue;
    const size = JSON.stringify(
      resolveLongest(template, resource.Properties?.PolicyDocument),
    ).length;
    for (const role of (resource.Properties?.Roles as { Ref: string }[] | undefined) ?? []) {
      const entry = sizes.get(role.Ref);
      if (entry === undefined)
        throw new Error(`policy attached to unknown role ${JSON.stringify(role)}`);
      if (resource.Type === 'AWS::IAM::ManagedPolicy') entry.managed.push(size);
      else entry.inline += size;
    }
  }
  for (const [role, policy] of attachedByRole) {
    sizes
      .get(role)
      ?.managed.push(
        JSON.stringify(resolveLongest(template, policy.Properties?.PolicyDocument)).length,
      );
  }
  return sizes;
}

/**
 * What breaks an IAM quota among `sizes` (from {@link rolePolicySizes}), one line per breach
 * naming the role: all inline policies together over 10,240 characters, a managed policy over
 * 6,144, more than 10 managed policies. Empty when every role fits.
 */
export function rolePolicyQuotaBreaches(sizes: ReadonlyMap<string, RolePolicySizes>): string[] {
  const breaches: string[] = [];
  for (const [role, { inline, managed }] of sizes) {
    if (inline > ROLE_INLINE_POLICIES_MAX_CHARS) {
      breaches.push(
        `${role}: inline policies ${String(inline)} characters, over ${String(ROLE_INLINE_POLICIES_MAX_CHARS)}`,
      );
    }
    for (const size of managed.filter((characters) => characters > MANAGED_POLICY_MAX_CHARS)) {
      breaches.push(
        `${role}: a managed policy of ${String(size)} characters, over ${String(MANAGED_POLICY_MAX_CHARS)}`,
      );
    }
    if (managed.length > MANAGED_POLICIES_PER_ROLE) {
      breaches.push(
        `${role}: ${String(managed.length)} managed policies, over ${String(MANAGED_POLICIES_PER_ROLE)}`,
      );
    }
  }
  return breaches;
}
