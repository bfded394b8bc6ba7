#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { configureIamKeyRotationApp } from '../lib/iam-key-rotation-app.js';

const app = new App();
const configured = configureIamKeyRotationApp(app, {
  defaults: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  writeMessage: (text) => process.stderr.write(text),
});
// A configuration error has been written: exit 1. process.exit skips the App's synthesis on
// exit, so no cloud assembly is written.
if (!configured) process.exit(1);
