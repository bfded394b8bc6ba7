#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadIamKeyRotationConfig, usersByStack } from '../lib/config.js';
import { IamKeyRotationStack } from '../lib/iam-key-rotation-stack.js';

const app = new App();
const config = loadIamKeyRotationConfig((key) => app.node.tryGetContext(key) as unknown);
for (const [stackName, users] of usersByStack(config)) {
  new IamKeyRotationStack(app, stackName, {
    description: 'Rotates IAM user access keys with Secrets Manager rotation (iam-key-rotation)',
    users,
    rotationFunction: { staleKeyDays: config.staleKeyDays },
  });
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
