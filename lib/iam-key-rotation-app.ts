import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  InvalidConfigurationError,
  loadIamKeyRotationConfig,
  usersByStack,
  type DefaultEnvironment,
  type IamKeyRotationConfig,
} from './config.js';
import { IamKeyRotationStack } from './iam-key-rotation-stack.js';
import { withSpreadRotationWindows } from './rotation-window-spread.js';
import { writePlacementFile } from './stack-placement.js';

/** What {@link configureIamKeyRotationApp} needs from the process that runs the app. */
export interface IamKeyRotationAppEnvironment {
  /**
   * The default account and region the CDK CLI sets (CDK_DEFAULT_ACCOUNT, with credentials only,
   * and CDK_DEFAULT_REGION): the checks that compare a user's account or region with the default
   * one use them when known.
   */
  readonly defaults: DefaultEnvironment;
  /** Writes a message for the person running the app (bin/app.ts: stderr), ending in a newline. */
  readonly writeMessage: (text: string) => void;
}

/**
 * What bin/app.ts does with its {@link App}: reads the configuration from the app's context,
 * writes the placement file when it changes, adds the stacks and cdk-nag's AwsSolutionsChecks.
 *
 * A configuration error is the user's to fix: its one line that names the field is written with
 * `writeMessage`, nothing is added, and `false` is returned; the caller then must not synthesize
 * (bin/app.ts exits with status 1). Any other error propagates.
 *
 * @returns whether the app holds the stacks and is ready to synthesize
 */
export function configureIamKeyRotationApp(
  app: App,
  environment: IamKeyRotationAppEnvironment,
): boolean {
  let config: IamKeyRotationConfig;
  try {
    config = loadIamKeyRotationConfig(
      (key) => app.node.tryGetContext(key) as unknown,
      environment.defaults,
    );
  } catch (error) {
    if (!(error instanceof InvalidConfigurationError)) throw error;
    // One line that names the field, no stack trace.
    environment.writeMessage(`${error.message}\n`);
    return false;
  }
  if (config.placementFile !== undefined) {
    const { added, removed } = config.placement;
    if (writePlacementFile(config.placementFile, config.placement.placement)) {
      // Written only when it changes: commit it with the configuration.
      environment.writeMessage(
        `${config.placementFile}: ${added.length} user(s) placed, ${removed.length} removed; commit this file with the configuration\n`,
      );
    }
  }
  addIamKeyRotationStacks(app, config);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return true;
}

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
