#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  InvalidConfigurationError,
  loadIamKeyRotationConfig,
  usersByStack,
  type IamKeyRotationConfig,
} from '../lib/config.js';
import { IamKeyRotationStack } from '../lib/iam-key-rotation-stack.js';
import { withSpreadRotationWindows } from '../lib/rotation-window-spread.js';
import { writePlacementFile } from '../lib/stack-placement.js';

const app = new App();
let config: IamKeyRotationConfig;
try {
  // The CDK CLI sets the default account (with credentials) and region: the checks that compare
  // a user's account or region with the default one use them when known.
  config = loadIamKeyRotationConfig((key) => app.node.tryGetContext(key) as unknown, {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region: process.env.CDK_DEFAULT_REGION,
  });
} catch (error) {
  if (!(error instanceof InvalidConfigurationError)) throw error;
  // A configuration error is the user's to fix: one line that names the field, no stack trace.
  // (process.exit skips the App's synthesis on exit, so no cloud assembly is written.)
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
if (config.placementFile !== undefined) {
  const { added, removed } = config.placement;
  if (writePlacementFile(config.placementFile, config.placement.placement)) {
    // Written only when it changes: commit it with the configuration.
    process.stderr.write(
      `${config.placementFile}: ${added.length} user(s) placed, ${removed.length} removed; commit this file with the configuration\n`,
    );
  }
}
for (const [stackName, users] of usersByStack(config)) {
  // Every user of a stack names the same account and region (the configuration checks it);
  // without them the stack deploys to the CLI's account and region.
  const { account, region } = users[0] ?? {};
  new IamKeyRotationStack(app, stackName, {
    description: 'Rotates IAM user access keys with Secrets Manager rotation (iam-key-rotation)',
    ...(account === undefined && region === undefined ? {} : { env: { account, region } }),
    users: withSpreadRotationWindows(users),
    rotationFunction: { staleKeyDays: config.staleKeyDays, gracePeriod: config.gracePeriod },
    notifications: config.notifications,
    complianceRules: config.complianceRules,
    dashboard: config.dashboard,
    alarms: config.alarms,
  });
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
