import { App, Duration, SecretValue, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  COMPLIANCE_SCOPE_TAG_KEY,
  RotationComplianceRules,
  type RotationComplianceRulesProps,
} from '../../lib/rotation-compliance-rules.js';

function arrange(props: Partial<RotationComplianceRulesProps> = {}): {
  stack: Stack;
  template: Template;
} {
  const app = new App();
  const stack = new Stack(app, 'Keys', { env: { account: '123456789012', region: 'eu-west-1' } });
  const secrets = ['alice', 'bob'].map(
    (name) =>
      new secretsmanager.Secret(stack, `Secret-${name}`, {
        secretName: `iam-key-rotation/${name}`,
        secretStringValue: SecretValue.unsafePlainText(`{"UserName":"${name}"}`),
      }),
  );
  new RotationComplianceRules(stack, 'ComplianceRules', { secrets, ...props });
  return { stack, template: Template.fromStack(stack) };
}

describe('Construct: RotationComplianceRules', () => {
  it.each([
    'SECRETSMANAGER_ROTATION_ENABLED_CHECK',
    'SECRETSMANAGER_SCHEDULED_ROTATION_SUCCESS_CHECK',
  ])('adds the managed rule %s scoped by tag to the secrets of the stack', (identifier) => {
    // Act
    const { template } = arrange();

    // Assert
    template.hasResourceProperties('AWS::Config::ConfigRule', {
      Source: { Owner: 'AWS', SourceIdentifier: identifier },
      Scope: { TagKey: COMPLIANCE_SCOPE_TAG_KEY, TagValue: 'Keys' },
      InputParameters: Match.absent(),
    });
  });

  it('tags each secret into the scope of the rules', () => {
    // Act
    const { template } = arrange();

    // Assert
    template.resourcePropertiesCountIs(
      'AWS::SecretsManager::Secret',
      { Tags: Match.arrayWith([{ Key: COMPLIANCE_SCOPE_TAG_KEY, Value: 'Keys' }]) },
      2,
    );
  });

  it('adds access-keys-rotated with a maximum age of 90 days by default, for every user of the account', () => {
    // Act
    const { template } = arrange();

    // Assert
    template.resourceCountIs('AWS::Config::ConfigRule', 3);
    template.hasResourceProperties('AWS::Config::ConfigRule', {
      Source: { Owner: 'AWS', SourceIdentifier: 'ACCESS_KEYS_ROTATED' },
      InputParameters: { maxAccessKeyAge: 90 },
      Scope: Match.absent(),
    });
  });

  it('passes the maximum access key age it is given', () => {
    // Act
    const { template } = arrange({ maxAccessKeyAge: Duration.days(45) });

    // Assert
    template.hasResourceProperties('AWS::Config::ConfigRule', {
      Source: { Owner: 'AWS', SourceIdentifier: 'ACCESS_KEYS_ROTATED' },
      InputParameters: { maxAccessKeyAge: 45 },
    });
  });

  it('scopes the rules with the tag value it is given', () => {
    // Act
    const { template } = arrange({ scopeTagValue: 'ci-keys' });

    // Assert
    template.resourcePropertiesCountIs(
      'AWS::Config::ConfigRule',
      { Scope: { TagKey: COMPLIANCE_SCOPE_TAG_KEY, TagValue: 'ci-keys' } },
      2,
    );
  });

  it('fails when the maximum access key age is not whole days', () => {
    // Act & Assert
    expect(() => arrange({ maxAccessKeyAge: Duration.hours(36) })).toThrow(
      'maxAccessKeyAge must be whole days, at least 1 day, got 1 day 12 hours',
    );
  });

  it('reports no cdk-nag finding on its rules', () => {
    // Arrange
    const { stack } = arrange();

    // Act
    const report = new AwsSolutionsChecks().validateScope(stack);

    // Assert (the bare secrets of this test lack rotation: AwsSolutions-SMG4 is theirs)
    const onRules = report.violations.filter((violation) =>
      violation.violatingResources.some((resource) =>
        resource.constructPath?.includes('/ComplianceRules/'),
      ),
    );
    expect(onRules).toEqual([]);
  });
});
