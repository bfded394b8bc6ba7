import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseIamKeyRotationConfig } from '../../lib/config.js';
import { addIamKeyRotationStacks } from '../../lib/iam-key-rotation-app.js';

type Resources = Record<
  string,
  {
    Type: string;
    DeletionPolicy?: string;
    UpdateReplacePolicy?: string;
    Properties?: Record<string, unknown>;
  }
>;

/** The resources of the one stack a configuration gives, synthesized without bundling. */
function synthesize(raw: Record<string, unknown>): { template: Template; resources: Resources } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const [stack] = addIamKeyRotationStacks(app, parseIamKeyRotationConfig(raw));
  if (stack === undefined) throw new Error('no stack');
  const template = Template.fromStack(stack);
  return { template, resources: template.toJSON().Resources as Resources };
}

const ofType = (resources: Resources, type: string): Resources[string][] =>
  Object.values(resources).filter((resource) => resource.Type === type);

const users = [
  { userName: 'created', createUser: true, schedule: 'rate(30 days)' },
  { userName: 'existing', schedule: 'rate(30 days)' },
];

describe('Stack: removal policies and monitoring switches', () => {
  // Shared synths: the default, the opt-in to deletion, and everything switched off.
  const retained = synthesize({ users });
  const destroyed = synthesize({ users, removalPolicy: 'destroy' });
  const mixed = synthesize({
    users: [{ ...users[0], removalPolicy: 'destroy' }, users[1]],
  });
  const quiet = synthesize({ users, dashboard: false, alarms: false, notifications: {} });

  it('retains every secret and every created user by default, except on the rollback of their creation (DeletionPolicy and UpdateReplacePolicy)', () => {
    // Assert
    const kept = [
      ...ofType(retained.resources, 'AWS::SecretsManager::Secret'),
      ...ofType(retained.resources, 'AWS::IAM::User'),
    ];
    expect(kept).toHaveLength(3);
    for (const resource of kept) {
      // The first-rotation wait is on by default: a failed first deployment leaves nothing behind.
      expect([resource.DeletionPolicy, resource.UpdateReplacePolicy]).toEqual([
        'RetainExceptOnCreate',
        'Retain',
      ]);
    }
  });

  it('deletes the rotation schedules and the ownership tagging with the user, so rotation stops and the tag goes', () => {
    // Assert
    const schedules = ofType(retained.resources, 'AWS::SecretsManager::RotationSchedule');
    expect(schedules).toHaveLength(2);
    const tagging = Object.values(retained.resources).filter(
      (resource) =>
        resource.Type.startsWith('Custom::') && resource.Type !== 'Custom::CDKBucketDeployment',
    );
    expect(tagging.length).toBeGreaterThan(0);
    for (const resource of [...schedules, ...tagging]) {
      expect(resource.DeletionPolicy ?? 'Delete').toBe('Delete');
    }
  });

  it('deletes secrets and created users only with removalPolicy "destroy"', () => {
    // Assert
    const gone = [
      ...ofType(destroyed.resources, 'AWS::SecretsManager::Secret'),
      ...ofType(destroyed.resources, 'AWS::IAM::User'),
    ];
    expect(gone).toHaveLength(3);
    for (const resource of gone) {
      expect([resource.DeletionPolicy, resource.UpdateReplacePolicy]).toEqual(['Delete', 'Delete']);
    }
  });

  it("applies a user's own removalPolicy to its secret and user only", () => {
    // Assert
    const policyOf = (name: string): string | undefined =>
      ofType(mixed.resources, 'AWS::SecretsManager::Secret').find(
        (resource) => resource.Properties?.Name === `iam-key-rotation/${name}`,
      )?.DeletionPolicy;
    expect(policyOf('created')).toBe('Delete');
    expect(policyOf('existing')).toBe('RetainExceptOnCreate');
    expect(ofType(mixed.resources, 'AWS::IAM::User')[0]?.DeletionPolicy).toBe('Delete');
  });

  it('has a dashboard and alarms by default', () => {
    // Assert
    retained.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    retained.template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
    expect(Object.keys(retained.template.toJSON().Outputs as object)).toContain('DashboardUrl');
  });

  it('has no dashboard, no alarms, no DashboardUrl output and no CloudWatch grant when both are off', () => {
    // Assert
    quiet.template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    quiet.template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    expect(Object.keys(quiet.template.toJSON().Outputs as object)).not.toContain('DashboardUrl');
    const text = JSON.stringify(quiet.template.toJSON());
    expect(text).not.toContain('cloudwatch.amazonaws.com');
    // The rotation events still reach the topic.
    quiet.template.resourceCountIs('AWS::Events::Rule', 1);
  });
});
