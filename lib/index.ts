export * from './config.js';
export * from './iam-key-rotation-stack.js';
export * from './key-rotation-function.js';
export * from './key-rotation-schedule.js';
export * from './rotated-access-key.js';
export * from './user-ownership-tagger.js';
