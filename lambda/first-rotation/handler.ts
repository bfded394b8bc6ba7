import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CloudFormationStackResources } from '../aws/cloudformation-stack-resources.js';
import { filterLogEventsContaining } from '../aws/rotation-log-events.js';
import { STACK_ID_ENV } from '../rotation/binding.js';
import { createFirstRotationHandlers } from './first-rotation-wait.js';
import { parseFirstRotationSettings, ROTATION_LOG_GROUP_ENV } from './settings.js';

const secretsManager = new SecretsManagerClient({});
const logs = new CloudWatchLogsClient({});
const endpoint = process.env.AWS_ENDPOINT_URL_CLOUDFORMATION ?? process.env.AWS_ENDPOINT_URL;
/** Structured JSON lines (Powertools), as the rotation function writes them: identifiers only. */
const logger = new Logger({ serviceName: 'iam-key-rotation-first-rotation' });
const logGroup = process.env[ROTATION_LOG_GROUP_ENV] ?? '';

/**
 * The first-rotation wait's entry points (onEvent and isComplete, behind aws-cdk-lib's Provider
 * framework). Clients are created once per container; invalid settings refuse every event.
 */
const handlers = createFirstRotationHandlers({
  settings: parseFirstRotationSettings(process.env, process.env[STACK_ID_ENV] ?? ''),
  secretsManager,
  iam: new IAMClient({}),
  stack: new CloudFormationStackResources({
    region: () => secretsManager.config.region(),
    credentials: (identityProperties) => secretsManager.config.credentials(identityProperties),
    requestHandler: secretsManager.config.requestHandler,
    ...(endpoint === undefined || endpoint === '' ? {} : { endpoint }),
  }),
  rotationLog: {
    eventsContaining: (text, since) => filterLogEventsContaining(logs, logGroup, text, since),
  },
  clock: {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  },
  log: (line) => {
    const { level, ...fields } = line;
    const message = `first rotation: ${String(line.action)}`;
    if (level === 'warning') logger.warn(message, { ...fields });
    else logger.info(message, { ...fields });
  },
});

export const onEvent = handlers.onEvent;
export const isComplete = handlers.isComplete;
