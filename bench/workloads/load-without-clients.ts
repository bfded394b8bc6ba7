/**
 * The rotation handler's modules without the module-load call `createHandler(defaultDependencies())`:
 * bundled like the asset, it measures module evaluation alone, so the cold-start benchmark can
 * split the asset's figure into "load the code" and "create the clients".
 */
export { createHandler } from '../../lambda/create-handler.js';
export { defaultDependencies } from '../../lambda/dependencies.js';
