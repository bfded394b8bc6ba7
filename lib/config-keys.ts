/** The cdk.json context key that holds the configuration object. */
export const CONFIG_CONTEXT_KEY = 'iamKeyRotation';
/** The cdk.json context key that names a JSON file holding the configuration instead. */
export const CONFIG_FILE_CONTEXT_KEY = 'iamKeyRotationConfigFile';
/**
 * The cdk.json context key that names the placement file (which user is in which stack).
 * Default: beside the configuration file, `users.json` -> `users.placement.json`.
 */
export const PLACEMENT_FILE_CONTEXT_KEY = 'iamKeyRotationPlacementFile';
