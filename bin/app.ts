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

const app = new App();
let config: IamKeyRotationConfig;
try {
  config = loadIamKeyRotationConfig((key) => app.node.tryGetContext(key) as unknown);
} catch (error) {
  if (!(error instanceof InvalidConfigurationError)) throw error;
  // A configuration error is the user's to fix: one line that names the field, no stack trace.
  // (process.exit skips the App's synthesis on exit, so no cloud assembly is written.)
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
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
  });
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
