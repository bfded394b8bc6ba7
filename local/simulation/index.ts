export { RealClock, VirtualClock, DEFAULT_VIRTUAL_EPOCH, type Clock } from './clock.js';
export {
  AwsServiceError,
  InvocationDeadError,
  SimulatedTimeoutError,
  SimulationError,
} from './errors.js';
export {
  FAULT_KINDS,
  type CallInfo,
  type CallMatcher,
  type FaultKind,
  type FaultSpec,
  type InjectedFault,
  type ServiceName,
} from './faults.js';
export type { CallFilter, CallOutcome, CallRecord } from './call-log.js';
export {
  ACCESS_KEYS_PER_USER,
  TAGS_PER_USER,
  type AccessKeyLastUsed,
  type AccessKeyStatus,
  type IamAccessKey,
  type IamUser,
  type PropagationDelay,
  type Tag,
} from './iam.js';
export type { Principal, RoleCredentials } from './principals.js';
export {
  ROTATION_STEPS,
  type InvocationOutcome,
  type InvocationRecord,
  type RotationFunction,
  type RotationInvocationContext,
  type RotationInvocationEvent,
  type RotationRecord,
  type RotationRetryOptions,
  type RotationRunnerOptions,
  type RotationStatus,
  type RotationStep,
  type StepInvocationGate,
  LAMBDA_ASYNC_RETRY_DELAYS_MS,
  SCHEDULED_STEP,
  type ScheduledInvocationRecord,
} from './rotation.js';
export {
  DEFAULT_SCHEDULE_GROUP,
  parseAtExpression,
  type ScheduleGroupState,
  type ScheduleState,
  type ScheduleTarget,
} from './scheduler.js';
export {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  RESERVED_TAG_PREFIX,
  ROTATION_INCOMPLETE_MESSAGE,
  type CloudFormationOrigin,
  type RotationRules,
  type SecretState,
  type SecretValue,
  type SecretVersion,
} from './secrets-manager.js';
export {
  Simulation,
  type AccessKeyView,
  type RequestBoundary,
  type RequestBoundaryHook,
  type SecretVersionView,
  type SimulationClientConfig,
  type SimulatedStack,
  type SimulationOptions,
} from './simulation.js';
