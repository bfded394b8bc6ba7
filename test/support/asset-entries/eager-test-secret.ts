/**
 * A handler entry that imports testSecret's module at the top, as the handler once did: the
 * asset test builds it to show that its check catches such an import.
 */
export { handler } from '../../../lambda/handler.js';
export { testSecret } from '../../../lambda/rotation/test-secret.js';
