import { RETIRE_OPERATION } from './observability.js';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

export type RotationStep = (typeof ROTATION_STEPS)[number];

/** What an invocation does: a rotation step, or the retirement of a key after its grace period. */
export type FunctionOperation = RotationStep | typeof RETIRE_OPERATION;
