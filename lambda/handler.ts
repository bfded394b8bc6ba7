import { createHandler } from './create-handler.js';
import { defaultDependencies } from './dependencies.js';

/** The Lambda entry point. Clients are created once per container. */
export const handler = createHandler(defaultDependencies());
