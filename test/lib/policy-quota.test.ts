import { describe, expect, it } from 'vitest';
import {
  rolePolicyQuotaBreaches,
  rolePolicySizes,
  type RolePolicySizes,
  type TemplateJson,
} from '../support/policy-size.js';

describe('Function: rolePolicyQuotaBreaches (the policy check of the scale benchmark and test)', () => {
  it('passes roles at the quotas exactly', () => {
    // Arrange
    const sizes = new Map<string, RolePolicySizes>([
      ['AtTheQuotas', { inline: 10_240, managed: Array.from({ length: 10 }, () => 6_144) }],
      ['NoPolicies', { inline: 0, managed: [] }],
    ]);

    // Act / Assert
    expect(rolePolicyQuotaBreaches(sizes)).toEqual([]);
  });

  it('names the role and the quota for inline policies over 10,240 characters, a managed policy over 6,144 and an eleventh managed policy', () => {
    // Arrange
    const sizes = new Map<string, RolePolicySizes>([
      ['InlineOver', { inline: 10_241, managed: [] }],
      ['ManagedOver', { inline: 0, managed: [6_144, 6_145] }],
      ['TooMany', { inline: 0, managed: Array.from({ length: 11 }, () => 100) }],
    ]);

    // Act
    const breaches = rolePolicyQuotaBreaches(sizes);

    // Assert
    expect(breaches).toEqual([
      'InlineOver: inline policies 10241 characters, over 10240',
      'ManagedOver: a managed policy of 6145 characters, over 6144',
      'TooMany: 11 managed policies, over 10',
    ]);
  });
});

describe('Function: rolePolicySizes', () => {
  const document = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'iam:ListAccessKeys', Resource: '*' }],
  };
  const size = JSON.stringify(document).length;

  it('counts a managed policy of the template once per role, whether the policy names the role or the role the policy', () => {
    // Arrange
    const template: TemplateJson = {
      Resources: {
        Role: {
          Type: 'AWS::IAM::Role',
          Properties: { ManagedPolicyArns: [{ Ref: 'ByRole' }, { Ref: 'Both' }] },
        },
        ByRole: { Type: 'AWS::IAM::ManagedPolicy', Properties: { PolicyDocument: document } },
        ByPolicy: {
          Type: 'AWS::IAM::ManagedPolicy',
          Properties: { PolicyDocument: document, Roles: [{ Ref: 'Role' }] },
        },
        Both: {
          Type: 'AWS::IAM::ManagedPolicy',
          Properties: { PolicyDocument: document, Roles: [{ Ref: 'Role' }] },
        },
      },
    };

    // Act / Assert
    expect(rolePolicySizes(template).get('Role')).toEqual({
      inline: 0,
      managed: [size, size, size],
    });
  });

  it('refuses a role with a managed policy from outside the template, whose size it cannot know', () => {
    // Arrange
    const template: TemplateJson = {
      Resources: {
        Role: {
          Type: 'AWS::IAM::Role',
          Properties: {
            ManagedPolicyArns: [
              {
                'Fn::Join': [
                  '',
                  ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/ReadOnlyAccess'],
                ],
              },
            ],
          },
        },
      },
    };

    // Act / Assert
    expect(() => rolePolicySizes(template)).toThrow(
      /^role Role has a managed policy .* that is not in the template/,
    );
  });
});
