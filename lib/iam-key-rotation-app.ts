import type { App } from 'aws-cdk-lib';
import { usersByStack, type IamKeyRotationConfig } from './config.js';
import { IamKeyRotationStack } from './iam-key-rotation-stack.js';
import { withSpreadRotationWindows } from './rotation-window-spread.js';

/**
 * One {@link IamKeyRotationStack} per stack of a validated configuration, named as the placement
 * says, with the `env` of its users' account and region.
 *
 * @returns the stacks, in order of their first user
 */
export function addIamKeyRotationStacks(
  app: App,
  config: IamKeyRotationConfig,
): IamKeyRotationStack[] {
  return [...usersByStack(config)].map(([stackName, users]) => {
    // Every user of a stack names the same account and region (the configuration checks it);
    // without them the stack deploys to the CLI's account and region.
    const { account, region } = users[0] ?? {};
    return new IamKeyRotationStack(app, stackName, {
      description: 'Rotates IAM user access keys with Secrets Manager rotation (iam-key-rotation)',
      ...(account === undefined && region === undefined ? {} : { env: { account, region } }),
      users: withSpreadRotationWindows(users),
      rotationFunction: { staleKeyDays: config.staleKeyDays, gracePeriod: config.gracePeriod },
      notifications: config.notifications,
      complianceRules: config.complianceRules,
      dashboard: config.dashboard,
      alarms: config.alarms,
      awaitFirstRotation: config.awaitFirstRotation,
    });
  });
}
