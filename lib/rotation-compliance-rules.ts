import { Duration, Stack, Tags } from 'aws-cdk-lib';
import * as config from 'aws-cdk-lib/aws-config';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * The tag that puts a secret in the scope of a stack's Secrets Manager Config rules; its value
 * is the stack name.
 */
export const COMPLIANCE_SCOPE_TAG_KEY = 'iam-key-rotation:stack';

/** Properties of {@link RotationComplianceRules}. */
export interface RotationComplianceRulesProps {
  /** The secrets the Secrets Manager rules evaluate: they are tagged into the rules' scope. */
  readonly secrets: readonly secretsmanager.ISecret[];

  /**
   * `maxAccessKeyAge` of `access-keys-rotated`: an Active access key older than this is
   * NON_COMPLIANT. Whole days.
   *
   * @default Duration.days(90)
   */
  readonly maxAccessKeyAge?: Duration;

  /**
   * The value of the {@link COMPLIANCE_SCOPE_TAG_KEY} tag that scopes the Secrets Manager rules.
   *
   * @default - the stack name
   */
  readonly scopeTagValue?: string;
}

/**
 * AWS Config managed rules for the rotation: `secretsmanager-rotation-enabled-check` and
 * `secretsmanager-scheduled-rotation-success-check` for the given secrets, and
 * `access-keys-rotated` for IAM access keys.
 *
 * The Secrets Manager rules are triggered by configuration changes and scoped by tag: a Config
 * rule's scope holds one resource id at most, or one tag, so each secret gets the tag
 * `iam-key-rotation:stack=<stack name>` and both rules evaluate exactly the secrets that carry
 * it. `access-keys-rotated` is periodic (every 24 hours) and cannot be scoped: it evaluates every
 * IAM user of the account. Creating a Config rule needs a configuration recorder in the region.
 */
export class RotationComplianceRules extends Construct {
  /** `secretsmanager-rotation-enabled-check`, scoped to the secrets. */
  public readonly rotationEnabled: config.ManagedRule;

  /** `secretsmanager-scheduled-rotation-success-check`, scoped to the secrets. */
  public readonly scheduledRotationSuccess: config.ManagedRule;

  /** `access-keys-rotated`, for every IAM user of the account. */
  public readonly accessKeysRotated: config.AccessKeysRotated;

  public constructor(scope: Construct, id: string, props: RotationComplianceRulesProps) {
    super(scope, id);
    const maxAccessKeyAge = props.maxAccessKeyAge ?? Duration.days(90);
    if (!maxAccessKeyAge.isUnresolved()) {
      const days = maxAccessKeyAge.toDays({ integral: false });
      if (!Number.isInteger(days) || days < 1) {
        throw new Error(
          `maxAccessKeyAge must be whole days, at least 1 day, got ${maxAccessKeyAge.toHumanString()}`,
        );
      }
    }
    const scopeTagValue = props.scopeTagValue ?? Stack.of(this).stackName;
    for (const secret of props.secrets) {
      Tags.of(secret).add(COMPLIANCE_SCOPE_TAG_KEY, scopeTagValue);
    }
    const ruleScope = config.RuleScope.fromTag(COMPLIANCE_SCOPE_TAG_KEY, scopeTagValue);

    this.rotationEnabled = new config.ManagedRule(this, 'RotationEnabled', {
      identifier: config.ManagedRuleIdentifiers.SECRETSMANAGER_ROTATION_ENABLED_CHECK,
      description: `Checks that the IAM access key secrets tagged ${COMPLIANCE_SCOPE_TAG_KEY}=${scopeTagValue} have rotation enabled`,
      ruleScope,
    });
    this.scheduledRotationSuccess = new config.ManagedRule(this, 'ScheduledRotationSuccess', {
      identifier: config.ManagedRuleIdentifiers.SECRETSMANAGER_SCHEDULED_ROTATION_SUCCESS_CHECK,
      description: `Checks that the IAM access key secrets tagged ${COMPLIANCE_SCOPE_TAG_KEY}=${scopeTagValue} rotated successfully on schedule`,
      ruleScope,
    });
    this.accessKeysRotated = new config.AccessKeysRotated(this, 'AccessKeysRotated', {
      description: `Checks that every Active IAM access key of the account is younger than ${maxAccessKeyAge.toHumanString()}`,
      maxAge: maxAccessKeyAge,
    });
  }
}
