/**
 * The rotation steps and the grace period's retirement, each loaded when an invocation first runs
 * it: an invocation runs one of them, so a cold start loads only the guard, the ownership check
 * and the AWS clients, and each step's own code (in the function's asset, a chunk of its own:
 * lib/rotation-asset-build.ts) when its first invocation needs it. Same names and signatures as
 * the step modules, which nothing else in the handler's graph imports.
 */
import type * as CreateSecretStep from './rotation/create-secret.js';
import type * as FinishSecretStep from './rotation/finish-secret.js';
import type * as RetirePreviousKeyStep from './rotation/retire-previous-key.js';
import type * as SetSecretStep from './rotation/set-secret.js';
import type * as TestSecretStep from './rotation/test-secret.js';

export const createSecret: typeof CreateSecretStep.createSecret = async (...args) =>
  (await import('./rotation/create-secret.js')).createSecret(...args);

export const setSecret: typeof SetSecretStep.setSecret = async (...args) =>
  (await import('./rotation/set-secret.js')).setSecret(...args);

export const testSecret: typeof TestSecretStep.testSecret = async (...args) =>
  (await import('./rotation/test-secret.js')).testSecret(...args);

export const finishSecret: typeof FinishSecretStep.finishSecret = async (...args) =>
  (await import('./rotation/finish-secret.js')).finishSecret(...args);

export const retirePreviousKey: typeof RetirePreviousKeyStep.retirePreviousKey = async (...args) =>
  (await import('./rotation/retire-previous-key.js')).retirePreviousKey(...args);
