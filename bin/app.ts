#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  InvalidConfigurationError,
  loadIamKeyRotationConfig,
  type IamKeyRotationConfig,
} from '../lib/config.js';
import { addIamKeyRotationStacks } from '../lib/iam-key-rotation-app.js';
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
addIamKeyRotationStacks(app, config);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
