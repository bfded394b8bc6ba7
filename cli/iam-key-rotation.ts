#!/usr/bin/env node
/**
 * The `iam-key-rotation` command. `npm ci` (the `prepare` script, scripts/build-command.ts)
 * bundles it into dist/cli/iam-key-rotation.mjs, the `bin` of package.json, which plain `node`
 * runs: no TypeScript loader and no compile cache at run time.
 */
import { main } from './main.js';

await main();
