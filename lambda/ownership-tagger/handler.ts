import { Logger } from '@aws-lambda-powertools/logger';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CloudFormationStackResources } from '../aws/cloudformation-stack-resources.js';
import { STACK_ID_ENV } from '../rotation/binding.js';
import { createOwnershipTagHandler } from './ownership-tag.js';

const stackId = process.env[STACK_ID_ENV] ?? '';
const secretsManager = new SecretsManagerClient({});
const endpoint = process.env.AWS_ENDPOINT_URL_CLOUDFORMATION ?? process.env.AWS_ENDPOINT_URL;
/** Structured JSON lines (Powertools), as the rotation function writes them: identifiers only. */
const logger = new Logger({ serviceName: 'iam-key-rotation-ownership-tagger' });

/**
 * The ownership tagger's entry point (behind aws-cdk-lib's Provider framework). Clients are
 * created once per container; a missing stack id refuses every event.
 */
export const handler = createOwnershipTagHandler({
  stackId,
  secretsManager,
  iam: new IAMClient({}),
  stackResources: new CloudFormationStackResources({
    region: () => secretsManager.config.region(),
    credentials: (identityProperties) => secretsManager.config.credentials(identityProperties),
    requestHandler: secretsManager.config.requestHandler,
    ...(endpoint === undefined || endpoint === '' ? {} : { endpoint }),
  }),
  log: (line) => {
    logger.info(`ownership tag: ${String(line.action)}`, { ...line });
  },
});
